"""The unit system of tgsweep, in one place.

Units hbar^2/2m = 1 with the unit length a: lengths in a, energies in hbar^2/(2 m a^2), time in
2 m a^2/hbar (continuum); on the lattice lengths are sites and energies are in units of the
hopping t.  Every quantity is declared by its *dimension* (one of :data:`DIMENSIONS`), and
:func:`unit` turns a dimension into the ``units`` string written to stores for a model kind.
"""

from __future__ import annotations

__all__ = ["DIMENSIONS", "unit"]

_CONTINUUM = {
    "1": "1",
    "rad": "rad",
    "length": "a (unit length)",
    "1/length": "1/a",
    "energy": "hbar^2/(2 m a^2), a = unit length",
    "energy^2 length": "(hbar^2/(2 m a^2))^2 a, a = unit length",
    "time": "2 m a^2 / hbar",
}
_LATTICE = {
    "1": "1",
    "rad": "rad",
    "length": "lattice sites",
    "1/length": "1/site",
    "energy": "t (hopping)",
    "energy^2 length": "t^2 site (t = hopping)",
    "time": "hbar / t",
}

#: the physical dimensions a declared quantity may have
DIMENSIONS: tuple[str, ...] = tuple(_CONTINUUM)


def unit(dimension: str, kind: str = "continuum") -> str:
    """The ``units`` string of a quantity of ``dimension`` on a ``kind`` ("continuum" or
    "lattice") model."""
    table = _CONTINUUM if kind == "continuum" else _LATTICE
    try:
        return table[dimension]
    except KeyError:
        raise ValueError(f"dimension: must be one of {', '.join(DIMENSIONS)}, "
                         f"got {dimension!r}") from None
