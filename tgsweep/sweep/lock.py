"""The run lock of a store: one run at a time per store, race-free.

The lock is the file ``STORE.lock`` next to the store.  Holding it means holding an exclusive
OS lock (``flock``) on that file's open descriptor for the whole run; the kernel drops it when
the holder exits or is killed, so a dead run never blocks the next one and there is no
check-then-act "is the holder alive?" takeover.  The file also carries a JSON record
``{"pid", "host", "since"}`` for humans (and for the error message of a refused run).

Acquisition: open (create if needed) the file, ``flock(LOCK_EX | LOCK_NB)``, then check that
the path still names the locked inode (a holder unlinks the file on release; a process that
locked the unlinked inode retries), then write the record.  On file systems without ``flock``
(``ENOLCK``/``EOPNOTSUPP``) the record itself is the lock: it is written to a private file and
hard-linked to ``STORE.lock`` (``link`` fails if the name exists, so the content is complete
before the lock becomes visible); a lock whose holder is dead on this host is removed under a
short-lived breaker lock (``STORE.lock.break``, taken the same way), then the racers link
again and exactly one succeeds.
"""

from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import socket
import time
import uuid
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None

__all__ = ["StoreLocked", "RunLock", "BREAK_STALE_S"]

#: age (s) after which a breaker lock of a dead process is removed (link fallback only)
BREAK_STALE_S = 10.0


class StoreLocked(RuntimeError):
    """Another run holds the store's lock."""


def _record() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "since": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}


def _read_record(path: Path) -> dict:
    try:
        rec = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return rec if isinstance(rec, dict) else {}


def _alive(rec: dict) -> bool:
    """A record of a live process (a record of another host counts as alive: not checkable)."""
    pid = rec.get("pid")
    if not isinstance(pid, int):
        return False
    if rec.get("host") != socket.gethostname():
        return True
    if pid == os.getpid():
        return False  # our own record, left by an earlier run of this process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """The lock file ``path`` (``acquire`` / ``release``; not re-entrant)."""

    def __init__(self, path, what: str = ""):
        self.path = Path(path)
        self.what = what or str(self.path)
        self._fd: int | None = None
        self._linked = False

    def _refuse(self, rec: dict):
        return StoreLocked(
            f"store {self.what} is in use by pid {rec.get('pid', '?')} on {rec.get('host', '?')} "
            f"since {rec.get('since', '?')}; wait for it to finish (or, if that run is dead, "
            f"remove {self.path})")

    def acquire(self) -> None:
        if self.path.is_dir():
            raise StoreLocked(f"lock: {self.path} is a directory; remove it or choose another "
                              "--out")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if fcntl is not None:
            for _ in range(100):
                got = self._try_flock()
                if got is None:
                    break  # no flock on this file system
                if got:
                    return
            else:
                raise StoreLocked(f"could not take the lock {self.path}")
        self._acquire_linked()

    def _try_flock(self):
        """True: held; False: retry (inode replaced); None: flock unsupported.  Raises
        StoreLocked when another process holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            rec = {}
            for _ in range(50):  # the holder writes its record right after locking
                rec = _read_record(self.path)
                if rec:
                    break
                os.sched_yield()
            raise self._refuse(rec) from None
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                return None
            raise
        try:
            same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # released (unlinked) by its holder between our open and flock
            os.close(fd)
            return False
        rec = _read_record(self.path)
        if _alive(rec):  # a live holder that does not use flock (other file-system client)
            os.close(fd)
            raise self._refuse(rec)
        data = json.dumps(_record()).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        self._fd = fd
        return True

    def _acquire_linked(self) -> None:
        tmp = self.path.with_name(f"{self.path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps(_record()))
        try:
            for _ in range(1000):
                try:
                    os.link(tmp, self.path)
                    self._linked = True
                    return
                except FileExistsError:
                    pass
                rec = _read_record(self.path)
                if _alive(rec):
                    raise self._refuse(rec)
                self._break_stale(tmp)
            raise StoreLocked(f"could not take the lock {self.path}")
        finally:
            tmp.unlink(missing_ok=True)

    def _break_stale(self, tmp: Path) -> None:
        """Remove a lock whose holder is dead, under the breaker lock ``STORE.lock.break`` (so
        that only one process at a time re-checks and removes it: a lock file changes only by
        link, which fails while it exists, or by its live holder's release, so a record seen
        dead under the breaker lock stays dead until it is removed).  A breaker lock left by a
        process killed inside this short section is removed once its holder is dead and it is
        older than ``BREAK_STALE_S``."""
        brk = self.path.with_name(self.path.name + ".break")
        try:
            os.link(tmp, brk)
        except FileExistsError:
            rec = _read_record(brk)
            try:
                age = time.time() - brk.stat().st_mtime
            except FileNotFoundError:
                return
            if not _alive(rec) and age > BREAK_STALE_S:
                brk.unlink(missing_ok=True)
            time.sleep(0.001)
            return
        try:
            if not _alive(_read_record(self.path)):
                self.path.unlink(missing_ok=True)
        finally:
            brk.unlink(missing_ok=True)

    def release(self) -> None:
        if self._fd is not None:
            try:
                self.path.unlink(missing_ok=True)  # while still holding: waiters re-check inode
            finally:
                os.close(self._fd)
                self._fd = None
        elif self._linked:
            rec = _read_record(self.path)
            if rec.get("pid") == os.getpid() and rec.get("host") == socket.gethostname():
                self.path.unlink(missing_ok=True)
            self._linked = False

    @property
    def held(self) -> bool:
        return self._fd is not None or self._linked
