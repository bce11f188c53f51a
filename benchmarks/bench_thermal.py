"""Benchmark of the thermal OBDM next to the T = 0 one (same ring, same particle number).

Per size (lattice Anderson ring W = 2, and a continuum speckle grid ring), medians over repeats
measured in this run, threads pinned to 1:
  * T = 0     : ground_state + obdm at N (the grouped Lenard kernel),
  * T=0 @k    : the same T = 0 kernel on N_eff = k orbitals (the thermal state keeps every level
                with Boltzmann weight above tol / M: at T = 0.1 on the W = 2 lattice that is
                nearly all M levels, so the O(M^2 k^2) floor is (k / N)^2 times the T = 0 cost),
  * grand     : thermal_state + obdm (4 terms: two with z = +1 by the T = 0 kernel on
                sqrt(f)-weighted orbitals, two with z = -1 by the grouped general-Phi kernel),
  * canonical : thermal_state + obdm (K-point number projection; for real orbitals the
                conjugate points are paired, K // 2 + 1 terms, complex arithmetic),
  * band      : obdm_band(thermal state, width) of the canonical state (width 24) vs its full obdm,
with the ratios thermal / T = 0 (state + obdm, and obdm alone) and thermal / (T=0 @k).

Run:  python benchmarks/bench_thermal.py [--T 0.1] [--repeat 3] [--large]
(--large adds M = 400, N = 100 with --large-repeat repeats (default 1); a few minutes on one
core.)
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
from tgsweep.core.obdm import obdm_lattice  # noqa: E402
from tgsweep.models.potentials import speckle  # noqa: E402


def _median(fn, repeat):
    ts = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), out


def _warm():
    r = tgsweep.Ring.lattice(np.zeros(12))
    tgsweep.obdm(tgsweep.ground_state(r, n_particles=3))
    for tw in (0.0, 0.3):
        tgsweep.obdm(tgsweep.thermal_state(r, 0.5, mu=0.0, twist=tw))
        st = tgsweep.thermal_state(r, 0.5, n_particles=3, ensemble="canonical", twist=tw)
        tgsweep.obdm(st)
        tgsweep.obdm_band(st, 4)


def _one(label, ring, n, temperature, repeat, band_width=24):
    w = np.linalg.eigvalsh(ring.matrix(np.pi if n % 2 == 0 else 0.0))
    mu = 0.5 * (w[n - 1] + w[n])
    t0, gs = _median(lambda: (lambda s: (tgsweep.obdm(s), s)[1])(
        tgsweep.ground_state(ring, n_particles=n)), repeat)
    t0o, _ = _median(lambda: tgsweep.obdm(gs), repeat)
    grand_times = []

    def grand():
        s = tgsweep.thermal_state(ring, temperature, mu=mu)
        t1 = time.perf_counter()
        tgsweep.obdm(s)
        grand_times.append(time.perf_counter() - t1)
        return s

    obdm_times = []

    def canon():
        s = tgsweep.thermal_state(ring, temperature, n_particles=n, ensemble="canonical")
        t1 = time.perf_counter()
        tgsweep.obdm(s)
        obdm_times.append(time.perf_counter() - t1)
        return s

    tg, sg = _median(grand, repeat)
    tc, sc = _median(canon, repeat)
    tcf = statistics.median(obdm_times)
    tgf = statistics.median(grand_times)
    k = max(sg.n_orbitals, sc.n_orbitals)
    uk = np.ascontiguousarray(np.linalg.eigh(ring.matrix(0.0))[1][:, :k])
    tk, _ = _median(lambda: obdm_lattice(uk), repeat)
    tb, _ = _median(lambda: tgsweep.obdm_band(sc, band_width), repeat)
    m = ring.n_grid
    print(f"{label}: M = {m}, N = {n}, T = {temperature}, N_eff = {k}, K = {sc.n_projection} "
          f"({len(sc.terms)} terms)")
    print(f"  T = 0 ground state + obdm       : {t0 * 1e3:9.1f} ms")
    print(f"  T = 0 obdm only                 : {t0o * 1e3:9.1f} ms")
    print(f"  T = 0 kernel on N_eff orbitals  : {tk * 1e3:9.1f} ms   ratio {tk / t0o:6.1f} "
          f"(to obdm only)")
    print(f"  grand     state + obdm          : {tg * 1e3:9.1f} ms   ratio {tg / t0:6.1f}   "
          f"/ (T=0 @k) {tg / tk:5.1f}")
    print(f"  canonical state + obdm          : {tc * 1e3:9.1f} ms   ratio {tc / t0:6.1f}   "
          f"/ (T=0 @k) {tc / tk:5.1f}")
    print(f"  grand     obdm only             : {tgf * 1e3:9.1f} ms   ratio {tgf / t0o:6.1f}   "
          f"/ (T=0 @k) {tgf / tk:5.1f}")
    print(f"  canonical obdm only             : {tcf * 1e3:9.1f} ms   ratio {tcf / t0o:6.1f}   "
          f"/ (T=0 @k) {tcf / tk:5.1f}")
    print(f"  canonical band (width {band_width:3d})       : {tb * 1e3:9.1f} ms   "
          f"vs its full obdm {tcf * 1e3:9.1f} ms: ratio {tb / tcf:5.2f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--T", type=float, default=0.1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--large", action="store_true")
    ap.add_argument("--large-repeat", type=int, default=1)
    a = ap.parse_args()
    _warm()
    sizes = [(120, 30, a.repeat)] + ([(400, 100, a.large_repeat)] if a.large else [])
    for m, n, rep in sizes:
        ring = tgsweep.Ring.lattice(np.random.default_rng(1).uniform(-1, 1, m))
        _one("lattice W=2", ring, n, a.T, rep)
        ppu = 8
        v = speckle(np.random.default_rng(2), m, 1.0 / ppu, strength=2.0, corr_length=0.5)
        ring = tgsweep.Ring.continuum(m / ppu, ppu, v)
        # continuum: T in units of the Fermi energy scale of N / L (k_F = pi N / L)
        t_c = a.T * (np.pi * n / (m / ppu)) ** 2
        _one("continuum speckle", ring, n, round(float(t_c), 3), rep)


if __name__ == "__main__":
    main()
