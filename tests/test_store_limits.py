"""Bad input and absurd sizes: one line naming the field, exit code 2, nothing written (or a
one-line warning), checked before anything is computed.

Reference: the bad-input rule of README "Sweeps" (every field validated before anything runs);
the estimates are those of tgsweep/sweep/limits.py (orbitals M x N, OBDM M x M).
"""

from __future__ import annotations

import pytest

from tgsweep import cli
from tgsweep.sweep import parse_spec
from tgsweep.sweep.limits import estimate

from _sweep_util import spec_dict, write_spec


def _run(tmp_path, d, *extra, capsys):
    spec = write_spec(tmp_path / "s.toml", d) if isinstance(d, dict) else d
    out = tmp_path / "o.zarr"
    mode = [] if "--scheduler" in extra else ["--serial"]
    code = cli.main(["run", str(spec), "--out", str(out), *mode, "--no-progress", *extra])
    err = capsys.readouterr().err.strip()
    return code, err, out


CASES = {
    "sites 1e9": (spec_dict(model={"kind": "lattice", "sites": 1e9}), (), "model.sites"),
    "n_samples 1e8": (spec_dict(sampling={"n_samples": 1e8, "seed": 1}), (), "grid"),
    "store above the limit": (spec_dict(sampling={"n_samples": 100000, "seed": 1,
                                                  "samples_per_task": 100}),
                              ("--max-store-gb", "0.01"), "sampling.n_samples"),
    "1e9-point grid": (spec_dict(grid={"disorder.W": [1.0 + i for i in range(1000)],
                                       "state.mu": [0.001 * i for i in range(1000)],
                                       "state.twist": [0.001 * i for i in range(1000)]}),
                       (), "grid"),
    "n_times 1e9": (spec_dict(observables={"dynamics": {"times": {"t_max": 1.0,
                                                                  "n_times": 10**9}}}),
                    (), "observables.dynamics.times.n_times"),
    "reserved zip name": (spec_dict(grid={"zip": {"sample": {"disorder.W": [1.0, 2.0]}}}), (),
                          "grid.zip.sample"),
    "reserved zip name of an observable dim": (
        spec_dict(grid={"zip": {"r": {"disorder.W": [1.0, 2.0]}}},
                  observables={"hs_profile": {"sigmas": [0.5]}}), (), "grid.zip.r"),
    "duplicate values 1 and 1.0": (spec_dict(grid={"disorder.W": [1, 1.0]}), (),
                                   "grid.disorder.W"),
    "n_modes above M": (spec_dict(observables={"condensate": {"n_modes": 13}}), (),
                        "observables.condensate.n_modes"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, case):
    d, extra, field = CASES[case]
    code, err, out = _run(tmp_path, d, *extra, capsys=capsys)
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith(f"tgsweep: error: {field}:"), err
    assert not out.exists() and not (tmp_path / "o.zarr.lock").exists()


def test_binary_spec(tmp_path, capsys):
    f = tmp_path / "bin.toml"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    code, err, out = _run(tmp_path, f, capsys=capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "spec: " in err and "UTF-8" in err
    assert not out.exists()


def test_limit_can_be_raised(tmp_path, capsys):
    """The store-size refusal is a limit, not a ban: a larger --max-store-gb accepts the spec."""
    d = spec_dict(sampling={"n_samples": 6, "seed": 1})
    est = estimate(parse_spec(d))["store"]
    code, err, _ = _run(tmp_path, d, "--max-store-gb", str(est / 2e9), capsys=capsys)
    assert code == 2 and "--max-store-gb" in err
    code, err, out = _run(tmp_path, d, "--max-store-gb", str(est / 0.5e9), capsys=capsys)
    assert code == 0 and out.exists()


@pytest.mark.parametrize("state, field", [({"mu": -10.0}, "state.mu"),
                                          ({"n_particles": 0}, "state.n_particles")])
def test_empty_state_warns_in_one_line(tmp_path, capsys, state, field):
    """mu below -2t + min V (Gershgorin: below the whole lattice spectrum) or N = 0: the run goes
    on with a one-line warning (every sample has no particles)."""
    d = spec_dict(state=state, grid=None, sampling={"n_samples": 2, "seed": 1},
                  observables={"energy": {}})
    with pytest.warns(UserWarning, match=field):
        parse_spec(d)


def test_unreachable_scheduler_one_line(tmp_path, capsys):
    """A --scheduler nobody listens on: one line naming --scheduler, exit 2, no traceback."""
    import dask
    import distributed  # noqa: F401 - load its config defaults first: leaving dask.config.set
    # removes every key it created, so setting a key of a not-yet-loaded "distributed" section
    # would drop the whole section for the rest of the session (later computes then fail)

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        code, err, out = _run(tmp_path, spec_dict(), "--scheduler", "tcp://127.0.0.1:9",
                              capsys=capsys)
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("tgsweep: error: "
                                                                       "--scheduler:"), err
