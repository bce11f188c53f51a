"""Per-workflow figures: one function per workflow of ``workflows/*.toml``, each drawing the
statement of the seed paper that workflow reproduces (with its closed-form references).

(The generic one-figure-per-observable pictures of any store are :mod:`tgsweep.plots.variables`;
expanding and running workflows is :mod:`tgsweep.sweep.workflow`.)

Every figure function takes what :func:`tgsweep.sweep.workflow.open_workflow` returns (an
``xarray.Dataset`` as ``xr.open_zarr`` gives it, or for a series a list of ``(label, Dataset)``)
and an output directory, and returns the PNG paths.  :func:`render` dispatches on the workflow
name stored in the store attributes (``workflow``, else the stem of ``spec_source``).  Means and
error bars are computed here from the raw samples with status 1: error bar = standard error over
samples, std(ddof=1)/sqrt(n).  Units hbar^2/2m = 1 (continuum lengths in a, energies in
hbar^2/(2 m a^2); lattice: sites and the hopping t).
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import numpy as np

from ..core.state import ground_state
from ..models.ring import Ring
from ..observables.correlations import condensate, fit_ecl, hs_bound
from ..observables.localization import (aubry_andre_lyapunov, halperin_lyapunov,
                                    kappus_wegner_lyapunov, thouless_lyapunov)
from ..observables.thermal import iiks_correlation_length, tg_contact
from ..sweep.stats import mean_se
from ..sweep.workflow import stored_spec as _spec
from ..sweep.workflow import workflow_name
from .variables import axis_label, pretty, pretty_units, tidy_log_axes, unit_of

__all__ = ["render", "FIGURES", "fig_decay_of_correlations", "fig_absence_of_bec",
           "fig_superfluid_stiffness", "fig_dynamical_localization",
           "fig_momentum_distribution", "fig_localization_length", "fig_interaction_axis",
           "fig_finite_temperature", "mean_se"]

# ================================================================================ statistics
# mean_se: tgsweep.sweep.stats (one implementation for figures and stored summaries)
def _ok(ds, name):
    """Variable ``name`` as float with samples of status != 1 set to NaN."""
    return ds[name].astype(np.float64).where(ds["status"] == 1)


def _grid_values(ds, key: str) -> np.ndarray:
    """Values of grid parameter ``key`` ("section.key") along its dimension (or the base value)."""
    name = key.replace(".", "_")
    if name in ds.coords:
        return np.atleast_1d(ds[name].values)
    sec, k = key.split(".", 1)
    return np.atleast_1d(_spec(ds)[sec][k])


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _prettify(fig) -> None:
    """Plain-text formulas of every label, title and legend entry as Unicode
    (:func:`tgsweep.plots.variables.pretty`: gamma -> γ, hbar^2 -> ħ², ...)."""
    sup = getattr(fig, "_suptitle", None)  # matplotlib keeps the suptitle Text there
    texts = [sup] if sup is not None else []
    for ax in fig.axes:
        texts += [ax.xaxis.label, ax.yaxis.label, ax.title]
        leg = ax.get_legend()
        if leg is not None:
            texts += list(leg.get_texts())
    for t in texts:
        t.set_text(pretty(t.get_text()))


def _save(fig, outdir, name) -> str:
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    fn = outdir / f"{name}.png"
    _prettify(fig)
    fig.tight_layout()
    fig.savefig(fn, dpi=90)
    _plt().close(fig)
    return str(fn)


def _length_ticks(ax, lengths) -> None:
    """Log x axis labelled at the series' ring lengths only."""
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    ax.set_xticks(sorted(set(float(x) for x in lengths)))
    ax.set_xticklabels([f"{x:g}" for x in sorted(set(float(x) for x in lengths))])
    ax.xaxis.set_minor_formatter(NullFormatter())


def _lu(ds) -> str:
    return "a" if _spec(ds)["model"]["kind"] == "continuum" else "sites"  # "L = 64 sites"


