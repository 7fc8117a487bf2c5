"""Neural networks used by the chapters, each a small readable file.

Import them from here: ``from course_lib.models import UNet``.
"""

from .composed import ComposedConv2d, InpaintingCNN, NormalizedConvolution
from .denoiser import DenoisingUNet
from .unet import UNet

__all__ = ["ComposedConv2d", "DenoisingUNet", "InpaintingCNN", "NormalizedConvolution", "UNet"]
