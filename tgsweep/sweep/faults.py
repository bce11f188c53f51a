"""Deterministic fault injection for the fault tests (never active unless the variable is set).

``TGSWEEP_FAULT="STEP[:K[:ACTION]]"`` makes the process fail the K-th time (default 1) it reaches
the named step ``STEP``. ACTION is ``SIGKILL`` (default), ``SIGTERM``, ``SIGINT`` (a signal sent to
the process itself) or ``ENOSPC`` (an ``OSError`` "No space left on device" raised at that point).
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

__all__ = ["fault_point", "fault_steps", "reset_counts", "ENV"]

ENV = "TGSWEEP_FAULT"

_counts: dict[str, int] = {}


def _parse(text: str) -> list[tuple[str, int, str]]:
    out = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        parts = item.split(":")
        step = parts[0]
        k = int(parts[1]) if len(parts) > 1 and parts[1] else 1
        action = parts[2].upper() if len(parts) > 2 else "SIGKILL"
        if action not in ("SIGKILL", "SIGTERM", "SIGINT", "ENOSPC"):
            raise ValueError(f"{ENV}: action must be SIGKILL, SIGTERM, SIGINT or ENOSPC, got {action!r}")
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
            if action == "ENOSPC":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC) + f" (injected at {step})")
            os.kill(os.getpid(), getattr(signal, action))


def fault_steps() -> dict[str, int]:
    """How often each step was reached in this process."""
    return dict(_counts)


def reset_counts() -> None:
    """Forget the arrivals counted so far (a forked test child starts counting afresh)."""
    _counts.clear()
