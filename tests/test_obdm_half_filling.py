"""Half filling of a clean bipartite ring: O^T is exactly singular at every other column.

For a particle-hole symmetric state (clean lattice ring, N = M/2, M even) the correlation matrix
C = u u^H restricted to any odd string S has the eigenvalue 1/2, so det O^T = det(1 - 2 C_S) = 0
(Lieb, Schultz & Mattis, Ann. Phys. 16, 407 (1961): the restricted correlation matrix of the
half-filled XX chain has a spectrum symmetric about 1/2).  The grouped kernel passes such
points by deferring one step and committing a rank-2 Woodbury update; these tests check the
values against the per-pair bordered determinant (``obdm_reference``, the NumPy twin) and
brute-force exact diagonalization (tests/_ed.py), and count the O(N^3) exact rebuilds, which
must not grow with the number of singular points.
"""

from __future__ import annotations

import numpy as np
import pytest

import tgsweep
from tgsweep import Ring
from tgsweep.core import _obdm_kernels as OK
from tgsweep.core.obdm import (GROUP, TOL_DEN, TOL_EIG, TOL_PIV, obdm_stride, obdm_lattice,
                               obdm_reference)

from _ed import hcb_ground_state, hcb_obdm


def _grouped(u, g=GROUP, tol_den=TOL_DEN, tol_eig=TOL_EIG, tol_piv=TOL_PIV, stride=None,
             pmax=4):
    m, n = u.shape
    stride = stride or obdm_stride(m, n, u.itemsize)
    q = OK.prefix_checkpoints(u, stride)
    out = np.zeros((m, m), dtype=u.dtype)
    counts = OK.obdm_grouped(u, q, stride, out, 0, 0, m, g, tol_den, tol_eig, tol_piv, pmax)
    OK.mirror_lower(out)
    return out, counts


def test_half_filling_is_singular_every_other_step():
    """Guard on the premise: on the clean M = 40 ring with N = 20, det(I - 2 U_S^H U_S) vanishes
    (to rounding) for every odd |S| and not for even |S| (Lieb-Schultz-Mattis particle-hole
    symmetry), so the old kernel had to rebuild at every other column."""
    u = tgsweep.ground_state(Ring.lattice(np.zeros(40)), n_particles=20).lattice_orbitals
    for k in range(1, 12):
        ot = np.eye(20) - 2 * u[3:3 + k].T @ u[3:3 + k]
        smin = np.min(np.abs(np.linalg.eigvalsh(ot)))
        assert (smin < 1e-12) == (k % 2 == 1)


@pytest.mark.parametrize("M,N,W,theta", [(40, 20, 0.0, 0.0), (40, 20, 0.0, 0.3),
                                         (42, 21, 0.0, 0.0), (30, 15, 1e-3, 0.0),
                                         (36, 18, 0.0, 0.9)])
def test_half_filling_matches_reference_without_rebuilds(M, N, W, theta):
    """Grouped kernel = per-pair bordered determinant (obdm_reference) to 1e-12 at half filling,
    real and complex twists, clean and W = 1e-3; zero exact O(N^3) rebuilds (stride > M), the
    singular columns handled by deferred steps (counted)."""
    rng = np.random.default_rng(3)
    ring = Ring.lattice(W * rng.uniform(-1, 1, M))
    u = np.ascontiguousarray(tgsweep.ground_state(ring, n_particles=N, twist=theta)
                             .lattice_orbitals)
    out, (rebuilds, deferred) = _grouped(u)
    np.testing.assert_allclose(out, obdm_reference(u), rtol=0, atol=1e-12)
    assert rebuilds == 0
    assert deferred > M  # O(M^2 / GROUP) singular columns, each deferred once


@pytest.mark.parametrize("theta", [0.0, 0.37])
def test_half_filling_matches_brute_force_ed(theta):
    """Clean L = 12 ring, N = 6 (half filling): tgsweep.obdm equals the many-body ground state's
    <b+_x b_y> from brute-force ED (tests/_ed.py, no Jordan-Wigner) to 1e-10."""
    L, N = 12, 6
    eps = np.zeros(L)
    _, psi = hcb_ground_state(eps, N, 1.0, theta)
    st = tgsweep.ground_state(Ring.lattice(eps), n_particles=N, twist=theta)
    np.testing.assert_allclose(tgsweep.obdm(st), hcb_obdm(psi, L, N), rtol=0, atol=1e-10)


def test_rebuild_count_does_not_scale_with_singular_points():
    """M = 200, N = 100 (the pathological case: 2255 singular columns) needs no more exact
    rebuilds than N = 99 (both zero), and agrees with the reference on sampled pairs."""
    counts = {}
    for n in (99, 100):
        u = np.ascontiguousarray(tgsweep.ground_state(Ring.lattice(np.zeros(200)), n_particles=n)
                                 .lattice_orbitals)
        out, counts[n] = _grouped(u)
        pairs = np.random.default_rng(n).integers(0, 200, (40, 2))
        np.testing.assert_allclose(out[pairs[:, 0], pairs[:, 1]], obdm_reference(u, pairs),
                                   rtol=0, atol=1e-12)
    assert counts[100][0] <= counts[99][0] == 0
    assert counts[100][1] > 1000


