"""OBDM kernel benchmarks: half-filling pathology and dense-kernel headroom.

``--case headroom``: the grouped kernel (``obdm_grouped``, level-2 Sherman-Morrison sweeps)
and the blocked kernel (``obdm_blocked``, the same sweeps as level-3 BLAS, blocked Woodbury)
against the *grouped operation count*: one rank-1 update of the N x N inverse per master-sweep
column, 2 N^2 real flops (8 N^2 for complex orbitals), times the number of master-sweep columns
sum_groups (M - 1 - x0) of the g = GROUP grouping, at this machine's DGEMM (ZGEMM) rate measured
in the same run (a 768^3 product, single thread, measured before every kernel run: the fastest
of them for "ratio", the one just before each blocked run for "paired").  Ratio
time / count; the blocked kernel's ratio is also given against the count of its own grouping
(g from ``block_shape(M, N)``, column ``g``; fewer master sweeps).  Times are CPU time of this
process
(``time.process_time``, single thread): the machine is shared and wall time would include
other processes' turns.

``--case half``: clean lattice rings at exactly half filling (N = M/2, O^T exactly singular at
every other column, particle-hole symmetry) against one particle away (N = M/2 - 1) and a weakly
disordered half-filled ring (W = 1e-3); prints medians, the ratio half / neighbour and the
kernel's counters (exact O(N^3) rebuilds, deferred rank-2 steps).

Threads are pinned to 1 (BLAS and numba); ratios are within one run.

Run:  python benchmarks/bench_obdm.py --case half [--repeat 5]
      python benchmarks/bench_obdm.py --case headroom [--full]   (--full: M up to 4096, N = 256)
      python benchmarks/bench_obdm.py --case breakdown   (GEMM floor vs the rest, per column)
      python benchmarks/bench_obdm.py --case crossover   (grouped vs blocked at small N)
"""

from __future__ import annotations

import argparse
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "1"

import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

import tgsweep  # noqa: E402
from tgsweep.core import _obdm_kernels as OK  # noqa: E402
from tgsweep.core.obdm import (GROUP, TOL_DEN, TOL_EIG, TOL_PIV, block_shape,  # noqa: E402
                               obdm_lattice, obdm_stride)


def _median_time(fn, repeat):
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.process_time()
        out = fn()
        times.append(time.process_time() - t0)
    return statistics.median(times), out


def _gemm_rate(dtype, n=768, repeat=3):
    """Flops per second of one n x n x n product (2 n^3 real flops, 8 n^3 complex)."""
    rng = np.random.default_rng(1)
    a = rng.normal(size=(n, n)).astype(dtype)
    b = rng.normal(size=(n, n)).astype(dtype)
    a @ b
    t, _ = _median_time(lambda: a @ b, repeat)
    return (8 if dtype == np.complex128 else 2) * n**3 / t


def _sweep_columns(m, g):
    """Master-sweep columns of the grouping: sum over groups x0 = M-1, M-1-(g+1), ... of
    M - 1 - x0."""
    return sum(m - 1 - x0 for x0 in range(m - 1, -1, -(g + 1)))


def _kernel(u, blocked=False):
    m, n = u.shape
    stride = obdm_stride(m, n, u.itemsize)
    q = OK.prefix_checkpoints(u, stride)
    out = np.zeros((m, m), dtype=u.dtype)
    if blocked:
        g, kb = block_shape(m, n)
        return OK.obdm_blocked(u, q, stride, out, 0, 0, m, g, TOL_DEN, TOL_EIG, TOL_PIV, 4, kb)
    return OK.obdm_grouped(u, q, stride, out, 0, 0, m, GROUP, TOL_DEN, TOL_EIG, TOL_PIV)


