"""Cost vs ring size L at fixed density on the localized Anderson lattice: eigensolve, banded
OBDM, lambda_0 from the band, stiffness; fitted exponents; ratio against the full OBDM kernel.

Usage:  NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
        python benchmarks/bench_large_l.py [--sizes 1000,2000,4000] [--budget SECONDS]

Model: Anderson lattice, box W = 3, filling n = N/L = 1/4 (eigensolve and OBDM), stiffness at
mu = -1.4 (about the same density).  One subprocess per L (so that the peak resident memory is
per size); kernels warmed up in each before timing.  Stages:

- eigensolve: ``ground_state(ring, n_particles=L // 4)`` (the default eigensolver);
- band: ``obdm_band(state, "auto", tol=TOL)`` (all tries of the automatic width included);
- lambda0: ``band_condensate(band, 2)`` (Lanczos on the banded operator; error = certificate +
  residual, printed);
- stiffness: ``stiffness(ring, mu=-1.4, thetas=[0.5])`` (its own eigenvalue sums);
- full: ``obdm(state)`` (the full O(M^2 N^2) kernel) for L <= FULL_MAX, with the banded entries
  checked against it and the ratio full / band printed.

Peak memory: the child's peak resident set size minus its size after warm-up ("peak+"), MiB.
Sizes beyond the budget (each size is skipped once the previous one took more than a quarter
of what is left) are reported as not run.  Exponents: least-squares slope of ln t vs ln L.
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


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def one(size: int) -> dict:
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
    stiffness(r0, mu=MU, thetas=[0.5])
    T.obdm(T.ground_state(sample(60, 0), n_particles=15))
    base = _rss_mib()

    ring = sample(size)
    out = {"L": size, "N": int(size * FILL)}
    t0 = time.perf_counter()
    st = T.ground_state(ring, n_particles=int(size * FILL))
    out["eigensolve"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    b = T.obdm_band(st, "auto", tol=TOL)
    out["band"] = time.perf_counter() - t0
    out.update(width=b.width, certificate=b.certificate, reliable=b.reliable)
    t0 = time.perf_counter()
    bc = band_condensate(b, 2)
    out["lambda0"] = time.perf_counter() - t0
    out.update(lam0=float(bc.occupations[0]), lam0_err=float(bc.error[0]))
    t0 = time.perf_counter()
    s = stiffness(ring, mu=MU, thetas=[0.5])
    out["stiffness"] = time.perf_counter() - t0
    out["log10_rho_s"] = float(np.ravel(s.log10_rho_s)[0])
    out["peak_mib"] = _rss_mib() - base
    if size <= FULL_MAX:
        t0 = time.perf_counter()
        g = T.obdm(st)
        out["full"] = time.perf_counter() - t0
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
    ap.add_argument("--sizes", default="500,1000,2000,4000")
    ap.add_argument("--budget", type=float, default=600.0, help="total seconds for all sizes")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one:
        print(json.dumps(one(a.one)))
        return 0
    sizes = [int(s) for s in a.sizes.split(",")]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1")
    rows, left, last = [], a.budget, 0.0
    for size in sizes:
        if last > left / 4:
            print(f"L = {size}: not run (budget: {left:.0f} s left, the previous size took {last:.0f} s)")
            continue
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, __file__, "--one", str(size)], env=env,
                           capture_output=True, text=True)
        last = time.perf_counter() - t0
        left -= last
        if p.returncode:
            print(f"L = {size}: failed\n{p.stderr[-2000:]}")
            continue
        rows.append(json.loads(p.stdout.strip().splitlines()[-1]))
    stages = ["eigensolve", "band", "lambda0", "stiffness"]
    print(f"Anderson lattice W = {W}, n = {FILL}, band tol = {TOL:g}; one thread; seconds")
    print(f"{'L':>7} {'N':>6} " + " ".join(f"{s:>10}" for s in stages)
          + f" {'total':>8} {'width':>6} {'cert':>8} {'peak+MiB':>9} {'lam0':>8} {'lam0 err':>9}"
          + f" {'full':>8} {'full/band':>9}")
    for r in rows:
        tot = r["eigensolve"] + r["band"] + r["lambda0"]
        full = r.get("full")
        print(f"{r['L']:>7} {r['N']:>6} " + " ".join(f"{r[s]:>10.3f}" for s in stages)
              + f" {tot:>8.2f} {r['width']:>6} {r['certificate']:>8.1e} {r['peak_mib']:>9.1f}"
              + f" {r['lam0']:>8.4f} {r['lam0_err']:>9.1e}"
              + (f" {full:>8.2f} {full / r['band']:>9.1f}" if full else f" {'-':>8} {'-':>9}"))
        if full:
            print(f"        band vs full kernel: max |diff| = {r['band_vs_full']:.1e}; "
                  f"|lam0 - LAPACK lam0| = {r['lam0_vs_full']:.1e} (stated error {r['lam0_err']:.1e})")
    ls = [r["L"] for r in rows]
    print("fitted exponent t ~ L^p:  " + ", ".join(
        f"{s} {_fit(ls, [r[s] for r in rows]):.2f}" for s in stages + ["peak_mib"])
        + f", lambda0 incl. eigensolve {_fit(ls, [r['eigensolve'] + r['band'] + r['lambda0'] for r in rows]):.2f}")
    if rows:
        r = rows[-1]
        tot = r["eigensolve"] + r["band"] + r["lambda0"]
        p = _fit(ls, [x["eigensolve"] + x["band"] + x["lambda0"] for x in rows])
        pb = _fit(ls, [x["band"] + x["lambda0"] for x in rows])
        scale = (1e5 / r["L"])
        p, pb = max(p, 1.0), max(pb, 1.0)  # never extrapolate below linear
        print(f"extrapolated to L = 1e5 from L = {r['L']}: lambda0 incl. eigensolve "
              f"~ {tot * scale ** p:.0f} s (exponent {p:.2f}); band + lambda0 alone "
              f"~ {(r['band'] + r['lambda0']) * scale ** pb:.0f} s (exponent {pb:.2f}); goal < 60 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
