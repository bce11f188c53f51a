"""Time the superfluid stiffness against the eigensolve of one sample, and measure the decay
rate of ln rho_s with L against the Lyapunov exponent at mu.

Usage:  NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
        python benchmarks/bench_stiffness.py [--decay]

Timing (< 2 min on one core): Anderson lattice (W = 4, mu = -0.5) and a continuum white-noise
ring, for several M; "eigensolve" is ``ground_state(ring, mu=mu)`` (levels + orbitals of one
sample), "stiffness" is ``stiffness(ring, mu, thetas)`` for 3 twists, "contour" the part of it
spent in the contour integral (C) (the rest is E_L(N_mu, 0) from the line integral of ln|f0|, and
the Sturm counts).  The largest lattice has rho_s < 1e-200.  Kernels are warmed
up first (numba compilation excluded).

--large: M = 10^4, 10^5 Anderson lattices (goal: stiffness < 1 s at 10^5), vs one Sturm count.

--continuum: continuum white-noise rings of workflows/superfluid_stiffness_large.toml (h = 1/4,
D = 8, mu = 0.5, M = 4L) for L = 512 ... 16384: time of ``stiffness`` vs L with the fitted
exponent, against the old path (E_L(N_mu, 0) by bisection of the N_mu ~ L occupied levels, which
the previous error criterion forced on these rings: ~L^2) in the same run, L <= 2048.

--decay: <ln rho_s0> over samples for several L, least-squares slope vs L, compared with
gamma(mu) from a 10^6-site transfer-matrix product (``tgsweep.observables.lyapunov_chain``).
"""

from __future__ import annotations

import sys
import time

import numpy as np

import tgsweep as T
from tgsweep.observables import stiffness
from tgsweep.observables.localization import lyapunov_chain
from tgsweep.core.spectrum import count_at_most, eigenvalues
from tgsweep.models.potentials import white_noise
from tgsweep.observables import superfluid as S
from tgsweep.observables.superfluid import _contour_path

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
    print(f"{'ring':30s} {'N_mu':>5s} {'eigensolve[s]':>13s} {'stiffness[s]':>12s} "
          f"{'ratio':>6s} {'contour[s]':>10s}  log10 rho_s(theta = 0.5, 1, pi)   log10 err")
    cases = [("lattice W=4", T.Ring.lattice(rng.uniform(-2, 2, m)), -0.5)
             for m in (300, 1000, 3000)]
    for length in (50, 200):
        ppu = 10
        v = rng.normal(size=length * ppu) * np.sqrt(1.0 * ppu)  # white noise D = 1
        cases.append(("continuum D=1 ppu=10", T.Ring.continuum(length, ppu, v), 2.0))
    for name, ring, mu in cases:
        reps = 2 if ring.n_grid <= 1000 else 1
        t_e, _ = _t(lambda: T.ground_state(ring, mu=mu), reps=reps)
        t_s, res = _t(lambda: stiffness(ring, mu, THETAS), reps=reps)
        t_c = np.nan
        if np.isfinite(res.contour_center):
            c0 = np.cos(res.fermion_twist0)
            t_c, _ = _t(lambda: _contour_path(ring, c0, res.contour_center, 0.5 * res.band_gap,
                                              THETAS), reps=2)
        logs = " ".join(f"{x:9.2f}" for x in res.log10_rho_s)
        print(f"{name + f' M={ring.n_grid}':30s} {res.n_mu:5d} {t_e:13.3f} {t_s:12.3f} "
              f"{t_s / t_e:6.2f} {t_c:10.4f}  {logs}   {np.max(res.log10_error):6.1f}"
              f"  path={'contour' if np.all(res.regime == 3) else 'bands'}")


def large(sizes=(10**4, 10**5)):
    """stiffness on large Anderson lattices (W = 4, mu = -0.5): total time, the time of one
    Sturm count (the O(M) unit), and the ratio; the old E_L(N, 0) by bisection of the N_mu
    lowest levels is timed at M = 10^4 only (at 10^5 it is ~N/60 times a count: minutes)."""
    rng = np.random.default_rng(5)
    print(f"{'lattice W=4 mu=-0.5':22s} {'N_mu':>6s} {'stiffness[s]':>12s} {'count[s]':>9s} "
          f"{'ratio':>7s} {'bisect E_L[s]':>13s}  log10 rho_s(theta=0.5,1,pi)  err  E0 err")
    for m in sizes:
        ring = T.Ring.lattice(rng.uniform(-2, 2, m))
        t_s, res = _t(lambda: stiffness(ring, -0.5, THETAS), reps=2)
        t_c, _ = _t(lambda: count_at_most(ring, 0.0, -0.5), reps=3)
        t_b = np.nan
        if m <= 10**4:
            t_b, _ = _t(lambda: eigenvalues(ring, res.fermion_twist0, 0, res.n_mu))
        logs = " ".join(f"{x:8.2f}" for x in res.log10_rho_s)
        print(f"{'M=' + str(m):22s} {res.n_mu:6d} {t_s:12.3f} {t_c:9.4f} {t_s / t_c:7.0f} "
              f"{t_b:13.3f}  {logs}  {np.max(res.log10_error):5.1f} "
              f"{res.log10_energy0_error:5.1f}")


