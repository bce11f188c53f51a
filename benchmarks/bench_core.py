"""Benchmark of the TG core for one disordered continuum sample (M = 2048, N = 64).

Prints, as medians over repeats measured in this run:
  * eigenpairs (Sturm bisection + inverse iteration, O(M N) memory),
  * the OBDM kernel (all M^2 entries),
  * the per-pair NumPy reference (bordered determinant per pair, O^T from prefix sums) timed on
    a random subset of pairs and scaled to the M (M + 1) / 2 independent pairs,
  * one dense LAPACK eigh of the same M x M matrix (all eigenpairs),
and the ratios per-pair / OBDM and OBDM / eigh.  Threads are pinned to 1 (BLAS and numba).

Run:  python benchmarks/bench_core.py [--M 2048] [--N 64] [--repeat 3] [--pairs 2000]
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
from tgsweep.core import spectrum  # noqa: E402
from tgsweep.core.obdm import obdm_reference  # noqa: E402
from tgsweep.models.potentials import speckle  # noqa: E402


def _median_time(fn, repeat):
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--M", type=int, default=2048)
    ap.add_argument("--N", type=int, default=64)
    ap.add_argument("--ppu", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=2000)
    args = ap.parse_args(argv)
    M, N, ppu = args.M, args.N, args.ppu
    L = M / ppu
    rng = np.random.default_rng(2024)
    V = speckle(rng, M, 1.0 / ppu, strength=2.0, corr_length=0.5)
    ring = tgsweep.Ring.continuum(L, ppu, V)
    print(f"sample: continuum speckle V_R=2, sigma_R=0.5, L={L:g}, ppu={ppu}, M={M}, N={N}")

    # warm-up (numba compile / cache load)
    small = tgsweep.Ring.continuum(8, 8, None)
    tgsweep.obdm(tgsweep.ground_state(small, n_particles=3, method="bisect"))

    t_eig, st = _median_time(lambda: tgsweep.ground_state(ring, n_particles=N, method="bisect"),
                             args.repeat)
    t_obdm, g = _median_time(lambda: tgsweep.obdm(st), args.repeat)
    u = st.lattice_orbitals
    pairs = rng.integers(0, M, (args.pairs, 2))
    t_pp, ref = _median_time(lambda: obdm_reference(u, pairs), 1)
    err = np.max(np.abs(g[pairs[:, 0], pairs[:, 1]] * ring.weight - ref))
    n_pairs = M * (M + 1) // 2
    t_pp_full = t_pp / args.pairs * n_pairs
    H = ring.matrix(0.0)
    t_eigh, _ = _median_time(lambda: np.linalg.eigh(H), args.repeat)

    print(f"eigenpairs (bisect + inverse iteration) : {t_eig:9.3f} s")
    print(f"OBDM kernel (M^2 entries)               : {t_obdm:9.3f} s")
    print(f"per-pair reference, {args.pairs} pairs        : {t_pp:9.3f} s "
          f"-> {t_pp_full:9.1f} s for {n_pairs} pairs (scaled)")
    print(f"dense eigh of the M x M matrix          : {t_eigh:9.3f} s")
    print(f"max |kernel - reference| on the subset  : {err:.2e}")
    print(f"ratio per-pair / OBDM                   : {t_pp_full / t_obdm:9.1f}x  (goal >= 100x)")
    print(f"ratio OBDM / dense eigh                 : {t_obdm / t_eigh:9.2f}   (goal <= 1)")


if __name__ == "__main__":
    main()
