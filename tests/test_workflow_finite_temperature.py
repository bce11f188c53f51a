"""workflows/finite_temperature.toml and its figure (tgsweep.plots.workflows.fig_finite_temperature):
the spec's members parse, a shrunken run renders, `tgsweep plot DIR` renders the committed
reference store (data/reference/finite_temperature, made by data/make_reference.py), and the
reference data reproduce the closed forms the figure overlays.

References: the thermal correlation length of the impenetrable Bose gas / XX chain,
1/xi = -(1/2 pi) int dk ln|tanh((eps(k) - mu)/2T)| (Its, Izergin, Korepin & Slavnov, Nucl. Phys. B
340, 752 (1990); Its, Izergin, Korepin & Varzugin, Physica D 54, 351 (1992)), its low-T limit
pi T / (2 v_F) (the finite-T Luttinger-liquid form g1 ~ [sinh(pi T x / v_F)]^{-1/(2K)} with the
TG value K = 1; e.g. Giamarchi, "Quantum Physics in One Dimension" (Oxford, 2004), ch. 3) and its high-T
limit ln(2T) at mu = 0 (tanh x -> x, (1/2 pi) int ln|2 cos k| dk = 0); docs/references.md §8.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tgsweep.observables import iiks_correlation_length
from tgsweep.plots import workflows as figures
from tgsweep.sweep import workflow

ROOT = Path(__file__).resolve().parents[1]
WF = ROOT / "workflows" / "finite_temperature.toml"
REF = ROOT / "data" / "reference" / "finite_temperature"

TINY = {"sampling": {"n_samples": 2, "samples_per_task": 2}, "series": [
    {"label": "L8", "model": {"sites": 8},
     "grid": {"disorder.W": [0.0, 3.0], "state.temperature": [0.15, 0.5]},
     "observables": {"condensate": {"n_modes": 1}}},
    {"label": "L12", "model": {"sites": 12},
     "grid": {"disorder.W": [0.0, 3.0], "state.temperature": [0.15, 0.5]},
     "observables": {"condensate": {"n_modes": 1}}},
    {"label": "xi", "model": {"sites": 40}, "grid": {"state.temperature": [0.5, 1.0]},
     "observables": {"hs_profile": {"sigmas": [1.0]}}},
    {"label": "stiffness", "model": {"sites": 10},
     "grid": {"disorder.W": [0.0, 3.0], "state.temperature": [0.2, 1.0]},
     "observables": {"stiffness": {"thetas": [1.0]}}}]}


@pytest.fixture
def axes_log(monkeypatch):
    log = []
    orig = figures._save

    def spy(fig, outdir, name):
        log.append((name, len(fig.axes), [len(ax.lines) for ax in fig.axes]))
        return orig(fig, outdir, name)

    monkeypatch.setattr(figures, "_save", spy)
    return log


def _check_png(path):
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    assert len(data) > 10_000, f"{path}: suspiciously small PNG ({len(data)} bytes)"


def test_workflow_members_parse():
    """Every member is a validated spec: the L members store lambda_0 on a (W, T) grid, the xi
    member the sigma = 1 HS profile of one clean ring, the stiffness member the grand-canonical
    thermal stiffness (ensemble filled in from [state]) with <H>, <N> and Omega."""
    members = dict(workflow.load_workflow(WF))
    assert list(members) == ["L16", "L32", "L64", "L128", "xi", "stiffness"]
    for label in ("L16", "L32", "L64", "L128"):
        spec = members[label]
        assert spec.dims == ["disorder_W", "state_temperature"] and spec.n_samples >= 16
        assert "condensate" in spec.observables and spec.model["sites"] == int(label[1:])
    assert members["xi"].observables["hs_profile"]["sigmas"] == [1.0]
    assert members["xi"].disorder["W"] == 0.0
    st = members["stiffness"]
    assert st.observables["stiffness"] == {"thetas": [1.0], "ensemble": "grand"}
    assert {"energy", "free_energy"} <= set(st.observables)


def test_shrunken_run_renders(tmp_path, axes_log):
    """Shrunken workflow (tiny rings, 2 samples): every sample ok, one PNG with three panels."""
    stores = workflow.run_workflow(WF, out=str(tmp_path / "ft.zarr"), overrides=TINY)
    series = workflow.open_workflow(stores)
    for _, ds in series:
        assert ds.attrs["workflow"] == "finite_temperature"
        assert (ds["status"].values == 1).all(), ds["error"].values
    files = figures.render(series, tmp_path / "fig")
    assert [Path(f).name for f in files] == ["finite_temperature.png"]
    (name, n_axes, lines), = axes_log
    assert name == "finite_temperature" and n_axes == 3
    _check_png(files[0])


def test_cli_plots_the_reference_series_directory(tmp_path, axes_log):
    """`tgsweep plot data/reference/finite_temperature` renders the workflow figure from the
    series directory: (a) T = 0 + |T| x |W| curves, (b) the IIKS line and the fitted points,
    (c) clean series, direct difference, roundoff floor, every disordered sample and their mean."""
    from tgsweep.cli import main

    assert REF.is_dir(), "reference store missing (run data/make_reference.py finite_temperature)"
    figs = tmp_path / "figs"
    assert main(["plot", str(REF), "--outdir", str(figs)]) == 0
    _check_png(figs / "finite_temperature.png")
    (name, n_axes, lines), = [e for e in axes_log if e[0] == "finite_temperature"]
    series = workflow.open_workflow(REF)
    members = dict(series)
    n_t = members["L16"].sizes["state_temperature"]
    n_w = members["L16"].sizes["disorder_W"]
    n_s = members["stiffness"].sizes["sample"]
    assert n_axes == 3
    assert lines[0] >= 1 + n_t * n_w  # errorbar lines + the T = 0 curve
    assert lines[1] == 2
    assert lines[2] >= 3 + n_s + 1


def test_reference_fitted_correlation_length_is_iiks():
    """The decay length of the stored sigma = 1 HS profile (= |gamma(0, r)| on the clean ring)
    over 3 xi < r < min(L/2 - 5, 25 xi) equals the exact IIKS length within 1 %."""
    ds = dict(workflow.open_workflow(REF))["xi"]
    mu = float(workflow.stored_spec(ds)["state"]["mu"])
    r = ds["r"].values.astype(float)
    prof = ds["hs_profile"].sel(sigma=1.0)
    for i, t in enumerate(ds["state_temperature"].values):
        xi = iiks_correlation_length(float(t), mu)
        fit = figures._fit_xi(r, prof.isel(state_temperature=i, sample=0).values, xi)
        assert fit is not None and abs(fit / xi - 1) < 0.01, (t, fit, xi)


def test_reference_stiffness_resolved_below_roundoff():
    """Every stored rho_s of the reference is flagged reliable and positive (diamagnetic
    inequality); disorder lowers it; at T = 3 the clean rho_s lies far below the roundoff of
    Omega, eps |Omega(0)| L / theta^2, where the stored plain difference is noise."""
    ds = dict(workflow.open_workflow(REF))["stiffness"]
    assert (ds["status"].values == 1).all() and (ds["stiffness_reliable"].values == 1).all()
    rho = ds["rho_s"].isel(theta=0)
    assert (rho.values > 0).all()
    clean, dis = rho.sel(disorder_W=0.0), rho.sel(disorder_W=3.0)
    assert (dis.max("sample") < clean.min("sample")).all()
    hot = clean.sel(state_temperature=3.0).values[0]
    f0 = float(ds["stiffness_free_energy0"].sel(disorder_W=0.0, state_temperature=3.0)[0])
    floor = np.finfo(float).eps * abs(f0) * 40
    assert hot < 1e-6 * floor
    direct = float(ds["rho_s_direct"].isel(theta=0).sel(disorder_W=0.0,
                                                       state_temperature=3.0)[0])
    assert abs(direct - hot) > 0.5 * hot  # (here exactly 0: all digits lost)


@pytest.mark.parametrize("mu", [-1.0, 0.3])
def test_iiks_low_temperature_is_the_luttinger_limit(mu):
    """T -> 0: 1/xi -> pi T / (2 v_F), v_F = 2 t sin k_F (lattice, t = 1.3) and
    2 sin(k_F h)/h (grid, h = 1/4, mu -> mu + 2.4 inside the band), to 1e-3 at T = 1e-3."""
    t_hop, T = 1.3, 1e-3
    kf = math.acos(-mu / (2 * t_hop))
    want = math.pi * T / (2 * 2 * t_hop * math.sin(kf))
    assert abs(1 / iiks_correlation_length(T, mu, hopping=t_hop) / want - 1) < 1e-3
    h, mu_c = 0.25, mu + 2.4
    kfh = math.acos(1 - mu_c * h**2 / 2)
    want_c = math.pi * T / (2 * 2 * math.sin(kfh) / h)
    assert abs(1 / iiks_correlation_length(T, mu_c, spacing=h) / want_c - 1) < 1e-3


def test_iiks_high_temperature_limit_and_bad_input():
    """mu = 0, T = 100: 1/xi = ln(2T) + O(1/T^2); T <= 0 is refused naming the field."""
    assert abs(1 / iiks_correlation_length(100.0, 0.0) - math.log(200.0)) < 1e-3
    with pytest.raises(ValueError, match="temperature"):
        iiks_correlation_length(0.0, 0.0)