# ================================================================================ figures
def fig_decay_of_correlations(ds, outdir, r_min: float = 1.0,
                              name: str = "decay_of_correlations") -> list[str]:
    """HS decay E||1_In gamma 1_Im||_2^sigma vs r = dist(n, m), one panel per sigma, one curve per
    disorder strength, with the Seiringer-Warzel bound A exp(-(2/3)(1 - sigma) r^xi/(2 ell)^xi)
    (tgsweep.observables.hs_bound); (ell, xi) from tgsweep.observables.fit_ecl on the mean ECL
    profile (max over the periodic/antiperiodic twists, first window) of the same samples.
    A is not given by the theorem: it is set to the smallest value with bound >= mean at r >= 1.
    Last panel: the ECL profiles and their fits."""
    plt = _plt()
    gdim = "disorder_strength"
    strengths = _grid_values(ds, "disorder.strength")
    sig = ds["sigma"].values
    r = ds["r"].values.astype(float)
    hs_m, hs_e = mean_se(_ok(ds, "hs_profile"))
    q = _ok(ds, "ecl_q").isel(window=0).max("twist")
    q_m, q_e = mean_se(q)
    n_ax = sig.size + 1
    ncols = min(3, n_ax)
    nrows = -(-n_ax // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(4.0 * ncols, 3.4 * nrows), squeeze=False)
    for ax in grid.ravel()[n_ax:]:  # panels wrapped in rows of three; no empty frames
        ax.remove()
    axes = grid.ravel()[:n_ax]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fits = []
    for j in range(strengths.size):
        sel = {gdim: j} if gdim in q_m.dims else {}
        qm = q_m.isel(sel).values
        try:
            f = fit_ecl(r, qm, r_min=r_min)
        except (ValueError, RuntimeError):
            f = None
        fits.append(f)
        c = colors[j % len(colors)]
        axes[-1].errorbar(r, qm, yerr=np.nan_to_num(q_e.isel(sel).values), fmt="o", ms=3,
                          color=c, capsize=2, label=f"V_0 = {strengths[j]:g}")
        if f is not None:
            rr = np.linspace(0, r.max(), 200)
            axes[-1].plot(rr, f.amplitude * np.exp(-(rr / f.ell) ** f.xi), "-", color=c, lw=1,
                          label=f"fit: ell = {f.ell:.2f}, xi = {f.xi:.2f}")
    axes[-1].set_yscale("log")
    axes[-1].set_xlabel(axis_label(ds["r"]))
    axes[-1].set_ylabel("mean " + axis_label(ds["ecl_q"]))
    axes[-1].set_title("ECL, J = window 0, max over twists", fontsize=9)
    axes[-1].legend(fontsize=6)
    for i, s in enumerate(sig):
        ax = axes[i]
        for j in range(strengths.size):
            sel = {"sigma": i, **({gdim: j} if gdim in hs_m.dims else {})}
            m, e = hs_m.isel(sel).values, hs_e.isel(sel).values
            c = colors[j % len(colors)]
            ax.errorbar(r, m, yerr=np.nan_to_num(e), fmt="o", ms=3, color=c, capsize=2,
                        label=f"V_0 = {strengths[j]:g}")
            f = fits[j]
            if f is not None:
                shape = hs_bound(r, float(s), 1.0, f.ell, f.xi)
                use = (r >= r_min) & (m > 0)
                amp = float(np.max(m[use] / shape[use])) if np.any(use) else np.nan
                ax.plot(r, hs_bound(r, float(s), amp, f.ell, f.xi), "--", color=c, lw=1)
        ax.set_yscale("log")
        ax.set_xlabel(axis_label(ds["r"]))
        ax.set_ylabel(r"mean HS norm $E\,\Vert 1_{I_n}\gamma\, 1_{I_{n+r}}\Vert_2^{\,\sigma}$")
        ax.set_title(f"sigma = {s:g} (dashed: bound)", fontsize=9)
        if i == 0:
            ax.legend(fontsize=6)
    fig.suptitle(f"Decay of correlations, speckle, mu = {_spec(ds)['state'].get('mu')} "
                 f"(error bars: standard error over samples)", fontsize=9)
    tidy_log_axes(fig)
    return [_save(fig, outdir, name)]


def _series_scalar(series, var, gkey, reduce=None):
    """Stack a per-sample scalar over series members: returns (L array, {g: (mean, se)})."""
    lengths, rows = [], []
    for _, ds in series:
        spec = _spec(ds)
        m = spec["model"]
        lengths.append(m["length"] if m["kind"] == "continuum" else m["sites"])
        v = _ok(ds, var) if reduce is None else reduce(ds)
        rows.append(v)
    return np.asarray(lengths, float), rows


def fig_absence_of_bec(series, outdir, name: str = "absence_of_bec") -> list[str]:
    """lambda_0 (largest natural occupation) vs L at fixed density, one curve per disorder
    strength; clean reference 1.5427 sqrt(N) - 0.57 (Forrester et al., PRA 67, 043607 (2003)).
    Right panel: lambda_0 / N."""
    plt = _plt()
    gdim = "disorder_strength"
    strengths = _grid_values(series[0][1], "disorder.strength")
    lengths, lam = _series_scalar(series, "lambda0", gdim)
    _, npart = _series_scalar(series, "n_particles", gdim)
    order = np.argsort(lengths)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for j, v0 in enumerate(strengths):
        ms, es, rs, res, ns = [], [], [], [], []
        for k in order:
            sel = {gdim: j} if gdim in lam[k].dims else {}
            m, e = mean_se(lam[k].isel(sel))
            n = float(npart[k].isel(sel).mean())
            rm, re = mean_se(lam[k].isel(sel) / npart[k].isel(sel))
            ms.append(float(m))
            es.append(float(e))
            rs.append(float(rm))
            res.append(float(re))
            ns.append(n)
        lab = "clean" if v0 == 0 else f"speckle V_0 = {v0:g}"
        axes[0].errorbar(lengths[order], ms, yerr=np.nan_to_num(es), fmt="o-", ms=4, capsize=3,
                         label=lab)
        axes[1].errorbar(lengths[order], rs, yerr=np.nan_to_num(res), fmt="o-", ms=4, capsize=3,
                         label=lab)
    n_ref = np.asarray(ns)
    ll = lengths[order]
    axes[0].plot(ll, 1.5427 * np.sqrt(n_ref) - 0.57, "k--", lw=1,
                 label="1.5427 √N − 0.57 (clean, Forrester et al.)")
    axes[1].plot(ll, (1.5427 * np.sqrt(n_ref) - 0.57) / n_ref, "k--", lw=1)
    for ax in axes:
        _length_ticks(ax, lengths)
        ax.set_yscale("log")
        ax.set_xlabel("ring length L [a]")
    axes[0].set_ylabel(axis_label(series[0][1]["lambda0"]))
    axes[1].set_ylabel("lambda_0 / N")
    if n_ref.size >= 2:  # a 1/N guide through the last point of the strongest disorder
        axes[1].plot(ll, rs[-1] * n_ref[-1] / n_ref, ":", color="0.5", lw=1, label="∝ 1/N")
        axes[1].legend(fontsize=7)
    axes[0].legend(fontsize=7)
    dens = ns[-1] / ll[-1] if len(ll) else float("nan")
    fig.suptitle(f"Absence of BEC at density n = {dens:g}/a (error bars: standard error)",
                 fontsize=9)
    tidy_log_axes(fig)
    return [_save(fig, outdir, name)]


def fig_superfluid_stiffness(series, outdir, name: str = "superfluid_stiffness") -> list[str]:
    """rho_s (theta -> 0 curvature) vs L on a log axis, clean (rho_s = N/L = sqrt(mu)/pi) against
    white noise; dashed: Lyapunov prediction ln rho_s = -gamma(mu) L + const, gamma(mu) the
    sample-mean transfer-matrix exponent at the largest L (same grid), anchored there.
    Plotted: the typical value 10^E[log10 rho_s] with the standard error of log10 rho_s.
    Right panel: sampled Lyapunov exponents at the largest L vs Halperin."""
    plt = _plt()
    ds0 = series[0][1]
    dkey = [k for k in ("disorder.D", "disorder.strength") if k.replace(".", "_") in ds0.coords]
    dkey = dkey[0] if dkey else "disorder.D"
    ddim = dkey.replace(".", "_")
    dvals = _grid_values(ds0, dkey)
    mus = _grid_values(ds0, "state.mu")
    lengths = np.array([_spec(ds)["model"]["length"] for _, ds in series], float)
    order = np.argsort(lengths)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, mu in enumerate(mus):
        c = colors[i % len(colors)]
        for j, d in enumerate(dvals):
            lm, le = [], []
            for k in order:
                ds = series[k][1]
                sel = {"state_mu": i} if "state_mu" in ds["rho_s0"].dims else {}
                if ddim in ds["rho_s0"].dims:
                    sel[ddim] = j
                if "log10_rho_s0" in ds:  # resolved below float underflow
                    lv = _ok(ds, "log10_rho_s0").isel(sel)
                else:
                    v = _ok(ds, "rho_s0").isel(sel)
                    lv = np.log10(v.where(v > 0))
                m, e = mean_se(lv)
                lm.append(float(m))
                le.append(float(e))
            lm, le = np.asarray(lm), np.asarray(le)
            lab = f"mu = {mu:g}, " + ("clean" if d == 0 else f"D = {d:g}")
            fit = np.isfinite(lm) & (le > 0)
            if d != 0 and fit.sum() >= 3:
                # weighted least squares of E[log10 rho_s0] vs L: gamma = -ln(10) x slope
                (sl, _), cov = np.polyfit(lengths[order][fit], lm[fit], 1, w=1.0 / le[fit],
                                          cov="unscaled")
                lab += (f": fit gamma = {-sl * math.log(10):.3f} ± "
                        f"{math.sqrt(cov[0, 0]) * math.log(10):.3f}")
            # log10 on a linear axis: values below the double-precision range stay visible
            axes[0].errorbar(lengths[order], lm, yerr=np.nan_to_num(le), fmt="o-" if d else "s:",
                             ms=4, color=c, capsize=3, label=lab)
            if d == 0:
                axes[0].plot(lengths[order], np.full(order.size, math.log10(math.sqrt(mu) / math.pi)),
                             "-", color=c, lw=0.8, alpha=0.6)
            else:
                big = series[order[-1]][1]
                lsel = {ddim: j} if ddim in big["lyapunov"].dims else {}
                if "state_mu" in big["lyapunov"].dims:
                    lsel["state_mu"] = i
                g = float(_ok(big, "lyapunov").isel(lsel).sel(energy_grid=mu,
                                                              method="nearest").mean())
                ll = lengths[order]
                anchor = lm[-1] if np.isfinite(lm[-1]) else np.nan
                # wide and pale, under the data: where the data follow the slope it stays visible
                axes[0].plot(ll, anchor - g * (ll - ll[-1]) / math.log(10), "--",
                             color=c, lw=3, alpha=0.35, zorder=1,
                             label=f"slope −gamma, gamma = {g:.3f} (transfer matrix, "
                             f"L = {ll[-1]:g})")
    axes[0].set_xlabel("ring length L [a]")
    axes[0].set_ylabel("log10 rho_s0 (stiffness at theta -> 0, rho_s0 in 1/a)")
    clean = "thin: √mu/pi (clean); " if any(d == 0 for d in dvals) else ""
    axes[0].set_title(clean + "wide dashed: slope −gamma(mu) (transfer matrix, largest L); "
                      "fit: weighted least squares", fontsize=8)
    axes[0].legend(fontsize=6, loc="lower left")  # the data run from upper left to lower right
    # Lyapunov exponents at the largest L
    ds = series[order[-1]][1]
    ly = _ok(ds, "lyapunov")
    e = ds["energy_grid"].values
    for j, d in enumerate(dvals):
        if d == 0:
            continue
        sel = {ddim: j} if ddim in ly.dims else {}
        v = ly.isel(sel)
        rest = [x for x in v.dims if x not in ("sample", "energy_grid")]
        v = v.stack(all_s=["sample", *rest]) if rest else v.rename(sample="all_s")
        m, se = mean_se(v, "all_s")
        axes[1].errorbar(e, m.values, yerr=np.nan_to_num(se.values), fmt="o", capsize=3,
                         label=f"transfer matrix, D = {d:g}, L = {lengths[order[-1]]:g}")
        ee = np.linspace(min(e.min(), 0.1), e.max(), 200)
        axes[1].plot(ee, halperin_lyapunov(ee, d), "k-", lw=1,
                     label=f"Halperin (continuum, h -> 0), D = {d:g}")
    h = 1.0 / _spec(ds)["model"]["points_per_unit"]
    axes[1].set_title(f"grid h = 1/{1 / h:g}: white-noise variance D/h per grid point",
                      fontsize=8)
    axes[1].set_xlabel(axis_label(ds["energy_grid"]))
    axes[1].set_ylabel(f"Lyapunov exponent gamma [{pretty_units(unit_of(ds['lyapunov']))}]")
    axes[1].legend(fontsize=7)
    fig.suptitle("Superfluid stiffness vs L (E[log10 rho_s0] over "
                 f"{ds0.sizes['sample']} samples per point, error bars: standard error of "
                 "log10 rho_s0)", fontsize=9)
    return [_save(fig, outdir, name)]


def fig_dynamical_localization(series, outdir, name="dynamical_localization") -> list[str]:
    """Left: N_tr(t) of the domain-wall release at the largest L, one curve per W, with the clean
    ballistic reference 2 x 2t/pi (two walls; Antal et al., PRE 59, 4912 (1999)), valid until
    t = L/8 (drawn only when a clean member W = 0 is present; log time axis for a log grid).
    Middle: sup_t |N_tr(t)| and max_n sup_t |Delta int_{I_n} rho| vs L (N = L/2).
    Right: sup_t of the particle number beyond depth d outside K, at the largest L."""
    plt = _plt()
    gdim = "disorder_W"
    ds0 = series[0][1]
    ws = _grid_values(ds0, "disorder.W")
    lengths = np.array([_spec(ds)["model"]["sites"] for _, ds in series], float)
    order = np.argsort(lengths)
    big = series[order[-1]][1]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    t = big["time"].values
    for j, w in enumerate(ws):
        c = colors[j % len(colors)]
        sel = {gdim: j} if gdim in big["n_transferred"].dims else {}
        m, e = mean_se(_ok(big, "n_transferred").isel(sel))
        lab = "clean" if w == 0 else f"W = {w:g}"
        axes[0].errorbar(t, m.values, yerr=np.nan_to_num(e.values), fmt="o-", ms=3, color=c,
                         capsize=2, label=lab)
        sup_tr, sup_tr_e, inf_m, inf_e = [], [], [], []
        for k in order:
            ds = series[k][1]
            s2 = {gdim: j} if gdim in ds["n_transferred"].dims else {}
            a, b = mean_se(np.abs(_ok(ds, "n_transferred").isel(s2)).max("time"))
            sup_tr.append(float(a))
            sup_tr_e.append(float(b))
            a, b = mean_se(_ok(ds, "n_transferred_inf").isel(s2))
            inf_m.append(float(a))
            inf_e.append(float(b))
        axes[1].errorbar(lengths[order], sup_tr, yerr=np.nan_to_num(sup_tr_e), fmt="o-",
                         color=c, capsize=3, label=f"sup_t |N_tr(t)|, {lab}")
        axes[1].errorbar(lengths[order], inf_m, yerr=np.nan_to_num(inf_e), fmt="s:",
                         color=c, capsize=3, label=f"N_tr(t = inf), {lab}")
        m, e = mean_se(_ok(big, "sup_outside").isel(sel))
        d = big["depth"].values
        pos = m.values > 0
        axes[2].errorbar(d[pos], m.values[pos], yerr=np.nan_to_num(e.values[pos]), fmt="o-",
                         ms=3, color=c, capsize=2, label=lab)
    lmax = lengths[order[-1]]
    if np.any(np.asarray(ws) == 0):
        tt = np.linspace(0, min(t.max(), lmax / 8), 100)
        axes[0].plot(tt, 4 * tt / np.pi, "k--", lw=1.5, zorder=5,
                     label="clean: 2 walls × 2t/pi (t < L/8)")
    times_opt = _spec(big)["observables"]["dynamics"].get("times", {})
    if isinstance(times_opt, dict) and times_opt.get("log", False):
        axes[0].set_xscale("log")
    axes[0].set_xlabel(axis_label(big["time"]))
    axes[0].set_ylabel(axis_label(big["n_transferred"]))
    axes[0].set_title(f"L = {lmax:g} sites, N = {lmax / 2:g}", fontsize=9)
    axes[0].legend(fontsize=7)
    _length_ticks(axes[1], lengths)
    axes[1].set_yscale("log")
    axes[1].set_xlabel("ring length L [site] (N = L/2)")
    axes[1].plot(lengths[order], lengths[order] / 4, "k--", lw=1, label="L/4 (clean, t = inf)")
    axes[1].set_ylabel(f"transferred particles (sup over t <= {t.max():g})")
    lo, hi = axes[1].get_ylim()
    axes[1].set_ylim(lo, hi * (hi / lo) ** 0.6)  # head room: the legend sits above the data
    axes[1].legend(fontsize=6, ncol=2, loc="upper left")
    axes[2].set_yscale("log")
    if "dyn_count_error" in big:
        # the support propagator's stated bound on every particle count: below it a tail is
        # not resolved (windows are trimmed there)
        bound = float(np.nanmax(_ok(big, "dyn_count_error").values))
        if bound > 0:
            axes[2].axhline(bound, color="k", ls=":", lw=1,
                            label=f"stated count error bound {bound:.0e}")
            top = float(np.nanmax(_ok(big, "sup_outside").values))
            axes[2].set_ylim(bound / 100, 3 * max(top, bound))
    axes[2].set_xlabel("depth d outside K [site]")
    axes[2].set_ylabel("particles farther than d outside K,\nlargest over t ≤ " f"{t.max():g}")
    axes[2].legend(fontsize=7)
    fig.suptitle("Dynamical localization: domain-wall release on the lattice ring (Anderson "
                 "eps in [-W/2, W/2]; error bars: standard error)", fontsize=9)
    tidy_log_axes(fig)
    return [_save(fig, outdir, name)]


#: next order of the clean continuum tail, k^4 n(k) = C (1 + NEXT_ORDER (k_F/k)^2 + ...): from the
#: |x|^5 term of the TG short-distance expansion gamma(x)/n = 1 - u^2/6 + |u|^3/(9 pi) - u^4/120
#: - 11 |u|^5/(1350 pi) + ..., u = k_F x (Jimbo, Miwa, Mori & Sato, Physica D 1, 80 (1980)):
#: (11/(1350 pi)) 240 / (12/(9 pi)) = 22/15 (docs/references.md, section 2)
NEXT_ORDER = 22.0 / 15.0


def grid_tail_factor(k, h):
    """[(kh/2)/sin(kh/2)]^4 = k^4 / eps(k)^2 with eps(k) = (4/h^2) sin^2(kh/2) the grid
    dispersion: on the grid the tail is n(k) ~ C / eps(k)^2 (docs/references.md, section 2)."""
    x = 0.5 * np.asarray(k, float) * h
    return (x / np.sin(x)) ** 4


def clean_contact(n_particles: float, length: float, energy: float | None = None) -> float:
    """The clean TG ring's tail coefficient C = lim k^4 n(k) = 4 n e_kin
    (:func:`tgsweep.observables.thermal.tg_contact`) with e_kin the stored clean ground-state
    energy per length; without it the closed form (4 pi^2/3) n^4 (1 - 1/N^2) (Olshanii & Dunjko,
    PRL 91, 090401 (2003), on a ring of N particles; docs/references.md, section 2)."""
    if energy is not None and np.isfinite(energy):
        return tg_contact(n_particles, energy, length)
    n = n_particles / length
    return 4 * np.pi**2 / 3 * n**4 * (1 - 1 / n_particles**2)


def _k_units(ds) -> str:
    return pretty_units(unit_of(ds["k"]))


def fig_momentum_distribution(ds, outdir) -> list[str]:
    """n(k) of each disorder strength (log-log, k > 0); k^4 n(k) of each; and the clean ring's
    k^4 n(k) / C against k/k_F with its references: the k -> infinity limit C = 4 n e_kin =
    (4 pi^2/3) n^4 (1 - 1/N^2) (Olshanii & Dunjko, PRL 91, 090401 (2003), finite ring), the
    next order C (1 + (22/15) (k_F/k)^2) (Jimbo et al. 1980) and that times the grid factor
    [(kh/2)/sin(kh/2)]^4 (:func:`grid_tail_factor`), which the data follow."""
    plt = _plt()
    gdim = "disorder_strength"
    strengths = _grid_values(ds, "disorder.strength")
    spec = _spec(ds)
    length = spec["model"]["length"]
    h = 1.0 / spec["model"]["points_per_unit"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.0))
    nk = _ok(ds, "n_k")
    # k per sample (older stores) or as a fixed coordinate along k_index
    kk = _ok(ds, "k") if "sample" in ds["k"].dims else ds["k"].astype(np.float64)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    clean = None
    dens = []
    for j, v0 in enumerate(strengths):
        c = colors[j % len(colors)]
        sel = {gdim: j} if gdim in nk.dims else {}
        m, e = mean_se(nk.isel(sel))
        ksel = {d: i for d, i in sel.items() if d in kk.dims}
        k = kk.isel(ksel)
        k = (k.mean("sample") if "sample" in k.dims else k).values
        npart = float(_ok(ds, "n_particles").isel(sel).mean())
        dens.append(npart / length)
        pos = k > 0
        lab = "clean" if v0 == 0 else f"speckle V_0 = {v0:g}"
        axes[0].errorbar(k[pos], m.values[pos], yerr=np.nan_to_num(e.values[pos]), fmt=".-",
                         ms=3, capsize=1, color=c, label=lab)
        axes[1].errorbar(k[pos], m.values[pos] * k[pos] ** 4,
                         yerr=np.nan_to_num(e.values[pos] * k[pos] ** 4), fmt=".-", ms=3,
                         capsize=1, color=c, label=lab)
        if v0 == 0 and clean is None:
            energy = float(_ok(ds, "energy").isel(sel).mean()) if "energy" in ds else None
            clean = (k[pos], m.values[pos], e.values[pos], npart, energy, c)
    n = dens[0]
    kf = np.pi * n
    kmax = np.pi / h
    ku = _k_units(ds)
    k_label = axis_label(ds["k"])
    if clean is not None:
        k, m, e, npart, energy, c = clean
        cc = clean_contact(npart, length, energy)
        kr = np.geomspace(2 * kf, kmax, 100)
        axes[0].plot(kr, cc / kr**4, "k--", lw=1, label=f"C/k^4, C = {cc:.4g} (clean, k -> inf)")
        axes[1].axhline(cc, color="k", ls="--", lw=1, label=f"C = 4 n e_kin = {cc:.4g}")
        # the clean tail against its references
        q = k / kf
        keep = (q >= 1.5) & (k * h <= 1.25)
        axes[2].errorbar(q[keep], m[keep] * k[keep] ** 4 / cc,
                         yerr=np.nan_to_num(e[keep] * k[keep] ** 4 / cc), fmt="o", ms=3,
                         color=c, capsize=1, label=f"clean, N = {npart:g}, h = 1/{1 / h:g}")
        qq = np.linspace(2.0, q[keep].max() if keep.any() else 10.0, 200)
        axes[2].axhline(1.0, color="k", ls="--", lw=1,
                        label="k -> inf: C = (4 pi^2/3) n^4 (1 - 1/N^2)")
        axes[2].plot(qq, 1 + NEXT_ORDER / qq**2, "k:", lw=1.2,
                     label="continuum: 1 + (22/15) (k_F/k)^2")
        axes[2].plot(qq, (1 + NEXT_ORDER / qq**2) * grid_tail_factor(qq * kf, h), "-",
                     color="0.4", lw=1, label="× [(kh/2)/sin(kh/2)]^4 (grid dispersion)")
        axes[2].set_ylim(0.9, max(1.6, float(np.nanmax((1 + NEXT_ORDER / qq**2)
                                                       * grid_tail_factor(qq * kf, h))) + 0.05))
        axes[2].set_xlabel("k / k_F  (k_F = pi n)")
        axes[2].set_ylabel("k^4 n(k) / C")
        axes[2].set_title(f"clean tail, k h <= {q[keep].max() * kf * h if keep.any() else 0:.2g}",
                          fontsize=8)
        axes[2].legend(fontsize=7)
    axes[0].axvline(1 / h, color="0.6", ls=":", lw=1)
    axes[0].text(1 / h, axes[0].get_ylim()[1], " k h = 1", fontsize=7, va="top", color="0.4")
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_xlabel(k_label)
    axes[0].set_ylabel(axis_label(ds["n_k"]))
    axes[0].legend(fontsize=7)
    kshow = min(0.5 * kmax, 8 * kf)
    axes[1].set_xlim(0, kshow)
    axes[1].set_yscale("log")
    if clean is not None:  # the tail, not the k -> 0 side of k^4 n(k)
        axes[1].set_ylim(bottom=0.5 * cc)
    axes[1].set_xlabel(k_label)
    k4u = f"{ku[:-2]}⁻⁴" if ku.endswith("⁻¹") else (f"({ku})^4" if ku else "")
    k4 = "k^4 n(k)" + (f" [{k4u}]" if k4u else "")
    axes[1].set_ylabel(k4)
    axes[1].set_title(f"k h <= {kshow * h:.2g} shown", fontsize=8)
    axes[1].legend(fontsize=7)
    fig.suptitle(f"Momentum distribution, n = N/L = {n:g}/a, L = {length:g}, h = 1/{1 / h:g} "
                 "(error bars: standard error over samples)", fontsize=9)
    tidy_log_axes(fig)
    return [_save(fig, outdir, "momentum_distribution")]


