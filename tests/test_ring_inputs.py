"""Ring constructors accept any real number type and refuse the rest with a message.

Reference: the Ring.lattice / Ring.continuum docstrings (hopping t > 0 a real number, stored as
float); the check is that a ring built from an mpmath.mpf, Fraction, Decimal, NumPy or integer
value is *identical* (same matrix, same ground-state energy, bitwise) to the one built from the
equal Python float.
"""

from __future__ import annotations

import decimal
import fractions

import mpmath
import numpy as np
import pytest

from tgsweep import Ring, ground_state

POT = np.array([0.3, -0.2, 0.5, 0.0, -0.4, 0.1, 0.25, -0.15])


@pytest.mark.parametrize("t", [mpmath.mpf("1.5"), fractions.Fraction(3, 2),
                               decimal.Decimal("1.5"), np.float32(1.5), np.float64(1.5),
                               1.5 + 0j, np.complex128(1.5), mpmath.mpc(1.5, 0), np.array(1.5)])
def test_real_hopping_types_equal_float(t):
    ref = Ring.lattice(POT, hopping=1.5)
    ring = Ring.lattice(POT, hopping=t)
    assert type(ring.hopping) is float and ring.hopping == 1.5
    assert np.array_equal(ring.matrix(0.7), ref.matrix(0.7))
    assert ground_state(ring, n_particles=3).energy == ground_state(ref, n_particles=3).energy


def test_integer_hopping():
    assert Ring.lattice(POT, hopping=2).hopping == 2.0
    assert Ring.lattice(POT, hopping=np.int64(2)).hopping == 2.0


@pytest.mark.parametrize("bad, err, text", [
    (1 + 1j, ValueError, "complex"), (mpmath.mpc(1, 1), ValueError, "complex"),
    ("1.0", TypeError, "real number"), (None, TypeError, "real number"),
    (True, TypeError, "real number"), ([1.0], TypeError, "real number"),
    (-1.0, ValueError, "positive"), (0, ValueError, "positive"),
    (float("nan"), ValueError, "positive")])
def test_refused_hopping_names_the_field(bad, err, text):
    with pytest.raises(err, match=rf"^hopping: .*{text}"):
        Ring.lattice(POT, hopping=bad)


def test_continuum_length_types():
    ref = Ring.continuum(8, 4)
    for length in (mpmath.mpf(8), fractions.Fraction(8), np.int32(8), 8.0 + 0j):
        assert np.array_equal(Ring.continuum(length, 4).matrix(0.0), ref.matrix(0.0))
    with pytest.raises(TypeError, match="^length: must be a real number"):
        Ring.continuum("8", 4)
    with pytest.raises(ValueError, match="^length: must be a real number, got the complex"):
        Ring.continuum(8 + 1j, 4)
