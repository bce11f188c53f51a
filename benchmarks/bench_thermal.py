"""Benchmark of the thermal OBDM next to the T = 0 one (same ring, same particle number).

Anderson lattice ring (W = 2), M sites; prints medians over repeats measured in this run:
  * T = 0: ground_state + obdm at N = M/4 (the grouped Lenard kernel),
  * grand canonical at T (mu set so that <N> ~ M/4): thermal_state + obdm (4 terms: two via the
    T = 0 kernel with sqrt(f)-weighted orbitals, two via the string kernel),
  * canonical at T (N = M/4): thermal_state + obdm (K-point number projection),
with N_eff (orbitals kept), K, and the ratios thermal / T = 0.  Threads pinned to 1.

Run:  python benchmarks/bench_thermal.py [--M 200] [--T 0.1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "1"

import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import tgsweep  # noqa: E402


def _median(fn, repeat):
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--M", type=int, default=200)
    ap.add_argument("--T", type=float, default=0.1)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    ring = tgsweep.Ring.lattice(np.random.default_rng(1).uniform(-1, 1, a.M))
    n = a.M // 4
    w = np.linalg.eigvalsh(ring.matrix(np.pi))
    mu = 0.5 * (w[n - 1] + w[n])
    # warm-up (numba compilation) outside the timings
    tgsweep.obdm(tgsweep.ground_state(ring, n_particles=n))
    tgsweep.obdm(tgsweep.thermal_state(tgsweep.Ring.lattice(np.zeros(12)), 0.5, mu=0.0))
    tgsweep.obdm(tgsweep.thermal_state(tgsweep.Ring.lattice(np.zeros(12)), 0.5, n_particles=3,
                                       ensemble="canonical"))
    t0, _ = _median(lambda: tgsweep.obdm(tgsweep.ground_state(ring, n_particles=n)), a.repeat)
    tg, st_g = _median(lambda: (lambda s: (tgsweep.obdm(s), s))(
        tgsweep.thermal_state(ring, a.T, mu=mu))[1], a.repeat)
    tc, st_c = _median(lambda: (lambda s: (tgsweep.obdm(s), s))(
        tgsweep.thermal_state(ring, a.T, n_particles=n, ensemble="canonical"))[1], a.repeat)
    print(f"M = {a.M}, N = {n}, T = {a.T}")
    print(f"T = 0 ground state + obdm         : {t0:8.3f} s")
    print(f"grand canonical  + obdm (N_eff {st_g.n_orbitals:4d}): {tg:8.3f} s   ratio {tg / t0:7.1f}")
    print(f"canonical (K = {st_c.n_projection:3d}) + obdm (N_eff {st_c.n_orbitals:4d}): {tc:8.3f} s   "
          f"ratio {tc / t0:7.1f}")


if __name__ == "__main__":
    main()