def fig_localization_length(series, outdir) -> list[str]:
    """gamma(E) per model against its closed form: Anderson (Thouless, Kappus-Wegner at E = 0),
    Aubry-Andre (ln(lam/2) on the spectrum; in gaps gamma is larger), white noise (Halperin)."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(series), figsize=(4.2 * len(series), 3.6), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (label, ds) in zip(axes[0], series):
        spec = _spec(ds)
        kind = spec["disorder"]["kind"]
        pkey = {"anderson": "disorder.W", "aubry_andre": "disorder.lam",
                "white_noise": "disorder.D"}.get(kind)
        vals = _grid_values(ds, pkey) if pkey else np.array([np.nan])
        pdim = pkey.replace(".", "_") if pkey else None
        e = ds["energy_grid"].values
        ly = _ok(ds, "lyapunov")
        ee = np.linspace(e.min(), e.max(), 300)
        for j, p in enumerate(vals):
            c = colors[j % len(colors)]
            sel = {pdim: j} if pdim in ly.dims else {}
            m, se = mean_se(ly.isel(sel))
            ax.errorbar(e, m.values, yerr=np.nan_to_num(se.values), fmt="o", ms=4, color=c,
                        capsize=2, label=f"{pkey.split('.')[1]} = {p:g}")
            if kind == "anderson":
                ax.plot(ee, thouless_lyapunov(ee, p), "-", color=c, lw=1)
                ax.plot([0.0], [kappus_wegner_lyapunov(p)], "x", color="k", ms=8)
            elif kind == "aubry_andre":
                ax.axhline(aubry_andre_lyapunov(p), color=c, ls="--", lw=1)
            elif kind == "white_noise":
                ax.plot(ee, halperin_lyapunov(ee, p), "-", color=c, lw=1)
        ref = {"anderson": "lines: Thouless W^2/(96(1 − E^2/4)); ×: Kappus-Wegner",
               "aubry_andre": "dashed: ln(lam/2) (on the spectrum)",
               "white_noise": "lines: Halperin (exact)"}.get(kind, "")
        size = spec["model"].get("sites") or spec["model"].get("length")
        title = {"anderson": "Anderson", "aubry_andre": "Aubry-André",
                 "white_noise": "white noise"}.get(kind, kind)
        ax.set_title(f"{title}, L = {size:g} {_lu(ds)}\n{ref}", fontsize=8)
        ax.set_xlabel(axis_label(ds["energy_grid"]))
        ax.set_ylabel(f"Lyapunov exponent gamma [{pretty_units(unit_of(ds['lyapunov']))}]")
        if kind in ("anderson", "white_noise"):
            ax.set_yscale("log")
        ax.legend(fontsize=7)
    fig.suptitle("Localization length: transfer-matrix Lyapunov exponents vs closed forms "
                 "(error bars: standard error)", fontsize=9)
    tidy_log_axes(fig)
    return [_save(fig, outdir, "localization_length")]


def fig_interaction_axis(series, outdir) -> list[str]:
    """lambda_0/N and rho_s vs U along the interaction axis (ideal U = 0, mean field g = U,
    Bose-Hubbard DMRG, hard core U = infinity) at fixed disorder and filling; and the map of
    the Luttinger parameter K_L over (U, Delta = W/2) with the K = 3/2 (Giamarchi-Schulz) and
    K = 2 contours.  Members are recognized by their model.interaction (and the luttinger
    variable); error bars are standard errors over samples."""
    plt = _plt()
    members = {}
    kmap = None
    for label, ds in series:
        inter = _spec(ds)["model"].get("interaction", "hard_core")
        if "luttinger_K" in ds:
            kmap = ds
        else:
            members[inter] = ds
    fig, axes = plt.subplots(1, 3 if kmap is not None else 2, figsize=(13, 3.9))
    us = np.concatenate([_grid_values(d, "model.U") for k, d in members.items()
                         if k == "bose_hubbard"] + [_grid_values(d, "model.g") for k, d in
                                                     members.items() if k == "mean_field"]
                        + [np.array([1.0])])
    u_lo, u_hi = float(us.min()) / 4, float(us.max()) * 4
    style = {"ideal": ("ideal (U = 0)", "s", "C2"), "mean_field": ("mean field, g = U", "o-", "C0"),
             "bose_hubbard": ("Bose-Hubbard (DMRG)", "D-", "C3"),
             "hard_core": ("hard core (U = inf)", "^", "k")}
    n_part = None
    for inter, (lab, fmt, col) in style.items():
        ds = members.get(inter)
        if ds is None:
            continue
        if inter in ("ideal", "hard_core"):
            x = np.array([u_lo if inter == "ideal" else u_hi])
            dim = None
        else:
            key = "model.g" if inter == "mean_field" else "model.U"
            x = _grid_values(ds, key)
            dim = key.replace(".", "_")
        npart = _ok(ds, "n_particles")
        n_part = float(npart.mean())
        m, e = mean_se(_ok(ds, "lambda0") / npart)
        axes[0].errorbar(x, np.atleast_1d(m.values), yerr=np.nan_to_num(np.atleast_1d(e.values)),
                         fmt=fmt, color=col, ms=5, capsize=3, label=lab)
        if "twist_rho_s" in ds:
            # geometric mean over samples (rho_s spans decades across samples when localized);
            # the ideal / hard-core values come in log10, resolved below the double range
            if "twist_log10_rho_s" in ds:
                lg = _ok(ds, "twist_log10_rho_s").isel(twist_theta=0)
            else:
                rho = _ok(ds, "twist_rho_s").isel(twist_theta=0)
                lg = np.log10(rho.where(rho > 0))
            lm, le = mean_se(lg)
            rel = _ok(ds, "twist_reliable").isel(twist_theta=0)
            good = np.atleast_1d((rel.min("sample") > 0).values)
            xv, yv = np.atleast_1d(x), 10.0 ** np.atleast_1d(lm.values)
            ev = np.nan_to_num(np.atleast_1d(le.values))
            axes[1].errorbar(xv, yv, yerr=[yv - yv / 10 ** ev, yv * 10 ** ev - yv], fmt=fmt,
                             color=col, ms=5, capsize=3, label=lab)
            if not good.all():
                axes[1].plot(xv[~good], yv[~good], "o", ms=10, mfc="none", mec="0.4",
                             label="not resolved (error > 1%)")
    from matplotlib.ticker import NullFormatter

    ticks = [u_lo] + [float(u) for u in np.unique(us) if u >= 1 and np.log2(u) % 2 == 0] + [u_hi]
    for ax in axes[:2]:
        ax.set_xscale("log")
        ax.set_xlim(u_lo / 2, u_hi * 2)
        ax.set_xticks(ticks)
        ax.set_xticklabels(["0"] + [f"{u:g}" for u in ticks[1:-1]] + ["inf"])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("U [t]  (mean field: g = U)")
    axes[0].set_ylabel("lambda_0 / N")
    axes[0].set_ylim(0, 1.05)
    axes[1].set_yscale("log")
    axes[1].set_ylabel("rho_s(theta = 0.5) [1/site]  (geometric mean)")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    spec0 = _spec(next(iter(members.values()))) if members else {}
    if spec0:
        w = spec0["disorder"].get("W", 0)
        axes[0].set_title(f"L = {spec0['model']['sites']}, N = {n_part:g}, box disorder "
                          f"Delta = W/2 = {w / 2:g}", fontsize=8)
    if kmap is not None:
        ax = axes[2]
        uu = _grid_values(kmap, "model.U")
        delta = _grid_values(kmap, "disorder.W") / 2
        k = _ok(kmap, "luttinger_K").mean("sample").transpose("model_U", "disorder_W").values
        pc = ax.pcolormesh(uu, delta, k.T, shading="nearest", cmap="viridis",
                           vmin=0, vmax=max(3.0, float(np.nanmax(k))))
        fig.colorbar(pc, ax=ax, label="K_L = L S(2 pi / L)")
        cs = ax.contour(uu, delta, k.T, levels=[1.5], colors="w", linewidths=2)
        ax.clabel(cs, fmt={1.5: "K = 3/2"}, fontsize=7)
        cs2 = ax.contour(uu, delta, k.T, levels=[2.0], colors="w", linestyles="--", linewidths=1)
        ax.clabel(cs2, fmt={2.0: "K = 2"}, fontsize=7)
        sp = _spec(kmap)
        ax.set_xlabel("U [t]")
        ax.set_ylabel("Delta = W/2 [t]  (eps_i uniform in [-Delta, Delta])")
        ax.set_title(f"Bose-Hubbard ring L = {sp['model']['sites']}, unit filling, "
                     f"{kmap.sizes['sample']} samples: K_L (mean)", fontsize=8)
    fig.suptitle("The interaction axis: BEC (lambda_0/N) and superfluidity (rho_s) from the ideal "
                 "gas to the Tonks-Girardeau limit", fontsize=9)
    return [_save(fig, outdir, "interaction_axis")]


def _plain_log_ticks(axis) -> None:
    """Plain numbers (0.2, 3, 40) instead of 2x10^-1 on a log axis spanning < 3 decades."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax = axis.axes
    lo, hi = sorted(ax.get_xlim() if axis is ax.xaxis else ax.get_ylim())  # autoscaled now
    if lo > 0 and hi / lo < 1e3:
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())


