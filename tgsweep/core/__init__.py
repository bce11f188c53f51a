"""Numerical core: numba kernels on plain arrays and thin wrappers that unpack a Ring."""
