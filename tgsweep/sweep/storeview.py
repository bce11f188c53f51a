"""The light read side of a store: what ``tgsweep status`` needs, and nothing else.

``tgsweep status STORE`` runs far more often than a sweep; it must not load the physics, the
spec validation or the observable registry.  This module imports only NumPy and, when an array
is read, Zarr: the arrays' dimension names come from their ``zarr.json`` files read as plain
JSON (Zarr v3 metadata), and only ``done``, ``status``, the grid coordinates (and ``error``
when samples failed) are read.  It also holds the path conventions that the CLI checks before
anything is opened (an interrupted creation, a directory of ``[[series]]`` stores).

The store format itself is :mod:`tgsweep.sweep.zarrstore`; the full reports (``info``,
``status --verify``) are :mod:`tgsweep.sweep.report`.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

from .codes import STATUS

__all__ = ["StoreView", "status_counts", "status_text", "array_dims", "zarr_quiet",
           "interrupted_creations", "is_series_dir", "missing_store_message"]


@contextlib.contextmanager
def zarr_quiet():
    """The one warning filter of the Zarr back end: Zarr warns that variable-length strings
    and consolidated metadata are not (yet) part of the Zarr v3 specification."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*(Zarr V3 specification|[Cc]onsolidated "
                                r"metadata|consolidated)")
        yield


def interrupted_creations(path) -> list[Path]:
    """Leftovers of creations of the store ``path`` that were killed before the final rename."""
    p = Path(path)
    return sorted(p.parent.glob(f".{p.name}.creating-*"))


def is_series_dir(path) -> bool:
    """True for a directory holding ``<label>.zarr`` stores rather than being a store."""
    p = Path(path)
    return p.is_dir() and not (p / "zarr.json").exists() and any(p.glob("*.zarr/zarr.json"))


def missing_store_message(path) -> str:
    """'store: PATH does not exist', with a hint when PATH names a series workflow's base store
    (``data/x.zarr``) whose members were written to the directory ``data/x``."""
    p = Path(str(path).rstrip("/"))
    msg = f"store: {path} does not exist"
    if p.name.endswith(".zarr") and is_series_dir(p.parent / p.name[:-5]):
        msg += (f"; this is a series workflow: its stores are in {p.parent / p.name[:-5]} "
                "(use that directory)")
    return msg


def array_dims(path) -> dict[str, tuple[str, ...]]:
    """Dimension names of every array at the root of the store ``path``, from each array's
    ``zarr.json`` (plain JSON; groups such as ``summary`` are skipped)."""
    out = {}
    with os.scandir(path) as entries:
        for e in sorted(entries, key=lambda e: e.name):
            meta = Path(e.path) / "zarr.json"
            if not e.is_dir() or not meta.is_file():
                continue
            m = json.loads(meta.read_text())
            if m.get("node_type") == "array":
                out[e.name] = tuple(m.get("dimension_names") or ())
    return out


class _Var:
    def __init__(self, dims, values):
        self.dims, self.values = dims, values


class StoreView:
    """The part of a Dataset that :func:`status_text` reads, straight from a Zarr store (its
    compact ``done`` mask and ``status`` array, each read when first asked for; no xarray or
    dask, no spec)."""

    def __init__(self, path):
        self.path = str(path)
        self._dims = array_dims(self.path)
        self._cache: dict = {}
        self.coords = {n for n, dims in self._dims.items() if dims == (n,)}

    def __getitem__(self, name):
        if name not in self._cache:
            import zarr

            with zarr_quiet():
                arr = zarr.open_array(store=self.path, path=name, mode="r", zarr_format=3)
                values = arr[...]
            self._cache[name] = _Var(self._dims[name], values)
        return self._cache[name]


def status_counts(ds) -> dict:
    """Per grid point: tasks done/total and sample status counts (computed chunk by chunk)."""
    done = ds["done"].values.astype(bool)
    status = ds["status"].values
    gshape = done.shape[:-1]
    done2 = done.reshape(-1, done.shape[-1])
    st2 = status.reshape(-1, status.shape[-1])
    out = []
    for p in range(done2.shape[0]):
        counts = {k: int((st2[p] == v).sum()) for k, v in STATUS.items()}
        out.append({"index": np.unravel_index(p, gshape) if gshape else (),
                    "done": int(done2[p].sum()), "total": int(done2.shape[1]), **counts})
    return {"points": out, "dims": list(ds["done"].dims[:-1])}


def status_text(ds) -> str:
    c = status_counts(ds)
    dims = c["dims"]
    lines = []
    tot_done = tot = failed = 0
    for pt in c["points"]:
        label = ", ".join(f"{d}={ds[d].values[i]!s}" if d in ds.coords else f"{d}[{i}]"
                          for d, i in zip(dims, pt["index"])) or "(single point)"
        nf = pt["error"] + pt["nonfinite"] + pt["selfcheck"]
        lines.append(f"{label}: {pt['done']}/{pt['total']} tasks done, {pt['ok']} samples ok, "
                     f"{nf} failed")
        tot_done += pt["done"]
        tot += pt["total"]
        failed += nf
    lines.append(f"total: {tot_done}/{tot} tasks done, {failed} failed samples"
                 + (" (complete)" if tot_done == tot else ""))
    if failed:
        err = ds["error"].values.reshape(-1)
        msgs = sorted({str(e) for e in err if str(e)})
        lines.append("errors:")
        lines += [f"  {m}" for m in msgs[:10]]
        if len(msgs) > 10:
            lines.append(f"  ... {len(msgs) - 10} more distinct messages")
    return "\n".join(lines)
