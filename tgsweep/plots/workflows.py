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

from ..observables.correlations import fit_ecl, hs_bound
from ..observables.localization import (aubry_andre_lyapunov, halperin_lyapunov,
                                    kappus_wegner_lyapunov, thouless_lyapunov)
from ..sweep.stats import mean_se
from ..sweep.workflow import stored_spec as _spec
from ..sweep.workflow import workflow_name
from .variables import pretty

__all__ = ["render", "FIGURES", "fig_decay_of_correlations", "fig_absence_of_bec",
           "fig_superfluid_stiffness", "fig_dynamical_localization",
           "fig_momentum_distribution", "fig_localization_length", "fig_interaction_axis",
           "mean_se"]

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


def _eu(ds) -> str:
    return "hbar^2/(2m a^2)" if _spec(ds)["model"]["kind"] == "continuum" else "t"


def _lu(ds) -> str:
    return "a" if _spec(ds)["model"]["kind"] == "continuum" else "sites"


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
                          color=c, capsize=2, label=f"V0={strengths[j]:g}")
        if f is not None:
            rr = np.linspace(0, r.max(), 200)
            axes[-1].plot(rr, f.amplitude * np.exp(-(rr / f.ell) ** f.xi), "-", color=c, lw=1,
                          label=f"fit ell={f.ell:.2f}, xi={f.xi:.2f}")
    axes[-1].set_yscale("log")
    axes[-1].set_xlabel("cell distance r [a]")
    axes[-1].set_ylabel("ECL profile E q(r) [1]")
    axes[-1].set_title("ECL, J = window 0, max over twists", fontsize=9)
    axes[-1].legend(fontsize=6)
    for i, s in enumerate(sig):
        ax = axes[i]
        for j in range(strengths.size):
            sel = {"sigma": i, **({gdim: j} if gdim in hs_m.dims else {})}
            m, e = hs_m.isel(sel).values, hs_e.isel(sel).values
            c = colors[j % len(colors)]
            ax.errorbar(r, m, yerr=np.nan_to_num(e), fmt="o", ms=3, color=c, capsize=2,
                        label=f"V0={strengths[j]:g}")
            f = fits[j]
            if f is not None:
                shape = hs_bound(r, float(s), 1.0, f.ell, f.xi)
                use = (r >= r_min) & (m > 0)
                amp = float(np.max(m[use] / shape[use])) if np.any(use) else np.nan
                ax.plot(r, hs_bound(r, float(s), amp, f.ell, f.xi), "--", color=c, lw=1)
        ax.set_yscale("log")
        ax.set_xlabel("cell distance r [a]")
        ax.set_ylabel("E ||1_In gamma 1_In+r||_2^sigma [1]")
        ax.set_title(f"sigma = {s:g} (dashed: bound)", fontsize=9)
        if i == 0:
            ax.legend(fontsize=6)
    fig.suptitle(f"Decay of correlations, speckle, mu = {_spec(ds)['state'].get('mu')} "
                 f"(error bars: standard error over samples)", fontsize=9)
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
        lab = "clean" if v0 == 0 else f"speckle V0={v0:g}"
        axes[0].errorbar(lengths[order], ms, yerr=np.nan_to_num(es), fmt="o-", ms=4, capsize=3,
                         label=lab)
        axes[1].errorbar(lengths[order], rs, yerr=np.nan_to_num(res), fmt="o-", ms=4, capsize=3,
                         label=lab)
    n_ref = np.asarray(ns)
    ll = lengths[order]
    axes[0].plot(ll, 1.5427 * np.sqrt(n_ref) - 0.57, "k--", lw=1,
                 label="1.5427 sqrt(N) - 0.57 (Forrester)")
    axes[1].plot(ll, (1.5427 * np.sqrt(n_ref) - 0.57) / n_ref, "k--", lw=1)
    for ax in axes:
        _length_ticks(ax, lengths)
        ax.set_yscale("log")
        ax.set_xlabel("ring length L [a]")
    axes[0].set_ylabel("lambda_0 (largest natural occupation) [1]")
    axes[1].set_ylabel("lambda_0 / N [1]")
    axes[0].legend(fontsize=7)
    dens = ns[-1] / ll[-1] if len(ll) else float("nan")
    fig.suptitle(f"Absence of BEC at density n = {dens:g}/a (error bars: standard error)",
                 fontsize=9)
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
            lab = f"mu={mu:g}, " + ("clean" if d == 0 else f"D={d:g}")
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
                axes[0].plot(ll, anchor - g * (ll - ll[-1]) / math.log(10), "--",
                             color=c, lw=1)
    axes[0].set_xlabel("ring length L [a]")
    axes[0].set_ylabel("log10 of the superfluid stiffness rho_s [1/a]")
    axes[0].set_title("thin: sqrt(mu)/pi; dashed: slope -gamma(mu) (transfer matrix, "
                      "largest L)", fontsize=8)
    axes[0].legend(fontsize=6, ncol=2)
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
                         label=f"transfer matrix, D={d:g}, L={lengths[order[-1]]:g}")
        ee = np.linspace(min(e.min(), 0.1), e.max(), 200)
        axes[1].plot(ee, halperin_lyapunov(ee, d), "k-", lw=1,
                     label=f"Halperin (continuum, h -> 0), D={d:g}")
    axes[1].set_xlabel("energy E [hbar^2/(2m a^2)]")
    axes[1].set_ylabel("Lyapunov exponent gamma [1/a]")
    axes[1].legend(fontsize=7)
    fig.suptitle("Superfluid stiffness vs L (E[log10 rho_s], error bars: standard error of "
                 "log10 rho_s)", fontsize=9)
    return [_save(fig, outdir, name)]


