"""Entanglement entropy of blocks [0, l) of the ring (tgsweep.observables.entanglement).

References: brute-force ED of hard-core bosons (tests/_ed.py, no Jordan-Wigner): the Schmidt
values of the ED ground state split into block and complement give S(A) = -sum p ln p;
clean ring: Calabrese & Cardy, J. Stat. Mech. P06002 (2004), S(l) = (1/3) ln sin(pi l/L) +
const for a ring of free fermions at large L; localized orbitals: area law (Pastur & Slavin,
PRL 113, 150404 (2014)).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import tgsweep
from tgsweep.models.potentials import make_potential
from tgsweep.observables import entanglement_entropy, evaluate
from tgsweep.sweep import MemoryStore, parse_spec, run_sweep

from _ed import hcb_basis, hcb_ground_state, hcb_spectrum
from _tolerances import ROUNDOFF_SOLVE, ROUNDOFF_SUM


def ed_block_entropy(psi, L: int, N: int, n_a: int) -> float:
    """S of sites 0..n_a-1 from the ED vector: Schmidt decomposition over (block bits, rest)."""
    basis = hcb_basis(L, N)
    a = basis & ((1 << n_a) - 1)
    b = basis >> n_a
    ia = {v: i for i, v in enumerate(np.unique(a))}
    ib = {v: i for i, v in enumerate(np.unique(b))}
    m = np.zeros((len(ia), len(ib)), dtype=complex)
    for s, amp in enumerate(psi):
        m[ia[int(a[s])], ib[int(b[s])]] = amp
    p = np.linalg.svd(m, compute_uv=False) ** 2
    p = p[p > 1e-300]
    return float(-np.sum(p * np.log(p)))


@pytest.mark.parametrize("theta", [0.0, 0.7])
@pytest.mark.parametrize("N", [3, 4])
def test_block_entropy_equals_brute_force_ed(theta, N):
    """Disordered 10-site ring, boson twist theta (complex orbitals for theta != 0), both
    parities of N: S(A) from the orbitals equals the ED Schmidt entropy for every block."""
    L = 10
    eps = make_potential("anderson", np.random.default_rng(3), L, W=2.0)
    w, _ = hcb_spectrum(eps, N, 1.0, theta)
    assert w[1] - w[0] > 1e-6  # a unique ground state: the comparison is meaningful
    _, psi = hcb_ground_state(eps, N, 1.0, theta)
    st = tgsweep.ground_state(tgsweep.Ring.lattice(eps), n_particles=N, twist=theta)
    s = entanglement_entropy(st, np.arange(0, L + 1))
    ed = [ed_block_entropy(psi, L, N, n) for n in range(L + 1)]
    np.testing.assert_allclose(s, ed, rtol=0, atol=ROUNDOFF_SOLVE)
    assert s[0] == 0 and abs(s[L]) < ROUNDOFF_SUM  # a pure state: S(everything) = 0
    assert s[L // 2] > 0.3  # entangled: not a trivial zero comparison


def test_clean_ring_calabrese_cardy_and_disorder_area_law():
    """Clean half-filled lattice ring, L = 400: S(l) - S(L/2) -> (1/3) ln sin(pi l/L) (the
    conformal law; finite-size/oscillating corrections O(1/l) are < 0.02 for l >= 40); strong
    Anderson disorder W = 8: S saturates (area law) far below the clean value."""
    L = 400
    st = tgsweep.ground_state(tgsweep.Ring.lattice(np.zeros(L)), n_particles=L // 2 - 1)
    ls = np.array([40, 80, 120, 160, 200])
    s = entanglement_entropy(st, ls)
    cc = np.log(np.sin(np.pi * ls / L)) / 3
    np.testing.assert_allclose(s - s[-1], cc - cc[-1], atol=0.02)
    dis = tgsweep.Ring.lattice(make_potential("anderson", np.random.default_rng(1), L, W=8.0))
    sd = entanglement_entropy(tgsweep.ground_state(dis, n_particles=L // 2 - 1), ls)
    assert np.ptp(sd) < 1.0 and sd.max() < s.min() - 0.5


def test_declared_observable_in_a_sweep():
    """The declaration alone makes it a sweep observable: stored per sample with the block
    coordinate in the model's length unit, equal to a direct call (and to evaluate())."""
    spec = parse_spec({"model": {"kind": "continuum", "length": 8, "points_per_unit": 4},
                       "disorder": {"kind": "speckle", "strength": 1.0, "corr_length": 1.0},
                       "state": {"mu": 6.0}, "sampling": {"n_samples": 2, "seed": 4},
                       "observables": {"entanglement": {"lengths": [0.5, 2.0, 4.0]}}})
    st = MemoryStore()
    run_sweep(spec, st, progress=False)
    ds = st.to_dataset()
    assert ds["entropy"].dims == ("sample", "block")
    assert ds["block"].attrs["natural_units"] == "a" and ds["entropy"].attrs["units"] == "1"
    from tgsweep.sweep.tasks import sample_rng

    pot = make_potential("speckle", sample_rng(4, 0, 1), 32, 4, strength=1.0, corr_length=1.0)
    state = tgsweep.ground_state(tgsweep.Ring.continuum(8, 4, pot), mu=6.0)
    direct = entanglement_entropy(state, [0.5, 2.0, 4.0])
    np.testing.assert_array_equal(ds["entropy"].values[1], direct)
    np.testing.assert_array_equal(evaluate("entanglement", state, lengths=[0.5, 2.0, 4.0])[
        "entropy"], direct)
    assert math.isfinite(direct.sum()) and direct[1] > 0
