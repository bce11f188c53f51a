"""The sweep's automatic choice of the sliced eigensolver (tgsweep.sweep.interaction.make_state):
rings of >= SLICED_MIN grid points get a LocalizedState when every observable of the spec
accepts one, lattice and continuum alike; the stored values equal the dense path's.

References: the dense path it replaces (ground_state with the global eigensolver, tgsweep.obdm
= the full OBDM kernel, LAPACK eigvalsh of gamma h); the seed rule SeedSequence(seed,
spawn_key=(p, s)) with PCG64.
"""

from __future__ import annotations

import numpy as np

import tgsweep
from tgsweep.core.state import LocalizedState, State
from tgsweep.models.potentials import make_potential
from tgsweep.sweep import MemoryStore, parse_spec, run_sweep
from tgsweep.sweep import interaction

from _sweep_util import spec_dict

LENGTH, PPU, N, SEED = 600, 2, 150, 5


def test_make_state_chooses_sliced_only_when_allowed(monkeypatch):
    """localized=True and M >= SLICED_MIN: LocalizedState (continuum ring); otherwise State."""
    monkeypatch.setattr(interaction, "SLICED_MIN", 1000)
    rng = np.random.default_rng(1)
    ring = tgsweep.Ring.continuum(LENGTH, PPU, make_potential(
        "speckle", rng, LENGTH * PPU, PPU, strength=4.0, corr_length=0.5))
    params = {"model": {}, "disorder": {}, "state": {"n_particles": N}}
    st = interaction.make_state(ring, params, localized=True)
    assert isinstance(st, LocalizedState) and st.orbitals.method == "sliced"
    assert isinstance(interaction.make_state(ring, params), State)
    monkeypatch.setattr(interaction, "SLICED_MIN", 4000)
    assert isinstance(interaction.make_state(ring, params, localized=True), State)


def test_sweep_continuum_sliced_equals_dense(monkeypatch):
    """A continuum speckle sweep (h = 1/2, V0 = 4, N/L = 1/4) with energy + condensate(band):
    the samples ran on the sliced path; energies equal the dense ground state's (1e-10) and
    lambda_0 lies within the stored error of LAPACK's on the full kernel's gamma."""
    monkeypatch.setattr(interaction, "SLICED_MIN", 1000)
    seen = []
    real = interaction.ground_state

    def spy(*a, **kw):
        out = real(*a, **kw)
        seen.append(type(out).__name__)
        return out

    monkeypatch.setattr(interaction, "ground_state", spy)
    spec = parse_spec(spec_dict(
        model={"kind": "continuum", "length": LENGTH, "points_per_unit": PPU},
        disorder={"kind": "speckle", "strength": 4.0, "corr_length": 0.5},
        state={"n_particles": N}, grid=None,
        sampling={"n_samples": 2, "seed": SEED, "samples_per_task": 2},
        observables={"energy": {}, "condensate": {"n_modes": 2, "band_tol": 1e-8}}))
    store = MemoryStore()
    run_sweep(spec, store=store, progress=False)
    ds = store.to_dataset()
    assert (ds["status"].values == 1).all() and seen == ["LocalizedState"] * 2
    for s in range(2):
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(SEED, spawn_key=(0, s))))
        ring = tgsweep.Ring.continuum(LENGTH, PPU, make_potential(
            "speckle", rng, LENGTH * PPU, PPU, strength=4.0, corr_length=0.5))
        st = real(ring, n_particles=N)
        assert abs(float(ds["energy"].values[s]) - st.energy) <= 1e-10 * abs(st.energy)
        lam = np.linalg.eigvalsh(tgsweep.obdm(st))[-1] * ring.weight
        err = float(ds["lambda0_error"].values[s])
        assert int(ds["lambda0_band_width"].values[s]) > 0 and err <= 2e-8
        assert abs(float(ds["lambda0"].values[s]) - lam) <= err + 1e-12
