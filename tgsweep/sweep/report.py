"""Text reports of a store: ``tgsweep status`` and ``tgsweep info``."""

from __future__ import annotations

import json

import numpy as np

from .spec import parse_spec
from .store import ZarrStore, shard_plan
from .tasks import STATUS

__all__ = ["status_counts", "status_text", "info_text", "verify_text", "StoreView"]


class _Var:
    def __init__(self, dims, values):
        self.dims, self.values = dims, values


class StoreView:
    """The part of a Dataset that :func:`status_text` reads, straight from a Zarr store (its
    compact ``done`` mask and ``status`` array; no xarray/dask, so ``tgsweep status`` is quick)."""

    def __init__(self, path):

        self._store = ZarrStore(path)
        self._cache: dict = {}
        self.coords = {n for n, dims in self._store.array_dims().items() if dims == (n,)}

    def __getitem__(self, name):
        if name not in self._cache:
            self._cache[name] = _Var(*self._store.read_named(name))
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


def info_text(ds) -> str:
    lines = ["dimensions: " + ", ".join(f"{d}={n}" for d, n in ds.sizes.items())]
    lines.append("variables:")
    for name, v in ds.data_vars.items():
        unit = v.attrs.get("natural_units", v.attrs.get("units", ""))
        lines.append(f"  {name}({', '.join(v.dims)}) {v.dtype}  [{unit}]  "
                     f"{v.attrs.get('long_name', '')}")
    lines.append("provenance:")
    for key in ("tgsweep_version", "git_commit", "versions", "host", "created", "updated", "seed",
                "spec_source", "cluster"):
        if key in ds.attrs:
            lines.append(f"  {key}: {ds.attrs[key]}")
    if "spec" in ds.attrs:
        lines.append("  spec: " + json.dumps(json.loads(ds.attrs["spec"]), sort_keys=True))
    return "\n".join(lines)


def verify_text(path) -> tuple[str, bool]:
    """``tgsweep status --verify``: every shard and coordinate of the store at ``path`` read and
    checked (:meth:`tgsweep.sweep.storage.ResultStore.verify`); (report, clean)."""

    store = ZarrStore(path)
    spec = parse_spec(json.loads(store.spec_json()))
    damage = store.verify(spec)
    plan = shard_plan(spec, store.shard_bytes())
    if not damage:
        return (f"verified: {plan.n_shards} shards x {len(store.layout_of(spec)[0])} arrays and "
                "every coordinate readable, checksums match, done flags consistent"), True
    lines = [f"damaged: {len(damage)} problem(s)"]
    lines += ["  " + d.text(plan, spec.dims) for d in damage]
    lines.append("run `tgsweep run SPEC --out STORE --resume` to recompute what is missing or "
                 "corrupt")
    return "\n".join(lines), False
