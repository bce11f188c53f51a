"""PNG figures of a tgsweep store (matplotlib, Agg backend): one figure per observable family.

For each variable: scalar per sample -> mean +- standard error against the first grid dimension
(histogram of samples when there is no grid); one observable dimension -> mean profile with
standard-error band, one line per value of the first grid dimension; two or more -> profiles
along the last observable dimension, one line per combination of the others (at most 8), at the
last point of the grid (usually the strongest parameter).  Positive data spanning more than
two decades get a log axis.  Means and errors come from the store's ``summary`` group when present, else from
:func:`tgsweep.sweep.summarize`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["plot_store", "workflow_figures"]


def _label(var) -> str:
    """Axis label: the variable's name with its units (the long name goes in the title)."""
    units = var.attrs.get("natural_units", var.attrs.get("units", ""))
    return f"{var.name} [{units}]" if units and units != "1" else var.name


def _title(var) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(var.attrs.get("long_name", var.name), 48))


def _band(ax, x, m, e, label):
    """Mean line with a standard-error band."""
    m = np.real(np.asarray(m, float))
    e = np.nan_to_num(np.real(np.asarray(e, float)))
    line, = ax.plot(x, m, marker=".", ms=3, label=label)
    ax.fill_between(x, m - e, m + e, color=line.get_color(), alpha=0.25, lw=0)


def _maybe_log(ax, values):
    v = np.real(np.asarray(values, float))
    v = v[np.isfinite(v)]
    if v.size and np.all(v > 0) and v.max() / v.min() > 100:
        ax.set_yscale("log")


def plot_store(path, outdir, workflow: bool = True) -> list[str]:
    """Write one PNG per observable family of the store at ``path`` into ``outdir``, and with
    ``workflow`` also the figures of the workflow that wrote it (:func:`workflow_figures`);
    returns the file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .sweep import open_dataset, summarize

    ds = open_dataset(path)
    try:
        summ = open_dataset(path, group="summary").load()
    except (FileNotFoundError, KeyError, OSError, ValueError):
        summ = summarize(ds).load()
    gdims = [d for d in ds["status"].dims if d != "sample"]
    families: dict[str, list[str]] = {}
    for name, v in ds.data_vars.items():
        if "observable" in v.attrs:
            families.setdefault(v.attrs["observable"], []).append(name)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    files = []
    for fam, names in families.items():
        fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.6), squeeze=False)
        for ax, name in zip(axes[0], names):
            var = ds[name]
            odims = [d for d in var.dims if d not in gdims and d != "sample"]
            mean = summ[f"{name}_mean"]
            err = summ[f"{name}_stderr"]
            rest = {d: 0 for d in gdims[1:]}
            if not odims:
                if gdims:
                    m, e = mean.isel(rest), err.isel(rest)
                    xc = ds[gdims[0]].values if gdims[0] in ds.coords else np.arange(m.size)
                    ax.errorbar(xc, m.values, yerr=np.nan_to_num(e.values), marker="o", capsize=3)
                    ax.set_xlabel(gdims[0])
                else:
                    ok = ds["status"].values == 1
                    ax.hist(var.values[ok], bins=20)
                    ax.set_xlabel(_label(var))
                    ax.set_ylabel("samples")
                    continue
                ax.set_ylabel(_label(var))
            elif len(odims) == 1:
                od = odims[0]
                xc = ds[od].values if od in ds.coords else np.arange(ds.sizes[od])
                if gdims:
                    for i in range(ds.sizes[gdims[0]]):
                        sel = {gdims[0]: i, **rest}
                        lab = (f"{gdims[0]}={ds[gdims[0]].values[i]}" if gdims[0] in ds.coords
                               else f"{gdims[0]}[{i}]")
                        _band(ax, xc, mean.isel(sel).values, err.isel(sel).values, lab)
                    ax.legend(fontsize=7)
                else:
                    _band(ax, xc, mean.values, err.values, None)
                ax.set_xlabel(od)
                ax.set_ylabel(_label(var))
                _maybe_log(ax, mean.values)
            else:
                sel = {d: ds.sizes[d] - 1 for d in gdims}
                xd = odims[-1]
                m = mean.isel(sel).transpose(..., xd)
                e = err.isel(sel).transpose(..., xd)
                xc = ds[xd].values if xd in ds.coords else np.arange(ds.sizes[xd])
                others = odims[:-1]
                shape = [ds.sizes[d] for d in others]
                for j, idx in enumerate(np.ndindex(*shape)):
                    if j == 8:
                        break
                    pick = dict(zip(others, idx))
                    lab = ", ".join(f"{d}={ds[d].values[i]:.3g}" if d in ds.coords
                                    and np.issubdtype(ds[d].dtype, np.number) else f"{d}[{i}]"
                                    for d, i in pick.items())
                    _band(ax, xc, np.real(m.isel(pick).values), np.real(e.isel(pick).values), lab)
                ax.legend(fontsize=6)
                where = ", ".join(f"{d}={ds[d].values[-1]:.3g}" if d in ds.coords else d
                                  for d in gdims)
                ax.set_xlabel(xd + (f"   ({where})" if where else ""))
                ax.set_ylabel(_label(var))
                _maybe_log(ax, m.values)
            ax.set_title(_title(var), fontsize=8)
        fig.suptitle(f"{fam} (mean over valid samples, error bars: standard error)", fontsize=9)
        fig.tight_layout()
        fn = outdir / f"{fam}.png"
        fig.savefig(fn, dpi=100)
        plt.close(fig)
        files.append(str(fn))
    if workflow:
        files += workflow_figures(ds, outdir)
    return files


def workflow_figures(ds, outdir) -> list[str]:
    """The workflow's own figures (:func:`tgsweep.figures.render`) of a store's dataset, or []
    when the store is of no known workflow (render raises KeyError/NotImplementedError) or
    :mod:`tgsweep.figures` is not available."""
    try:
        from .figures import render
    except ImportError:
        return []
    try:
        return [str(f) for f in render(ds, outdir)]
    except (KeyError, NotImplementedError):
        return []
