"""The sliced domain wall (tgsweep.core.initial_states.domain_wall, method="sliced"), the
cost-model choice of the propagator (tgsweep.core.evolution.choose_method) and the re-cut of
whole-ring orbitals in the support propagator (Evolution.support_density, ``recut``).

References: the sliced orbitals against LAPACK's dense eigh of the |K| x |K| hard-wall block
(method="dense"); the stated count error against the true trace-norm distance of the two
Slater determinants' one-particle density matrices, ||U U^H - P||_1, which bounds every
particle count (docs/references.md §5, "Sliced domain wall"; the Davis-Kahan bound: Davis &
Kahan, SIAM J. Numer. Anal. 7, 1 (1970)); the support propagator of the sliced orbitals
against the dense eigenbasis propagation of the dense orbitals (free-fermion dynamics of a
Slater determinant: each orbital evolves by e^{-iHt}).
"""

from __future__ import annotations

import numpy as np
import pytest

from tgsweep import Ring
from tgsweep.core.evolution import (DENSE_MAX_DYNAMICS, Evolution, choose_method, method_costs,
                                    time_grid)
from tgsweep.core.initial_states import domain_wall, region_mask
from tgsweep.observables.dynamics import dynamics_sample

from _tolerances import EIGENVECTOR, ROUNDOFF_SUM


def _anderson(m, w, seed):
    return np.random.default_rng(seed).uniform(-w / 2, w / 2, m)


def _trace_distance(ua, ub, mask):
    """||U_a U_a^H - U_b U_b^H||_1 on the sites of K (both vanish outside)."""
    idx = np.flatnonzero(mask)
    a, b = ua[idx], ub[idx]
    return float(np.abs(np.linalg.eigvalsh(a @ a.conj().T - b @ b.conj().T)).sum())


@pytest.mark.parametrize("w,twist,region", [(4.0, 0.0, None), (5.0, 0.3, (2400, 900)),
                                            (4.0, np.pi / 3, (100, 1500))])
def test_sliced_wall_equals_dense_within_stated_error(w, twist, region):
    """Lattice M = 3000, K the first half, an arc through x = 0 with a complex twist, and an
    arc with the boson twist pi/3: the sliced orbitals span the same Slater determinant as
    LAPACK's (trace distance of the projectors <= the stated count_error, itself < 1e-7),
    energies agree to
    round-off, and the orbitals are stored sparse (far fewer entries than N |K|)."""
    m = 3000
    ring = Ring.lattice(_anderson(m, w, 11 + int(w)))
    mask = region_mask(ring, region)
    n = int(mask.sum()) // 3
    a = domain_wall(ring, n, region=region, twist=twist, method="sliced")
    b = domain_wall(ring, n, region=region, twist=twist, method="dense")
    assert a.fermion_twist == b.fermion_twist
    np.testing.assert_allclose(a.energies, b.energies, rtol=0, atol=1e-11)
    true = _trace_distance(a.orbitals.toarray(), b.orbitals, mask)
    assert true <= a.count_error < 1e-7
    assert a.orbitals.nnz < 0.5 * n * mask.sum()
    assert np.abs(a.density() - b.density()).sum() <= a.count_error + ROUNDOFF_SUM
    assert b.count_error == 0.0


def test_sliced_wall_refuses_where_it_cannot_certify():
    """A clean ring (extended orbitals) and a region of two arcs: method="sliced" raises a
    ValueError naming the field; "auto" falls back to the dense block (the same state as
    method="dense")."""
    ring = Ring.lattice(np.zeros(1800))
    with pytest.raises(ValueError, match="^method"):
        domain_wall(ring, 200, method="sliced")
    dis = Ring.lattice(_anderson(1800, 3.0, 4))
    two = region_mask(dis, (0, 400)) | region_mask(dis, (900, 1300))
    with pytest.raises(ValueError, match="^method"):
        domain_wall(dis, 100, region=two, method="sliced")
    a = domain_wall(ring, 200, method="auto")
    assert a.count_error == 0.0
    np.testing.assert_allclose(a.density(), domain_wall(ring, 200, method="dense").density(),
                               atol=ROUNDOFF_SUM)


