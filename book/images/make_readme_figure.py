"""Draw book/images/readme.png, the figure at the top of the README (chapter 1 in one picture).

Run from the repository root: ``python book/images/make_readme_figure.py``.
"""

import matplotlib

matplotlib.use("Agg")

import torch

from course_lib.data import load_image
from course_lib.kernel_estimation import adam_projected, constant_init, relative_error
from course_lib.kernels import motion_blur_kernel
from course_lib.operators import Blur, add_gaussian_noise
from course_lib.plotting import show_images

x = load_image("coffee", size=256)
k_true = motion_blur_kernel(25, generator=torch.Generator().manual_seed(123))
y = add_gaussian_noise(Blur(k_true)(x), 0.02, generator=torch.Generator().manual_seed(1))
k_init = constant_init(k_true)
k_hat, _ = adam_projected(x, y, k_init, lr=0.1, n_iter=200, progress=False)
err = relative_error(k_hat, k_true)
fig = show_images(
    [x, y, k_true, k_init, k_hat],
    ["sharp $x$", "blurred $y = k * x + n$", "true kernel $k$", "initial kernel", f"estimate (error {err:.2f})"],
    suptitle="Chapter 1: recovering a motion-blur kernel by differentiating through the blur",
)
fig.savefig("book/images/readme.png", dpi=80)
print(f"relative kernel error {err:.3f}")
