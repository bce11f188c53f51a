"""Benchmark of tgsweep.dynamics: one sample = one dense eigendecomposition + T density steps.

Run single-threaded for comparable numbers:

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
        .venv/bin/python benchmarks/bench_dynamics.py [M ...]

For each ring size M (lattice Anderson W = 2, domain wall with N = M/4 particles) it prints the
time of Evolution.prepare (eigh + projection, O(M^3)), of T = 50 density steps (O(M K N) each,
as a real GEMM), of the infinite-time average, of the plain complex-NumPy twin for the same
steps, and of dynamics_sample on top of the steps.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from tgsweep import Ring
from tgsweep.core import _dynamics_kernels as K
from tgsweep.dynamics import Evolution, domain_wall, dynamics_sample, time_grid


def _t(f, *a, **k):
    t0 = time.perf_counter()
    r = f(*a, **k)
    return time.perf_counter() - t0, r


def main(sizes=(250, 500, 1000, 2000), n_times=50):
    # warm-up (numba compilation / cache load)
    r = Ring.lattice(np.zeros(16))
    ev = Evolution.prepare(r, domain_wall(r, 4))
    ev.density([0.0, 1.0])
    ev.diagonal_density()
    print(f"{'M':>6} {'N':>5} {'prepare':>9} {'steps':>9} {'per step':>9} {'numpy twin':>10} "
          f"{'diag ens':>9} {'sample':>9}   (seconds, T = {n_times})")
    for m in sizes:
        rng = np.random.default_rng(m)
        ring = Ring.lattice(rng.uniform(-1, 1, m))
        n = m // 4
        ini = domain_wall(ring, n)
        times = time_grid(1000.0, n_linear=n_times // 2, n_log=n_times - n_times // 2 - 1)
        t_prep, ev = _t(Evolution.prepare, ring, ini)
        t_steps, _ = _t(ev.density, times)
        if m <= 1000:
            t_twin, _ = _t(K.density_steps_reference, ev.vectors, ev.energies, ev.coef, times)
        else:
            t_twin = float("nan")
        t_diag, _ = _t(ev.diagonal_density)
        t_samp, _ = _t(dynamics_sample, ring, ini, times, evolution=ev)
        print(f"{m:>6} {n:>5} {t_prep:9.3f} {t_steps:9.3f} {t_steps / times.size:9.4f} "
              f"{t_twin:10.3f} {t_diag:9.3f} {t_samp:9.3f}")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(tuple(args) if args else (250, 500, 1000, 2000))
