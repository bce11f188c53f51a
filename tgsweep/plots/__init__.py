"""Figures (matplotlib, Agg backend; the ``plot`` extra) of tgsweep stores.

Two kinds, in two modules:

- :mod:`tgsweep.plots.variables` -- generic: one PNG per observable family of *any* store,
  drawn from the variables' layout (``long_name``, ``units``, dims); grid points compared in
  one figure.
- :mod:`tgsweep.plots.workflows` -- per workflow: the figure of the statement a workflow of
  ``workflows/*.toml`` reproduces, with its closed-form references.

Output convention (:func:`plot`, the function ``tgsweep plot STORE`` calls): the figures of
``data/NAME.zarr`` (or of a series directory ``data/NAME``) go to ``data/NAME-figures/``; the
workflow's figure is ``data/NAME-figures/<workflow>.png`` and the generic ones are
``data/NAME-figures/observables/<observable>.png`` (series: ``observables/<label>/``), so the
two never collide.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..sweep.workflow import is_series_dir, missing_store_message, open_workflow, workflow_name
from .variables import plot_variables
from .workflows import FIGURES, render

__all__ = ["plot", "default_outdir", "plot_variables", "render", "GENERIC_SUBDIR"]

#: sub-directory of the output directory that holds the generic per-observable figures
GENERIC_SUBDIR = "observables"


def default_outdir(store) -> Path:
    """``data/NAME.zarr`` or ``data/NAME`` -> ``data/NAME-figures``."""
    p = Path(str(store).rstrip("/"))
    stem = p.name[:-5] if p.name.endswith(".zarr") else p.name
    return p.parent / f"{stem}-figures"


def plot(store, outdir=None, *, generic: bool = True, workflow: bool = True) -> list[str]:
    """Draw the figures of a store (or of a series directory) into ``outdir`` (default
    :func:`default_outdir`); returns the PNG paths.

    A single store gets the generic figures (``generic``) in ``outdir/observables/`` and, when it
    was written by a known workflow (``workflow``), that workflow's figure in ``outdir``.  A
    series directory gets the generic figures of each member in ``outdir/observables/<label>/``
    and the workflow's figure.  Raises FileNotFoundError when ``store`` does
    not exist or is not a tgsweep store, KeyError for a series of no known workflow.
    """
    p = Path(store)
    if not p.exists():
        raise FileNotFoundError(missing_store_message(store))
    outdir = Path(outdir) if outdir is not None else default_outdir(store)
    if is_series_dir(p):
        series = open_workflow(str(p))
        names = sorted({workflow_name(ds) or "?" for _, ds in series})
        if len(names) > 1:
            raise FileNotFoundError(
                f"store: {store} holds the stores of several workflows ({', '.join(names)}), "
                "not one series: plot each store (or series directory) by itself")
        files = []
        if generic:
            for label, ds in series:
                files += plot_variables(ds, outdir / GENERIC_SUBDIR / label)
        if workflow:
            files += [str(f) for f in render(series, outdir)]
        return files
    if not (p / "zarr.json").exists():
        raise FileNotFoundError(f"store: {store} is not a tgsweep Zarr store (no zarr.json)")
    ds = open_workflow(str(p))
    files = []
    if generic:
        files += plot_variables(ds, outdir / GENERIC_SUBDIR)
    if workflow and workflow_name(ds) in FIGURES:  # else: the generic figures only
        try:
            files += [str(f) for f in render(ds, outdir)]
        except KeyError as exc:  # e.g. a modified spec that dropped a variable the figure needs
            print(f"tgsweep plot: no {workflow_name(ds)} figure for {store}: the store lacks "
                  f"{exc.args[0] if exc.args else exc} (generic figures written)",
                  file=sys.stderr)
    return files
