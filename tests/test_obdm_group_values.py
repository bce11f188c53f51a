"""The shared group-value block ``_obdm_kernels.group_values`` against plain NumPy determinants.

Woodbury and the matrix determinant lemma turn the g + 1 nested string sets of a group into the
bordered leading minors det [[A[:r, :r], t[:r]], [A[r, :r], t[r]]] of one small system,
A = I - 2 Z^H B Z, t = Z^H B u(y) (Lenard, J. Math. Phys. 5, 930 (1964); docs/references.md,
section 1).  The reference here is numpy.linalg.det of each bordered minor, no elimination shared
between rows; the fallback (exact small determinants past a tiny pivot) is driven by exactly
singular leading minors, as at half filling of a clean ring (Lieb, Schultz & Mattis, Ann. Phys.
16, 407 (1961)).
"""

from __future__ import annotations

import numpy as np
import pytest

from tgsweep.core import _obdm_kernels as OK


def _minors(tm, t):
    a = np.eye(tm.shape[0]) - 2 * tm
    return np.array([np.linalg.det(np.block([[a[:r, :r], t[:r, None]],
                                              [a[r:r + 1, :r], t[r:r + 1, None]]]))
                     for r in range(tm.shape[0])])


def _values(tm, t, tol_piv=1e-2, pref=1.0):
    gg = tm.shape[0]
    dt = tm.dtype
    out = np.zeros((gg + 2, 3), dt)
    used = OK.group_values(tm, t, gg, pref, out, gg, 1, np.zeros((gg + 1, gg + 1), dt),
                           np.zeros(gg + 1, dt), np.zeros((gg + 1, gg + 1), dt), tol_piv)
    return out[gg - np.arange(gg), 1], used


@pytest.mark.parametrize("complex_", [False, True])
def test_group_values_regular_and_fallback(complex_):
    """All gg values = the NumPy bordered minors to 1e-12, with and without the fallback:
    regular (no pivot below tol_piv: returns 0), a vanishing first pivot (A[0, 0] = 0), a
    vanishing later leading minor, and every other leading minor singular (the projector onto
    half of the orbitals: A = I - 2 P has A[:r, :r] singular for many r)."""
    rng = np.random.default_rng(21)
    gg = 9

    def herm(scale):
        x = rng.normal(size=(gg, gg)) + (1j * rng.normal(size=(gg, gg)) if complex_ else 0)
        return scale * (x @ x.conj().T) / gg

    def vec():
        return rng.normal(size=gg) + (1j * rng.normal(size=gg) if complex_ else 0)

    tm, t = herm(0.1), vec()
    got, used = _values(tm, t, pref=-1.7)
    np.testing.assert_allclose(got, -1.7 * _minors(tm, t), rtol=0, atol=1e-12)
    assert used == 0
    tm0 = tm.copy()
    tm0[0, 0] = 0.5                                  # A[0, 0] = 0
    got, used = _values(tm0, t)
    np.testing.assert_allclose(got, _minors(tm0, t), rtol=0, atol=1e-12)
    assert used == 1
    # an exactly singular 4 x 4 leading minor: tm[:4, :4] = P / 2 + (I - P) / 10, P = v v^H / |v|^2
    v = vec()[:4]
    pv = np.outer(v, v.conj()) / np.vdot(v, v).real
    tm4 = tm.copy()
    tm4[:4, :4] = 0.5 * pv + 0.1 * (np.eye(4) - pv)
    got, used = _values(tm4, t)
    np.testing.assert_allclose(got, _minors(tm4, t), rtol=0, atol=1e-12)
    assert used == 1
    # Gram matrix of a clean half-filled ring's orbital rows: singular minors at every other r
    m = 2 * gg
    k = np.arange(m)
    qs = 2 * np.pi * (np.arange(gg) - gg // 2) / m
    u = np.exp(1j * np.outer(k, qs)) / np.sqrt(m)
    if not complex_:
        u = np.linalg.qr(np.concatenate([u.real, u.imag], axis=1))[0][:, :gg]
    z = u[:gg][::-1]
    tmg = z.conj() @ z.T
    tg = z.conj() @ u[gg]
    got, used = _values(tmg, tg)
    np.testing.assert_allclose(got, _minors(tmg, tg), rtol=0, atol=1e-12)
