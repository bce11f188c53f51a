"""The blocked OBDM kernel (level-3 BLAS master sweep) against independent references.

``_obdm_kernels.obdm_blocked`` computes the same Lenard/Rigol-Muramatsu determinant formula as
the grouped kernel (docs/references.md, section 1) with the rank-1 Sherman-Morrison steps of the
master sweep gathered into blocks of columns (Woodbury in the block's small space, one rank-k
GEMM update of the inverse per block).  References: the per-pair bordered determinant
gamma = -det [[0, u(x)^H], [u(y), O^T]] (``obdm_reference``, the plain NumPy twin; no inverse,
no sweep), brute-force exact diagonalization of hard-core bosons (tests/_ed.py, no
Jordan-Wigner), and the grouped kernel it accelerates.
"""

from __future__ import annotations

import numpy as np
import pytest

import tgsweep
from tgsweep import Ring
from tgsweep.core import _obdm_kernels as OK
from tgsweep.core.obdm import (BLOCK_COLS, BLOCK_GROUP, BLOCKED_MIN_N, TOL_DEN, TOL_EIG, TOL_PIV,
                               BLOCK_COLS_SMALL_N, BLOCK_GROUP_SMALL_N,
                               block_shape,
                               fill_upper_rows, obdm_lattice, obdm_reference, obdm_stride,
                               upper_rows_lattice)

from _ed import hcb_ground_state, hcb_obdm
from _tolerances import ROUNDOFF, ROUNDOFF_SUM


def _blocked(u, g=16, kb=16, tol_den=TOL_DEN, tol_eig=TOL_EIG, tol_piv=TOL_PIV, stride=None,
             pmax=4):
    m, n = u.shape
    stride = stride or obdm_stride(m, n, u.itemsize)
    q = OK.prefix_checkpoints(u, stride)
    out = np.zeros((m, m), dtype=u.dtype)
    counts = OK.obdm_blocked(u, q, stride, out, 0, 0, m, g, tol_den, tol_eig, tol_piv, pmax, kb)
    OK.mirror_lower(out)
    return out, counts


def _grouped(u, g=8, tol_den=TOL_DEN, tol_eig=TOL_EIG, tol_piv=TOL_PIV, stride=None, pmax=4):
    m, n = u.shape
    stride = stride or obdm_stride(m, n, u.itemsize)
    q = OK.prefix_checkpoints(u, stride)
    out = np.zeros((m, m), dtype=u.dtype)
    counts = OK.obdm_grouped(u, q, stride, out, 0, 0, m, g, tol_den, tol_eig, tol_piv, pmax)
    OK.mirror_lower(out)
    return out, counts


def _orbitals(kind, M, N, W, theta, seed=3):
    rng = np.random.default_rng(seed)
    if kind == "lattice":
        ring = Ring.lattice(W * rng.uniform(-1, 1, M))
    else:
        ring = Ring.continuum(M / 8.0, 8, W * rng.uniform(-1, 1, M))
    return np.ascontiguousarray(tgsweep.ground_state(ring, n_particles=N, twist=theta)
                                .lattice_orbitals)


@pytest.mark.parametrize("kind,M,N,W,theta", [
    ("lattice", 56, 13, 1.0, 0.0), ("lattice", 56, 14, 1.0, 0.7), ("lattice", 48, 24, 0.0, 0.0),
    ("lattice", 50, 25, 0.0, 0.4), ("lattice", 46, 23, 0.0, 0.0), ("lattice", 40, 20, 1e-3, 0.0),
    ("lattice", 44, 21, 0.0, 0.0), ("continuum", 48, 9, 4.0, 0.0),
    ("continuum", 48, 10, 4.0, 1.1), ("continuum", 40, 7, 0.0, np.pi)])
def test_blocked_matches_reference_and_grouped(kind, M, N, W, theta):
    """Blocked kernel = per-pair bordered determinant (obdm_reference) and = the grouped kernel
    to 1e-12, lattice and continuum, real and complex twists, N odd and even, clean and
    disordered, half filling (O^T exactly singular at every other column: Lieb, Schultz &
    Mattis, Ann. Phys. 16, 407 (1961)); block sizes small enough that every row crosses many
    block boundaries, checkpoints (stride 16) and pending-step carry-overs."""
    u = _orbitals(kind, M, N, W, theta)
    ref = obdm_reference(u)
    old, (rb_old, df_old) = _grouped(u)
    np.testing.assert_allclose(old, ref, rtol=0, atol=ROUNDOFF_SUM)
    for g, kb, stride in [(16, 16, None), (5, 6, 16), (0, 7, 1024), (11, 32, 16)]:
        out, _ = _blocked(u, g=g, kb=kb, stride=stride)
        np.testing.assert_allclose(out, ref, rtol=0, atol=ROUNDOFF_SUM)
        np.testing.assert_allclose(out, old, rtol=0, atol=ROUNDOFF_SUM)
    # the same deferral logic as the grouped kernel: at equal grouping, equal counters
    assert _blocked(u, g=8, kb=32)[1] == (rb_old, df_old)


