"""The dynamics observable's options across fields: a combination the propagators cannot run is
refused when the spec is parsed (one line naming the field, exit code 2, nothing written).

Reference: the propagators' rules in tgsweep.core.evolution (``truncation`` drops eigenmodes of
the dense eigenbasis, so it exists for method "eigen" only, and that basis is built only up to
DENSE_MAX_DYNAMICS grid points; "chebyshev" and "support" carry their own error control) and the
bad-input contract of README "Sweeps: specs, CLI, stores".
"""

from __future__ import annotations

import numpy as np
import pytest

from tgsweep import Ring
from tgsweep.core.evolution import DENSE_MAX_DYNAMICS, choose_method
from tgsweep.models.potentials import make_potential
from tgsweep.observables.dynamics import METHOD_CODES, sweep_times
from tgsweep.sweep import MemoryStore, SpecError, parse_spec, run_sweep

from _sweep_util import cli, spec_dict, write_spec


def _dyn_spec(sites=40, **opts):
    return spec_dict(model={"kind": "lattice", "sites": sites},
                     sampling={"n_samples": 1, "seed": 3},
                     observables={"dynamics": {"times": [1.0, 2.0], **opts}})


@pytest.mark.parametrize("method", ["support", "chebyshev"])
def test_truncation_with_own_error_control_is_refused_at_parse(method):
    """truncation > 0 with method "support" / "chebyshev": SpecError naming
    observables.dynamics.truncation and the allowed methods; truncation = 0 parses."""
    with pytest.raises(SpecError) as exc:
        parse_spec(_dyn_spec(method=method, truncation=0.1))
    assert exc.value.field == "observables.dynamics.truncation"
    assert "eigen" in str(exc.value) and "\n" not in str(exc.value)
    assert parse_spec(_dyn_spec(method=method, truncation=0.0)).observables["dynamics"][
        "method"] == method
    assert parse_spec(_dyn_spec(method="eigen", truncation=0.1))


def test_truncation_beyond_the_dense_limit_is_refused_at_parse():
    """truncation > 0 with "eigen" or "auto" on a ring beyond DENSE_MAX_DYNAMICS (no
    eigenbasis is built there): refused at parse, naming the field and the limit."""
    for method in ("auto", "eigen"):               # truncation is checked first
        with pytest.raises(SpecError) as exc:
            parse_spec(_dyn_spec(sites=DENSE_MAX_DYNAMICS + 2, method=method, truncation=0.1))
        assert exc.value.field == "observables.dynamics.truncation"
        assert str(DENSE_MAX_DYNAMICS) in str(exc.value)


def test_cli_support_with_truncation_exit_2_nothing_written(tmp_path):
    """``tgsweep run`` on a spec with method = "support" and truncation = 0.1: exit code 2,
    one stderr line naming observables.dynamics.truncation, no store or lock written."""
    spec = write_spec(tmp_path / "s.toml", _dyn_spec(method="support", truncation=0.1))
    out = tmp_path / "out.zarr"
    res = cli("run", spec, "--out", out)
    assert res.returncode == 2, res.stderr
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and "observables.dynamics.truncation" in err[0], res.stderr
    assert "support" in err[0] and "eigen" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


def test_eigen_beyond_the_dense_limit_is_refused_at_parse():
    """method = "eigen" on a ring beyond DENSE_MAX_DYNAMICS: refused at parse naming
    observables.dynamics.method and the methods allowed there."""
    with pytest.raises(SpecError) as exc:
        parse_spec(_dyn_spec(sites=DENSE_MAX_DYNAMICS + 2, method="eigen"))
    assert exc.value.field == "observables.dynamics.method"
    assert "support" in str(exc.value) and "\n" not in str(exc.value)


def test_sweep_records_the_auto_choice():
    """A lattice sweep with method = "auto": dyn_method holds, per sample, the code
    (METHOD_CODES) of choose_method for that sample's ring (Anderson disorder keyed by
    SeedSequence(seed, (grid point, sample))), and dyn_count_error is 0 where it chose an
    exact propagator."""
    spec = parse_spec(spec_dict(model={"kind": "lattice", "sites": 40},
                                sampling={"n_samples": 2, "seed": 5, "samples_per_task": 2},
                                observables={"dynamics": {"times": [1.0, 3.0],
                                                          "n_particles": 8}}))
    store = MemoryStore()
    run_sweep(spec, store, progress=False)
    ds = store.to_dataset()
    assert (ds["status"].values == 1).all()
    times = sweep_times([1.0, 3.0])
    for p, w in enumerate([0.5, 3.0]):          # the grid of tests/_sweep_util.py's BASE
        for s in range(2):
            rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(5, spawn_key=(p, s))))
            ring = Ring.lattice(make_potential("anderson", rng, 40, W=float(w)))
            want = choose_method(ring, 8, times, eigenbasis_needed=True)
            assert int(ds["dyn_method"].values[p, s]) == METHOD_CODES[want]
            if want != "support":
                assert ds["dyn_count_error"].values[p, s] == 0.0
