"""The dynamics observable's options across fields: a combination the propagators cannot run is
refused when the spec is parsed (one line naming the field, exit code 2, nothing written).

Reference: the propagators' rules in tgsweep.core.evolution (``truncation`` drops eigenmodes of
the dense eigenbasis, so it exists for method "eigen" only, and that basis is built only up to
DENSE_MAX_DYNAMICS grid points; "chebyshev" and "support" carry their own error control) and the
bad-input contract of README "Sweeps: specs, CLI, stores".
"""

from __future__ import annotations

import pytest

from tgsweep.core.evolution import DENSE_MAX_DYNAMICS
from tgsweep.sweep import SpecError, parse_spec

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
