"""The numba kernels that the layers above core call, under one public name.

The kernel modules (``_obdm_kernels``, ``_correlation_kernels``, ``_lyapunov_kernels``,
``_stiffness_kernels``, ...) are private to :mod:`tgsweep.core`; observables reach the kernels
they drive only through this module.  Every kernel takes arrays and scalars, returns or fills
arrays, and has a plain NumPy twin (``*_reference``) in its module, used by the tests.
"""

from __future__ import annotations

from ._band_kernels import band_matvec, band_to_dense
from ._correlation_kernels import full_diag_sums, upper_block_row, upper_diag_sums
from ._lyapunov_kernels import log_growth
from ._stiffness_kernels import (band_centers, band_log_slopes, band_shift_newton,
                                 even_moments, even_moments_reference, log_char_poly_line,
                                 log_scaled_char_poly_line)

__all__ = ["band_matvec", "band_to_dense", "full_diag_sums", "upper_block_row",
           "upper_diag_sums", "log_growth", "band_centers", "band_log_slopes", "band_shift_newton",
           "log_char_poly_line", "log_scaled_char_poly_line", "even_moments",
           "even_moments_reference"]
