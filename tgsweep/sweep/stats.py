"""Mean and standard error over samples: the one implementation used by the stored summaries
(:mod:`tgsweep.sweep.store`, streamed block by block) and by the figures.

A block of samples is reduced to (n, mean, M2) with M2 = sum (x - mean)^2 over the valid samples;
blocks are merged with the pairwise update of Chan, Golub & LeVeque, "Algorithms for computing the
sample variance", Am. Stat. 37, 242 (1983), eq. 2.1:

    n = n_a + n_b,  delta = mean_b - mean_a,  mean = mean_a + delta n_b / n,
    M2 = M2_a + M2_b + delta^2 n_a n_b / n,

and finished as mean and standard error se = sqrt(M2 / (n - 1) / n) (the sample standard deviation
with ddof = 1 over sqrt(n)); the mean is NaN when n = 0, the standard error when n < 2.
"""

from __future__ import annotations

import numpy as np

__all__ = ["moments", "merge", "finish", "mean_se"]


def moments(x: np.ndarray, valid: np.ndarray, axis: int):
    """(n, mean, M2) of ``x`` over ``axis``, counting only entries where ``valid`` is true
    (``valid`` broadcasts against ``x``)."""
    x = np.asarray(x, dtype=np.float64)
    w = np.broadcast_to(valid, x.shape)
    n = w.sum(axis=axis)
    xs = np.where(w, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = xs.sum(axis=axis) / n
    d = np.where(w, x - np.expand_dims(mean, axis), 0.0)
    m2 = (d * d).sum(axis=axis)
    return n, np.where(n > 0, mean, np.nan), m2


def merge(a, b):
    """Merge the (n, mean, M2) of two disjoint sets of samples (Chan et al. 1983, eq. 2.1)."""
    na, ma, qa = a
    nb, mb, qb = b
    n = na + nb
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = np.where(nb > 0, mb, 0.0) - np.where(na > 0, ma, 0.0)
        mean = np.where(na == 0, mb, np.where(nb == 0, ma, ma + delta * (nb / np.maximum(n, 1))))
        m2 = qa + qb + np.where((na > 0) & (nb > 0), delta * delta * (na * nb / np.maximum(n, 1)),
                                0.0)
    return n, mean, m2


def finish(n, mean, m2):
    """(mean, standard error) from (n, mean, M2): se = sqrt(M2 / ((n - 1) n)), NaN for n < 2."""
    n = np.asarray(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(np.asarray(m2, dtype=np.float64) / ((n - 1.0) * n))
    return np.where(n > 0, mean, np.nan), np.where(n > 1, se, np.nan)


def mean_se(da, dim: str = "sample"):
    """Mean and standard error over ``dim`` of an xarray DataArray masked with NaN where invalid
    (NaN entries are not counted): returns two DataArrays without ``dim``."""
    import xarray as xr

    def reduce(x):
        x = np.asarray(x, dtype=np.float64)
        return np.stack(finish(*moments(x, ~np.isnan(x), axis=-1)), axis=-1)

    out = xr.apply_ufunc(reduce, da, input_core_dims=[[dim]], output_core_dims=[["_stat"]],
                         dask="allowed")
    return out.isel(_stat=0, drop=True), out.isel(_stat=1, drop=True)
