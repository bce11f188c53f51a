"""The error of a bad sweep spec (its own module: spec, registry and tasks all raise it)."""

from __future__ import annotations

__all__ = ["SpecError"]


class SpecError(ValueError):
    """Invalid sweep spec; ``field`` is the dotted name of the offending field and the message
    is one line, ``"field: what is allowed, got ..."``."""

    def __init__(self, field_name: str, message: str):
        self.field = field_name
        super().__init__(f"{field_name}: {message}")