def _exponent(ls, ts):
    ls, ts = np.log(np.asarray(ls, float)), np.log(np.asarray(ts, float))
    return float(np.polyfit(ls, ts, 1)[0])


def continuum(lengths=(512, 1024, 2048, 4096, 8192, 16384), old_max=2048, mu=0.5):
    """stiffness of white-noise continuum rings vs L (h = 1/4, D = 8): new path vs the old one
    (E_L(N_mu, 0) forced to the bisection fallback, ENERGY0_REL_ERROR_MAX = 0)."""
    rng = np.random.default_rng(8023)
    warm = T.Ring.continuum(64, 4, white_noise(rng, 256, 0.25, 8.0))
    stiffness(warm, mu, [0.5])
    print(f"{'continuum h=1/4 D=8 mu=0.5':28s} {'M':>6s} {'N_mu':>5s} {'new[s]':>8s} "
          f"{'old[s]':>8s} {'old/new':>8s}  log10 rho_s0  err   E0 err  |E0 new/old - 1|")
    rows = []
    for length in lengths:
        ring = T.Ring.continuum(length, 4, white_noise(rng, 4 * length, 0.25, 8.0))
        t_new, res = _t(lambda: stiffness(ring, mu, [0.5]), reps=2 if length <= 4096 else 1)
        t_old, dev = np.nan, np.nan
        if length <= old_max:
            keep = S.ENERGY0_REL_ERROR_MAX
            S.ENERGY0_REL_ERROR_MAX = 0.0
            try:
                t_old, old = _t(lambda: stiffness(ring, mu, [0.5]))
            finally:
                S.ENERGY0_REL_ERROR_MAX = keep
            dev = abs(res.energy0 / old.energy0 - 1)
            assert old.log10_rho_s0 == res.log10_rho_s0  # rho_s does not use E_L(N, 0)
        rows.append((length, t_new, t_old))
        print(f"{'L=' + str(length):28s} {ring.n_grid:6d} {res.n_mu:5d} {t_new:8.3f} "
              f"{t_old:8.2f} {t_old / t_new:8.0f}  {res.log10_rho_s0:12.2f} "
              f"{np.max(res.log10_error):5.1f} {res.log10_energy0_error:7.1f}  {dev:9.1e}")
    ls = [r[0] for r in rows]
    old_rows = [r for r in rows if r[0] <= old_max]
    print(f"fitted exponent t ~ L^a: new a = {_exponent(ls, [r[1] for r in rows]):.2f} "
          f"(L = {ls[0]}..{ls[-1]}), old a = "
          f"{_exponent([r[0] for r in old_rows], [r[2] for r in old_rows]):.2f}"
          f" (L = {ls[0]}..{old_max})")


def decay(width=4.0, mu=-0.5, lengths=(100, 200, 400, 600, 800), samples=16, seed=1):
    rng = np.random.default_rng(seed)
    gam = float(lyapunov_chain(rng.uniform(-width / 2, width / 2, 10**6), 1.0, mu)[0])
    print(f"Anderson lattice W={width}, mu={mu}: gamma(mu) = {gam:.5f} per site (10^6 sites)")
    means, errs = [], []
    for length in lengths:
        vals, bad = [], 0
        for _ in range(samples):
            ring = T.Ring.lattice(rng.uniform(-width / 2, width / 2, length))
            r = stiffness(ring, mu, [1.0])
            bad += int(not r.reliable[0]) + int(r.ambiguous)
            vals.append(np.log(10) * r.log10_rho_s0)
        vals = np.array(vals)
        means.append(vals.mean())
        errs.append(vals.std(ddof=1) / np.sqrt(samples))
        print(f"  L={length:5d}  <ln rho_s0> = {vals.mean():9.3f} +- {errs[-1]:.3f}  "
              f"(sd {vals.std(ddof=1):.2f}; unreliable/ambiguous: {bad})")
    w = 1.0 / np.asarray(errs) ** 2
    (slope, icpt), cov = np.polyfit(lengths, means, 1, w=np.sqrt(w), cov="unscaled")
    ds = float(np.sqrt(cov[0, 0]))
    print(f"  slope d<ln rho_s0>/dL = {slope:.5f} +- {ds:.5f};  "
          f"-slope/gamma(mu) = {-slope / gam:.3f} +- {ds / gam:.3f}")
    return slope, ds, gam


if __name__ == "__main__":
    t0 = time.perf_counter()
    if "--large" in sys.argv:
        large()
        sys.exit(0)
    if "--continuum" in sys.argv:
        continuum()
        print(f"continuum section: {time.perf_counter() - t0:.1f} s")
        sys.exit(0)
    timing()
    print(f"timing section: {time.perf_counter() - t0:.1f} s")
    if "--decay" in sys.argv:
        decay(4.0, -0.5, (100, 200, 400, 600, 800))
        decay(2.0, -0.5, (200, 400, 800, 1200, 1600))
