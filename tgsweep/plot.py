"""PNG figures of a tgsweep store (matplotlib, Agg backend): one figure per observable family.

For each variable: scalar per sample -> mean +- standard error against the first grid dimension
(histogram of samples when there is no grid); one observable dimension -> mean profile, one
line per value of the first grid dimension; two or more -> image of the mean at the first grid
point.  Means and errors come from the store's ``summary`` group when present, else from
:func:`tgsweep.sweep.summarize`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["plot_store", "workflow_figures"]


def _label(var) -> str:
    units = var.attrs.get("units", "")
    name = var.attrs.get("long_name", var.name)
    return f"{name} [{units}]" if units and units != "1" else name


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
                        ax.plot(xc, mean.isel(sel).values, label=lab)
                    ax.legend(fontsize=7)
                else:
                    ax.plot(xc, mean.values)
                ax.set_xlabel(od)
                ax.set_ylabel(_label(var))
            else:
                sel = {d: 0 for d in gdims}
                img = mean.isel(sel).transpose(*odims[:2], ...).values
                img = img.reshape(img.shape[0], img.shape[1], -1)[..., 0]
                im = ax.imshow(np.real(img), aspect="auto", origin="lower")
                fig.colorbar(im, ax=ax)
                ax.set_xlabel(odims[1])
                ax.set_ylabel(odims[0])
            ax.set_title(name, fontsize=9)
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
