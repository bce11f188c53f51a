"""Per-sample status codes of a store's ``status`` variable (written by
:func:`tgsweep.sweep.tasks.compute_chunk`, read by every report).  A module of its own, with no
imports, so that ``tgsweep status`` reads a store without loading the physics."""

__all__ = ["STATUS"]

#: 0 pending, 1 ok, 2 raised an exception, 3 non-finite output, 4 failed a self-check
STATUS = {"pending": 0, "ok": 1, "error": 2, "nonfinite": 3, "selfcheck": 4}
