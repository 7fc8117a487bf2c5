"""course_lib: the code behind *Differentiable Physics for Inverse Problems*.

One module family per chapter:

* chapter 1, blind kernel estimation: :mod:`~course_lib.operators`,
  :mod:`~course_lib.projections`, :mod:`~course_lib.kernels`;
* chapter 2, learning a filter's scale: :mod:`~course_lib.sigma`;
* chapter 3, diffusion posterior sampling: :mod:`~course_lib.diffusion`;
* chapter 4, SIP heat inversion: :mod:`~course_lib.heat`, :mod:`~course_lib.sip`;

and shared pieces: :mod:`~course_lib.models`, :mod:`~course_lib.data`,
:mod:`~course_lib.plotting`, :mod:`~course_lib.widgets`, :mod:`~course_lib.checks`
and :mod:`~course_lib.config` (device, fast/full settings, seeding).
"""

__version__ = "0.1.0"
