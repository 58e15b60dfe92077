"""Rms-matched Hilbert envelopes (King2019's phase insensitivity), fused on CPU.

``scaled_envelope_(y, h)`` overwrites every row of ``y`` ``(rows, T)`` with
``e * rms(y) / rms(e)``, ``e = sqrt(y^2 + h^2)`` (``h`` the Hilbert transform of ``y``;
``e = 0`` where ``y^2 + h^2 == 0``, rms values floored at the dtype's ``tiny``): the
formula of :func:`workbench.stages.modulation.king2019_modfilterbank`, in one pass per row
instead of a dozen full-size temporaries. Elementwise arithmetic is in the rows' dtype as
the torch formula; the two means are accumulated in float64 (the torch formula sums in the
rows' dtype: the scale factors agree to the rows' precision). No gradient: the model uses
it when none is needed.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from workbench.kernels._numba import compiled

__all__ = ["scaled_envelope_"]


@numba.njit(cache=True, fastmath=False, error_model="numpy", parallel=True)
def _scaled_envelope_kernel(y, h, tiny):
    rows, n = y.shape
    for r in numba.prange(rows):
        sum_y = 0.0
        sum_e = 0.0
        for t in range(n):
            v = y[r, t]
            power = v * v + h[r, t] * h[r, t]
            e = np.sqrt(max(power, tiny)) if power > 0 else tiny * 0  # tiny has the rows' dtype
            sum_y += v * v
            sum_e += e * e
            h[r, t] = e
        scale = np.sqrt(max(sum_y / n, tiny)) / np.sqrt(max(sum_e / n, tiny))
        for t in range(n):
            y[r, t] = h[r, t] * scale


_scaled_envelope = compiled(_scaled_envelope_kernel)


def scaled_envelope_(y: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """In place: rows of ``y`` (CPU, float, contiguous) <- rms-matched envelopes; ``h`` is
    used as scratch. Returns ``y``."""
    yr = y.reshape(-1, y.shape[-1])
    hr = h.reshape(-1, h.shape[-1])
    if yr.shape[0] and yr.shape[1]:
        tiny = np.array(torch.finfo(y.dtype).tiny, dtype=yr.numpy().dtype)[()]  # a scalar of the rows' dtype
        _scaled_envelope(yr.numpy(), hr.numpy(), tiny)
    return y