def test_support_dynamics_of_the_sliced_wall_equals_dense_eigen():
    """dynamics_sample with the sliced wall and method="support" vs the dense wall and
    method="eigen" (lattice W = 4, M = 2400, N = 300 in K = [0, 1200)): N_tr(t), the tails
    and the cell counts agree within the stated count_error, which includes the initial
    state's (the free-fermion evolution of a Slater determinant preserves the trace distance
    of the one-particle density matrices)."""
    m = 2400
    ring = Ring.lattice(_anderson(m, 4.0, 8))
    times = np.array([0.0, 2.0, 10.0, 40.0])
    a_ini = domain_wall(ring, 300, method="sliced")
    a = dynamics_sample(ring, a_ini, times, method="support", infinite_time=False)
    b = dynamics_sample(ring, domain_wall(ring, 300, method="dense"), times, method="eigen",
                        infinite_time=False)
    assert np.all(a.count_error >= a_ini.count_error) and a.count_error.max() < 1e-6
    for name in ("cell_counts", "n_transferred", "sup_outside", "sup_inside", "inside0"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=0,
                                   atol=a.count_error.max() + 10 * ROUNDOFF_SUM, err_msg=name)


def test_choose_method_by_estimated_cost():
    """choose_method picks the cheapest estimate of method_costs (support only on disordered
    lattice rings): on a disordered lattice M = 2000 with a fine grid to t = 100, support
    (its windows ~ 500 sites << M; measured 5-15x cheaper than chebyshev and eigen in
    benchmarks/bench_dynamics.py auto); on the clean ring of that size chebyshev; a small ring
    with one long step eigen; truncation > 0 eigen at any size; beyond the dense limit support
    / chebyshev as before."""
    times = time_grid(100.0, n_linear=20)
    dis = Ring.lattice(_anderson(2000, 2.0, 1))
    c = method_costs(dis, 500, times)
    assert c["support"] < min(c["eigen"], c["chebyshev"])
    assert choose_method(dis, 500, times) == "support"
    assert choose_method(Ring.lattice(np.zeros(2000)), 500, times) == "chebyshev"
    small = Ring.lattice(_anderson(60, 2.0, 2))
    assert choose_method(small, 15, [0.0, 1000.0]) == "eigen"
    assert choose_method(dis, 500, times, truncation=1e-3) == "eigen"
    big = DENSE_MAX_DYNAMICS + 1
    assert choose_method(Ring.lattice(_anderson(big, 2.0, 3)), 10, [0.0, 1.0]) == "support"
    assert choose_method(Ring.lattice(np.zeros(big)), 10, [0.0, 1.0]) == "chebyshev"


@pytest.mark.slow
def test_whole_ring_orbitals_cut_back_within_the_bound():
    """Lattice W = 2, M = 2000, the filled step [0, 100) in the site basis, a log grid to
    t = 1000: some orbitals reach the whole ring and are cut back to a window later
    (n_recut > 0); every orbital stays within its stated bound of the dense eigenbasis
    propagation at t = 1000 (free-fermion dynamics, e^{-iHt} u by LAPACK eigh) and every
    count within count_error at every time; without re-cut nothing is cut back."""
    m = 2000
    ring = Ring.lattice(np.random.default_rng(2000).uniform(-1.0, 1.0, m))
    ini = domain_wall(ring, 100, region=(0, 100), basis="sites")
    times = np.concatenate([[0.0], time_grid(1000.0, n_log=20, t_min_log=1.0)[1:]])
    ev = Evolution.prepare(ring, ini, method="support")
    run = ev.support_density(times)
    assert run.n_recut > 0
    assert ev.support_density(times[:4], recut=False).n_recut == 0
    ref = Evolution.prepare(ring, ini, method="eigen")
    rho_e = ref.density(times)
    assert np.all(np.abs(run.density - rho_e).sum(axis=1) <= run.count_error() + 10 * ROUNDOFF_SUM)
    for u in ev.iter_orbitals(times):             # the last time's orbitals
        pass
    ue = next(ref.iter_orbitals(times[-1:]))      # eigen: each time directly
    assert np.all(np.linalg.norm(u - ue, axis=0) <= run.orbital_error[-1] + EIGENVECTOR * 1e-2)
