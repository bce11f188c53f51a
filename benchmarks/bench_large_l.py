"""Cost vs ring size L at fixed density on the localized Anderson lattice: eigensolve, banded
OBDM, lambda_0 from the band, stiffness; fitted exponents; ratio against the full OBDM kernel.

Usage:  NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
        python benchmarks/bench_large_l.py [--sizes 1000,3000,10000,30000,100000]
        [--band-max L] [--budget SECONDS]

Model: Anderson lattice, box W = 3, filling n = N/L = 1/4 (eigensolve and OBDM), stiffness at
mu = -1.4 (about the same density).  One subprocess per L (so that the peak resident memory is
per size); kernels warmed up in each before timing.  Stages:

- eigensolve: ``ground_state(ring, n_particles=L // 4, method="sliced")`` (the certified
  spatially sliced solver; orbitals stored on their windows, no (M, N) array; its method —
  "sliced", or "banded" / "global" where one solve of the ring is cheaper — is printed), and,
  for L <= DENSE_REF, the old default ``ground_state(ring, n_particles=L // 4)`` as a baseline;
- band: ``obdm_band(state, "auto", tol=TOL)`` on those windows (all tries of the automatic
  width included); only for L <= --band-max (above, band and lambda0 are "not run");
- lambda0: ``band_condensate(band, 2)`` (local windows behind a rigorous |gamma|^p screen,
  :func:`tgsweep.core.band.band_top_eigenpairs`, Lanczos where the screen leaves too much of
  the ring; error = certificate + residual, printed), and for L <= LANCZOS_MAX the previous
  path (ARPACK eigsh on the banded operator, k = 2, ncv = 20) as a baseline: ratio printed;
- stiffness: ``stiffness(ring, mu=-1.4, thetas=[0.5])`` (its own eigenvalue sums);
- full: ``obdm(state.to_state())`` (the full O(M^2 N^2) kernel) for L <= FULL_MAX, with the banded entries
  checked against it and the ratio full / band printed.

Times are CPU seconds of the single-threaded child (time.process_time).  Peak memory: the
child's peak resident set size minus its size after warm-up ("peak+"), MiB.
Sizes beyond the budget (each size is skipped once the previous one took more than a quarter
of what is left) are reported as not run.  Exponents: least-squares slope of ln t vs ln L,
over all sizes and over those where the eigensolver actually sliced.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

W, FILL, MU, TOL = 3.0, 0.25, -1.4, 1e-6
FULL_MAX = 1000
DENSE_REF = 3000
LANCZOS_MAX = 100000


def _clock() -> float:
    """CPU seconds of this (single-threaded) process: on a shared, loaded machine the time it
    would take on an idle core; wall time would count the other users' load."""
    return time.process_time()


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def one(size: int, band_max: int) -> dict:
    import tgsweep as T
    from tgsweep.observables import stiffness
    from tgsweep.observables.correlations import band_condensate
    from tgsweep.models.potentials import anderson

    def sample(m, seed=1):
        return T.Ring.lattice(anderson(np.random.default_rng(seed), m, W))

    # warm-up (compilation, caches) on a small ring
    r0 = sample(600, 0)
    s0 = T.ground_state(r0, n_particles=150, method="bisect")
    band_condensate(T.obdm_band(s0, 40), 2)
    band_condensate(T.obdm_band(T.ground_state(sample(1600, 0), n_particles=400,
                                               method="sliced"), 40), 2)
    stiffness(r0, mu=MU, thetas=[0.5])
    T.obdm(T.ground_state(sample(60, 0), n_particles=15))
    base = _rss_mib()

    ring = sample(size)
    out = {"L": size, "N": int(size * FILL)}
    t0 = _clock()
    st = T.ground_state(ring, n_particles=int(size * FILL), method="sliced")
    out["eigensolve"] = _clock() - t0
    lo = st.orbitals
    out.update(eig_method=lo.method, eig_res=lo.max_residual, eig_ov=lo.max_overlap,
               eig_count_ok=bool(lo.sturm_count == out["N"]))
    out["peak_eig_mib"] = _rss_mib() - base
    if size <= band_max:
        t0 = _clock()
        b = T.obdm_band(st, "auto", tol=TOL)
        out["band"] = _clock() - t0
        out.update(width=b.width, certificate=b.certificate, reliable=b.reliable)
        t0 = _clock()
        bc = band_condensate(b, 2)
        out["lambda0"] = _clock() - t0
        out.update(lam0=float(bc.occupations[0]), lam0_err=float(bc.error[0]))
        if size <= LANCZOS_MAX:
            from scipy.sparse.linalg import LinearOperator, eigsh

            from tgsweep.core.kernels import band_matvec

            vals = np.ascontiguousarray(b.values)

            def mv(v):
                o = np.zeros(size, dtype=vals.dtype)
                x = np.ascontiguousarray(np.asarray(v).reshape(-1), dtype=vals.dtype)
                band_matvec(vals, x, o)
                return o * b.weight

            t0 = _clock()
            lz = eigsh(LinearOperator((size, size), matvec=mv, dtype=vals.dtype), k=2, which="LA",
                       tol=1e-12, ncv=20, v0=np.ones(size), return_eigenvectors=False)
            out["lambda0_lanczos"] = _clock() - t0
            out["lam0_vs_lanczos"] = float(abs(np.max(lz) - bc.occupations[0]))
    t0 = _clock()
    s = stiffness(ring, mu=MU, thetas=[0.5])
    out["stiffness"] = _clock() - t0
    out["log10_rho_s"] = float(np.ravel(s.log10_rho_s)[0])
    out["peak_mib"] = _rss_mib() - base
    if size <= DENSE_REF:
        t0 = _clock()
        T.ground_state(ring, n_particles=int(size * FILL))
        out["eig_old"] = _clock() - t0
    if size <= FULL_MAX and "band" in out:
        t0 = _clock()
        g = T.obdm(st.to_state())
        out["full"] = _clock() - t0
        x = np.arange(size)[:, None]
        ref = g[x, (x + np.arange(b.width + 1)[None, :]) % size]
        out["band_vs_full"] = float(np.abs(ref - b.values).max())
        lam_full = np.linalg.eigvalsh(g)[-1]
        out["lam0_vs_full"] = float(abs(lam_full - bc.occupations[0]))
    return out