@pytest.mark.parametrize("theta", [0.0, 0.37])
@pytest.mark.parametrize("N", [5, 6])
def test_blocked_matches_brute_force_ed(theta, N):
    """Clean and disordered L = 12 rings, N = 5 and N = 6 (half filling), real and complex
    twist: the blocked kernel equals <b+_x b_y> of the many-body ground state from brute-force
    ED of hard-core bosons (tests/_ed.py) to 1e-10 (the ED eigensolver's accuracy)."""
    L = 12
    for eps in (np.zeros(L), np.random.default_rng(N).uniform(-1, 1, L)):
        _, psi = hcb_ground_state(eps, N, 1.0, theta)
        st = tgsweep.ground_state(Ring.lattice(eps), n_particles=N, twist=theta)
        u = np.ascontiguousarray(st.lattice_orbitals)
        q = OK.prefix_checkpoints(u, 4)
        out = np.zeros((L, L), dtype=u.dtype)
        fill_upper_rows(u, q, 4, out, 0, 0, L, kernel="blocked")
        OK.mirror_lower(out)
        np.testing.assert_allclose(out, tgsweep.obdm(st), rtol=0, atol=ROUNDOFF_SUM)
        np.testing.assert_allclose(out, hcb_obdm(psi, L, N), rtol=0, atol=1e-10)


@pytest.mark.parametrize("complex_", [False, True])
def test_blocked_singular_branches(complex_):
    """Random orthonormal orbitals (not eigenvectors), thresholds that force every safeguard:
    deferrals and rank-p commits (tol_den = 0.9 .. 0.999), overflow of pmax into exact
    rebuilds (pmax = 0, 1), the per-pair mode while O^T is singular (tol_eig = 0.5, 0.95),
    the small-determinant fallback and unusable LDL factors (tol_piv = 0.9, 2), frequent
    checkpoints (stride 7): all equal the per-pair bordered determinant to 1e-12."""
    rng = np.random.default_rng(21)
    M, N = 50, 7
    a = rng.normal(size=(M, N)) + (1j * rng.normal(size=(M, N)) if complex_ else 0)
    u = np.ascontiguousarray(np.linalg.qr(a)[0])
    ref = obdm_reference(u)
    for g, kb, pmax, tol_den, tol_eig, tol_piv, stride in [
            (5, 8, 0, 0.9, 0.5, 1e-2, 16), (8, 6, 1, 0.9, 0.5, 0.9, 7),
            (12, 16, 2, 0.97, 0.5, 2.0, 1024), (3, 9, 4, 0.999, 0.95, 1e-2, 16),
            (16, 32, 4, 1e-3, 1e-3, 2.0, 7)]:
        out, (rebuilds, deferred) = _blocked(u, g=g, kb=kb, tol_den=tol_den, tol_eig=tol_eig,
                                             tol_piv=tol_piv, stride=stride, pmax=pmax)
        np.testing.assert_allclose(out, ref, rtol=0, atol=ROUNDOFF_SUM)
        if tol_den > 0.5:
            assert rebuilds > 0 and (deferred > 0) == (pmax > 0)


def test_blocked_exact_singularity():
    """O^T exactly zero at the pair (2, 5) (two orbitals on sites 2..5 with sum_S u u^T = I/2
    for S = {3, 4}): the per-pair mode must be exact there (reference: obdm_reference)."""
    M = 16
    e = np.zeros((M, 2))
    e[[2, 3, 4, 5], 0] = 0.5
    e[[2, 3], 1] = 0.5
    e[[4, 5], 1] = -0.5
    u = np.ascontiguousarray(e)
    assert np.allclose(np.eye(2) - 2 * (u[3:5].T @ u[3:5]), 0)
    for g, kb in [(0, 6), (2, 6), (16, 16)]:
        out, _ = _blocked(u, g=g, kb=kb)
        np.testing.assert_allclose(out, obdm_reference(u), rtol=0, atol=ROUNDOFF)


