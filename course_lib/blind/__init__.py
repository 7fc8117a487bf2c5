r"""Blind deconvolution: the image and the kernel from the blurred image alone (chapter 5).

* :mod:`.metrics` -- :func:`kernel_error` (relative L2 error after the best integer shift) and PSNR/SSIM;
* :mod:`.nonblind` -- Wiener, Tikhonov by CG and TV deconvolution with a known kernel;
* :mod:`.trap` -- the joint MAP objective, and why it prefers the no-blur solution;
* :mod:`.edges` -- the sharp-edge latent image of the kernel step (an :math:`\ell_0` gradient prior);
* :mod:`.tv_blind` -- :func:`tv_blind_deconvolution`, alternating projected steps coarse to fine;
* :mod:`.kernel_prior` -- the diffusion prior over kernels and its safe loader;
* :mod:`.blind_dps` -- :func:`blind_dps_sample`, two reverse diffusions guided by one residual;
* :mod:`.plots` -- the chapter's figures and tables.
"""

from .metrics import align, evaluate, kernel_error, psnr_ssim
from .nonblind import tikhonov_cg, transfer_function, tv_deconvolve, wiener
from .tv_blind import kernel_step, tv_blind_deconvolution
from .kernel_prior import KernelDenoiser, load_kernel_denoiser
from .blind_dps import blind_dps_sample

__all__ = ["kernel_error", "align", "psnr_ssim", "evaluate", "wiener", "tikhonov_cg", "tv_deconvolve", "transfer_function",
           "kernel_step", "tv_blind_deconvolution", "KernelDenoiser", "load_kernel_denoiser",
           "blind_dps_sample"]
