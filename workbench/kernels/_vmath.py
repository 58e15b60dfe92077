"""Vectorisable ``exp``/``expm1`` for the CPU kernels (numba has no SIMD ``exp``).

``exp_bounded(x)`` for ``x`` in [-40, 80] (clamped there): ``exp(floor x)`` from a table
times the Taylor polynomial of ``exp(f)``, ``f = x - floor x`` in [0, 1) (degree 17: the
remainder is below 1/18! = 1.6e-16). Within ~3 ulp of libm's exp. ``expm1(x)``: the Taylor
series for |x| < 0.5, ``exp_bounded(x) - 1`` elsewhere (below -40, ``exp(x) - 1`` rounds to
-1 in float64 anyway); within ~8 ulp of libm's expm1. Both are branch-free (selects), so loops
calling them vectorise. ``table`` is :data:`EXP_INT`, passed as an argument (a global array
read inside a loop costs numba a reference-count call per access, which blocks SIMD).
"""

from __future__ import annotations

import math

import numba
import numpy as np

EXP_INT = np.array([math.exp(j) for j in range(-40, 81)])  # exp(j), j = -40..80


@numba.njit(cache=True, fastmath=False, error_model="numpy", inline="always")
def exp_bounded(x, table):
    x = min(max(x, -40.0), 80.0)
    j = np.floor(x)
    f = x - j
    p = 1.0 + f * (1.0 / 17.0)
    for k in range(16, 0, -1):
        p = 1.0 + f * (1.0 / k) * p
    return table[np.uint64(np.int64(j) + 40)] * p


@numba.njit(cache=True, fastmath=False, error_model="numpy", inline="always")
def expm1(x, table):
    s = 1.0 + x * (1.0 / 17.0)
    for k in range(16, 1, -1):
        s = 1.0 + x * (1.0 / k) * s
    small = x * s
    large = exp_bounded(x, table) - 1.0
    return small if abs(x) < 0.5 else large