@pytest.mark.parametrize("complex_", [False, True])
def test_non_orthonormal_orbitals_rows(complex_):
    """upper_rows_lattice on non-orthonormal orbitals (columns weighted by sqrt(f), f in
    (0, 1), as a thermal caller passes them): the formula never assumes orthonormality, so
    both kernels equal the bordered determinant of the same u, for every row block; the
    automatic choice (blocked from BLOCKED_MIN_N orbitals) is exercised at N >= BLOCKED_MIN_N."""
    rng = np.random.default_rng(9)
    M, N = 48, max(BLOCKED_MIN_N, 17)
    ring = Ring.lattice(rng.uniform(-1.5, 1.5, M))
    st = tgsweep.ground_state(ring, n_particles=N, twist=0.6 if complex_ else 0.0)
    f = rng.uniform(0.05, 0.95, N)
    u = np.ascontiguousarray(st.lattice_orbitals * np.sqrt(f))
    ref = obdm_reference(u)
    q, stride = OK.prefix_checkpoints(u, 16), 16
    for x0, x1 in [(0, 48), (5, 22), (30, 31), (40, 48)]:
        blk = upper_rows_lattice(u, x0, x1)
        np.testing.assert_allclose(np.triu(blk, x0), np.triu(ref[x0:x1], x0), rtol=0,
                                   atol=ROUNDOFF_SUM)
        assert not np.tril(blk, x0 - 1).any()
        for kernel in ("grouped", "blocked"):
            out = np.zeros((x1 - x0, M), dtype=u.dtype)
            fill_upper_rows(u, q, stride, out, x0, x0, x1, kernel=kernel)
            np.testing.assert_allclose(np.triu(out, x0), np.triu(ref[x0:x1], x0), rtol=0,
                                       atol=ROUNDOFF_SUM)
    np.testing.assert_allclose(obdm_lattice(u), ref, rtol=0, atol=ROUNDOFF_SUM)


def test_half_filling_no_rebuilds_blocked():
    """Clean M = 300 ring at half filling (N = 150) and one particle away (N = 149): the
    blocked kernel, like the grouped one, passes the singular columns by deferred rank-2 steps
    and needs no exact O(N^3) rebuild at all (stride > M), which is what keeps half filling
    within ~2x of N - 1 in time (benchmarks/bench_obdm.py --case half); values checked against
    the bordered determinant on sampled pairs."""
    for n in (149, 150):
        u = np.ascontiguousarray(tgsweep.ground_state(Ring.lattice(np.zeros(300)), n_particles=n)
                                 .lattice_orbitals)
        out, (rebuilds, deferred) = _blocked(u)
        pairs = np.random.default_rng(n).integers(0, 300, (30, 2))
        np.testing.assert_allclose(out[pairs[:, 0], pairs[:, 1]], obdm_reference(u, pairs),
                                   rtol=0, atol=ROUNDOFF_SUM)
        assert rebuilds == 0
        assert (deferred > 1000) == (n == 150)


