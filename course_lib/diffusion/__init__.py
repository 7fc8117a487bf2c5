r"""Diffusion models as priors for inverse problems: chapter 3's library.

* :mod:`.schedule` -- the DDPM forward process: ``linear_betas``, ``alphas_cumprod``, ``sigmas``, ``timesteps``;
* :mod:`.gaussian` -- a Gaussian prior with its exact denoiser (``GaussianPriorDenoiser``) and the exact
  posterior of a linear-Gaussian inverse problem (``gaussian_posterior``) and the exact likelihood of a noisy
  state (``gaussian_log_likelihood``), the ground truth DPS is checked against;
* :mod:`.sampler` -- diffusion posterior sampling with DDIM(eta) steps: ``dps_sample``, the same loop guided by a
  likelihood score (``score_sample``), ``ddim_step``, ``tweedie``, and ``measure``/``Observation``, which bind a
  measurement to the operator that made it (``stack_observations`` batches many problems into one call);
* :mod:`.guidance` -- the same loop with other guidance: ΠGDM (``pigdm_sample``) and DiffPIR (``diffpir_sample``);
* :mod:`.calibration` -- samples against a posterior: ``posterior_errors`` (mean, spread, covariance) and
  ``coverage`` of uncertainty maps;
* :mod:`.digits` -- the 32x32 digit images the learned prior is trained on;
* :mod:`.photos` -- the colour photographs the natural-image prior is trained on (and the held-out test crops);
* :mod:`.pretrained` -- safe loading of the committed denoiser weights (SHA-256, ``weights_only=True``);
* :mod:`.baselines` -- classical reconstructions (interpolation, Tikhonov, TV) and PSNR/SSIM.
* :mod:`.plots` -- the chapter's figures (digit grids, annotated maps, the reverse-process player).

A *denoiser* is any callable ``D(x, sigma)`` returning ``E[x0 | x0 + sigma n = x]`` on the data scale ``[-1, 1]``.
"""

from .baselines import interpolate, metrics, tikhonov, tv_reconstruct
from .calibration import coverage, coverage_of_samples, posterior_errors
from .digits import digit_images, digits8, to_model, to_unit
from .gaussian import (GaussianPriorDenoiser, fit_gaussian, gaussian_log_likelihood, gaussian_posterior, operator_matrix,
                       sample_gaussian)
from .photos import heldout_crops, photo_crops, photo_images
from .pretrained import (PHOTO_WEIGHTS_PATH, WEIGHTS_PATH, expected_sha256, load_digit_denoiser, load_photo_denoiser,
                         photo_training_log, training_log)
from .guidance import diffpir_sample, pigdm_sample
from .sampler import (Observation, ddim_noise_std, ddim_step, dps_sample, measure, score_guide, score_sample,
                      stack_observations, tweedie)
from .schedule import alphas_cumprod, linear_betas, sigmas, timesteps

__all__ = [
    "linear_betas", "alphas_cumprod", "sigmas", "timesteps",
    "GaussianPriorDenoiser", "fit_gaussian", "gaussian_posterior", "gaussian_log_likelihood", "operator_matrix",
    "sample_gaussian", "Observation", "measure", "stack_observations", "tweedie", "ddim_step", "ddim_noise_std",
    "dps_sample", "score_sample", "score_guide", "pigdm_sample", "diffpir_sample",
    "digit_images", "digits8", "to_model", "to_unit",
    "WEIGHTS_PATH", "expected_sha256", "load_digit_denoiser", "training_log",
    "PHOTO_WEIGHTS_PATH", "load_photo_denoiser", "photo_training_log", "photo_images", "photo_crops", "heldout_crops",
    "interpolate", "tikhonov", "tv_reconstruct", "metrics", "posterior_errors", "coverage", "coverage_of_samples",
]
