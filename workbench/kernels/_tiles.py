"""Moving rows in and out of time-major tiles (the layout of :mod:`workbench.kernels._lanes`).

A tile holds ``nt`` time steps of ``LANES`` rows: ``tile[n * LANES + lane]`` is row
``r0 + lane`` at time ``t0 + n`` (or ``n_t - 1 - t0 - n`` when ``reverse``). Rows are numpy
arrays ``(rows, T)``, or ``(rows, 2T)`` with interleaved (re, im) pairs; ``part`` 0 or 1
picks the real or imaginary part (``step`` 2), ``step`` 1 reads real rows. Unsigned indices
keep numba from emitting negative-index wrap-around.
"""

from __future__ import annotations

import numba
import numpy as np

from workbench.kernels._lanes import LANES


@numba.njit(cache=True, fastmath=False, inline="always")
def load_row(rows, r, lane, t0, nt, n_t, step, part, reverse, tile):
    """The tile's lane ``lane`` <- row ``r`` of ``rows`` (converted to the tile's dtype)."""
    out = np.uint64(lane)
    r = np.uint64(r)
    if reverse:
        start = np.uint64((n_t - 1 - t0) * step + part)
        for n in range(nt):
            tile[out + np.uint64(n * LANES)] = rows[r, start - np.uint64(n * step)]
    else:
        start = np.uint64(t0 * step + part)
        for n in range(nt):
            tile[out + np.uint64(n * LANES)] = rows[r, start + np.uint64(n * step)]


@numba.njit(cache=True, fastmath=False)
def load(rows, r0, n_lanes, t0, nt, n_t, step, part, reverse, tile):
    """tile <- rows (converted to the tile's dtype)."""
    for lane in range(n_lanes):
        load_row(rows, r0 + lane, lane, t0, nt, n_t, step, part, reverse, tile)


@numba.njit(cache=True, fastmath=False)
def load_indexed(rows, index, r0, n_lanes, t0, nt, n_t, step, part, reverse, tile):
    """tile <- rows[index[r0 + lane]] (as :func:`load`, the source rows picked by ``index``)."""
    for lane in range(n_lanes):
        load_row(rows, index[r0 + lane], lane, t0, nt, n_t, step, part, reverse, tile)


@numba.njit(cache=True, fastmath=False)
def store(tile, rows, r0, n_lanes, t0, nt, n_t, step, part, reverse):
    """rows <- tile (converted to the rows' dtype)."""
    for lane in range(n_lanes):
        r = np.uint64(r0 + lane)
        src = np.uint64(lane)
        if reverse:
            start = np.uint64((n_t - 1 - t0) * step + part)
            for n in range(nt):
                rows[r, start - np.uint64(n * step)] = tile[src + np.uint64(n * LANES)]
        else:
            start = np.uint64(t0 * step + part)
            for n in range(nt):
                rows[r, start + np.uint64(n * step)] = tile[src + np.uint64(n * LANES)]


@numba.njit(cache=True, fastmath=False)
def fill(tile, nt, value):
    for i in range(nt * LANES):
        tile[np.uint64(i)] = value


@numba.njit(cache=True, fastmath=False)
def store_lane(tile, lane, rows, r, t0, nt, scale):
    """rows[r, t0:t0+nt] <- scale * the tile's lane (real rows, forward in time)."""
    src = np.uint64(lane)
    row = np.uint64(r)
    start = np.uint64(t0)
    for n in range(nt):
        rows[row, start + np.uint64(n)] = scale * tile[src + np.uint64(n * LANES)]
