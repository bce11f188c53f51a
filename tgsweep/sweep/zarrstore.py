"""The Zarr v3 back end of :class:`~tgsweep.sweep.storage.ResultStore` (the only module that
writes Zarr; :mod:`tgsweep.sweep.storeview` reads what ``tgsweep status`` needs).

* One Zarr chunk per shard (:func:`~tgsweep.sweep.storage.shard_plan`, one file per array);
  every chunk is Zstd-compressed and carries a CRC32C checksum (codecs ``zstd`` + ``crc32c`` of
  the Zarr v3 specification), so a flipped byte or a truncated file is an error on read, never
  a silently wrong number.  Chunks equal to the fill value are written too
  (``write_empty_chunks``), so a missing file is always damage.
* Atomic creation: the store is built in a hidden sibling directory and renamed into place, so
  ``STORE`` either does not exist or is complete.  Zarr's local store writes each file to a
  temporary name and renames it, so a shard file is either the old or the new one.
* The summary group is built under a temporary name and renamed to ``summary``.
* Writes come only from the process running the sweep (single writer; workers never open the
  store), so read-modify-write of a partially filled shard is safe.

Tested with zarr >= 3.1, < 3.2 (``pyproject.toml``).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from .faults import fault_point
from .lock import RunLock
from .errors import SpecError
from .storage import ResultStore, SummaryTable, default_shard_bytes, store_layout
from .storeview import interrupted_creations, zarr_quiet

__all__ = ["ZarrStore", "open_dataset", "interrupted_creations", "is_disk_full"]


def _codecs():
    from zarr.codecs import Crc32cCodec, ZstdCodec

    return [ZstdCodec(level=3), Crc32cCodec()]


def _create_arrays(group, layout: dict, coords: dict, names=None, step=None) -> dict:
    """Create (empty) the arrays and coordinates ``names`` (default all) of a layout: in a new
    store the arrays' metadata documents directly (:func:`_empty_array`), the coordinates (and
    re-created arrays, :meth:`ZarrStore.repair`) concurrently through zarr's event loop
    (metadata with attributes, and coordinate values, in one write each); returns them by name
    (``AsyncArray``)."""
    import asyncio

    import zarr.api.asynchronous as za
    from zarr.core.sync import sync

    prefix = f"{group.path}/" if group.path else ""
    jobs = []
    direct = {}
    for name, a in layout.items():
        if names is not None and name not in names:
            continue
        if names is None and a.shards is None:  # a new store: metadata written here
            direct[name] = _empty_array(group, prefix + name, a)
        else:
            jobs.append(_array_job(prefix + name, a))
    for name, (dims, values, at) in coords.items():
        if names is not None and name not in names:
            continue
        values = np.asarray(values)
        job = dict(name=prefix + name, data=values.astype(object)
                   if values.dtype.kind == "U" else values, chunks=values.shape,
                   dimension_names=dims, fill_value="" if values.dtype.kind == "U" else None,
                   attributes=dict(at))
        if names is None and _data_array(group, {**job, "name": name}):
            direct[name] = None  # written (not a layout array: no handle kept)
        else:
            jobs.append(job)

    async def create_all():
        return await asyncio.gather(*(za.create_array(group.store, compressors=_codecs(),
                                                      overwrite=names is not None,
                                                      zarr_format=3, **j) for j in jobs))

    created = sync(create_all())
    if step:
        for _ in range(len(direct) + len(jobs)):
            fault_point(step)
    return {**direct, **{j["name"][len(prefix):]: a for j, a in zip(jobs, created)}}


@functools.lru_cache(maxsize=None)
def _encoding(dtype) -> tuple:
    """(zarr data type, codecs) of a tgsweep array of numpy ``dtype`` (or ``str``: variable-
    length UTF-8), as ``zarr.create_array`` chooses them with :func:`_codecs`; cached (zarr's
    data-type matching costs ~1 ms a call; both are immutable)."""
    from zarr.core.array import _parse_chunk_encoding_v3
    from zarr.core.dtype import parse_dtype

    zdtype = parse_dtype(dtype, zarr_format=3)
    filters, serializer, compressors = _parse_chunk_encoding_v3(
        compressors=_codecs(), filters="auto", serializer="auto", dtype=zdtype)
    return zdtype, (*filters, serializer, *compressors)


def _array_job(name: str, a) -> dict:
    """``zarr.create_array`` arguments (besides store and codecs) of the empty array ``name``
    of a layout (an :class:`~tgsweep.sweep.storage.ArraySpec`)."""
    dt = str if np.dtype(a.dtype).kind == "U" else a.dtype  # variable-length UTF-8
    return dict(name=name, shape=a.shape, chunks=a.chunks, shards=a.shards, dtype=dt,
                fill_value=a.fill, dimension_names=a.dims, config={"write_empty_chunks": True},
                attributes=dict(a.attrs))


def _empty_array(group, name: str, a):
    """Create the empty array ``name`` of a layout (an unsharded
    :class:`~tgsweep.sweep.storage.ArraySpec`) in the new local-store ``group``: the metadata
    document that ``zarr.create_array(**_array_job(name, a))`` writes (built by zarr's own
    functions: byte-identical), written in this thread without zarr's existence checks and
    event-loop round trips (a new store: nothing to check).  Returns its ``AsyncArray``."""
    from zarr.core.array import AsyncArray
    from zarr.core.buffer import default_buffer_prototype
    from zarr.storage import StorePath

    job = _array_job(name, a)
    dt = job["dtype"]
    zdtype, codecs = _encoding(dt if dt is str else np.dtype(dt))
    meta = AsyncArray._create_metadata_v3(
        shape=a.shape, dtype=zdtype, chunk_shape=a.chunks, fill_value=a.fill, codecs=codecs,
        dimension_names=a.dims, attributes=job["attributes"])
    doc = meta.to_buffer_dict(default_buffer_prototype())["zarr.json"].to_bytes()
    path = Path(group.store.root) / name / "zarr.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(doc)
    return AsyncArray(meta, StorePath(group.store, name), job["config"])


def _handles_at(path, created: dict) -> dict:
    """``zarr.Array`` handles at the store ``path`` of arrays just created elsewhere (the hidden
    sibling directory renamed to ``path``), from their metadata in memory: no metadata read."""
    import zarr
    from zarr.core.array import AsyncArray
    from zarr.storage import LocalStore, StorePath

    store = LocalStore(str(path))
    return {n: zarr.Array(AsyncArray(a.metadata, StorePath(store, a.path), a.config))
            for n, a in created.items()}


def _coordinate_attrs(table: SummaryTable) -> tuple[dict, str]:
    """The ``coordinates`` attribute of each variable and of the group, as xarray's CF encoding
    (``xarray.conventions._encode_coordinates``) writes them for non-index coordinates."""
    non_index = {n for n, (d, _, _) in table.coords.items() if tuple(d) != (n,)}
    every = {**table.coords, **table.variables}
    per: dict = {}
    for c in non_index:
        target = set(table.coords[c][0])
        for k, (d, _, _) in every.items():
            if k not in non_index and k not in d and target <= set(d):
                per.setdefault(k, set()).add(c)
    written = set().union(*per.values()) if per else set()
    return ({k: " ".join(sorted(v)) for k, v in per.items()},
            " ".join(sorted(non_index - written)))


def _write_table(path: Path, table: SummaryTable) -> None:
    """A Zarr group at ``path`` holding ``table``, one single-chunk array per variable and
    coordinate, created concurrently."""
    import asyncio

    import zarr
    import zarr.api.asynchronous as za
    from zarr.core.sync import sync

    per, glob = _coordinate_attrs(table)
    gattrs = dict(table.attrs)
    if glob:
        gattrs["coordinates"] = glob
    group = zarr.open_group(str(path), mode="w-", zarr_format=3, attributes=gattrs)
    store = group.store

    jobs = []
    for name, (dims, values, attrs) in [*table.variables.items(), *table.coords.items()]:
        values = np.asarray(values)
        if values.dtype.kind == "U":
            values = values.astype(object)
        attrs = dict(attrs)
        if name in per:
            attrs["coordinates"] = per[name]
        fill = (np.nan if values.dtype.kind in "fc" else "" if values.dtype.kind in "OU"
                else 0)
        job = dict(name=name, data=values, chunks=values.shape, dimension_names=tuple(dims),
                   fill_value=fill, attributes=attrs)
        if not _data_array(group, job):  # numbers: written here; strings: through zarr
            jobs.append(job)

    async def all_arrays():
        await asyncio.gather(*(za.create_array(store, compressors=_codecs(), zarr_format=3,
                                               **j) for j in jobs))

    if jobs:
        sync(all_arrays())


def _data_array(group, job: dict) -> bool:
    """Create in the new local-store ``group`` the single-chunk array of
    ``zarr.create_array(**job)`` (``job``: name, data, chunks = data.shape, dimension_names,
    fill_value, attributes; zarr's default configuration, so a chunk equal to the fill value
    is not written): its metadata built by zarr's own functions and its chunk encoded by its
    own codecs (:func:`_encode_chunk`), both written in this thread -- the same files.  False
    (nothing written) for what this does not cover (strings, empty arrays): the caller then
    creates it through zarr."""
    import zarr
    from zarr.core.array import AsyncArray
    from zarr.core.buffer import default_buffer_prototype
    from zarr.storage import StorePath

    values = job["data"]
    if values.dtype.kind not in "biuf" or values.size == 0 or job["chunks"] != values.shape:
        return False
    zdtype, codecs = _encoding(values.dtype)
    meta = AsyncArray._create_metadata_v3(
        shape=values.shape, dtype=zdtype, chunk_shape=values.shape,
        fill_value=job["fill_value"], codecs=codecs, dimension_names=job["dimension_names"],
        attributes=job["attributes"])
    name = f"{group.path}/{job['name']}" if group.path else job["name"]
    path = Path(group.store.root) / name / "zarr.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(meta.to_buffer_dict(default_buffer_prototype())["zarr.json"].to_bytes())
    arr = zarr.Array(AsyncArray(meta, StorePath(group.store, name)))
    if not _encode_chunk(arr, (slice(None),) * values.ndim, values, group.store.root):
        raise RuntimeError(f"{name}: the single chunk of a new array was not written")
    return True


def _chunk_index(arr, region) -> tuple[int, ...] | None:
    """The chunk coordinates of ``region`` (a tuple of slices over the leading dims) when it is
    exactly one whole chunk (an edge chunk ending at the array's edge counts), else None."""
    shape, chunks = arr.shape, arr.metadata.chunk_grid.chunk_shape
    if len(region) > len(shape):
        return None
    region = tuple(region) + (slice(None),) * (len(shape) - len(region))
    index = []
    for sl, n, c in zip(region, shape, chunks):
        if not isinstance(sl, slice) or sl.step not in (None, 1):
            return None
        start, stop, _ = sl.indices(n)
        if start % c or stop != min(start + c, n):
            return None
        index.append(start // c)
    return tuple(index)


def _encode_chunk(arr, region, values, root) -> bool:
    """Write ``values`` as the whole chunk ``region`` of the array ``arr`` (a store under
    the directory ``root``): padded with the fill value to the chunk shape, encoded by the
    array's own codecs (their synchronous encoders: the bytes that ``arr[region] = values``
    writes), written to a temporary file and renamed (as Zarr's local store does).  False
    (nothing written) when the block is not one whole chunk, or the array's codecs are not
    those of a tgsweep store (bytes or vlen-utf8, then bytes-to-bytes codecs): the caller then
    writes it through zarr."""
    from zarr.core.buffer import default_buffer_prototype

    meta = arr.metadata
    index = _chunk_index(arr, region)
    dtype = np.dtype(arr.dtype)
    pipe = arr.async_array.codec_pipeline
    serializer = type(getattr(pipe, "array_bytes_codec", None)).__name__
    if index is None or getattr(pipe, "array_array_codecs", 1) or not (
            (dtype.kind in "biuf" and serializer == "BytesCodec")
            or (dtype.kind in "TO" and serializer == "VLenUTF8Codec")):
        return False
    values = np.asarray(values, dtype=dtype)
    chunk_shape = tuple(meta.chunk_grid.chunk_shape)
    if values.shape != chunk_shape:  # an edge chunk: the rest is the fill value, as zarr pads
        full = np.full(chunk_shape, meta.fill_value, dtype=dtype)
        full[tuple(slice(0, n) for n in values.shape)] = values
        values = full
    proto = default_buffer_prototype()
    spec = meta.get_chunk_spec(index, arr.async_array.config, proto)
    nd = proto.nd_buffer.from_numpy_array(np.ascontiguousarray(values))
    path = Path(root) / arr.path / meta.encode_chunk_key(index)
    if not spec.config.write_empty_chunks and nd.all_equal(meta.fill_value):
        path.unlink(missing_ok=True)  # as zarr: a chunk equal to the fill value is not stored
        return True
    data = pipe.array_bytes_codec._encode_sync(nd, spec)
    for codec in pipe.bytes_bytes_codecs:
        data = codec._encode_sync(data, spec)
    tmp = path.with_suffix(f".{uuid.uuid4().hex}.partial")
    try:
        try:
            fh = open(tmp, "wb")
        except FileNotFoundError:  # the chunk's directory, made on its first write only
            path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(tmp, "wb")
        with fh:
            fh.write(data.as_buffer_like())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True


class ZarrStore(ResultStore):
    """Zarr v3 directory store at ``path`` (picklable: holds only the path and layout)."""

    def __init__(self, path):
        self.path = str(path)
        self.layout = {}
        self._lock = RunLock(self.lock_path, self.path)

    @property
    def lock_path(self) -> Path:
        """The lock file, next to the store (``STORE.lock``), not inside the Zarr hierarchy."""
        p = Path(self.path)
        return p.with_name(p.name + ".lock")

    def __getstate__(self):
        return {"path": self.path, "layout": self.layout}

    def __setstate__(self, state):
        self.__init__(state["path"])
        self.layout = state["layout"]

    # ------------------------------------------------------------------ handles
    def _group(self, mode="r+"):
        import zarr

        with zarr_quiet():
            return zarr.open_group(self.path, mode=mode, zarr_format=3, use_consolidated=False)

    def _array(self, name):
        cache = self.__dict__.setdefault("_handles", {})
        arr = cache.get(name)
        if arr is None:
            self._open_arrays([name, *(n for n in self.layout if n not in cache)])
            arr = cache[name]
        return arr

    def _open_arrays(self, names) -> None:
        """Open the handles of ``names`` (cached) concurrently: one metadata read each."""
        import asyncio

        import zarr
        import zarr.api.asynchronous as za
        from zarr.core.sync import sync

        cache = self.__dict__.setdefault("_handles", {})
        names = list(dict.fromkeys(n for n in names if n not in cache))

        async def open_all():
            return await asyncio.gather(*(za.open_array(store=self.path, path=n, mode="r+",
                                                        zarr_format=3) for n in names),
                                        return_exceptions=True)

        with zarr_quiet():
            for n, a in zip(names, sync(open_all())):
                if isinstance(a, BaseException):  # damaged: raised when that array is asked for
                    if n == names[0]:
                        raise a
                    continue
                cache[n] = zarr.Array(a.with_config({"write_empty_chunks": True}))

    def _check_identity(self) -> None:
        """Drop cached handles when the store at ``path`` was deleted and re-created (another
        ``store_id``) since they were opened."""
        meta = Path(self.path) / "zarr.json"
        try:
            st = meta.stat()
        except FileNotFoundError:
            self.__dict__.pop("_handles", None)
            return
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        known = self.__dict__.get("_identity")
        if known is not None and known[0] == stamp:
            return
        try:
            sid = json.loads(meta.read_text()).get("attributes", {}).get("store_id")
        except (OSError, ValueError):
            sid = None
        if known is not None and known[1] != sid:
            self.__dict__.pop("_handles", None)
            self.__dict__.pop("_summary_acc", None)
            self.__dict__.pop("_done_cache", None)
        self._identity = (stamp, sid)

    # ------------------------------------------------------------------ interface
    def exists(self):
        return (Path(self.path) / "zarr.json").exists()

    def check_target(self) -> None:
        """Refuse (SpecError on ``--out``) a path that is a file or a non-store directory, and a
        lock path that is a directory."""
        p = Path(self.path)
        if p.exists() and not p.is_dir():
            raise SpecError("--out", f"{p} exists and is a file, not a store; choose another path")
        if p.is_dir() and not self.exists() and any(p.iterdir()):
            raise SpecError("--out", f"{p} is a non-empty directory that is not a tgsweep store; "
                            "choose another path")
        if self.lock_path.is_dir():
            raise SpecError("--out", f"the lock path {self.lock_path} is a directory; remove it")

    def acquire_lock(self) -> None:
        self.check_target()
        self._lock.acquire()

    def release_lock(self) -> None:
        self._lock.release()

    def create(self, spec, attrs):
        import zarr

        final = Path(self.path)
        attrs = {**attrs, "shard_bytes": attrs.get("shard_bytes") or default_shard_bytes()}
        self.layout, coords = store_layout(spec, attrs["shard_bytes"])
        for k in ("_handles", "_done_cache", "_buffers", "_plan_cache", "_identity",
                  "_summary_acc"):
            self.__dict__.pop(k, None)
        for old in interrupted_creations(final):  # killed creations (we hold the lock)
            shutil.rmtree(old, ignore_errors=True)
        if final.is_dir() and not any(final.iterdir()):
            final.rmdir()
        aside = final.with_name(f".{final.name}.creating-{uuid.uuid4().hex[:12]}")
        aside.parent.mkdir(parents=True, exist_ok=True)
        try:
            fault_point("store_creating")
            with zarr_quiet():
                # the attributes in the group's first metadata write (``attrs.update`` would
                # rewrite zarr.json once per key)
                g = zarr.open_group(str(aside), mode="w-", zarr_format=3,
                                    attributes={**attrs, "store_id": uuid.uuid4().hex})
                created = _create_arrays(g, self.layout, coords, step="store_array_created")
                zarr.consolidate_metadata(str(aside))
            fault_point("store_renaming")
            os.rename(aside, final)
        except BaseException:
            shutil.rmtree(aside, ignore_errors=True)
            raise
        self._handles = _handles_at(self.path, {n: a for n, a in created.items()
                                                if n in self.layout})
        fault_point("store_created")

    def attrs(self):
        return dict(self._group("r").attrs)

    def update_attrs(self, attrs):
        self._group().update_attributes(attrs)  # one metadata write (not one per key)

    def _write_blocks(self, blocks):
        """Write the blocks; the caller writes the ``done`` flags in a later call, after these
        are stored.  A block that is one whole chunk (every shard write, the ``error`` strings
        included) is encoded here with the array's own codecs (:func:`_encode_chunk`) and
        written as Zarr's local store writes (temporary file, then rename), in this thread: no
        event-loop round trip per array (a 32-array shard: ~10 ms instead of ~30 ms with the
        handles' metadata read); anything else goes concurrently through zarr's event loop."""
        self._check_identity()
        with zarr_quiet():
            todo = []
            for name, region, values in blocks:
                arr = self._array(name)
                if not _encode_chunk(arr, region, values, self.path):
                    todo.append((arr, region, np.asarray(values, dtype=object)
                                 if name == "error" else values))
            if len(todo) == 1:
                arr, region, values = todo[0]
                arr[region] = values
            elif todo:
                import asyncio

                from zarr.core.sync import sync

                async def write_all():
                    await asyncio.gather(*(arr.async_array.setitem(region, values)
                                           for arr, region, values in todo))

                sync(write_all())
        for _ in blocks:
            fault_point("block_written")

    def _read_block(self, name, region):
        self._check_identity()
        with zarr_quiet():
            v = self._array(name)[region]
        return np.asarray(v, dtype=object) if name == "error" else v

    def _read_blocks(self, names, region):
        """Several arrays over one region, read concurrently through zarr's event loop."""
        if len(names) < 2:
            return super()._read_blocks(names, region)
        import asyncio

        from zarr.core.sync import sync

        self._check_identity()
        with zarr_quiet():
            arrays = [self._array(n) for n in names]

            async def read_all():
                return await asyncio.gather(*(a.async_array.getitem(region) for a in arrays))

            out = sync(read_all())
        return [np.asarray(v, dtype=object) if n == "error" else v for n, v in zip(names, out)]

    def read(self, name):
        with zarr_quiet():
            return self._group("r")[name][...]

    def _coord_values(self, name):
        with zarr_quiet():
            return np.asarray(self._group("r")[name][...])

    def _array_problem(self, name, a) -> str:
        meta = Path(self.path) / name / "zarr.json"
        if not meta.exists():
            return "missing (no metadata)"
        try:
            with zarr_quiet():
                arr = self._group("r")[name]
        except Exception as exc:  # noqa: BLE001
            return f"metadata unreadable ({type(exc).__name__})"
        if tuple(arr.shape) != tuple(a.shape) or tuple(arr.chunks) != tuple(a.chunks) or (
                a.shards is not None and tuple(arr.shards or ()) != tuple(a.shards)):
            return "metadata differs from the spec's layout"
        return ""

    def _shard_file(self, name, key) -> Path:
        a = self.layout[name]
        coords = tuple(key) + (0,) * (len(a.shape) - len(key))
        arr = self._array(name)
        return Path(self.path) / name / arr.metadata.chunk_key_encoding.encode_chunk_key(coords)

    def _shard_present(self, name, key) -> bool:
        return self._shard_file(name, key).exists()

    def verify(self, spec, progress=None):
        self.layout = self.layout_of(spec)[0]
        self.__dict__.pop("_handles", None)
        return super().verify(spec, progress)

    def _repair_arrays(self, spec, names):
        layout, coords = self.layout_of(spec)
        root = Path(self.path)
        for n in names:
            shutil.rmtree(root / n, ignore_errors=True)
        self.__dict__.pop("_handles", None)
        with zarr_quiet():
            _create_arrays(self._group(), layout, coords, names=set(names))

    def _drop_shards(self, keys):
        for name, ks in keys.items():
            for key in ks:
                with contextlib.suppress(FileNotFoundError):
                    self._shard_file(name, key).unlink()
        for part in Path(self.path).rglob("*.partial"):  # left by writes that were killed
            part.unlink(missing_ok=True)

    def to_dataset(self):
        return open_dataset(self.path)

    def write_summary(self, summary):
        """Write the summary group (a :class:`~tgsweep.sweep.storage.SummaryTable`, or an xarray
        Dataset) atomically: built as a sibling group, then renamed to ``summary``.  Written with
        zarr directly, every array concurrently, in the layout ``xr.open_zarr`` reads back as the
        same Dataset (``coordinates`` attributes for non-index coordinates, as xarray's CF
        encoding writes them)."""
        root = Path(self.path)
        if not isinstance(summary, SummaryTable):
            summary = SummaryTable.from_dataset(summary)
        for old in list(root.glob("summary_tmp_*")) + list(root.glob(".summary-old-*")):
            shutil.rmtree(old, ignore_errors=True)
        fault_point("summary_started")
        tmp = f"summary_tmp_{uuid.uuid4().hex[:12]}"
        with zarr_quiet():
            _write_table(root / tmp, summary)
        fault_point("summary_renaming")
        if (root / "summary").exists():
            trash = root / f".summary-old-{uuid.uuid4().hex[:12]}"
            os.rename(root / "summary", trash)
            os.rename(root / tmp, root / "summary")
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.rename(root / tmp, root / "summary")
        fault_point("summary_written")
        self.consolidate()

    def consolidate(self):
        import zarr

        with zarr_quiet():
            zarr.consolidate_metadata(self.path)


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def open_dataset(path, group: str | None = None):
    """``xr.open_zarr`` of a tgsweep store (raw samples, or ``group="summary"``)."""
    import xarray as xr

    with zarr_quiet():
        return xr.open_zarr(path, group=group, consolidated=None)
