"""Adaptation loops (Dau et al. 1996/1997, AMT adaptloop) and simple high-pass adaptation.

Input: the IHC envelope ``(batch, channel, time)`` in AMT units at dboffset 100 (rms 1 =
100 dB SPL). Output: model units (MU), 0 at the floor, ~100 MU for a stationary input at the
top of the range. The recursion lives in :mod:`workbench.kernels.adaptation`.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from workbench._validation import check_choice, check_fs
from workbench.kernels.adaptation import adaptation_loops

DAU1996_TAU_S = (0.005, 0.050, 0.129, 0.253, 0.500)

# AMT arg_adaptloop groups: time constants (s) and overshoot limit.
PRESETS = {
    "dau1996": dict(tau_s=DAU1996_TAU_S, limit=0.0),
    "dau1997": dict(tau_s=DAU1996_TAU_S, limit=10.0),
    "osses2021": dict(tau_s=DAU1996_TAU_S, limit=5.0),
    "breebaart2001": dict(tau_s=tuple(0.005 + k * 0.12375 for k in range(5)), limit=0.0),
    "puschel1988": dict(tau_s=tuple(0.005 + k * 0.12375 for k in range(5)), limit=0.0),
}


def min_level_from_db(min_spl_db, dboffset: float = 100.0) -> torch.Tensor:
    """Floor amplitude for a minimum level in dB SPL: ``10^((L - dboffset)/20)``
    (0 dB SPL at dboffset 100 -> 1e-5, AMT's ``setdbspl(minspl)``)."""
    return 10.0 ** ((torch.as_tensor(min_spl_db, dtype=torch.float64) - dboffset) / 20.0)


def adaptloop(x: torch.Tensor, fs: float, tau_s=DAU1996_TAU_S, limit: float = 10.0,
              min_level=1e-5) -> torch.Tensor:
    """Pure-function form of :class:`AdaptLoop` (``x`` is ``(..., time)``; ``min_level`` a
    scalar or one value per channel, broadcast against ``x.shape[:-1]``)."""
    tau = torch.as_tensor(tau_s, dtype=x.dtype, device=x.device)
    return adaptation_loops(x, tau, check_fs(fs), float(limit), torch.as_tensor(min_level).to(x))


class AdaptLoop(nn.Module):
    """Chain of adaptation loops as AMT ``adaptloop``/``comp_adaptloop``.

    Parameters
    ----------
    fs : sampling rate in Hz.
    tau_s : loop time constants in seconds (default: the preset's).
    limit : overshoot limit (AMT ``limit``; <= 1 disables limiting; default: the preset's).
    min_level : input floor, linear amplitude in AMT units; a scalar or one value per channel
        (Paulick2024). Default: from ``min_spl_db``.
    min_spl_db : floor in dB SPL (AMT ``minspl``, default 0 -> 1e-5 at dboffset 100).
    preset : 'dau1997' (limit 10, default), 'osses2021' (limit 5), 'dau1996' (no limiting),
        'breebaart2001'/'puschel1988' (linearly spaced tau, no limiting).
    learnable : make the time constants an ``nn.Parameter``.
    backend : 'auto'/'numba' (numba kernel; CUDA tensors round-trip through host memory) or
        'torch' (device-resident per-sample loop: slow on GPU).
    """

    def __init__(self, fs: float, tau_s: Sequence[float] | torch.Tensor | None = None,
                 limit: float | None = None, min_level=None, min_spl_db: float = 0.0,
                 preset: str = "dau1997", learnable: bool = False, backend: str = "auto",
                 dtype: torch.dtype = torch.float32):
        super().__init__()
        self.fs = check_fs(fs)
        check_choice(preset, tuple(PRESETS), "preset")
        tau = torch.as_tensor(PRESETS[preset]["tau_s"] if tau_s is None else tau_s, dtype=dtype)
        if tau.dim() != 1 or tau.numel() == 0 or not bool((tau > 0).all()):
            raise ValueError(f"tau_s must be a non-empty 1-D sequence of positive seconds, got {tau.tolist()}")
        self.limit = float(PRESETS[preset]["limit"] if limit is None else limit)
        self.backend = check_choice(backend, ("auto", "numba", "torch"), "backend")
        level = min_level_from_db(min_spl_db) if min_level is None else torch.as_tensor(min_level, dtype=torch.float64)
        if level.dim() > 1 or not bool((level > 0).all()):
            raise ValueError("min_level must be a positive scalar or 1-D (one value per channel)")
        if learnable:
            self.tau_s = nn.Parameter(tau)
        else:
            self.register_buffer("tau_s", tau)
        self.register_buffer("min_level", level.to(dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(..., channel, time)`` envelope -> same shape in model units."""
        level = self.min_level
        if level.dim() == 1 and (x.dim() < 2 or level.numel() != x.shape[-2]):
            raise ValueError(f"min_level has {level.numel()} values (one per channel) but the "
                             f"input has shape {tuple(x.shape)}")
        return adaptation_loops(x, self.tau_s.to(x.dtype), self.fs, self.limit, level.to(x.dtype),
                                backend=self.backend)

    def extra_repr(self) -> str:
        return f"fs={self.fs:g}, n_loops={self.tau_s.numel()}, limit={self.limit:g}"
