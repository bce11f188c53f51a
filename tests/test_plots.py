"""Generic figures (tgsweep.plots.variables) and the figure-output convention (tgsweep.plots).

Reference: the rules stated in the tgsweep.plots.variables docstring (labels from long_name and
units, flags and fixed variables not drawn, log axes only for positive data spanning more than
1.5 decades, categorical values without joining lines, angles as multiples of pi, grid points
compared in one panel, panels wrapped in a grid) and the output convention of tgsweep.plots.
The figures are checked on their structure (axes, labels, scales, sizes), never on pixels; the
store is a shrunken quickstart (workflows/quickstart.toml: every registered observable).
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402

from tgsweep.plots import GENERIC_SUBDIR, default_outdir, plot  # noqa: E402
from tgsweep.plots import variables as V  # noqa: E402
from tgsweep.sweep import ZarrStore, parse_spec, run_sweep  # noqa: E402

from _sweep_util import cli  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def qs_store(tmp_path_factory):
    raw = tomllib.loads((ROOT / "workflows" / "quickstart.toml").read_text())
    raw["model"].update(length=8, points_per_unit=4)
    raw["sampling"].update(n_samples=3, samples_per_task=3)
    raw["observables"]["lyapunov"]["energies"] = [5.0, 10.0, 20.0, 40.0]
    path = tmp_path_factory.mktemp("plots") / "qs.zarr"
    run_sweep(parse_spec(raw), path, progress=False)  # no executor: this process
    return path


def _capture(store, outdir) -> dict:
    """{family: Figure} of every generic figure of ``store``, captured as it is saved."""
    seen = {}
    orig = Figure.savefig

    def spy(self, fname, *a, **k):
        seen[Path(fname).stem] = self
        return orig(self, fname, *a, **k)

    mp = pytest.MonkeyPatch()
    mp.setattr(Figure, "savefig", spy)
    try:
        files = V.plot_variables(store, outdir)
    finally:
        mp.undo()
    assert sorted(Path(f).stem for f in files) == sorted(seen)
    return seen


@pytest.fixture(scope="module")
def figures(qs_store, tmp_path_factory):
    return _capture(qs_store, tmp_path_factory.mktemp("figs"))


def _panels(fig, name=None):
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_gid()
            and (name is None or ax.get_gid() == name)]


def test_one_figure_per_family_and_sane_sizes(figures):
    assert {"energy", "density", "condensate", "hs_profile", "momentum_distribution",
            "lyapunov", "stiffness", "ecl_profile", "dynamics",
            "particle_numbers"} <= set(figures)
    for fam, fig in figures.items():
        w, h = fig.get_size_inches() * fig.dpi
        n = len(_panels(fig))
        assert n >= 1, fam
        assert w <= V.NCOLS * V.PANEL_W * fig.dpi + 1, (fam, w)  # wrapped, never one long row
        assert h <= (math.ceil(n / V.NCOLS) * V.PANEL_H + 2.5) * fig.dpi, (fam, h)
    dyn = figures["dynamics"]
    w, h = dyn.get_size_inches() * dyn.dpi
    assert len(_panels(dyn)) > V.NCOLS and 0.5 < h / w < 1.5  # a grid, not 4500 x 360


def test_labels_from_long_name_and_units(qs_store, figures):
    from tgsweep.sweep import open_dataset

    ds = open_dataset(qs_store)
    checked = 0
    for fig in figures.values():
        for ax in _panels(fig):
            name = ax.get_gid()
            var = ds[name]
            ylabel = ax.get_ylabel().replace("\n", " ")
            if ylabel != "samples" and not ax.get_title().endswith("(tail)"):
                # the label is the long name's head, not the raw variable name
                first = V.pretty(var.attrs["long_name"]).split()[0]
                assert ylabel.split()[0] == first, (name, ylabel)
            u = V.pretty_units(V.unit_of(var))
            if u and not ax.get_title().endswith("(tail)") and ylabel != "samples":
                assert f"[{u}]" in ylabel, (name, ylabel)
                checked += 1
            assert ax.get_xlabel(), name
    assert checked >= 5
    energy = _panels(figures["energy"], "energy")[0]
    assert "ground-state energy" in energy.get_ylabel()
    assert "ħ²/(2 m a²)" in energy.get_xlabel() and "disorder.strength" in energy.get_xlabel()


def test_flags_fixed_and_duplicates_not_drawn(figures, qs_store):
    from tgsweep.sweep import open_dataset

    drawn = {ax.get_gid() for fig in figures.values() for ax in _panels(fig)}
    for name in ("stiffness_reliable", "stiffness_ambiguous", "cell_distance", "k",
                 "stiffness_energy0", "rho_s", "rho_s0", "status", "done"):
        assert name not in drawn, name
    notes = figures["stiffness"].get_supxlabel()
    assert "stiffness_reliable" in notes and "valid samples" in notes
    assert "stiffness_energy0 = energy" in notes
    # fixed geometry: stored without a sample dimension, or (older layout) named in the notes
    assert "sample" not in open_dataset(qs_store)["cell_distance"].dims or \
        "cell_distance" in figures["dynamics"].get_supxlabel()


def test_momentum_distribution_against_k_with_log_axis_and_tail(figures, qs_store):
    from tgsweep.sweep import open_dataset

    fig = figures["momentum_distribution"]
    nk, tail = _panels(fig, "n_k")
    ku = V.pretty_units(V.unit_of(open_dataset(qs_store)["k"]))
    assert ku in ("1/a", "a⁻¹")
    assert "momentum k" in nk.get_xlabel() and f"[{ku}]" in nk.get_xlabel()
    assert nk.get_yscale() == "log"
    x = nk.lines[0].get_xdata()
    assert x.min() < 0 < x.max()  # k itself, not its index
    assert "k⁴ n(k)" in tail.get_ylabel()
    assert np.all(tail.lines[0].get_xdata() > 0)


def test_log_only_where_data_span_decades(figures):
    ntr = _panels(figures["dynamics"], "n_transferred")[0]
    assert ntr.get_yscale() == "linear"  # starts at 0 (roundoff), no log axis from 1e-29
    dens = _panels(figures["density"], "density")[0]
    assert dens.get_yscale() == "linear"


def test_hs_profile_every_strength_on_a_log_axis(tmp_path):
    """Reference store of decay_of_correlations (3 speckle strengths, 4 sigmas): one panel per
    sigma, all three strengths in each, and a log axis on every panel (the profiles decay over
    more than 1.5 decades)."""
    figs = _capture(ROOT / "data" / "reference" / "decay_of_correlations.zarr", tmp_path)
    panels = _panels(figs["hs_profile"], "hs_profile")
    assert [ax.get_title() for ax in panels] == ["σ = 0.4", "σ = 0.6", "σ = 0.8", "σ = 0.99"]
    for ax in panels:
        assert ax.get_yscale() == "log"
        assert len([ln for ln in ax.lines if len(ln.get_xdata()) > 1]) == 3


def test_grid_points_compared_in_one_panel(figures):
    dens = _panels(figures["density"], "density")
    assert len(dens) == 1
    lines = [ln for ln in dens[0].lines if len(ln.get_xdata()) > 1]
    assert len(lines) == 2  # disorder strengths 1 and 8 in the same panel
    leg = dens[0].get_legend()
    assert leg is not None and "disorder.strength" in leg.get_title().get_text()
    assert sorted(t.get_text() for t in leg.get_texts()) == ["1", "8"]


def test_categorical_points_not_joined_and_pi_labels(figures):
    fig = figures["ecl_profile"]
    for ax in _panels(fig, "ecl_n_states") + _panels(figures["condensate"], "occupations") + \
            _panels(figures["energy"]):
        for ln in ax.lines:
            if len(ln.get_xdata()) > 1:  # markers (means, faint samples) only, never a line
                assert ln.get_linestyle() in ("None", ""), ax.get_gid()
    titles = [ax.get_title() for ax in _panels(fig, "ecl_q")]
    assert len(titles) == 4 and any("twist = π" in t for t in titles)
    assert not any("3.14" in t for t in titles)
    ticks = [t.get_text() for t in _panels(fig, "ecl_n_states")[0].get_xticklabels()]
    assert ticks == ["[0, 10]", "[10, 20]"]


def test_format_and_pretty_helpers():
    assert V.format_value(math.pi, "rad") == "π"
    assert V.format_value(math.pi / 2, "rad") == "π/2"
    assert V.format_value(3 * math.pi / 4, "rad") == "3π/4"
    assert V.format_value(-math.pi, "rad") == "−π"
    assert V.format_value(0.0, "rad") == "0"
    assert V.format_value(3.0, "rad") == "3"
    assert V.format_value(math.pi, "1") == "3.14"
    assert V.pretty("lambda_0 of gamma, k^4 n(k), mum") == "λ₀ of γ, k⁴ n(k), mum"
    assert V.pretty_units("hbar^2/(2 m a^2), a = unit length") == "ħ²/(2 m a²)"
    assert V.pretty_units("a (unit length)") == "a" and V.pretty_units("1") == ""
    assert V.axis_label({"long_name": "int over {x in K: dist(x, K^c) > d} of rho_0",
                         "units": "1"}).replace("\n", " ") == \
        "int over {x in K: dist(x, Kᶜ) > d} of ρ₀"  # never cut inside the braces
    # short letter subscripts of one-letter symbols, arrows, norms; variable names untouched
    assert V.pretty("N_tr(t -> inf), sup_t |N_n(t) - N_n(0)|, rho_s0, ||T||") == \
        "Nₜᵣ(t → ∞), supₜ |Nₙ(t) − Nₙ(0)|, ρₛ₀, ‖T‖"
    assert V.pretty("log10 rho_s, stiffness_energy0 = energy, n_transferred") == \
        "log₁₀ ρₛ, stiffness_energy0 = energy, n_transferred"
    assert V.pretty(r"mean $\Vert\gamma\Vert_2^\sigma$ of lambda_0") == \
        r"mean $\Vert\gamma\Vert_2^\sigma$ of λ₀"  # mathtext left alone


def test_output_convention_no_collision(tmp_path):
    """A store written by the momentum_distribution workflow: its workflow figure and the
    generic figure of the observable of the same name are two different files."""
    ref = ROOT / "data" / "reference" / "momentum_distribution.zarr"
    files = plot(ref, tmp_path)
    names = {str(Path(f).relative_to(tmp_path)) for f in files}
    assert "momentum_distribution.png" in names
    assert f"{GENERIC_SUBDIR}/momentum_distribution.png" in names
    assert len(files) == len(set(files))
    assert default_outdir("data/quickstart.zarr") == Path("data/quickstart-figures")
    assert default_outdir("data/absence_of_bec/") == Path("data/absence_of_bec-figures")


def test_cli_status_and_plot_on_missing_or_foreign_paths(tmp_path):
    res = cli("status", tmp_path / "nope.zarr")
    assert res.returncode == 2 and "does not exist" in res.stderr
    (tmp_path / "empty").mkdir()
    res = cli("status", tmp_path / "empty")
    assert res.returncode == 2 and "is not a tgsweep Zarr store" in res.stderr
    res = cli("plot", tmp_path / "nope.zarr")
    assert res.returncode == 2 and "does not exist" in res.stderr


def test_missing_series_store_points_to_the_directory():
    res = cli("status", ROOT / "data" / "reference" / "localization_length.zarr")
    assert res.returncode == 2
    assert "does not exist" in res.stderr and "series workflow" in res.stderr
    assert str(ROOT / "data" / "reference" / "localization_length") in res.stderr
    res = cli("--version")
    assert res.returncode == 0 and res.stdout.startswith("tgsweep ")


def test_cli_status_of_a_series_directory(tmp_path):
    res = cli("status", ROOT / "data" / "reference" / "localization_length")
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("== ") == 3 and "== anderson" in res.stdout


def test_cli_plot_default_outdir(tmp_path, qs_store):
    import shutil

    store = tmp_path / "s.zarr"
    shutil.copytree(qs_store, store)
    ZarrStore(store).update_attrs({"workflow": "quickstart"})
    res = cli("plot", store)
    assert res.returncode == 0, res.stderr
    out = tmp_path / "s-figures" / GENERIC_SUBDIR
    assert (out / "density.png").exists()
    assert all(Path(line).parent == out for line in res.stdout.split())


def test_series_directory_figures(tmp_path):
    """A series directory: the workflow figure at the top, each member's generic figures in
    observables/<label>/, no two files the same."""
    files = plot(ROOT / "data" / "reference" / "localization_length", tmp_path)
    rel = sorted(str(Path(f).relative_to(tmp_path)) for f in files)
    assert "localization_length.png" in rel
    for label in ("anderson", "aubry_andre", "white_noise"):
        assert f"{GENERIC_SUBDIR}/{label}/lyapunov.png" in rel
    assert len(rel) == len(set(rel))


def test_k_as_a_coordinate_is_the_axis(tmp_path):
    """The same figures when k is a coordinate along k_index and when it is the fixed variable
    (no sample dimension) the store writes: both give n(k) against k; the workflow figure draws
    too."""
    from tgsweep.plots.workflows import render
    from tgsweep.sweep.workflow import open_workflow

    ds = open_workflow(ROOT / "data" / "reference" / "momentum_distribution.zarr")
    k = ds["k"]
    extra = [d for d in k.dims if d != "k_index"]
    k = k.isel({d: 0 for d in extra}).drop_vars(extra, errors="ignore")
    fixed = ds.drop_vars("k").assign_coords(k=k)
    for i, ds2 in enumerate((fixed, ds)):  # k as a coordinate, and as the store writes it
        figs = _capture(ds2, tmp_path / f"obs{i}")
        nk = _panels(figs["momentum_distribution"], "n_k")[0]
        assert "momentum k" in nk.get_xlabel()
        assert np.allclose(nk.lines[0].get_xdata(), k.values)
        assert len(render(ds2, tmp_path / f"wf{i}")) == 1


def test_plot_of_a_store_lacking_a_workflow_variable(tmp_path, capsys):
    """A store of a known workflow whose spec dropped a variable the workflow figure needs
    (here ecl_q of decay_of_correlations): the generic figures are written and one stderr line
    names the missing variable; no traceback, no misleading error."""
    from tgsweep.sweep import open_dataset

    ds = open_dataset(ROOT / "data" / "reference" / "decay_of_correlations.zarr")
    keep = [v for v in ds.data_vars if not v.startswith("ecl_")]
    ds[keep].load().to_zarr(tmp_path / "d.zarr", mode="w", consolidated=False)
    files = plot(tmp_path / "d.zarr", tmp_path / "out")
    assert files and all(f"/{GENERIC_SUBDIR}/" in f for f in files)
    err = capsys.readouterr().err
    assert "decay_of_correlations" in err and "ecl_q" in err and len(err.splitlines()) == 1


def test_plot_of_a_directory_of_several_workflows(tmp_path):
    """A directory holding stores of different workflows is not a series: a one-line error."""
    import shutil

    for name in ("decay_of_correlations", "momentum_distribution"):
        shutil.copytree(ROOT / "data" / "reference" / f"{name}.zarr", tmp_path / f"{name}.zarr")
    with pytest.raises(FileNotFoundError, match="several workflows"):
        plot(tmp_path)
