"""Named tolerance classes of the tests (one place, as kwant's tests name theirs).

Each class says *why* two numbers may differ; a test picks the class and, where the quantity
is not O(1), scales it by the quantity's size.  The values are the ones the assertions have
always used: the names make them comparable across files.

Machine precision (two evaluations of the same exact expression, different operation order):

* ``ROUNDOFF``       1e-14  a kernel and its NumPy twin on O(1) entries, few operations
* ``ROUNDOFF_SUM``   1e-12  after O(M) or O(N^2) accumulated operations (sums, products)
* ``ROUNDOFF_SOLVE`` 1e-10  after a linear solve or an eigensolver (condition number <~ 1e4)
* ``EIGENVECTOR``    1e-9   eigenvectors and subspaces (limited by level spacings), long
                             products of time steps

Discretization and asymptotics (documented errors of an approximation, not roundoff):

* ``GRID_EXTRAPOLATED`` 1e-4  O(h^2) grid error after Richardson extrapolation h -> 0
* :func:`quoted` digits        a literature value quoted to ``digits`` decimals

Statistics:

* :func:`k_se`  k standard errors of a Monte Carlo estimate (k = 5 unless stated)
"""

from __future__ import annotations

import math

ROUNDOFF = 1e-14
ROUNDOFF_SUM = 1e-12
ROUNDOFF_SOLVE = 1e-10
EIGENVECTOR = 1e-9
GRID_EXTRAPOLATED = 1e-4


def quoted(digits: int) -> float:
    """Absolute tolerance of a value printed with ``digits`` decimals: one unit of the last
    digit (the printed value is rounded, and the reference itself is a computation)."""
    return 10.0 ** (-digits)


def k_se(std: float, n: int, k: float = 5.0) -> float:
    """k standard errors of the mean of n samples of standard deviation ``std``."""
    return k * std / math.sqrt(n)
