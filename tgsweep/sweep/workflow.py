"""Workflows: expansion of ``[[series]]`` tables into specs, running them, opening the stores.

A *workflow* is a spec in ``workflows/*.toml`` that reproduces one statement of the seed paper.
Some statements need parameters that change array shapes (the ring length L, the model kind),
which cannot be ``[grid]`` axes; such workflows list an array of ``[[series]]`` tables, each
merged into the base spec and run into its own store ``<store stem>/<label>.zarr``.  Merge rule:
dotted keys are deep-merged; a ``model`` or ``disorder`` table that contains ``kind`` and a
``grid`` table replace the base's table.  :func:`load_workflow` expands a file into validated
:class:`~tgsweep.sweep.spec.Spec` objects (each checked by :func:`tgsweep.sweep.parse_spec`),
:func:`run_workflow` runs them (the one function ``tgsweep run`` calls for a series),
:func:`open_workflow` opens the result.  Drawing is :mod:`tgsweep.plots`' business.
"""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path

from .runner import run_sweep
from .spec import SpecError, parse_spec
from .store import ZarrStore, open_dataset
from .storeview import is_series_dir, missing_store_message  # re-exported

__all__ = ["load_workflow", "run_workflow", "open_workflow", "workflow_stores", "workflow_name",
           "has_series", "is_series_dir", "member_store", "stored_spec", "missing_store_message"]

_REPLACE_IF_KIND = ("model", "disorder")


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, val in over.items():
        if key == "label":
            continue
        replace = (key == "grid") or (key in _REPLACE_IF_KIND and isinstance(val, dict)
                                      and "kind" in val)
        if isinstance(val, dict) and isinstance(out.get(key), dict) and not replace:
            out[key] = _merge(out[key], val)
        else:
            out[key] = copy.deepcopy(val)
    return out


def member_store(store: str, label: str) -> str:
    """Store path of series member ``label`` for the base store path ``store``:
    ``data/x.zarr`` (or ``data/x``) -> ``data/x/<label>.zarr``."""
    p = Path(store)
    stem = p.name[:-5] if p.name.endswith(".zarr") else p.name
    return str(p.parent / stem / f"{label}.zarr")


def has_series(path) -> bool:
    """True when the TOML file at ``path`` has ``[[series]]`` tables (False when it cannot be
    read: :func:`tgsweep.sweep.load_spec` reports that)."""
    try:
        with open(path, "rb") as fh:
            return "series" in tomllib.load(fh)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False


def load_workflow(path, overrides: dict | None = None, limits=None):
    """Expand a workflow TOML into ``[(label, Spec), ...]``.

    Parameters
    ----------
    path : workflow file.  Without ``[[series]]`` the result is ``[("", spec)]`` with the spec's
        own store; with it, one entry per series table (``label`` required, unique).
    overrides : dict deep-merged into every member after the series (e.g. smaller sizes for
        tests: ``{"sampling": {"n_samples": 2}}``); ``overrides["series"]``, if given, replaces
        the series list.
    limits : size limits (:class:`tgsweep.sweep.limits.Limits`) for every member.
    """
    path = Path(path)
    raw = tomllib.loads(path.read_text())
    overrides = copy.deepcopy(overrides or {})
    series = overrides.pop("series", raw.pop("series", None))
    raw.pop("series", None)
    members = []
    if series is None:
        spec = parse_spec(_merge(raw, overrides), limits)
        spec.source = str(path)
        return [("", spec)]
    if not isinstance(series, list) or not series:
        raise SpecError("series", "must be an array of tables [[series]] with a label each")
    labels = set()
    for i, entry in enumerate(series):
        label = entry.get("label") if isinstance(entry, dict) else None
        if not isinstance(label, str) or not label.isidentifier() or label in labels:
            raise SpecError(f"series[{i}].label", "required: a unique identifier")
        labels.add(label)
        member = _merge(_merge(raw, entry), overrides)
        if "store" in member.get("output", {}):
            member["output"] = {"store": member_store(member["output"]["store"], label)}
        try:
            spec = parse_spec(member, limits)
        except SpecError as exc:
            raise SpecError(f"series[{label}].{exc.field}", str(exc).split(": ", 1)[-1]) from None
        spec.source = str(path)
        members.append((label, spec))
    return members


def workflow_stores(path, out: str | None = None, overrides: dict | None = None,
                    limits=None) -> list[str]:
    """Store paths of a workflow's members (``out`` replaces the base store path)."""
    res = []
    for label, spec in load_workflow(path, overrides, limits):
        store = spec.store
        if out is not None:
            store = member_store(out, label) if label else out
        res.append(store)
    return res


def run_workflow(path, out: str | None = None, overrides: dict | None = None, *,
                 executor=None, resume: bool = False, progress: bool = False,
                 limits=None, **run_kwargs) -> list[str]:
    """Run every member of a workflow with :func:`tgsweep.sweep.runner.run_sweep` on one
    ``executor`` (None: this process); mark each store with ``workflow`` (file stem) and
    ``series_label``; return the store paths.  ``limits``: as for :func:`load_workflow`;
    ``run_kwargs`` are passed to run_sweep."""
    name = Path(path).stem
    stores = workflow_stores(path, out, overrides, limits)
    for (label, spec), store in zip(load_workflow(path, overrides, limits), stores):
        Path(store).parent.mkdir(parents=True, exist_ok=True)
        run_sweep(spec, store, executor, resume=resume, progress=progress, **run_kwargs)
        ZarrStore(store).update_attrs({"workflow": name, "series_label": label})
    return stores


def open_workflow(stores):
    """Open a workflow's output: one store path -> Dataset; several store paths, or a directory
    holding a series' ``<label>.zarr`` stores (e.g. ``data/absence_of_bec``) ->
    ``[(label, Dataset), ...]`` (directory members in sorted order)."""
    if isinstance(stores, (str, Path)):
        p = Path(stores)
        if (p / "zarr.json").exists() or not p.is_dir():
            return open_dataset(stores)
        stores = sorted(str(q) for q in p.glob("*.zarr") if (q / "zarr.json").exists())
        if not stores:
            raise FileNotFoundError(f"{p}: neither a Zarr store nor a directory of stores")
    out = []
    for s in stores:
        ds = open_dataset(s)
        out.append((ds.attrs.get("series_label") or Path(s).stem, ds))
    return out


def workflow_name(ds) -> str:
    """Name of the workflow that wrote ``ds`` (Dataset or series list)."""
    if isinstance(ds, (list, tuple)):
        ds = ds[0][1]
    name = ds.attrs.get("workflow")
    if not name:
        name = Path(ds.attrs.get("spec_source", "") or "").stem
    return name


def stored_spec(ds) -> dict:
    """The spec a store was made from (its ``spec`` attribute, JSON) as a dict."""
    return json.loads(ds.attrs["spec"])
