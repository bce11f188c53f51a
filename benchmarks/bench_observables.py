"""Time the correlation observables against the OBDM they are built from (one sample).

Usage:  NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
        python benchmarks/bench_observables.py [L] [ppu] [N]

Prints wall time of each step and its share of the OBDM time.  Kernels are warmed up first
(numba compilation excluded).
"""

from __future__ import annotations

import sys
import time

import numpy as np

import tgsweep as T
from tgsweep.observables import (condensate, ecl_profile, hs_blocks, hs_profile, lyapunov,
                                 momentum_distribution)


def _t(f):
    t0 = time.perf_counter()
    out = f()
    return time.perf_counter() - t0, out


def main(length=40, ppu=20, n=20):
    rng = np.random.default_rng(0)
    m = length * ppu
    ring = T.Ring.continuum(length, ppu, 2.0 * rng.normal(size=m) * np.sqrt(ppu))
    warm = T.ground_state(T.Ring.continuum(4, 5, rng.normal(size=20)), n_particles=2)
    hs_profile(warm, stream=True), momentum_distribution(warm, stream=True), condensate(warm)
    lyapunov(warm.ring, [1.0]), ecl_profile(warm.ring, [(0.0, 5.0)])
    state = T.ground_state(ring, n_particles=n)
    t_g, g = _t(lambda: T.obdm(state))
    rows = [
        ("obdm (M x M)", t_g),
        ("hs_blocks + hs_profile (from gamma)", _t(lambda: hs_profile(state, [0.5, 0.8], g))[0]
         + _t(lambda: hs_blocks(state, g))[0]),
        ("momentum_distribution (from gamma)", _t(lambda: momentum_distribution(state, g))[0]),
        ("condensate, 4 occupations", _t(lambda: condensate(state, 4, g))[0]),
        ("hs_profile streamed (recomputes gamma rows)",
         _t(lambda: hs_profile(state, [0.5, 0.8], stream=True))[0]),
        ("momentum_distribution streamed", _t(lambda: momentum_distribution(state, stream=True))[0]),
        ("ecl_profile, 2 windows x 2 bc", _t(lambda: ecl_profile(ring, [(0, 20), (20, 60)]))[0]),
        ("lyapunov, 8 energies (one pass)", _t(lambda: lyapunov(ring, np.linspace(1, 40, 8)))[0]),
    ]
    print(f"{ring!r}, N = {n}")
    for name, t in rows:
        print(f"  {name:45s} {t:8.3f} s   {100 * t / t_g:6.1f} % of obdm")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(*args)
