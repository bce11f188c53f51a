"""Spec validation: every bad field gives a one-line error naming it, exit code 2, no store.

Reference: the spec format of issue 6 (workflows/*.toml) and the allowed values in
tgsweep.sweep.spec / tgsweep.sweep.registry / tgsweep.models.potentials.
"""

from __future__ import annotations

import numpy as np
import pytest

from tgsweep.sweep import SpecError, parse_spec
from tgsweep.sweep.spec import load_spec

from _sweep_util import cli, spec_dict, write_spec


def test_valid_spec_grid_and_points():
    d = spec_dict(grid={"disorder.W": [0.5, 1.0, 2.0],
                        "zip": {"pair": {"state.mu": [-1.0, 0.0], "state.twist": [0.0, 0.5]}}})
    s = parse_spec(d)
    assert s.dims == ["disorder_W", "pair"]
    assert s.grid_shape == (3, 2)
    assert s.n_points == 6
    assert s.n_chunks == 2  # 6 samples, 4 per task
    assert s.chunk_samples(1) == (4, 6)
    # C order over (disorder_W, pair): p = 3 is (1, 1)
    pp = s.point_params(3)
    assert pp["disorder"]["W"] == 1.0 and pp["state"] == {"mu": 0.0, "twist": 0.5}
    opts = parse_spec(spec_dict(observables={"condensate": {}})).observables["condensate"]
    assert opts == {"n_modes": 4, "band_tol": 0.0}


BAD = [
    ({"model": {"kind": "torus", "sites": 8}}, "model.kind"),
    ({"model": {"kind": "lattice"}}, "model.sites"),
    ({"model": {"kind": "lattice", "sites": 2}}, "model.sites"),
    ({"model": {"kind": "lattice", "sites": 8, "length": 3}}, "model.length"),
    ({"model": {"kind": "continuum", "length": 10.5, "points_per_unit": 3}}, "model.length"),
    ({"model": {"kind": "continuum", "length": 10, "points_per_unit": 0}},
     "model.points_per_unit"),
    ({"disorder": {"kind": "lava"}}, "disorder.kind"),
    ({"disorder": {"kind": "anderson", "W": 1.0, "colour": 3}}, "disorder.colour"),
    ({"disorder": {"kind": "anderson"}, "grid": None}, "disorder.W"),
    ({"state": {}}, "state"),
    ({"state": {"mu": 0.0, "n_particles": 3}}, "state"),
    ({"state": {"mu": "high"}}, "state.mu"),
    ({"state": {"n_particles": 99}}, "state.n_particles"),
    ({"grid": {"disorder.W": []}}, "grid.disorder.W"),
    ({"grid": {"model.sites": [8, 10]}}, "grid.model.sites"),
    ({"grid": {"banana.W": [1, 2]}}, "grid.banana.W"),
    ({"grid": {"zip": {"g": {"state.mu": [0, 1], "disorder.W": [1.0]}}}}, "grid.zip.g"),
    ({"sampling": {"seed": 1}}, "sampling.n_samples"),
    ({"sampling": {"n_samples": 0, "seed": 1}}, "sampling.n_samples"),
    ({"sampling": {"n_samples": 4}}, "sampling.seed"),
    ({"sampling": {"n_samples": 4, "seed": -1}}, "sampling.seed"),
    ({"sampling": {"n_samples": 4, "seed": 1, "samples_per_task": 1.5}},
     "sampling.samples_per_task"),
    ({"observables": {"telepathy": {}}}, "observables.telepathy"),
    ({"observables": {"condensate": {"n_modes": 0}}}, "observables.condensate.n_modes"),
    ({"observables": {"condensate": {"sigma": 1}}}, "observables.condensate.sigma"),
    ({"observables": {}}, "observables"),
    ({"output": {"store": 3}}, "output.store"),
    ({"state": {"n_particles": 3}, "observables": {"particle_numbers": {}}},
     "observables.particle_numbers"),
]


@pytest.mark.parametrize("override,field", BAD, ids=[f for _, f in BAD])
def test_bad_field_names_the_field(override, field):
    d = spec_dict(**override)
    with pytest.raises(SpecError) as exc:
        parse_spec(d)
    assert exc.value.field == field
    msg = str(exc.value)
    assert msg.startswith(field + ":") and "\n" not in msg


def test_unknown_observable_lists_allowed():
    with pytest.raises(SpecError) as exc:
        parse_spec(spec_dict(observables={"telepathy": {}}))
    for name in ("energy", "density", "condensate", "particle_numbers"):
        assert name in str(exc.value)


def test_unknown_section_and_bad_toml(tmp_path):
    with pytest.raises(SpecError, match="^fluff: unknown section"):
        parse_spec({**spec_dict(), "fluff": {}})
    p = tmp_path / "bad.toml"
    p.write_text("[model\nkind=")
    with pytest.raises(SpecError, match="^spec: not valid TOML"):
        load_spec(p)


@pytest.mark.parametrize("override,field", [BAD[0], BAD[8], BAD[22]], ids=["kind", "W", "obs"])
def test_cli_bad_input_exit_2_nothing_written(tmp_path, override, field):
    spec = write_spec(tmp_path / "s.toml", spec_dict(**override))
    out = tmp_path / "out.zarr"
    res = cli("run", spec, "--out", out)
    assert res.returncode == 2
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and field in err[0], res.stderr
    assert not out.exists() and not (tmp_path / "out.zarr.lock").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


def test_cli_missing_store_and_bad_workers(tmp_path):
    spec = write_spec(tmp_path / "s.toml", spec_dict())
    res = cli("run", spec, "--out", tmp_path / "o.zarr", "--workers", "0")
    assert res.returncode == 2 and "--workers" in res.stderr
    assert not (tmp_path / "o.zarr").exists()
    res = cli("run", spec)  # no [output] store, no --out
    assert res.returncode == 2 and "output.store" in res.stderr
    res = cli("status", tmp_path / "nothing.zarr")
    assert res.returncode == 2 and "store" in res.stderr


def test_grid_values_checked_at_every_value():
    # W = -1 is rejected by the generator; it sits in the middle of the axis
    with pytest.raises(SpecError, match="^disorder"):
        parse_spec(spec_dict(grid={"disorder.W": [0.5, -1.0, 2.0]}))
    assert np.isfinite(parse_spec(spec_dict()).seed)
