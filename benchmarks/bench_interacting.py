"""Time per sample vs L for each interaction model, against the exact hard-core (TG) sample.

Usage:  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 \
        python benchmarks/bench_interacting.py

One disordered lattice ring (Anderson W = 2, filling N = L/2) per L.  A "sample" is the ground
state plus gamma plus, for the stiffness, one twisted ground state (theta = 0.5):
* hard_core: ground_state + obdm + stiffness(ring, mu, [0.5]) (the baseline of each row);
* ideal: interacting_ground_state + interacting_stiffness (one-particle contour path);
* mean_field (g = 2): GP Newton at theta = 0 and theta = 0.5;
* bose_hubbard (U = 4, n_max = 2, chi_max = 64, periodic ring): two DMRG runs (TeNPy);
  only L <= 16 (a DMRG sample is seconds to a minute).
Printed: median of 3 (DMRG: 1) runs in seconds and the ratio to hard_core at the same L.
Kernels are warmed up first.  Total < 2 min on one core.

Measured (loaded 2-core machine, ratio to hard_core at the same L): ideal 0.1-1x; mean field
~100x at L <= 16 (fixed Newton/flow overhead), 16x at L = 64, 0.8x at L = 256; Bose-Hubbard
DMRG (two runs) 2e4x at L = 8 (23 s) and 4e4x at L = 16 (49 s).
"""

from __future__ import annotations

import time
import warnings

import numpy as np

import tgsweep as T
from tgsweep.observables import interacting_stiffness, stiffness

warnings.filterwarnings("ignore")


def _median(f, reps):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def _mu_half(ring, n):
    from tgsweep.core.spectrum import eigenvalues

    e = eigenvalues(ring, np.pi * ((n - 1) % 2), n - 1, n + 1)
    return 0.5 * (e[0] + e[1])


def main():
    rng = np.random.default_rng(0)
    warm = T.Ring.lattice(rng.uniform(-1, 1, 40))
    T.obdm(T.ground_state(warm, 20)), stiffness(warm, 0.0, [0.5])
    interacting_stiffness(warm, 20, [0.5], model="ideal")
    print(f"{'L':>5s} {'model':>13s} {'t/sample[s]':>12s} {'ratio to hard_core':>19s}")
    for m in (8, 16, 64, 256, 1024):
        ring = T.Ring.lattice(rng.uniform(-1, 1, m))
        n = m // 2
        mu = _mu_half(ring, n)

        def hard_core():
            T.obdm(T.ground_state(ring, n))
            stiffness(ring, mu, [0.5])

        def ideal():
            T.obdm(T.interacting_ground_state(ring, n, model="ideal"))
            interacting_stiffness(ring, n, [0.5], model="ideal")

        def mean_field():
            interacting_stiffness(ring, n, [0.5], model="mean_field", g=2.0)

        def bose_hubbard():
            interacting_stiffness(ring, n, [0.5], model="bose_hubbard", U=4.0, n_max=2,
                                  chi_max=64)

        base = _median(hard_core, 3)
        rows = [("hard_core", base), ("ideal", _median(ideal, 3)),
                ("mean_field", _median(mean_field, 3))]
        if m <= 16:
            rows.append(("bose_hubbard", _median(bose_hubbard, 1)))
        for name, t in rows:
            print(f"{m:5d} {name:>13s} {t:12.4f} {t / base:19.1f}", flush=True)


if __name__ == "__main__":
    main()
