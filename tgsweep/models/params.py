"""Declared parameters: name, type, allowed range, default and physical dimension.

Used by the declarations of disorder kinds (:mod:`tgsweep.models.potentials`) and of observable
options (:mod:`tgsweep.observables.declaration`): validation and documentation come from one
:class:`Param`; a bad value raises :class:`ParamError` naming the parameter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

from .units import DIMENSIONS

__all__ = ["Param", "ParamError", "REQUIRED", "check_int"]


def check_int(name: str, value, minimum: int) -> int:
    """``value`` as an int >= ``minimum``, or ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, Integral) or int(value) < minimum:
        raise ParamError(name, f"must be an integer >= {minimum}, got {value!r}")
    return int(value)


class ParamError(ValueError):
    """A parameter value that its declaration does not allow; ``field`` names the parameter
    and the message starts with it ("field: what is allowed, got ...")."""

    def __init__(self, field_name: str, message: str):
        self.field = field_name
        self.reason = message
        super().__init__(f"{field_name}: {message}")


#: marks a parameter without a default (it must be given)
REQUIRED = object()


@dataclass(frozen=True)
class Param:
    """One declared parameter: type ("real" or "int"), allowed range, default, dimension.

    ``minimum``/``maximum`` bound the value (``open_min`` makes the lower bound strict);
    ``default`` is :data:`REQUIRED` when the parameter must be given; ``none_ok`` lets None
    through (a documented special value, e.g. "draw it at random").  ``dimension`` is one of
    :data:`tgsweep.models.units.DIMENSIONS`.
    """

    name: str
    dimension: str
    doc: str
    default: object = REQUIRED
    type: str = "real"
    minimum: float | None = None
    maximum: float | None = None
    open_min: bool = False
    none_ok: bool = False

    def __post_init__(self):
        if self.dimension not in DIMENSIONS:
            raise ValueError(f"dimension: must be one of {', '.join(DIMENSIONS)}, "
                             f"got {self.dimension!r}")
        if self.type not in ("real", "int"):
            raise ValueError(f"type: must be 'real' or 'int', got {self.type!r}")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def allowed(self) -> str:
        """What is allowed, in words ("a finite real number >= 0")."""
        what = "an integer" if self.type == "int" else "a finite real number"
        lo = "" if self.minimum is None else f"{'>' if self.open_min else '>='} {self.minimum:g}"
        hi = "" if self.maximum is None else f"<= {self.maximum:g}"
        if lo and hi:
            what += f" in {'(' if self.open_min else '['}{self.minimum:g}, {self.maximum:g}]"
        elif lo or hi:
            what += " " + (lo or hi)
        return what

    def check(self, value):
        """The value as float/int, or :class:`ParamError` naming this parameter."""
        if value is None and self.none_ok:
            return None
        ok = not isinstance(value, bool) and isinstance(value, Real)
        if ok and self.type == "int":
            ok = isinstance(value, Integral) or float(value).is_integer()
        ok = ok and math.isfinite(value)
        if ok:
            v = int(value) if self.type == "int" else float(value)
            if self.minimum is not None and (v < self.minimum
                                             or (self.open_min and v == self.minimum)):
                ok = False
            if self.maximum is not None and v > self.maximum:
                ok = False
        if not ok:
            raise ParamError(self.name, f"must be {self.allowed()}, got {value!r}")
        return v
