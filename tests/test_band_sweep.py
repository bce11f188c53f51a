"""The sweep's banded OBDM path: ``band_tol`` (condensate, momentum_distribution) and ``r_max``
(hs_profile) choose the band when its certificate meets the tolerance, record the certificate
and the width per sample, and fall back to the full kernel otherwise.

Reference: the same samples recomputed directly with the full kernel (tgsweep.obdm; the seed
rule SeedSequence(seed, spawn_key=(p, s)) with PCG64) and full LAPACK; stored values must lie
within the stored error (Weyl + Schur bounds, docs/references.md §10 "Banded OBDM").
"""

from __future__ import annotations

import numpy as np
import pytest

import tgsweep
from tgsweep.models.potentials import make_potential
from tgsweep.observables.correlations import condensate, hs_profile, momentum_distribution
from tgsweep.sweep import MemoryStore, SpecError, parse_spec, run_sweep

from _sweep_util import spec_dict

SITES, N, SEED = 300, 75, 21
STRENGTHS = [4.0, 0.5]  # localized: banded path; weakly localized: fallback to the full kernel


def _spec(**obs):
    return parse_spec(spec_dict(model={"kind": "lattice", "sites": SITES},
                                state={"n_particles": N}, grid={"disorder.W": STRENGTHS},
                                sampling={"n_samples": 2, "seed": SEED, "samples_per_task": 2},
                                observables=obs))


def _state(p, s):
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(SEED, spawn_key=(p, s))))
    ring = tgsweep.Ring.lattice(make_potential("anderson", rng, SITES, W=STRENGTHS[p]))
    return tgsweep.ground_state(ring, n_particles=N)


def test_sweep_band_path_within_stated_error():
    """W = 4: band used (width > 0), lambda_0 and every n(k) within the stored error of the full
    computation, the error <= band_tol; W = 0.5: the certificate is refused, the full kernel is
    used (width 0, error 0) and the values equal the full computation."""
    tol = 1e-8
    store = MemoryStore()
    run_sweep(_spec(condensate={"n_modes": 2, "band_tol": tol},
                    momentum_distribution={"band_tol": tol}),
              store=store, progress=False)
    ds = store.to_dataset()
    assert (ds["status"].values == 1).all()
    for name in ("lambda0_error", "lambda0_band_width", "n_k_error", "n_k_band_width"):
        assert ds[name].attrs["units"] and ds[name].attrs["long_name"]
    for p in range(2):
        for s in range(2):
            st = _state(p, s)
            g = tgsweep.obdm(st)
            lam = condensate(st, 2, gamma=g)
            nk = momentum_distribution(st, gamma=g).n_k
            width = int(ds["lambda0_band_width"].values[p, s])
            err = float(ds["lambda0_error"].values[p, s])
            if p == 0:
                assert width > 0 and 0 < err <= 2 * tol
                assert int(ds["n_k_band_width"].values[p, s]) == width
                assert 0 < float(ds["n_k_error"].values[p, s]) <= tol
            else:
                assert width == 0 and err == 0.0
            assert abs(float(ds["lambda0"].values[p, s]) - lam[0]) <= err + 1e-12
            assert np.abs(ds["n_k"].values[p, s] - nk).max() <= \
                float(ds["n_k_error"].values[p, s]) + 1e-12


