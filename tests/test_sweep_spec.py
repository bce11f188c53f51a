"""Spec validation: every bad field gives a one-line error naming it, exit code 2, no store.

Reference: the spec format of README "Sweeps: specs, CLI, stores" (workflows/*.toml) and the allowed values in
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


# ------------------------------------------------------------------ units of grid coordinates
#: the physical dimension of every disorder parameter, written out independently of the
#: declarations in tgsweep.models.potentials (the generators' docstrings: energies in
#: hbar^2/(2 m a^2), lengths in a, white-noise strength D in energy^2 x length)
PARAM_DIMENSIONS = {
    ("uniform", "width"): "energy", ("uniform", "mean"): "energy",
    ("gaussian", "sigma"): "energy", ("gaussian", "mean"): "energy",
    ("bernoulli", "a"): "energy", ("bernoulli", "b"): "energy", ("bernoulli", "p"): "1",
    ("anderson", "W"): "energy",
    ("poisson", "density"): "1/length", ("poisson", "height"): "energy",
    ("poisson", "profile_width"): "length",
    ("speckle", "strength"): "energy", ("speckle", "corr_length"): "length",
    ("white_noise", "D"): "energy^2 length",
    ("aubry_andre", "lam"): "energy", ("aubry_andre", "beta"): "1", ("aubry_andre", "phase"): "rad",
    ("lloyd", "W"): "energy",
}
#: two admissible grid values of each parameter (ranges of the generators)
GRID_VALUES = {"width": [0.5, 1.0], "mean": [0.0, 0.5], "sigma": [0.5, 1.0], "a": [1.0, 2.0],
               "b": [0.0, -1.0], "p": [0.2, 0.7], "W": [0.5, 1.0], "density": [0.5, 1.0],
               "height": [1.0, 2.0], "profile_width": [0.0, 0.5], "strength": [1.0, -1.0],
               "corr_length": [1.0, 2.0], "D": [0.5, 1.0], "lam": [1.0, 3.0],
               "beta": [0.3, 0.618], "phase": [0.0, 1.0]}
#: natural_units attribute per dimension (units: CF "1", angles "rad"); README conventions
EXPECTED_UNITS = {
    "continuum": {"energy": "hbar^2/(2 m a^2)", "length": "a", "1/length": "a^-1",
                  "energy^2 length": "(hbar^2/(2 m a^2))^2 a", "1": "1", "rad": "rad"},
    "lattice": {"energy": "t", "length": "site", "1/length": "site^-1",
                "energy^2 length": "t^2 site", "1": "1", "rad": "rad"},
}


def _disorder_spec(kind, name, model_kind):
    from tgsweep.models.potentials import DISORDER_KINDS

    decl = DISORDER_KINDS[kind]
    base = {p.name: GRID_VALUES[p.name][0] for p in decl.params if p.required}
    model = ({"kind": "lattice", "sites": 12} if model_kind == "lattice"
             else {"kind": "continuum", "length": 8, "points_per_unit": 4})
    return spec_dict(model=model, disorder={"kind": kind, **base},
                     grid={f"disorder.{name}": GRID_VALUES[name]},
                     observables={"energy": {}})


LATTICE_ONLY = ("anderson", "aubry_andre", "lloyd")
UNIT_CASES = [(kind, name, mk) for kind, name in sorted(PARAM_DIMENSIONS)
              for mk in ("continuum", "lattice") if not (kind in LATTICE_ONLY and mk == "continuum")]


@pytest.mark.parametrize("kind,name,model_kind", UNIT_CASES)
def test_units_of_every_disorder_parameter_coordinate(kind, name, model_kind):
    """Defect fixed: grid coordinates of disorder parameters had units "1" unless their name was
    in a hard-coded list (corr_length, width, sigma, D, height and lam were missed).  The units
    come from the kind's declaration; the expected dimension is the generator's documented one."""
    from tgsweep.sweep.store import store_layout

    _, coords = store_layout(parse_spec(_disorder_spec(kind, name, model_kind)))
    dims, values, attrs = coords[f"disorder_{name}"]
    assert dims == (f"disorder_{name}",)
    np.testing.assert_array_equal(values, GRID_VALUES[name])
    dim = PARAM_DIMENSIONS[(kind, name)]
    assert attrs["natural_units"] == EXPECTED_UNITS[model_kind][dim]
    assert attrs["units"] == ("rad" if dim == "rad" else "1")


def test_every_declared_parameter_has_a_unit_test_and_one_dimension():
    from tgsweep.models.potentials import DISORDER_KINDS

    declared = {(k, p.name): p.dimension for k, d in DISORDER_KINDS.items() for p in d.params}
    assert declared == PARAM_DIMENSIONS
    assert sorted(k for k, d in DISORDER_KINDS.items() if d.lattice_only) == sorted(LATTICE_ONLY)
    by_name = {}
    for (_, name), dim in declared.items():  # a name means one thing in every kind
        assert by_name.setdefault(name, dim) == dim, name


def test_lattice_kind_on_a_continuum_names_the_kind():
    d = spec_dict(model={"kind": "continuum", "length": 8, "points_per_unit": 4})
    with pytest.raises(SpecError) as exc:
        parse_spec(d)
    assert exc.value.field == "disorder.kind" and "lattice" in str(exc.value)


def test_readme_disorder_table_is_the_declarations():
    """README's table of disorder kinds is generated from the declarations, not kept by hand."""
    from pathlib import Path

    from tgsweep.models.potentials import disorder_table

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert disorder_table() in readme