def fig_dynamical_localization(series, outdir) -> list[str]:
    """Left: N_tr(t) of the domain-wall release at the largest L, one curve per W, with the clean
    ballistic reference 2 x 2t/pi (two walls; Antal et al., PRE 59, 4912 (1999)), valid until
    t = L/8.  Middle: sup_t |N_tr(t)| and max_n sup_t |Delta int_{I_n} rho| vs L (N = L/2).
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
        lab = "clean" if w == 0 else f"W={w:g}"
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
    tt = np.linspace(0, min(t.max(), lmax / 8), 100)
    axes[0].plot(tt, 4 * tt / np.pi, "k--", lw=1.5, zorder=5,
                 label="clean: 2 walls x 2t/pi (t < L/8)")
    axes[0].set_xlabel("time t [hbar/t_hop]")
    axes[0].set_ylabel("transferred particles N_tr(t) [1]")
    axes[0].set_title(f"L = {lmax:g} sites, N = {lmax / 2:g}", fontsize=9)
    axes[0].legend(fontsize=7)
    _length_ticks(axes[1], lengths)
    axes[1].set_yscale("log")
    axes[1].set_xlabel("ring length L [sites] (N = L/2)")
    axes[1].plot(lengths[order], lengths[order] / 4, "k--", lw=1, label="L/4 (clean, t = inf)")
    axes[1].set_ylabel(f"transferred particles (sup over t <= {t.max():g}) [1]")
    axes[1].legend(fontsize=6)
    axes[2].set_yscale("log")
    axes[2].set_xlabel("depth d outside K [sites]")
    axes[2].set_ylabel("sup_t N(dist(x, K) > d) [1]")
    axes[2].legend(fontsize=7)
    fig.suptitle("Dynamical localization: domain-wall release on the lattice ring (Anderson "
                 "eps in [-W/2, W/2]; error bars: standard error)", fontsize=9)
    return [_save(fig, outdir, "dynamical_localization")]


def fig_momentum_distribution(ds, outdir) -> list[str]:
    """n(k) for each disorder strength (log-log, k > 0) and n(k) k^4, with the clean TG tail
    (4 pi^2/3) n^4 (Olshanii & Dunjko, PRL 91, 090401 (2003)), n = N/L."""
    plt = _plt()
    gdim = "disorder_strength"
    strengths = _grid_values(ds, "disorder.strength")
    spec = _spec(ds)
    length = spec["model"]["length"]
    h = 1.0 / spec["model"]["points_per_unit"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    nk = _ok(ds, "n_k")
    # k per sample (older stores) or as a fixed coordinate along k_index
    kk = _ok(ds, "k") if "sample" in ds["k"].dims else ds["k"].astype(np.float64)
    dens = []
    for j, v0 in enumerate(strengths):
        sel = {gdim: j} if gdim in nk.dims else {}
        m, e = mean_se(nk.isel(sel))
        ksel = {d: i for d, i in sel.items() if d in kk.dims}
        k = kk.isel(ksel)
        k = (k.mean("sample") if "sample" in k.dims else k).values
        npart = float(_ok(ds, "n_particles").isel(sel).mean())
        dens.append(npart / length)
        pos = k > 0
        lab = "clean" if v0 == 0 else f"speckle V0={v0:g}"
        axes[0].errorbar(k[pos], m.values[pos], yerr=np.nan_to_num(e.values[pos]), fmt=".-",
                         ms=3, capsize=1, label=lab)
        axes[1].errorbar(k[pos], m.values[pos] * k[pos] ** 4,
                         yerr=np.nan_to_num(e.values[pos] * k[pos] ** 4), fmt=".-", ms=3,
                         capsize=1, label=lab)
    n = dens[0]
    c = 4 * np.pi**2 / 3 * n**4
    kmax = np.pi / h
    kr = np.linspace(2 * np.pi * n, kmax, 100)
    axes[0].plot(kr, c / kr**4, "k--", lw=1, label="(4 pi^2/3) n^4 / k^4")
    axes[1].axhline(c, color="k", ls="--", lw=1, label=f"(4 pi^2/3) n^4 = {c:.3g}")
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("k [1/a]")
    axes[0].set_ylabel("n(k) [1]")
    axes[0].legend(fontsize=7)
    axes[1].set_xlim(0, min(0.5 * kmax, 8 * np.pi * n))
    axes[1].set_xlabel("k [1/a]")
    axes[1].set_ylabel("n(k) k^4 [1/a^4]")
    axes[1].set_title(f"k h <= {min(0.5 * kmax, 8 * np.pi * n) * h:.2g} shown", fontsize=8)
    axes[1].legend(fontsize=7)
    fig.suptitle(f"Momentum distribution, N/L = {n:g}/a, L = {length:g} (error bars: standard "
                 "error)", fontsize=9)
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
                        capsize=2, label=f"{pkey.split('.')[1]}={p:g}")
            if kind == "anderson":
                ax.plot(ee, thouless_lyapunov(ee, p), "-", color=c, lw=1)
                ax.plot([0.0], [kappus_wegner_lyapunov(p)], "x", color="k", ms=8)
            elif kind == "aubry_andre":
                ax.axhline(aubry_andre_lyapunov(p), color=c, ls="--", lw=1)
            elif kind == "white_noise":
                ax.plot(ee, halperin_lyapunov(ee, p), "-", color=c, lw=1)
        ref = {"anderson": "lines: Thouless W^2/(96(1-E^2/4)); x: Kappus-Wegner",
               "aubry_andre": "dashed: ln(lam/2) (on the spectrum)",
               "white_noise": "lines: Halperin (exact)"}.get(kind, "")
        size = spec["model"].get("sites") or spec["model"].get("length")
        ax.set_title(f"{kind}, L={size:g}\n{ref}", fontsize=8)
        ax.set_xlabel(f"energy E [{_eu(ds)}]")
        ax.set_ylabel(f"Lyapunov exponent gamma [1/{_lu(ds)}]")
        if kind in ("anderson", "white_noise"):
            ax.set_yscale("log")
        ax.legend(fontsize=7)
    fig.suptitle("Localization length: transfer-matrix Lyapunov exponents vs closed forms "
                 "(error bars: standard error)", fontsize=9)
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
    axes[0].set_ylabel("lambda_0 / N [1]")
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


FIGURES = {
    "interaction_axis": fig_interaction_axis,
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
}
#: figure types that need a series (list of (label, Dataset)) rather than one Dataset
SERIES = ("absence_of_bec", "superfluid_stiffness", "dynamical_localization",
          "localization_length", "interaction_axis", "absence_of_bec_large",
          "superfluid_stiffness_large")


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
