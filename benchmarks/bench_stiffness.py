"""Time the superfluid stiffness against the eigensolve of one sample, and measure the decay
rate of ln rho_s with L against the Lyapunov exponent at mu.

Usage:  NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
        python benchmarks/bench_stiffness.py [--decay]

Timing: Anderson lattice (W = 4, mu = -0.5) and a continuum white-noise ring, for several M;
"eigensolve" is ``ground_state(ring, mu=mu)`` (levels + orbitals of one sample), "stiffness" is
``stiffness(ring, mu, thetas)`` for 3 twists.  The largest lattice has rho_s < 1e-200.
Kernels are warmed up first (numba compilation excluded).

--decay: <ln rho_s> over samples for several L, least-squares slope vs L, compared with
gamma(mu) from a 10^6-site transfer-matrix product (``observables.lyapunov_chain``).
"""

from __future__ import annotations

import sys
import time

import numpy as np

import tgsweep as T
from tgsweep.observables import stiffness
from tgsweep.observables.lyapunov import lyapunov_chain

THETAS = np.array([0.5, 1.0, np.pi])


def _t(f, reps=1):
    best = np.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return best, out


def timing():
    rng = np.random.default_rng(0)
    warm = T.Ring.lattice(rng.uniform(-2, 2, 500))
    stiffness(warm, -0.5, THETAS), T.ground_state(warm, mu=-0.5)
    print(f"{'ring':34s} {'N_mu':>5s} {'eigensolve [s]':>14s} {'stiffness [s]':>14s} "
          f"{'ratio':>6s}  log10 rho_s(theta = 0.5, 1, pi)")
    cases = [("lattice W=4", T.Ring.lattice(rng.uniform(-2, 2, m)), -0.5)
             for m in (300, 1000, 3000, 6000)]
    for length in (50, 200):
        ppu = 10
        v = rng.normal(size=length * ppu) * np.sqrt(1.0 * ppu)  # white noise D = 1
        cases.append((f"continuum D=1 ppu=10", T.Ring.continuum(length, ppu, v), 2.0))
    for name, ring, mu in cases:
        t_e, _ = _t(lambda: T.ground_state(ring, mu=mu), reps=2)
        t_s, res = _t(lambda: stiffness(ring, mu, THETAS), reps=2)
        logs = " ".join(f"{x:9.2f}" for x in res.log10_rho_s)
        print(f"{name + f' M={ring.n_grid}':34s} {res.n_mu:5d} {t_e:14.3f} {t_s:14.3f} "
              f"{t_s / t_e:6.2f}  {logs}   regimes={np.bincount(res.regime.ravel(), minlength=3)}")


def decay(width=2.0, mu=-0.5, lengths=(100, 200, 400, 600, 800), samples=30):
    rng = np.random.default_rng(1)
    gam = float(lyapunov_chain(rng.uniform(-width / 2, width / 2, 10**6), 1.0, mu)[0])
    print(f"Anderson lattice W={width}, mu={mu}: gamma(mu) = {gam:.5f} per site (10^6 sites)")
    means = []
    for length in lengths:
        vals = [np.log(10) * stiffness(T.Ring.lattice(rng.uniform(-width / 2, width / 2, length)),
                                       mu, [1.0]).log10_rho_s0 for _ in range(samples)]
        vals = np.array(vals)
        means.append(vals.mean())
        print(f"  L={length:5d}  <ln rho_s0> = {vals.mean():9.3f} +- "
              f"{vals.std(ddof=1) / np.sqrt(samples):.3f}  (sd {vals.std(ddof=1):.2f})")
    slope, icpt = np.polyfit(lengths, means, 1)
    print(f"  slope d<ln rho_s0>/dL = {slope:.5f};  -slope/gamma(mu) = {-slope / gam:.3f}")


if __name__ == "__main__":
    timing()
    if "--decay" in sys.argv:
        decay()