@pytest.mark.parametrize("complex_", [False, True])
@pytest.mark.parametrize("pmax,tol_den", [(0, 0.9), (1, 0.9), (2, 0.97), (4, 0.999)])
def test_deferred_steps_all_branches(complex_, pmax, tol_den):
    """Random orthonormal orbitals (not eigenvectors) with thresholds that force deferrals,
    rank-p commits, overflow of pmax into exact rebuilds and the adjugate mode: all equal the
    per-pair bordered determinant to 1e-12."""
    rng = np.random.default_rng(21)
    M, N = 50, 7
    a = rng.normal(size=(M, N)) + (1j * rng.normal(size=(M, N)) if complex_ else 0)
    u = np.ascontiguousarray(np.linalg.qr(a)[0])
    ref = obdm_reference(u)
    for g, stride in [(0, 1024), (5, 16), (8, 7)]:
        out, (rebuilds, deferred) = _grouped(u, g=g, tol_den=tol_den, tol_eig=0.5,
                                             stride=stride, pmax=pmax)
        np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12)
        assert (deferred > 0) == (pmax > 0)


def test_group_head_is_exact_at_singular_points():
    """The group's own triangle (small bordered determinants from the Gram matrix) on the
    exactly singular half-filled ring equals obdm_reference for every group size."""
    u = np.ascontiguousarray(tgsweep.ground_state(Ring.lattice(np.zeros(24)), n_particles=12)
                             .lattice_orbitals)
    ref = obdm_reference(u)
    for g in range(0, 12):
        out = np.zeros((24, 24))
        x0 = 23
        while x0 >= 0:
            zmin = max(0, x0 - g)
            OK.group_head(u, x0, zmin, out, 0)
            x0 = zmin - 1
        mask = np.zeros((24, 24), bool)
        x0 = 23
        while x0 >= 0:
            zmin = max(0, x0 - g)
            mask[zmin:x0 + 1, zmin:x0 + 1] = np.triu(np.ones((x0 + 1 - zmin,) * 2, bool))
            x0 = zmin - 1
        np.testing.assert_allclose(out[mask], ref[mask], rtol=0, atol=1e-13)
    np.testing.assert_allclose(obdm_lattice(u), ref, rtol=0, atol=1e-12)


def _heads(u, g, rows_only=False):
    """The group triangles of one grouping (g + 1 rows per group, from the top) by group_head,
    and which groups the row path gave (0) or were redone column by column (1)."""
    m = u.shape[0]
    out = np.zeros((m, m), dtype=u.dtype)
    mask = np.zeros((m, m), bool)
    paths = []
    x0 = m - 1
    while x0 >= 0:
        zmin = max(0, x0 - g)
        paths.append(OK.group_head(u, x0, zmin, out, 0))
        mask[zmin:x0 + 1, zmin:x0 + 1] = np.triu(np.ones((x0 + 1 - zmin,) * 2, bool))
        x0 = zmin - 1
    return out, mask, paths


@pytest.mark.parametrize("kind,M,N,W,theta", [
    ("lattice", 96, 17, 1.0, 0.0), ("lattice", 96, 30, 0.3, 0.8), ("lattice", 80, 40, 0.0, 0.3),
    ("continuum", 96, 12, 4.0, 0.0), ("continuum", 96, 11, 2.0, 1.3)])
def test_group_head_rows_equal_reference_and_columns(kind, M, N, W, theta):
    """The row-by-row group head (one LDL^H factorization per group, carried from row to row
    by rank-1 updates, O(g^3)) equals the per-pair bordered determinant (obdm_reference, the
    plain NumPy twin: gamma = -det [[0, u(x)^H], [u(y), O^T]], Lenard 1964 / Rigol &
    Muramatsu 2004) on every entry of every group triangle, and the column-by-column head
    (one factorization per column, the path it accelerates) to roundoff; the row path gives
    at least half of the groups here (it is the one under test; groups of more rows than
    orbitals mostly have a vanishing leading minor and are redone by columns), real and complex
    orbitals, lattice and continuum, groups of 2 to 48 rows."""
    rng = np.random.default_rng(5)
    if kind == "lattice":
        ring = Ring.lattice(W * rng.uniform(-1, 1, M))
    else:
        ring = Ring.continuum(M / 8.0, 8, W * rng.uniform(-1, 1, M))
    u = np.ascontiguousarray(tgsweep.ground_state(ring, n_particles=N, twist=theta)
                             .lattice_orbitals)
    ref = obdm_reference(u)
    taken = []
    for g in (1, 7, 20, 47):
        out, mask, paths = _heads(u, g)
        taken += paths
        np.testing.assert_allclose(out[mask], ref[mask], rtol=0, atol=1e-12)
        # the column path on the same groups
        cols = np.zeros_like(out)
        x0 = M - 1
        while x0 >= 0:
            zmin = max(0, x0 - g)
            ut = u[zmin:x0 + 1]
            gm = np.ascontiguousarray(ut.conj() @ ut.T)
            OK._head_columns(gm, x0 - zmin + 1, zmin, cols, 0, TOL_PIV)
            x0 = zmin - 1
        off = mask & ~np.eye(M, dtype=bool)
        np.testing.assert_allclose(out[off], cols[off], rtol=0, atol=1e-13)
    assert taken.count(0) >= len(taken) // 2, taken


def test_group_head_falls_back_to_columns_at_singular_minors():
    """At half filling of a clean ring every other leading minor of the group's small matrix
    vanishes (Lieb, Schultz & Mattis, Ann. Phys. 16, 407 (1961)): the row path's factors do not
    exist, group_head says so (1) and the column path's exact small determinants give the
    triangle, equal to obdm_reference; one particle away the rows give it (0)."""
    for n, expect in ((12, 1), (11, 0)):
        u = np.ascontiguousarray(tgsweep.ground_state(Ring.lattice(np.zeros(24)), n_particles=n)
                                 .lattice_orbitals)
        ref = obdm_reference(u)
        out, mask, paths = _heads(u, 11)
        np.testing.assert_allclose(out[mask], ref[mask], rtol=0, atol=1e-13)
        assert paths == [expect, expect], paths
