"""The unit system of tgsweep, in one place.

hbar^2/2m = 1 with the unit length a: lengths are in units of a, energies in hbar^2/(2 m a^2),
times in 2 m a^2/hbar (continuum); on the lattice lengths are in sites and energies in units of
the hopping t (times in hbar/t).  In these units every stored number is a pure number, so a
store's ``units`` attributes are CF/UDUNITS ones that say exactly that -- ``"1"`` (or
``"rad"`` for angles) -- and are parsed by pint / cf_xarray (``ds.pint.quantify()`` works);
which unit of the system a number is in is the attribute ``natural_units`` ("a", "a^-1",
"hbar^2/(2 m a^2)", ...), and the system itself is stated once in the global attribute
``unit_system`` (:data:`UNIT_SYSTEM`).

Quantities are declared by their *dimension* (one of :data:`DIMENSIONS`);
:func:`unit_attrs` turns a dimension into those attributes for a model kind.  (Writing "a" or
"t" into ``units`` would be parsed as *year* and *tonne*.)
"""

from __future__ import annotations

__all__ = ["DIMENSIONS", "UNIT_SYSTEM", "unit_attrs", "natural_unit", "cf_units"]

_NATURAL = {
    "continuum": {
        "1": "1",
        "rad": "rad",
        "length": "a",
        "1/length": "a^-1",
        "energy": "hbar^2/(2 m a^2)",
        "energy^2 length": "(hbar^2/(2 m a^2))^2 a",
        "time": "2 m a^2/hbar",
        "log10(1/length)": "log10(a^-1)",
    },
    "lattice": {
        "1": "1",
        "rad": "rad",
        "length": "site",
        "1/length": "site^-1",
        "energy": "t",
        "energy^2 length": "t^2 site",
        "time": "hbar/t",
        "log10(1/length)": "log10(site^-1)",
    },
}

#: the physical dimensions a declared quantity may have
DIMENSIONS: tuple[str, ...] = tuple(_NATURAL["continuum"])

#: the global attribute ``unit_system`` of a store, per model kind
UNIT_SYSTEM = {
    "continuum": "hbar^2/(2m) = 1, unit length a: every number is in units of a (lengths), "
                 "hbar^2/(2 m a^2) (energies) or 2 m a^2/hbar (times), as each variable's "
                 "natural_units says; 'units' are CF: '1' (a number in these units) or 'rad'",
    "lattice": "hbar = 1, lattice spacing 1: every number is in units of the site spacing "
               "(lengths), the hopping t (energies) or hbar/t (times), as each variable's "
               "natural_units says; 'units' are CF: '1' (a number in these units) or 'rad'",
}


def _check(dimension: str) -> str:
    if dimension not in DIMENSIONS:
        raise ValueError(f"dimension: must be one of {', '.join(DIMENSIONS)}, "
                         f"got {dimension!r}")
    return dimension


def cf_units(dimension: str) -> str:
    """The CF/UDUNITS ``units`` string of a quantity of ``dimension``: "rad" or "1"."""
    return "rad" if _check(dimension) == "rad" else "1"


def natural_unit(dimension: str, kind: str = "continuum") -> str:
    """The unit of the system a quantity of ``dimension`` is measured in ("a^-1", "t", ...)."""
    return _NATURAL["continuum" if kind == "continuum" else "lattice"][_check(dimension)]


def unit_attrs(dimension: str, kind: str = "continuum") -> dict[str, str]:
    """``{"units": cf_units, "natural_units": natural_unit}`` for a store variable."""
    return {"units": cf_units(dimension), "natural_units": natural_unit(dimension, kind)}