@pytest.mark.parametrize("complex_", [False, True])
def test_ldl_helpers_against_numpy(complex_):
    """The small-space helpers against plain NumPy: the LDL^H factors of A = I - 2 tm
    (L stored transposed) reproduce A, the rank-1 update (Gill, Golub, Murray & Saunders,
    Math. Comp. 28, 505 (1974)) reproduces A + alpha v v^H, and the values are the bordered
    leading minors det [[A[:r, :r], t[:r]], [A[r, :r], t[r]]] (numpy.linalg.det); the fused
    values-and-update pass gives the minors of the old A and the factors of the new one."""
    rng = np.random.default_rng(4)
    gg = 9
    x = rng.normal(size=(gg, gg)) + (1j * rng.normal(size=(gg, gg)) if complex_ else 0)
    tm = x @ x.conj().T / 30
    dt = tm.dtype

    def vec(scale=1.0):
        return (scale * (rng.normal(size=gg) + (1j * rng.normal(size=gg) if complex_ else 0))
                ).astype(dt)

    def check_factors(a):
        lo = np.triu(lt, 1).T + np.eye(gg)
        # O(gg) accumulated operations per entry, after a rank-1 update of the factors
        np.testing.assert_allclose(lo @ np.diag(dd) @ lo.conj().T, a, rtol=0, atol=ROUNDOFF_SUM)

    def minors(a, t):
        return [np.linalg.det(np.block([[a[:r, :r], t[:r, None]],
                                        [a[r:r + 1, :r], t[r:r + 1, None]]])) for r in range(gg)]

    lt, dd = np.zeros((gg, gg), dt), np.zeros(gg)
    assert OK._ldl_factor(tm, gg, lt, dd, 1e-2)
    a = np.eye(gg) - 2 * tm
    check_factors(a)
    v = vec(0.3)
    assert OK._ldl_update(lt, dd, gg, -0.7, v, np.zeros(gg, dt), 1e-8)
    a = a - 0.7 * np.outer(v, v.conj())
    check_factors(a)
    for upd, alpha in ((False, 0.0), (True, 0.45), (True, -0.6)):
        t = vec(0.4)
        out = np.zeros((gg, 1), dt)
        assert OK._ldl_values_update(lt, dd, gg, t, np.zeros(gg, dt), 1.0, out, gg - 1, 0,
                                     alpha, upd, 1e-8)
        np.testing.assert_allclose(out[::-1, 0], minors(a, t), rtol=0, atol=10 * ROUNDOFF)
        a = a + alpha * np.outer(t, t.conj())
        check_factors(a)
    # a pivot below tol_piv is reported, not used
    assert not OK._ldl_factor(np.full((gg, gg), 0.5, dtype=dt), gg, lt, dd, 1e-2)
    # an update whose new pivot vanishes: reported, and the values still complete
    assert OK._ldl_factor(tm, gg, lt, dd, 1e-2)
    a = np.eye(gg) - 2 * tm
    t = vec()
    out = np.zeros((gg, 1), dt)
    alpha = -dd[0] / abs(t[0]) ** 2          # d_0 + alpha |t_0|^2 = 0
    assert not OK._ldl_values_update(lt, dd, gg, t, np.zeros(gg, dt), 1.0, out, gg - 1, 0,
                                     alpha, True, 1e-8)
    np.testing.assert_allclose(out[::-1, 0], minors(a, t), rtol=0, atol=10 * ROUNDOFF)


def test_fill_upper_rows_rejects_unknown_kernel():
    """Bad input: one clear line naming the field and the allowed values."""
    u = np.ascontiguousarray(np.linalg.qr(np.random.default_rng(0).normal(size=(10, 3)))[0])
    with pytest.raises(ValueError, match="kernel: must be"):
        fill_upper_rows(u, OK.prefix_checkpoints(u, 1024), 1024, np.zeros((10, 10)), 0, 0, 10,
                        kernel="fast")


@pytest.mark.parametrize("theta", [0.0, 0.6])
def test_blocked_default_shape_long_sweep(theta):
    """Every block shape block_shape chooses from (g = 32, 40, 48) over long master sweeps
    (M = 512: the LDL^H factors of each group's small matrix are carried across ~20 blocks and
    a checkpoint rebuild, stride 256): equal to the grouped kernel (level-2 Sherman-Morrison,
    no factors carried) to 1e-12 everywhere and to the per-pair bordered determinant
    (obdm_reference) on sampled pairs, real and complex orbitals, N above BLOCKED_MIN_N."""
    u = _orbitals("lattice", 512, 40, 0.6, theta, seed=5)
    old, _ = _grouped(u, stride=256)
    pairs = np.random.default_rng(8).integers(0, 512, (40, 2))
    ref = obdm_reference(u, pairs)
    # the shape used here, both shapes block_shape chooses from, and a larger group
    for g, kb in {block_shape(*u.shape), (BLOCK_GROUP, BLOCK_COLS),
                  (BLOCK_GROUP_SMALL_N, BLOCK_COLS_SMALL_N), (48, BLOCK_COLS_SMALL_N)}:
        out, _ = _blocked(u, g=g, kb=kb, stride=256)
        np.testing.assert_allclose(out, old, rtol=0, atol=ROUNDOFF_SUM)
        np.testing.assert_allclose(out[pairs[:, 0], pairs[:, 1]], ref, rtol=0, atol=ROUNDOFF_SUM)


