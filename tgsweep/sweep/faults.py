"""Deterministic fault injection for the fault tests (never active unless the variable is set).

``TGSWEEP_FAULT="STEP[:K[:ACTION]]"`` makes the process fail the K-th time (default 1) it reaches
the named step ``STEP``. ACTION is ``SIGKILL`` (default), ``SIGTERM``, ``SIGINT`` (a signal sent to
the process itself), ``ENOSPC`` (an ``OSError`` "No space left on device" raised at that point) or
``PAUSE``: the process writes ``STEP.paused`` (its pid) into the folder named by
``TGSWEEP_FAULT_DIR`` and waits there until a file ``STEP.resume`` appears in that folder (a test
holds a run at an exact logical point, acts, then releases it; no sleeping in the test decides
anything). A pause left unreleased for ``TGSWEEP_FAULT_PAUSE_S`` seconds (default 600) raises
``RuntimeError`` so that an abandoned process cannot hang forever.
Several faults may be given separated by commas. Steps are plain strings named at the call sites,
e.g. ``"store_creating"``, ``"store_created"``, ``"task_written"``, ``"summary_started"``,
``"summary_written"``; ``fault_steps()`` lists those reached so far (for tests of the hook itself).

Tests use this instead of "sleep, then kill": the kill happens at exactly the same logical moment
on a fast or a loaded machine.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from pathlib import Path

__all__ = ["fault_point", "fault_steps", "reset_counts", "ENV", "DIR_ENV", "ACTIONS"]

ENV = "TGSWEEP_FAULT"
DIR_ENV = "TGSWEEP_FAULT_DIR"
PAUSE_ENV = "TGSWEEP_FAULT_PAUSE_S"
ACTIONS = ("SIGKILL", "SIGTERM", "SIGINT", "ENOSPC", "PAUSE")

_counts: dict[str, int] = {}


def _parse(text: str) -> list[tuple[str, int, str]]:
    out = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        parts = item.split(":")
        step = parts[0]
        k = int(parts[1]) if len(parts) > 1 and parts[1] else 1
        action = parts[2].upper() if len(parts) > 2 else "SIGKILL"
        if action not in ACTIONS:
            raise ValueError(f"{ENV}: action must be one of {', '.join(ACTIONS)}, got {action!r}")
        out.append((step, k, action))
    return out


def fault_point(step: str) -> None:
    """Count one arrival at ``step``; fail here if ``TGSWEEP_FAULT`` asks for this arrival."""
    text = os.environ.get(ENV)
    _counts[step] = _counts.get(step, 0) + 1
    if not text:
        return
    for name, k, action in _parse(text):
        if name == step and _counts[step] == k:
            if action == "PAUSE":
                _pause(step)
                continue
            if action == "ENOSPC":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC) + f" (injected at {step})")
            os.kill(os.getpid(), getattr(signal, action))


def _pause(step: str) -> None:
    """Announce ``STEP.paused`` in ``TGSWEEP_FAULT_DIR``; wait for ``STEP.resume`` there."""
    folder = os.environ.get(DIR_ENV)
    if not folder:
        raise ValueError(f"{ENV}: action PAUSE needs {DIR_ENV} (a folder for the pause files)")
    folder = Path(folder)
    limit = float(os.environ.get(PAUSE_ENV, "600"))
    tmp = folder / f"{step}.paused.tmp"
    tmp.write_text(str(os.getpid()))
    os.replace(tmp, folder / f"{step}.paused")  # appears whole
    release = folder / f"{step}.resume"
    t_end = time.monotonic() + limit
    while not release.exists():
        if time.monotonic() > t_end:
            raise RuntimeError(f"{ENV}: pause at {step} not released within {limit:g} s")
        time.sleep(0.01)


def fault_steps() -> dict[str, int]:
    """How often each step was reached in this process."""
    return dict(_counts)


def reset_counts() -> None:
    """Forget the arrivals counted so far (a forked test child starts counting afresh)."""
    _counts.clear()
