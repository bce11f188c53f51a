"""Thermodynamic sweep observables at T > 0: ``energy`` (<H>, and <N> grand canonical),
``free_energy`` (F = -T ln Z_N or Omega = -T ln Xi) and the thermal ``stiffness``
rho_s(T, theta) = L (F(theta) - F(0)) / theta^2, in both ensembles.

References (none written by tgsweep's thermal code):

* brute-force ED in the full Fock space of lattice hard-core bosons (tests/_ed_thermal.py: every
  N block of H in the occupation basis, no Jordan-Wigner), disordered and twisted: <H>, <N>,
  ln Z_N / ln Xi, and F(theta) - F(0) at twists where rho_s is far above roundoff;
* the clean-ring free-fermion closed form of F(theta) (levels -2t cos((2 pi j + phi)/L),
  phi = theta + pi (N - 1); Lieb, Schultz & Mattis, Ann. Phys. 16, 407 (1961)): canonical
  Z_N = e_N(e^{-beta eps_j}) and the grand four-term Xi of docs/references.md §8, both in
  60-digit mpmath, down to rho_s ~ 1e-21 where the plain difference of free energies is noise.

Stored values equal direct calls per sample (seed rule SeedSequence(seed, spawn_key=(p, s))).
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

import tgsweep
from tgsweep.models.potentials import make_potential
from tgsweep.observables import free_energy, thermal_stiffness
from tgsweep.sweep import MemoryStore, SpecError, parse_spec, run_sweep

from _ed_thermal import ed_canonical, ed_grand
from _sweep_util import spec_dict

L_ED, W, SEED, TWIST = 8, 2.0, 16, 0.37
TEMPS = [0.2, 1.0]
THETAS = [0.5, 1.1]
STATES = {"grand": {"mu": -0.4}, "canonical": {"n_particles": 3}}


def _eps(p, s, sites=L_ED, w=W, seed=SEED):
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(p, s))))
    return make_potential("anderson", rng, sites, W=w)


def _run(ensemble, sites=L_ED, w=W, n_samples=2, temps=TEMPS, twist=TWIST, thetas=THETAS):
    spec = parse_spec(spec_dict(
        model={"kind": "lattice", "sites": sites}, disorder={"kind": "anderson", "W": w},
        state={**STATES[ensemble], "temperature": temps[0], "ensemble": ensemble,
               "twist": twist},
        grid={"state.temperature": temps},
        sampling={"n_samples": n_samples, "seed": SEED, "samples_per_task": n_samples},
        observables={"energy": {}, "free_energy": {}, "stiffness": {"thetas": thetas}}))
    store = MemoryStore()
    run_sweep(spec, store, progress=False)
    ds = store.to_dataset()
    assert (ds["status"].values == 1).all(), ds["error"].values
    return ds


@pytest.fixture(scope="module", params=["grand", "canonical"])
def swept(request):
    return request.param, _run(request.param)


def test_stored_values_equal_direct_calls(swept):
    """Per sample: energy / mean_n / n_particles from tgsweep.thermal_state, free_energy from
    tgsweep.observables.free_energy, rho_s, its error and F(0) from thermal_stiffness."""
    ens, ds = swept
    kw = STATES[ens]
    for p, T in enumerate(TEMPS):
        for s in range(2):
            ring = tgsweep.Ring.lattice(_eps(p, s))
            st = tgsweep.thermal_state(ring, T, ensemble=ens, twist=TWIST, **kw)
            assert ds["energy"].values[p, s] == st.energy
            if ens == "grand":
                assert ds["mean_n"].values[p, s] == st.mean_n
            else:
                assert ds["n_particles"].values[p, s] == kw["n_particles"]
            f = free_energy(ring, T, ensemble=ens, twist=TWIST, **kw)
            assert ds["free_energy"].values[p, s] == f
            r = thermal_stiffness(ring, T, THETAS, ensemble=ens, **kw)
            np.testing.assert_array_equal(ds["rho_s"].values[p, s], r.rho_s)
            np.testing.assert_array_equal(ds["rho_s_error"].values[p, s], r.error)
            np.testing.assert_array_equal(ds["rho_s_direct"].values[p, s], r.direct)
            assert ds["stiffness_free_energy0"].values[p, s] == r.f0
            assert ds["stiffness_reliable"].values[p, s] == int(np.all(r.resolved))


def test_stored_thermodynamics_match_full_fock_space_ed(swept):
    """<H>, <N> and F (Omega) at the state's twist vs ED to 1e-10; rho_s(T, theta) vs the ED
    difference L (F(theta) - F(0)) / theta^2 to 1e-9 relative (here rho_s ~ 1e-2, far above the
    ED roundoff ~ 1e-14 |F| L / theta^2), within the stated error plus that roundoff."""
    ens, ds = swept
    for p, T in enumerate(TEMPS):
        for s in range(2):
            eps = _eps(p, s)
            if ens == "grand":
                mu = STATES["grand"]["mu"]
                lxi, n_mean, energy, _ = ed_grand(eps, mu, T, theta=TWIST)
                assert abs(ds["mean_n"].values[p, s] - n_mean) < 1e-10
                f_ed = lambda th: -T * ed_grand(eps, mu, T, theta=th)[0]  # noqa: E731
                lz = lxi
            else:
                n = STATES["canonical"]["n_particles"]
                lz, energy, _ = ed_canonical(eps, n, T, theta=TWIST)
                f_ed = lambda th: -T * ed_canonical(eps, n, T, theta=th)[0]  # noqa: E731
            assert abs(ds["energy"].values[p, s] - energy) < 1e-10
            assert abs(ds["free_energy"].values[p, s] - (-T * lz)) < 1e-10 * max(1, abs(lz))
            f0 = f_ed(0.0)
            assert abs(ds["stiffness_free_energy0"].values[p, s] - f0) < 1e-10
            assert ds["stiffness_reliable"].values[p, s] == 1
            for i, th in enumerate(THETAS):
                want = L_ED * (f_ed(th) - f0) / th**2
                got = ds["rho_s"].values[p, s, i]
                roundoff = 1e-14 * max(1.0, abs(f0)) * L_ED / th**2
                assert want > 1e-3 and abs(got / want - 1) < 1e-9, (ens, T, th, got, want)
                assert abs(got - want) <= ds["rho_s_error"].values[p, s, i] + roundoff


def _closed_form_f(ens, L, T, theta, n=7, mu=-0.4):
    """F(theta) (canonical, N = n) or Omega(theta) (grand, mu) of the clean lattice ring from the
    analytic free-fermion levels, in mpmath."""
    def levels(phi):
        return [-2 * mp.cos((2 * mp.pi * j + phi) / L) for j in range(L)]
    th = mp.mpf(theta)
    if ens == "canonical":
        e = [mp.mpf(1)] + [mp.mpf(0)] * n
        for lv in levels(th + mp.pi * (n - 1)):
            w = mp.exp(-lv / T)
            for j in range(n, 0, -1):
                e[j] += w * e[j - 1]
        return -T * mp.log(e[n])
    tot = 0
    for phi, sgn in ((th + mp.pi, 1), (th, -1)):  # A: fermion twist theta + pi, P: theta
        lv = levels(phi)
        plus = mp.fprod([1 + mp.exp(-(x - mu) / T) for x in lv])
        minus = mp.fprod([1 - mp.exp(-(x - mu) / T) for x in lv])
        tot += (plus + sgn * minus) / 2
    return -T * mp.log(tot)


@pytest.mark.parametrize("ens", ["grand", "canonical"])
def test_clean_ring_stored_stiffness_is_the_free_fermion_closed_form(ens):
    """Clean lattice ring L = 30 (canonical N = 7, grand mu = -0.4), T = 0.5 and 2, theta = 0.3
    and 1.1: the stored rho_s equals the 60-digit closed form to 1e-9 relative and within the
    stated rho_s_error, flagged reliable, down to rho_s ~ 1e-21 (canonical T = 2) where the
    stored plain difference rho_s_direct is off by more than 50 %."""
    mp.mp.dps = 60
    L, temps, thetas = 30, [0.5, 2.0], [0.3, 1.1]
    state = {"n_particles": 7} if ens == "canonical" else {"mu": -0.4}
    spec = parse_spec(spec_dict(
        model={"kind": "lattice", "sites": L}, disorder={"kind": "none"},
        state={**state, "temperature": 0.5, "ensemble": ens}, grid={"state.temperature": temps},
        sampling={"n_samples": 1, "seed": 1, "samples_per_task": 1},
        observables={"stiffness": {"thetas": thetas}}))
    store = MemoryStore()
    run_sweep(spec, store, progress=False)
    ds = store.to_dataset()
    assert (ds["status"].values == 1).all(), ds["error"].values
    for p, T in enumerate(temps):
        f0 = _closed_form_f(ens, L, T, 0.0)
        assert ds["stiffness_reliable"].values[p, 0] == 1
        for i, th in enumerate(thetas):
            want = float(L * (_closed_form_f(ens, L, T, th) - f0) / mp.mpf(th) ** 2)
            got = ds["rho_s"].values[p, 0, i]
            assert abs(got / want - 1) < 1e-9, (T, th, got, want)
            assert abs(got - want) <= ds["rho_s_error"].values[p, 0, i]
    if ens == "canonical":  # T = 2: far below the roundoff of F
        rho, direct = ds["rho_s"].values[1, 0], ds["rho_s_direct"].values[1, 0]
        assert np.all(rho < 1e-18) and np.all(np.abs(direct - rho) > 0.5 * rho)


def test_zero_temperature_variables_unchanged():
    """At T = 0 energy and stiffness keep their ground-state variables (N integer, rho_s0,
    log10_rho_s, N_mu ambiguity); at T > 0 the curvature and log10 variables are absent."""
    spec = parse_spec(spec_dict(state={"mu": 0.0}, grid=None,
                                sampling={"n_samples": 1, "seed": 1},
                                observables={"energy": {}, "stiffness": {}}))
    store = MemoryStore()
    run_sweep(spec, store, progress=False)
    ds = store.to_dataset()
    assert {"energy", "n_particles", "rho_s0", "log10_rho_s", "stiffness_ambiguous",
            "stiffness_energy0"} <= set(ds.data_vars)
    assert "free_energy" not in ds and "rho_s_error" not in ds
    g = tgsweep.ground_state(tgsweep.Ring.lattice(_eps(0, 0, 12, 1.0, 1)), mu=0.0)
    assert ds["energy"].values[0] == g.energy
    thermal = _run("grand", n_samples=1, temps=[0.5, 1.0])
    assert not {"rho_s0", "log10_rho_s", "stiffness_ambiguous", "n_particles"} & set(
        thermal.data_vars)
    assert thermal["rho_s"].attrs["units"] and "Omega" in thermal["rho_s"].attrs["long_name"]
    assert thermal["free_energy"].attrs["units"] and thermal["mean_n"].attrs["long_name"]


@pytest.mark.parametrize("state,obs,field", [
    ({"mu": 0.0}, {"free_energy": {}}, "observables.free_energy"),
    ({"mu": 0.0, "temperature": 0.5}, {"stiffness": {"thetas": [0.0, 1.0]}},
     "observables.stiffness.thetas"),
    ({"mu": 0.0, "temperature": 0.5}, {"stiffness": {"ensemble": "grand"}},
     "observables.stiffness.ensemble"),
    ({"mu": 0.0, "temperature": 0.5}, {"energy": {"ensemble": "canonical"}},
     "observables.energy.ensemble"),
    ({"mu": 0.0, "temperature": 0.5}, {"free_energy": {"tol": 1e-3}},
     "observables.free_energy.tol"),
    ({"n_particles": 3}, {"stiffness": {}}, "observables.stiffness"),
    ({"mu": 0.0, "temperature": 0.5}, {"stiffness": {"thetas": [4.0]}},
     "observables.stiffness.thetas"),
])
def test_bad_thermal_observable_options_name_the_field(state, obs, field):
    with pytest.raises(SpecError) as exc:
        parse_spec(spec_dict(state=state, grid=None, observables=obs))
    msg = str(exc.value)
    assert msg.split(":")[0] == field, msg
    assert "\n" not in msg


def test_canonical_stiffness_needs_no_mu_at_finite_temperature():
    """T > 0, canonical (state.n_particles only): the stiffness is accepted (fixed N)."""
    spec = parse_spec(spec_dict(state={"n_particles": 3, "temperature": 0.5}, grid=None,
                                observables={"stiffness": {}}))
    assert spec.observables["stiffness"]["ensemble"] == "canonical"


@pytest.mark.parametrize("T", [0.3, 1.0])
def test_grand_stiffness_with_a_level_exactly_at_mu(T):
    """Clean ring L = 12, mu = -1 = -2 cos(2 pi 2 / 12): a periodic level sits at mu, so
    det(1 - W_P(0)) = 0 and its Matsubara ratio is 0/0; the term is then taken from the twisted
    levels. rho_s equals the 60-digit four-term closed form to 1e-9 within its stated error."""
    mp.mp.dps = 60
    L, mu, th = 12, -1.0, 1.0
    r = thermal_stiffness(tgsweep.Ring.lattice(np.zeros(L)), T, [th], mu=mu, ensemble="grand")
    want = float(L * (_closed_form_f("grand", L, T, th, mu=mu)
                      - _closed_form_f("grand", L, T, 0.0, mu=mu)) / th**2)
    assert np.isfinite(r.rho_s[0]) and r.resolved[0]
    assert abs(r.rho_s[0] / want - 1) < 1e-9, (r.rho_s[0], want)
    assert abs(r.rho_s[0] - want) <= r.error[0]