@pytest.mark.parametrize("complex_", [False, True])
def test_ldl_values_batch_is_the_sequence_of_passes(complex_):
    """_ldl_values_batch (the factors' pass for several columns, column of L outermost) equals
    the same columns' _ldl_values_update calls one after another bit for bit -- values, factors
    and the index of the first update that meets a small pivot -- and its values are the
    bordered leading minors det [[A[:r, :r], t[:r]], [A[r, :r], t[r]]] of the successively
    updated A (numpy.linalg.det, the plain NumPy twin), with and without updates, including a
    batch whose update fails part-way (values complete up to and including that column).
    For real factors the same holds for _ldl_values_batch2 (two columns of L at a time, the
    pass the real kernel uses)."""
    rng = np.random.default_rng(17)
    dt = np.complex128 if complex_ else np.float64

    def rnd(*shape):
        x = rng.normal(size=shape) + (1j * rng.normal(size=shape) if complex_ else 0)
        return x.astype(dt)

    nfail = 0
    for trial in range(40):
        gg, nb = int(rng.integers(2, 40)), int(rng.integers(1, 20))
        x = rnd(gg, gg)
        tm = x @ x.conj().T / (rng.uniform(6, 30) * gg)
        lt, dd = np.zeros((gg, gg), dt), np.zeros(gg)
        assert OK._ldl_factor(tm, gg, lt, dd, 1e-2)
        ts = rnd(nb, gg) * rng.uniform(0.05, 0.5)
        al = rng.uniform(-4, 4, nb)
        up = rng.uniform(size=nb) < 0.8
        pr = rng.uniform(0.5, 2, nb)
        col = rng.permutation(nb).astype(np.int64)
        tol = 10 ** rng.uniform(-6, -1)
        o1, o2 = np.zeros((gg, nb), dt), np.zeros((gg, nb), dt)
        l1, d1, l2, d2 = lt.copy(), dd.copy(), lt.copy(), dd.copy()
        fail = nb
        for b in range(nb):
            if not OK._ldl_values_update(l1, d1, gg, ts[b], np.zeros(gg, dt), pr[b], o1, gg - 1,
                                         col[b], al[b], up[b], tol):
                fail = b
                break
        got = OK._ldl_values_batch(l2, d2, gg, ts, al, up, pr, col, nb, o2, gg - 1,
                                   np.zeros((nb, gg), dt), np.zeros((nb, gg + 3)), tol)
        assert got == fail
        done = col[:fail + 1]
        assert np.array_equal(o1[:, done], o2[:, done])
        if fail == nb:
            assert np.array_equal(l1, l2) and np.array_equal(d1, d2)
        if not complex_:
            # two columns of L at a time (the real kernel's pass): the same bits
            l3, d3, o3 = lt.copy(), dd.copy(), np.zeros((gg, nb), dt)
            got2 = OK._ldl_values_batch2(l3, d3, gg, ts, al, up, pr, col, nb, o3, gg - 1,
                                         np.zeros((nb, gg), dt), np.zeros((nb, gg + 3)), tol)
            assert got2 == fail
            assert np.array_equal(o1[:, done], o3[:, done])
            if fail == nb:
                assert np.array_equal(l1, l3) and np.array_equal(d1, d3)
        nfail += fail < nb
        a = np.eye(gg) - 2 * tm
        for b in range(min(fail + 1, nb)):
            minors = [pr[b] * np.linalg.det(np.block([[a[:r, :r], ts[b, :r, None]],
                                                      [a[r:r + 1, :r], ts[b, r:r + 1, None]]]))
                      for r in range(gg)]
            np.testing.assert_allclose(o2[::-1, col[b]], minors, rtol=0,
                                       atol=1e3 * ROUNDOFF * max(1.0, np.max(np.abs(minors))))
            if up[b]:
                a = a + al[b] * np.outer(ts[b], ts[b].conj())
    assert 0 < nfail < 40


@pytest.mark.parametrize("complex_", [False, True])
def test_blocked_factors_failing_and_recovering(complex_):
    """Pivot thresholds between "factors always usable" and "never": the LDL^H factors fail
    part-way through a run of queued columns (the columns after the failure are redone one by
    one), recover after refactoring, and Z^H B Z -- not carried while the factors are usable --
    is computed from B where they fail: equal to the per-pair bordered determinant
    (obdm_reference) to 1e-12 for every threshold, random orthonormal orbitals (not
    eigenvectors), several block shapes."""
    rng = np.random.default_rng(23)
    M, N = 64, 9
    a = rng.normal(size=(M, N)) + (1j * rng.normal(size=(M, N)) if complex_ else 0)
    u = np.ascontiguousarray(np.linalg.qr(a)[0])
    ref = obdm_reference(u)
    for tol_piv in (0.05, 0.15, 0.3, 0.5):
        for g, kb in ((16, 8), (24, 5), (48, 16)):
            out, _ = _blocked(u, g=g, kb=kb, tol_piv=tol_piv)
            np.testing.assert_allclose(out, ref, rtol=0, atol=ROUNDOFF_SUM)
