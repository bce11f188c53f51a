"""Observables of thermal states: streamed = stored gamma, sum rules, the finite-T contact,
free energy and the thermal superfluid stiffness.

References: the k^-4 tail of the TG gas at any T is C = 4 n e_kin (Tan's relation in the
Tonks limit, derived in docs/references.md, §8; at T = 0 it is Olshanii &
Dunjko, PRL 91, 090401 (2003)); the clean-ring free energy is that of free fermions with levels
-2t cos((2 pi j + phi)/L), phi = theta + pi (N - 1) (Lieb, Schultz & Mattis 1961), evaluated
here as an elementary symmetric polynomial in 50-digit mpmath; the disordered ring is checked
against mpmath eigenvalues of the same matrix at 40 digits.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

import tgsweep
from tgsweep import Ring, thermal_state
from tgsweep.observables import (condensate, free_energy, hs_profile, momentum_distribution,
                                 thermal_stiffness, tg_contact)


@pytest.mark.parametrize("ensemble", ["grand", "canonical"])
def test_streamed_observables_equal_stored_gamma(ensemble):
    """hs_profile and n(k) from streamed thermal rows equal those from the stored gamma; n(k)
    sums to <N>; the natural occupations sum to <N> and lambda_0 falls with T."""
    ring = Ring.lattice(np.random.default_rng(1).uniform(-0.5, 0.5, 30))
    kw = dict(mu=-0.7) if ensemble == "grand" else dict(n_particles=9)
    lam = []
    for T in (0.1, 0.4, 1.6):
        st = thermal_state(ring, T, ensemble=ensemble, twist=0.37, **kw)
        g = tgsweep.obdm(st)
        np.testing.assert_allclose(hs_profile(st, (0.5, 0.8), gamma=g)[1],
                                   hs_profile(st, (0.5, 0.8), stream=True)[1], atol=1e-12)
        md = momentum_distribution(st, gamma=g)
        np.testing.assert_allclose(md.n_k, momentum_distribution(st, stream=True).n_k,
                                   atol=1e-12)
        assert abs(md.n_k.sum() - st.mean_n) < 1e-10
        occ = condensate(st, n_occupations=30, gamma=g)
        assert abs(occ.sum() - st.mean_n) < 1e-10 and occ[-1] > -1e-12
        lam.append(occ[0])
    assert lam[0] > lam[1] > lam[2]


@pytest.mark.slow
def test_contact_grows_with_temperature_as_four_n_ekin():
    """Clean grid ring L = 8, h = 1/64, mu = 8: the fitted tail C (model C + D/k^2 + E (kh)^2
    over 12 <= k <= 0.35 pi/h) equals 4 n e_kin within 2 % at T = 0.5 and 4 (the finite-N ring
    correction is ~1/N^2 ~ 2 %), and C(4)/C(0.5) matches the predicted ratio (1.24) within 2.5 % (measured 1.6 %)."""
    ring = Ring.continuum(8, 64)
    h = ring.spacing
    got, want = [], []
    for T in (0.5, 4.0):
        st = thermal_state(ring, T, mu=8.0)
        md = momentum_distribution(st, stream=True)
        k = md.k
        sel = (np.abs(k) >= 12) & (np.abs(k) <= 0.35 * np.pi / h)
        a = np.stack([np.ones(sel.sum()), k[sel] ** -2.0, (k[sel] * h) ** 2], axis=1)
        got.append(np.linalg.lstsq(a, md.n_k[sel] * k[sel] ** 4, rcond=None)[0][0])
        want.append(tg_contact(st.mean_n, st.energy, ring.length))
        assert abs(got[-1] / want[-1] - 1) < 0.02, (T, got[-1], want[-1])
    assert want[1] > 1.2 * want[0]  # the contact grows with T (at fixed mu)
    assert abs((got[1] / got[0]) / (want[1] / want[0]) - 1) < 0.025


def _e_n(ws, n):
    e = [mp.mpf(1)] + [mp.mpf(0)] * n
    for w in ws:
        for j in range(n, 0, -1):
            e[j] += w * e[j - 1]
    return e[n]


def _mp_free_energy(levels, n, T):
    return -T * mp.log(_e_n([mp.exp(-lv / T) for lv in levels], n))


@pytest.mark.parametrize("n", [7, 8])
@pytest.mark.parametrize("T", [0.2, 1.0, 2.0])
def test_clean_ring_stiffness_is_the_free_fermion_closed_form(n, T):
    """Canonical rho_s(T, theta) of the clean lattice ring (L = 30) vs the free-fermion closed
    form (analytic levels, 60-digit e_N) to 1e-9 relative, down to rho_s ~ 1e-21 at T = 2 (far
    below the roundoff of F, where the direct difference is noise)."""
    mp.mp.dps = 60
    L = 30
    ring = Ring.lattice(np.zeros(L))
    thetas = [0.3, 1.1]
    st = thermal_stiffness(ring, T, thetas, n_particles=n)

    def f(theta):
        phi = mp.mpf(theta) + mp.pi * (n - 1)
        return _mp_free_energy([-2 * mp.cos((2 * mp.pi * j + phi) / L) for j in range(L)], n, T)

    for th, rho, err, ok in zip(thetas, st.rho_s, st.error, st.resolved):
        want = float(L * (f(th) - f(0)) / mp.mpf(th) ** 2)
        assert ok and abs(rho / want - 1) < 1e-9, (th, rho, want)
        assert abs(rho - want) <= err
    if T == 2.0:
        assert np.all(st.rho_s < 1e-18) and np.all(np.abs(st.direct - st.rho_s) >= 0.5 * st.rho_s)


@pytest.mark.parametrize("T,want", [(1.0, 2.78579688547e-10), (3.0, 2.0459411779e-22)])
def test_grand_stiffness_far_below_roundoff_clean_ring(T, want):
    """Grand-canonical rho_s(T) of the clean ring (L = 30, mu = -0.4, theta = 1.1) from the
    Matsubara series equals the 80-digit mpmath four-term formula (analytic levels) to 1e-9
    although it lies far below the roundoff of Omega (direct differences give ~1e-13 noise)."""
    mp.mp.dps = 80
    L, mu, th = 30, -0.4, 1.1

    def om(theta):
        tot = 0
        for phi, s in ((mp.mpf(theta) + mp.pi, 1), (mp.mpf(theta), -1)):
            lv = [-2 * mp.cos((2 * mp.pi * j + phi) / L) for j in range(L)]
            p = mp.fprod([1 + mp.exp(-(x - mu) / T) for x in lv])
            m_ = mp.fprod([1 - mp.exp(-(x - mu) / T) for x in lv])
            tot += (p + s * m_) / 2
        return -T * mp.log(tot)

    ref = float(L * (om(th) - om(0)) / mp.mpf(th) ** 2)
    assert abs(ref / want - 1) < 1e-10  # the value quoted in the parametrization
    st = thermal_stiffness(Ring.lattice(np.zeros(L)), T, [th], mu=mu, ensemble="grand")
    assert st.resolved[0] and abs(st.rho_s[0] / ref - 1) < 1e-9
    assert abs(st.rho_s[0] - ref) <= st.error[0]


def test_disordered_stiffness_vs_mpmath():
    """Anderson ring W = 3, L = 16, T = 0.25: canonical F(theta) from 40-digit mpmath eigenvalues
    of the twisted matrix (mp.eighe), rho_s to 1e-8 relative; grand Omega(theta) likewise from
    the four-term formula in mpmath; and the reported error bounds the difference."""
    mp.mp.dps = 40
    L, T, n, mu = 16, 0.25, 5, -0.4
    eps = np.random.default_rng(12).uniform(-1.5, 1.5, L)
    ring = Ring.lattice(eps)

    def levels(phi):
        h = mp.matrix(L, L)
        for i in range(L):
            h[i, i] = mp.mpf(eps[i])
            h[i, (i + 1) % L] += -1
            h[(i + 1) % L, i] += -1
        h[L - 1, 0] = -mp.exp(1j * phi)
        h[0, L - 1] = -mp.exp(-1j * phi)
        return [mp.re(x) for x in mp.eighe(h, eigvals_only=True)]

    def f_can(theta):
        return _mp_free_energy(levels(mp.mpf(theta) + mp.pi * (n - 1)), n, T)

    def f_grand(theta):
        tot = 0
        for phi, s in ((mp.mpf(theta) + mp.pi, 1), (mp.mpf(theta), -1)):
            lv = levels(phi)
            p = mp.fprod([1 + mp.exp(-(x - mu) / T) for x in lv])
            m_ = mp.fprod([1 - mp.exp(-(x - mu) / T) for x in lv])
            tot += (p + s * m_) / 2
        return -T * mp.log(tot)

    th = 1.1
    can = thermal_stiffness(ring, T, [th], n_particles=n)
    want = L * (f_can(th) - f_can(0)) / mp.mpf(th) ** 2
    assert abs(can.rho_s[0] - float(want)) <= max(can.error[0], 1e-8 * abs(float(want)))
    assert abs(can.rho_s[0] / float(want) - 1) < 1e-8
    gr = thermal_stiffness(ring, T, [th], mu=mu, ensemble="grand")
    want = L * (f_grand(th) - f_grand(0)) / mp.mpf(th) ** 2
    assert abs(gr.rho_s[0] / float(want) - 1) < 1e-8
    assert abs(free_energy(ring, T, mu=mu) - float(f_grand(0))) < 1e-12


def test_grand_stiffness_disordered_ring_below_roundoff_vs_mpmath():
    """Anderson ring W = 4, L = 24, mu = -0.5, theta = 1: grand rho_s(T) from the Matsubara
    series vs the four-term Xi(theta) of 50-digit mpmath eigenvalues (mp.eighe) for T = 0.5 .. 2,
    to 1e-9 relative; at T = 2 (rho_s = 2.7e-14) the direct difference of Omega is off by a
    factor ~3, the series is not."""
    mp.mp.dps = 50
    L, mu, th = 24, -0.5, 1.0
    eps = np.random.default_rng(21).uniform(-2, 2, L)
    ring = Ring.lattice(eps)

    def levels(phi):
        h = mp.matrix(L, L)
        for i in range(L):
            h[i, i] = mp.mpf(eps[i])
            h[i, (i + 1) % L] += -1
            h[(i + 1) % L, i] += -1
        h[L - 1, 0] = -mp.exp(1j * phi)
        h[0, L - 1] = -mp.exp(-1j * phi)
        return [mp.re(x) for x in mp.eighe(h, eigvals_only=True)]

    lv = {k: levels(phi) for k, phi in (("A1", mp.mpf(th) + mp.pi), ("P1", mp.mpf(th)),
                                         ("A0", mp.pi), ("P0", mp.mpf(0)))}

    def om(tag, T):
        tot = 0
        for sec, s in (("A", 1), ("P", -1)):
            lev = lv[sec + tag]
            p = mp.fprod([1 + mp.exp(-(x - mu) / T) for x in lev])
            m_ = mp.fprod([1 - mp.exp(-(x - mu) / T) for x in lev])
            tot += (p + s * m_) / 2
        return -T * mp.log(tot)

    for T in (0.5, 1.0, 2.0):
        ref = float(L * (om("1", T) - om("0", T)) / mp.mpf(th) ** 2)
        st = thermal_stiffness(ring, T, [th], mu=mu, ensemble="grand")
        assert st.resolved[0] and abs(st.rho_s[0] / ref - 1) < 1e-9, (T, st.rho_s[0], ref)
        assert abs(st.rho_s[0] - ref) <= st.error[0]
    assert ref < 1e-13 and abs(st.direct[0] / ref - 1) > 0.5