def _fit_xi(r, prof, xi):
    """Decay length of |gamma(0, r)| fitted over 3 xi < r < min(L/2 - 5, 25 xi) (xi: the IIKS
    guess that places the window); None when fewer than 4 points fall in it."""
    sel = (r > 3 * xi) & (r < min(r.max() - 5, 25 * xi)) & (prof > 0)
    if sel.sum() < 4:
        return None
    return -1.0 / np.polyfit(r[sel], np.log(prof[sel]), 1)[0]


def fig_finite_temperature(series, outdir) -> list[str]:
    """The thermal TG gas in the grand-canonical ensemble (lattice, mu from the specs).

    (a) lambda_0 vs L at each T, clean (solid) and disordered (dashed), with the clean T = 0
        ground state (computed here: no T = 0 store) for comparison: the quasi-condensate
        saturates at T > 0; legend: the IIKS length xi(T).
    (b) the thermal correlation length vs T: the exact IIKS xi (Its, Izergin, Korepin & Slavnov,
        Nucl. Phys. B 340, 752 (1990); tgsweep.observables.iiks_correlation_length, computed here from the
        stored T and mu) and the decay length fitted to the stored hs_profile (sigma = 1 on a
        clean lattice ring: |gamma(0, r)|).
    (c) the thermal stiffness rho_s(T) (stored ``rho_s``, the Matsubara series) clean and per
        disordered sample with the geometric mean, and the stored plain difference of Omega
        (``rho_s_direct``) with its roundoff floor eps |Omega(0)| L / theta^2.
    Members are recognized by their variables (lambda0; hs_profile only; rho_s).  Error bars:
    standard error over samples; the stated per-sample errors of rho_s are listed, not drawn
    (they are below 1e-9 relative).
    """
    plt = _plt()
    lam_members, xi_member, st_member = [], None, None
    for _, ds in series:
        if "lambda0" in ds:
            lam_members.append(ds)
        elif "rho_s" in ds:
            st_member = ds
        elif "hs_profile" in ds:
            xi_member = ds
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.3))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    mu = float(_spec((lam_members or [xi_member or st_member])[0])["state"]["mu"])

    # (a) lambda_0 vs L
    ax = axes[0]
    if lam_members:
        lengths = np.array([_spec(d)["model"]["sites"] for d in lam_members], float)
        order = np.argsort(lengths)
        d0 = lam_members[0]
        temps = _grid_values(d0, "state.temperature")
        ws = _grid_values(d0, "disorder.W")
        lam0 = [condensate(ground_state(Ring.lattice(np.zeros(int(x))), mu=mu), 1)[0]
                for x in lengths[order]]
        ax.plot(lengths[order], lam0, "k-o", ms=4, label="T = 0, clean (ground state, N_mu)")
        for i, t in enumerate(temps):
            xi = iiks_correlation_length(float(t), mu)
            for j, w in enumerate(ws):
                ms, es = [], []
                for k in order:
                    lam = _ok(lam_members[k], "lambda0")
                    sel = {d: v for d, v in (("state_temperature", i), ("disorder_W", j))
                           if d in lam.dims}
                    m, e = mean_se(lam.isel(sel))
                    ms.append(float(m))
                    es.append(float(e))
                lab = (f"T = {t:g} (xi = {xi:.1f} sites)" if w == 0 else
                       f"T = {t:g}, W = {w:g}")
                ax.errorbar(lengths[order], ms, yerr=np.nan_to_num(es),
                            fmt="-o" if w == 0 else "--s", ms=4, capsize=2,
                            color=colors[(i + 1) % len(colors)], label=lab)
        _length_ticks(ax, lengths)
        ax.set_yscale("log")
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi * (hi / lo) ** 0.6)  # room for the legend above the curves
        _plain_log_ticks(ax.yaxis)
        ax.legend(fontsize=6, ncol=2, loc="upper left")
    ax.set_xlabel("ring length L [sites]")
    ax.set_ylabel("lambda_0 (largest natural occupation) [1]")
    ax.set_title(f"(a) quasi-condensate vs L, mu = {mu:g} t (dashed: Anderson)", fontsize=9)

    # (b) correlation length vs T
    ax = axes[1]
    if xi_member is not None:
        temps = _grid_values(xi_member, "state.temperature")
        mu_b = float(_spec(xi_member)["state"]["mu"])
        tt = np.geomspace(temps.min() / 1.3, temps.max() * 1.3, 60)
        ax.plot(tt, [iiks_correlation_length(float(t), mu_b) for t in tt], "k-",
                label="IIKS (exact, L = inf)")
        prof = _ok(xi_member, "hs_profile").sel(sigma=1.0, method="nearest")
        r = xi_member["r"].values.astype(float)
        fits, dev = [], []
        for i, t in enumerate(temps):
            sel = {"state_temperature": i} if "state_temperature" in prof.dims else {}
            y = prof.isel(sel).mean("sample").values
            xi = iiks_correlation_length(float(t), mu_b)
            f = _fit_xi(r, y, xi)
            fits.append(np.nan if f is None else f)
            if f is not None:
                dev.append(abs(f / xi - 1))
        n_sites = _spec(xi_member)["model"]["sites"]
        worst = f", max |fit/IIKS - 1| = {100 * max(dev):.2g} %" if dev else ""
        ax.plot(temps, fits, "o", color="C3", label=f"fit to |gamma(0, r)|, L = {n_sites}"
                + worst)
        ax.set_title(f"(b) thermal correlation length, mu = {mu_b:g} t", fontsize=9)
        ax.legend(fontsize=7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log_ticks(ax.xaxis)
    _plain_log_ticks(ax.yaxis)
    ax.set_xlabel("temperature T [t]")
    ax.set_ylabel("correlation length xi [sites]")

    # (c) thermal stiffness
    ax = axes[2]
    if st_member is not None:
        ds = st_member
        temps = _grid_values(ds, "state.temperature")
        ws = _grid_values(ds, "disorder.W")
        theta = float(ds["theta"].values[0])
        n_sites = _spec(ds)["model"]["sites"]
        rho = _ok(ds, "rho_s").isel(theta=0)
        err = _ok(ds, "rho_s_error").isel(theta=0)
        direct = _ok(ds, "rho_s_direct").isel(theta=0)
        f0 = _ok(ds, "stiffness_free_energy0")
        rel = _ok(ds, "stiffness_reliable")
        for j, w in enumerate(ws):
            sel = {"disorder_W": j} if "disorder_W" in rho.dims else {}
            rj = rho.isel(sel).transpose("state_temperature", "sample").values
            if w == 0:
                ax.plot(temps, rj[:, 0], "k-o", ms=4, label="clean (Matsubara series)")
                dj = direct.isel(sel).transpose("state_temperature", "sample").values[:, 0]
                ax.plot(temps, np.abs(dj), "x", color="0.45", ms=5,
                        label="clean, plain difference L |ΔΩ| / theta^2")
                floor = (np.finfo(float).eps * np.abs(f0.isel(sel).mean("sample").values)
                         * n_sites / theta**2)
                ax.plot(temps, floor, ":", color="0.45", lw=1,
                        label="its roundoff eps |Ω(0)| L / theta^2")
            else:
                for s in range(rj.shape[1]):
                    ax.plot(temps, rj[:, s], "-", color="C1", lw=0.5, alpha=0.35,
                            label=f"W = {w:g}, each sample" if s == 0 else None)
                lg = np.log10(rho.isel(sel).where(rho.isel(sel) > 0))
                m, e = mean_se(lg)
                mv = m.transpose("state_temperature").values
                ev = np.nan_to_num(e.transpose("state_temperature").values)
                ax.errorbar(temps, 10.0 ** mv, yerr=[10.0 ** mv - 10.0 ** (mv - ev),
                                                       10.0 ** (mv + ev) - 10.0 ** mv],
                            fmt="s-", color="C3", ms=4, capsize=2,
                            label=f"W = {w:g}, geometric mean ({rj.shape[1]} samples)")
        rel_err = float(np.nanmax((err / np.abs(rho)).values))
        n_bad = int((rel == 0).sum())
        ax.set_title(f"(c) thermal stiffness, L = {n_sites}, theta = {theta:g}: stated error "
                     f"<= {rel_err:.0e} rel.{'' if not n_bad else f', {n_bad} unresolved'}",
                     fontsize=8)
        ax.legend(fontsize=6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log_ticks(ax.xaxis)
    ax.set_xlabel("temperature T [t]")
    ax.set_ylabel("rho_s(T) = L (Ω(theta) - Ω(0)) / theta^2 [1/site]")
    fig.suptitle("Finite temperature: exact grand-canonical Gibbs states of hard-core bosons on "
                 "lattice rings (error bars: standard error over samples)", fontsize=9)
    return [_save(fig, outdir, "finite_temperature")]


FIGURES = {
    "interaction_axis": fig_interaction_axis,
    "finite_temperature": fig_finite_temperature,
    "decay_of_correlations": fig_decay_of_correlations,
    "absence_of_bec": fig_absence_of_bec,
    "superfluid_stiffness": fig_superfluid_stiffness,
    "superfluid_stiffness_large": partial(fig_superfluid_stiffness,
                                          name="superfluid_stiffness_large"),
    "dynamical_localization": fig_dynamical_localization,
    "momentum_distribution": fig_momentum_distribution,
    "localization_length": fig_localization_length,
    # the same figures at large L from the banded OBDM (workflows/*_large.toml)
    "decay_of_correlations_large": partial(fig_decay_of_correlations,
                                           name="decay_of_correlations_large"),
    "absence_of_bec_large": partial(fig_absence_of_bec, name="absence_of_bec_large"),
    "dynamical_localization_large": partial(fig_dynamical_localization,
                                            name="dynamical_localization_large"),
}
#: figure types that need a series (list of (label, Dataset)) rather than one Dataset
SERIES = ("absence_of_bec", "superfluid_stiffness", "dynamical_localization",
          "localization_length", "interaction_axis", "absence_of_bec_large",
          "finite_temperature", "dynamical_localization_large", "superfluid_stiffness_large")


def render(ds, outdir) -> list[str]:
    """Render the figure(s) of the workflow that wrote ``ds`` into ``outdir``; returns PNG paths.

    ``ds``: a Dataset (single store) or ``[(label, Dataset), ...]`` (a series, as
    :func:`open_workflow` returns).  A single Dataset of a series workflow is treated as a
    one-member series.  Raises KeyError for a store of no known workflow (the caller may fall
    back to the generic figures of :mod:`tgsweep.plots.variables`).
    """
    name = workflow_name(ds)
    if name not in FIGURES:
        raise KeyError(f"no workflow figure for {name!r}; known: {', '.join(FIGURES)}")
    if name in SERIES and not isinstance(ds, (list, tuple)):
        ds = [(ds.attrs.get("series_label", ""), ds)]
    if name not in SERIES and isinstance(ds, (list, tuple)):
        return [p for _, d in ds for p in FIGURES[name](d, outdir)]
    return FIGURES[name](ds, outdir)