def half_filling(repeat):
    print("case half: clean lattice ring, N = M/2 vs N = M/2 - 1 (and W = 1e-3 at N = M/2), "
          "grouped and blocked kernels")
    print(f"{'kernel':>8} {'M':>5} {'N':>5} {'W':>7} {'median s':>10} {'ratio':>7} "
          f"{'rebuilds':>9} {'deferred':>9}")
    for blocked in (False, True):
        rng = np.random.default_rng(7)
        for m in (200, 300):
            base = None
            for n, w in ((m // 2 - 1, 0.0), (m // 2, 0.0), (m // 2, 1e-3)):
                ring = tgsweep.Ring.lattice(w * rng.uniform(-1, 1, m))
                u = np.ascontiguousarray(tgsweep.ground_state(ring, n_particles=n)
                                         .lattice_orbitals)
                t, (rebuilds, deferred) = _median_time(lambda: _kernel(u, blocked), repeat)
                base = base or t
                print(f"{'blocked' if blocked else 'grouped':>8} {m:>5} {n:>5} {w:>7.0e} "
                      f"{t:>10.4f} {t / base:>7.2f} {rebuilds:>9} {deferred:>9}")


def _fill(u, blocked):
    m, n = u.shape
    stride = obdm_stride(m, n, u.itemsize)
    q = OK.prefix_checkpoints(u, stride)
    out = np.zeros((m, m), dtype=u.dtype)
    if blocked:
        g, kb = block_shape(m, n)
        OK.obdm_blocked(u, q, stride, out, 0, 0, m, g, TOL_DEN, TOL_EIG, TOL_PIV, 4, kb)
    else:
        OK.obdm_grouped(u, q, stride, out, 0, 0, m, GROUP, TOL_DEN, TOL_EIG, TOL_PIV)
    return out


def headroom(full, repeat):
    cases = [(1024, 64, 0.0), (2048, 64, 0.0), (2048, 64, 0.5), (1024, 256, 0.0),
             (1024, 256, 0.5)]
    if full:
        cases += [(4096, 64, 0.0), (2048, 256, 0.0), (4096, 256, 0.0)]
    rates = {dt: [] for dt in (np.float64, np.complex128)}

    def rate(dt):
        rates[dt].append(_gemm_rate(dt, repeat=1))
        return rates[dt][-1]

    print(f"case headroom: disordered lattice ring (Anderson box W = 0.6), GROUP = {GROUP}, "
          f"blocked g, columns per block = block_shape(M, N); CPU seconds, 1 thread")
    print(f"{'M':>5} {'N':>4} {'dtype':>7} {'GF/s':>6} {'count':>8} {'grouped':>8} {'ratio':>6} "
          f"{'g':>3} {'kb':>3} {'blocked':>8} {'ratio':>6} {'paired':>6} {'ratio*':>6} "
          f"{'speedup':>7} {'max|diff|':>9}")
    rng = np.random.default_rng(11)
    for m, n, theta in cases:
        ring = tgsweep.Ring.lattice(0.3 * rng.uniform(-1, 1, m))
        u = np.ascontiguousarray(tgsweep.ground_state(ring, n_particles=n, twist=theta)
                                 .lattice_orbitals)
        cx = u.dtype == np.complex128
        flops_col = (8 if cx else 2) * n * n
        cols = _sweep_columns(m, GROUP)
        reps = repeat if m * n < 2048 * 256 else 1
        a = _fill(u, False)
        b = _fill(u, True)
        t_old, t_new, paired = [], [], []
        for _ in range(reps):
            # each kernel run next to a GEMM-rate measurement (the machine is shared: its speed
            # drifts within a run; "paired" is the median of these same-moment ratios)
            r1 = rate(u.dtype.type)
            t0 = time.process_time()
            _fill(u, False)
            t_old.append(time.process_time() - t0)
            r2 = rate(u.dtype.type)
            t0 = time.process_time()
            _fill(u, True)
            t_new.append(time.process_time() - t0)
            paired.append(t_new[-1] / (cols * flops_col / r2))
        t_old, t_new = statistics.median(t_old), statistics.median(t_new)
        r = max(rates[u.dtype.type])
        per_col = flops_col / r
        count = cols * per_col
        g, kb = block_shape(m, n)
        count_own = _sweep_columns(m, g) * per_col
        diff = np.max(np.abs(np.triu(a) - np.triu(b)))
        print(f"{m:>5} {n:>4} {'complex' if cx else 'real':>7} {r / 1e9:>6.1f} {count:>8.4f} "
              f"{t_old:>8.3f} {t_old / count:>6.1f} {g:>3} {kb:>3} {t_new:>8.3f} "
              f"{t_new / count:>6.1f} {statistics.median(paired):>6.1f} "
              f"{t_new / count_own:>6.1f} {t_old / t_new:>7.2f} {diff:>9.1e}")
    print("count: grouped operation count (g = GROUP) at the fastest GEMM rate measured in the run "
          "(GF/s); ratio = median time / count; paired = median over the repeats of blocked time "
          "/ count at the GEMM rate measured just before it; ratio* = blocked time / count of "
          "its own grouping (g, kb = block_shape(M, N))")


@njit(cache=True)
def _gemm_replay(u, g, kb, scale):
    """Only the level-3 part of the blocked kernel (the same GEMM shapes and preallocated
    buffers per block: W = U conj(B), E^T = W conj(X)^T with X = [U_blk, Z], P = R W and
    conj(B) += conj(P)^T (c P)), for the same groups and blocks; ``scale`` keeps B bounded.
    Measures the floor the GEMMs set."""
    m, n = u.shape
    x0 = m - 1
    acc = 0.0
    wbuf = np.empty(kb * n, dtype=u.dtype)
    nxm = kb + g + 1
    etbuf = np.empty(kb * nxm, dtype=u.dtype)
    xc = np.empty((nxm, n), dtype=u.dtype)
    pbuf = np.empty(kb * n, dtype=u.dtype)
    cpbuf = np.empty(kb * n, dtype=u.dtype)
    rrbuf = np.zeros(kb * kb, dtype=u.dtype)
    upd = np.empty((n, n), dtype=u.dtype)
    while x0 >= 0:
        zmin = max(0, x0 - g)
        gg = x0 - zmin + 1
        bc = np.eye(n).astype(u.dtype)
        y = x0 + 1
        while y < m:
            ke = min(kb, m - y)
            nxe = ke + gg
            ub = u[y:y + ke]
            for l in range(ke):
                for al in range(n):
                    xc[l, al] = np.conj(ub[l, al])
            for r in range(gg):
                for al in range(n):
                    xc[ke + r, al] = np.conj(u[x0 - r, al])
            w = wbuf[:ke * n].reshape((ke, n))
            np.dot(ub, bc, w)
            et = etbuf[:ke * nxe].reshape((ke, nxe))
            np.dot(w, xc[:nxe].T, et)
            rr = rrbuf[:ke * ke].reshape((ke, ke))
            for i in range(ke):
                for l in range(i + 1):
                    rr[i, l] = et[l, i] * scale
            pm = pbuf[:ke * n].reshape((ke, n))
            np.dot(rr, w, pm)
            cp = cpbuf[:ke * n].reshape((ke, n))
            for i in range(ke):
                for al in range(n):
                    cp[i, al] = scale * pm[i, al]
                    pm[i, al] = np.conj(pm[i, al])
            np.dot(pm.T, cp, upd)
            for al in range(n):
                for be in range(n):
                    bc[al, be] += upd[al, be]
            acc += abs(et[0, ke])
            y += ke
        x0 = zmin - 1
        if gg == 0:
            break
    return acc


def breakdown(repeat):
    """Where the blocked kernel's time goes: the GEMM floor (same calls, nothing else) and the
    rest (small-space Woodbury steps, the LDL values-and-update pass, group heads, rebuilds,
    first touch of the output's pages)."""
    print("case breakdown: blocked kernel (g, columns per block = block_shape(M, N)) vs its GEMMs "
          "alone; ns per master-sweep column; CPU time")
    print(f"{'M':>5} {'N':>4} {'dtype':>7} {'count':>7} {'blocked':>8} {'GEMMs':>7} {'rest':>7} "
          f"{'GEMMs/count':>11} {'blocked/count':>13}")
    rng = np.random.default_rng(13)
    for m, n, theta in ((2048, 64, 0.0), (2048, 64, 0.5), (1024, 256, 0.0)):
        ring = tgsweep.Ring.lattice(0.3 * rng.uniform(-1, 1, m))
        u = np.ascontiguousarray(tgsweep.ground_state(ring, n_particles=n, twist=theta)
                                 .lattice_orbitals)
        cx = u.dtype == np.complex128
        r = _gemm_rate(u.dtype.type)
        g, kb = block_shape(m, n)
        cols = _sweep_columns(m, g)
        t_new, _ = _median_time(lambda: _fill(u, True), repeat)
        _gemm_replay(u[:64], g, kb, 1e-3)
        t_gemm, _ = _median_time(lambda: _gemm_replay(u, g, kb, 1e-3), repeat)
        r = max(r, _gemm_rate(u.dtype.type))
        cnt = (8 if cx else 2) * n * n / r * 1e9
        tn, tg = t_new / cols * 1e9, t_gemm / cols * 1e9
        print(f"{m:>5} {n:>4} {'complex' if cx else 'real':>7} {cnt:>7.0f} {tn:>8.0f} {tg:>7.0f} "
              f"{tn - tg:>7.0f} {tg / cnt:>11.1f} {tn / cnt:>13.1f}")
    print("count: one rank-1 update (2 N^2 real flops, 8 N^2 complex) at the measured GEMM rate")


def crossover(repeat):
    """obdm_lattice's choice against both kernels at small sizes (where block overheads show)."""
    print("case crossover: grouped vs blocked kernel, CPU seconds (median); obdm_lattice uses "
          "the blocked kernel where N >= BLOCKED_MIN_N")
    print(f"{'M':>5} {'N':>4} {'grouped':>9} {'blocked':>9} {'speedup':>8}")
    rng = np.random.default_rng(12)
    for m, n in ((256, 4), (256, 8), (256, 16), (256, 32), (512, 8), (512, 16), (512, 32),
                 (512, 64), (300, 149), (300, 150)):
        ring = tgsweep.Ring.lattice(0.3 * rng.uniform(-1, 1, m) if n < 100 else np.zeros(m))
        u = np.ascontiguousarray(tgsweep.ground_state(ring, n_particles=n).lattice_orbitals)
        t_old, _ = _median_time(lambda: _fill(u, False), repeat)
        t_new, _ = _median_time(lambda: _fill(u, True), repeat)
        print(f"{m:>5} {n:>4} {t_old:>9.4f} {t_new:>9.4f} {t_old / t_new:>8.2f}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=["half", "headroom", "crossover", "breakdown"],
                    default="half")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--full", action="store_true", help="headroom: add M = 4096 and N = 256")
    args = ap.parse_args(argv)
    small = np.ascontiguousarray(np.linalg.qr(np.random.default_rng(0).normal(size=(40, 3)))[0])
    _kernel(small)
    _fill(small, True)
    _fill(small.astype(np.complex128), True)
    _fill(small.astype(np.complex128), False)
    obdm_lattice(small)
    if args.case == "half":
        half_filling(args.repeat)
    elif args.case == "headroom":
        headroom(args.full, args.repeat)
    elif args.case == "breakdown":
        breakdown(args.repeat)
    else:
        crossover(args.repeat)


if __name__ == "__main__":
    main()