def test_sweep_hs_profile_r_max_from_band():
    """hs_profile with r_max: only r <= r_max stored, computed from a band of width
    (r_max + 1) cell_size - 1 (exact at those distances): equals the full profile.  ecl_profile
    with the same r_max shares the r coordinate and equals the direct call's first 21 values."""
    from tgsweep.observables import ecl_profile

    store = MemoryStore()
    run_sweep(_spec(hs_profile={"sigmas": [0.6, 2.0], "r_max": 20},
                    ecl_profile={"windows": [[-3.0, -1.0]], "r_max": 20}),
              store=store, progress=False)
    ds = store.to_dataset()
    assert ds["hs_profile"].shape == (2, 2, 2, 21) and ds["ecl_q"].shape == (2, 2, 2, 1, 21)
    _, q, _ = ecl_profile(_state(0, 1).ring, [(-3.0, -1.0)])
    np.testing.assert_allclose(ds["ecl_q"].values[0, 1], q[..., :21], rtol=1e-12, atol=1e-14)
    for p in range(2):
        st = _state(p, 1)
        _, h = hs_profile(st, [0.6, 2.0], gamma=tgsweep.obdm(st))
        np.testing.assert_allclose(ds["hs_profile"].values[p, 1], h[:, :21], rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("obs,field", [
    ({"condensate": {"band_tol": -1.0}}, "observables.condensate.band_tol"),
    ({"momentum_distribution": {"band_tol": "small"}}, "observables.momentum_distribution.band_tol"),
    ({"hs_profile": {"r_max": 2.5}}, "observables.hs_profile.r_max"),
    ({"ecl_profile": {"windows": [[0.0, 1.0]], "r_max": -2}}, "observables.ecl_profile.r_max"),
])
def test_bad_band_options_name_the_field(obs, field):
    with pytest.raises(SpecError) as exc:
        _spec(**obs)
    assert exc.value.field == field
    assert "\n" not in str(exc.value)


LARGE = {
    "absence_of_bec_large": ({"sampling": {"n_samples": 2, "samples_per_task": 2}, "series": [
        {"label": f"L{x}", "model": {"length": x}, "state": {"n_particles": x // 4}}
        for x in (48, 96)]}, None),
    "decay_of_correlations_large": ({"model": {"length": 40}, "observables": {
        "energy": {}, "hs_profile": {"sigmas": [0.4, 0.6, 0.8, 0.99], "r_max": 6},
        "ecl_profile": {"windows": [[-1.0, 4.0]], "twists": [0.0, np.pi], "r_max": 6}},
        "sampling": {"n_samples": 2, "samples_per_task": 2}}, None),
}


@pytest.mark.parametrize("name", sorted(LARGE))
def test_large_workflows_shrunken_run_and_plot(name, tmp_path):
    """workflows/*_large.toml parse, run shrunken through the sweep (banded path or its
    fallback), and render their figure under their own file name."""
    from pathlib import Path

    from tgsweep.plots import workflows as figures
    from tgsweep.sweep import workflow

    wf = Path(__file__).resolve().parents[1] / "workflows" / f"{name}.toml"
    over = LARGE[name][0]
    stores = workflow.run_workflow(wf, out=str(tmp_path / f"{name}.zarr"), overrides=over)
    ds = workflow.open_workflow(stores if "series" in over else stores[0])
    for _, d in (ds if isinstance(ds, list) else [("", ds)]):
        assert d.attrs["workflow"] == name and np.all(d["status"].values == 1)
    if name == "absence_of_bec_large":
        assert max(int(d["lambda0_band_width"].max()) for _, d in ds) > 0  # the band was used
    files = figures.render(ds, tmp_path / "fig")
    assert [Path(f).name for f in files] == [f"{name}.png"]


def test_sweep_thermal_band_path_within_stated_error():
    """T > 0 (grand canonical Gibbs state, docs/references.md §8 "Banded thermal OBDM"): the
    sweep's condensate takes the thermal band when its certificate meets band_tol (width > 0)
    and the stored lambda_0 lies within the stored error of the full thermal gamma's top
    eigenvalue (LAPACK); the reference recomputes each sample by the seed rule."""
    sites, temp, mu, tol = 120, 1.0, -1.0, 1e-8
    spec = parse_spec(spec_dict(model={"kind": "lattice", "sites": sites},
                                state={"mu": mu, "temperature": temp},
                                disorder={"kind": "anderson", "W": 2.0}, grid={"disorder.W": [2.0]},
                                sampling={"n_samples": 2, "seed": SEED, "samples_per_task": 2},
                                observables={"condensate": {"n_modes": 1, "band_tol": tol}}))
    store = MemoryStore()
    run_sweep(spec, store=store, progress=False)
    ds = store.to_dataset()
    assert (ds["status"].values == 1).all()
    for s in range(2):
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(SEED, spawn_key=(0, s))))
        ring = tgsweep.Ring.lattice(make_potential("anderson", rng, sites, W=2.0))
        st = tgsweep.thermal_state(ring, temp, mu=mu)
        lam_full = np.linalg.eigvalsh(tgsweep.obdm(st) * ring.weight)[-1]
        width = int(ds["lambda0_band_width"].values[0, s])
        err = float(np.ravel(ds["lambda0_error"].values[0, s])[0])
        lam = float(ds["lambda0"].values[0, s])
        assert 0 < width < sites // 2
        assert 0 < err <= tol
        assert abs(lam - lam_full) <= err