def _fit(ls, ts):
    ls, ts = np.asarray(ls, float), np.asarray(ts, float)
    ok = ts > 0
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(ls[ok]), np.log(ts[ok]), 1)[0])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,3000,10000,30000,100000")
    ap.add_argument("--band-max", type=int, default=100000,
                    help="largest L for which the band and lambda0 are computed")
    ap.add_argument("--budget", type=float, default=600.0, help="total seconds for all sizes")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one:
        print(json.dumps(one(a.one, a.band_max)))
        return 0
    sizes = [int(s) for s in a.sizes.split(",")]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1")
    rows, left, last = [], a.budget, 0.0
    for size in sizes:
        if last > left / 4:
            print(f"L = {size}: not run (budget: {left:.0f} s left, the previous size took {last:.0f} s)")
            continue
        t0 = time.perf_counter()  # wall time of the child, for the budget
        p = subprocess.run([sys.executable, __file__, "--one", str(size), "--band-max",
                            str(a.band_max)], env=env,
                           capture_output=True, text=True)
        last = time.perf_counter() - t0
        left -= last
        if p.returncode:
            print(f"L = {size}: failed\n{p.stderr[-2000:]}")
            continue
        rows.append(json.loads(p.stdout.strip().splitlines()[-1]))
    stages = ["eigensolve", "band", "lambda0", "stiffness"]
    nan = float("nan")
    print(f"Anderson lattice W = {W}, n = {FILL}, band tol = {TOL:g}; one thread; CPU seconds")
    print(f"{'L':>7} {'N':>6} " + " ".join(f"{s:>10}" for s in stages)
          + f" {'lam0 tot':>8} {'eig old':>8} {'width':>6} {'cert':>8} {'peakE MiB':>9}"
          + f" {'peak MiB':>9} {'lam0':>8} {'lam0 err':>9} {'full':>8} {'full/band':>9}")
    for r in rows:
        tot = r["eigensolve"] + r.get("band", nan) + r.get("lambda0", nan)
        full = r.get("full")
        print(f"{r['L']:>7} {r['N']:>6} " + " ".join(f"{r.get(s, nan):>10.3f}" for s in stages)
              + f" {tot:>8.2f} {r.get('eig_old', nan):>8.2f} {r.get('width', '-'):>6}"
              + f" {r.get('certificate', nan):>8.1e} {r['peak_eig_mib']:>9.1f} {r['peak_mib']:>9.1f}"
              + f" {r.get('lam0', nan):>8.4f} {r.get('lam0_err', nan):>9.1e}"
              + (f" {full:>8.2f} {full / r['band']:>9.1f}" if full else f" {'-':>8} {'-':>9}"))
        print(f"        eigensolver: {r['eig_method']}, max residual {r['eig_res']:.1e}, "
              f"max overlap {r['eig_ov']:.1e}, Sturm count = N: {r['eig_count_ok']}")
        if "lambda0_lanczos" in r:
            print(f"        lambda0: windows {r['lambda0']:.2f} s vs Lanczos (eigsh) "
                  f"{r['lambda0_lanczos']:.2f} s, ratio {r['lambda0'] / r['lambda0_lanczos']:.3f}; "
                  f"|diff| = {r['lam0_vs_lanczos']:.1e}")
        if full:
            print(f"        band vs full kernel: max |diff| = {r['band_vs_full']:.1e}; "
                  f"|lam0 - LAPACK lam0| = {r['lam0_vs_full']:.1e} (stated error {r['lam0_err']:.1e})")

    def fit(key, sel):
        sel = [r for r in sel if key(r) == key(r)]
        return _fit([r["L"] for r in sel], [key(r) for r in sel])

    lam_tot = lambda r: r["eigensolve"] + r.get("band", nan) + r.get("lambda0", nan)  # noqa: E731
    sliced = [r for r in rows if r["eig_method"] == "sliced"]
    for label, sel in (("all sizes", rows), ("sliced sizes only", sliced)):
        print(f"fitted exponent t ~ L^p ({label}, where the stage ran):  " + ", ".join(
            f"{s} {fit(lambda r, s=s: r.get(s, nan), sel):.2f}" for s in stages)
            + f", lambda0 incl. eigensolve {fit(lam_tot, sel):.2f}"
            + f", old eigensolve {fit(lambda r: r.get('eig_old', nan), sel):.2f}"
            + f", Lanczos lambda0 {fit(lambda r: r.get('lambda0_lanczos', nan), sel):.2f}"
            + f", peak MiB {fit(lambda r: r['peak_mib'], sel):.2f}")
    done = [r for r in rows if "band" in r]
    if done:
        r = done[-1]
        if r["L"] >= 1e5:
            print(f"lambda0 of the L = {r['L']} ring incl. eigensolve: {lam_tot(r):.1f} s "
                  f"(goal < 60 s)")
        else:
            p = max(fit(lam_tot, rows), 1.0)  # never extrapolate below linear
            print(f"extrapolated to L = 1e5 from L = {r['L']}: lambda0 incl. eigensolve "
                  f"~ {lam_tot(r) * (1e5 / r['L']) ** p:.0f} s (exponent {p:.2f}); goal < 60 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
