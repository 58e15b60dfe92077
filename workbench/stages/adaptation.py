"""Adaptation: the loops of Dau et al. (1996/1997, AMT ``adaptloop``) and King et al.'s
(2019) high-pass.

Loops: input the IHC envelope ``(batch, channel, time)`` in AMT units at dboffset 100 (rms 1
= 100 dB SPL); output model units (MU), 0 at the floor, ~100 MU for a stationary input at the
top of the range. The recursion lives in :mod:`workbench.kernels.adaptation`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from workbench._validation import check_choice, check_finite, check_fs, check_positive, check_real_array
from workbench.kernels.adaptation import adaptation_loops
from workbench.kernels.iir import sosfilt
from workbench.stages.filters import butter
from workbench.units import db_to_amt

DAU1996_TAU_S = (0.005, 0.050, 0.129, 0.253, 0.500)
MAX_LOOPS = 20  # AMT's models use 5

# AMT arg_adaptloop groups: time constants (s) and overshoot limit.
PRESETS = {
    "dau1996": dict(tau_s=DAU1996_TAU_S, limit=0.0),
    "dau1997": dict(tau_s=DAU1996_TAU_S, limit=10.0),
    "osses2021": dict(tau_s=DAU1996_TAU_S, limit=5.0),
    "breebaart2001": dict(tau_s=tuple(0.005 + k * 0.12375 for k in range(5)), limit=0.0),
    "puschel1988": dict(tau_s=tuple(0.005 + k * 0.12375 for k in range(5)), limit=0.0),
}


def min_level_from_db(min_spl_db, dboffset: float = 100.0) -> torch.Tensor:
    """Floor amplitude of the adaptation loops for a minimum level in dB SPL.

    ``10^((min_spl_db - dboffset) / 20)``, AMT's ``setdbspl(minspl)``: 0 dB SPL at dboffset 100
    is 1e-5.

    Parameters
    ----------
    min_spl_db : float or Tensor, dB SPL
        Minimum level (AMT ``minspl``), any shape (e.g. ``(C,)``, one per channel).
    dboffset : float, dB SPL
        Calibration: an rms of 1 is ``dboffset`` dB SPL (100).

    Returns
    -------
    Tensor
        Amplitude in AMT full-scale units, float64, the shape of ``min_spl_db``.

    See Also
    --------
    AdaptLoop : takes it as ``min_level`` (or computes it from ``min_spl_db``).

    References
    ----------
    Dau, Puschel & Kohlrausch (1996), J. Acoust. Soc. Am. 99, 3615-3622; AMT ``adaptloop``.

    Examples
    --------
    >>> min_level_from_db(torch.tensor([0.0, 20.0]))
    tensor([1.0000e-05, 1.0000e-04], dtype=torch.float64)
    """
    return db_to_amt(min_spl_db, dboffset)


def adaptloop(x: torch.Tensor, fs: float, tau_s=DAU1996_TAU_S, limit: float = 10.0, min_level=1e-5) -> torch.Tensor:
    """Adaptation loops on an envelope (pure form of :class:`AdaptLoop`).

    Parameters
    ----------
    x : Tensor, AMT units (dboffset 100)
        IHC envelope ``(..., T)``, usually ``(B, C, T)``.
    fs : float, Hz
    tau_s : sequence of float or Tensor, s
        Loop time constants ``(n_loops,)`` (Dau et al. 1996: 5, 50, 129, 253, 500 ms).
    limit : float
        Overshoot limit (10 as dau1997, 5 as osses2021; <= 1 disables limiting).
    min_level : float or Tensor, AMT units
        Input floor, a scalar or one value per channel ``(C,)`` broadcast against
        ``x.shape[:-1]`` (:func:`min_level_from_db`).

    Returns
    -------
    Tensor
        Adapted envelope in model units (MU), shape of ``x``: 0 at the floor, about 100 MU for
        a stationary input at amplitude 1.

    See Also
    --------
    AdaptLoop : the Module (presets, validation, backend choice).

    References
    ----------
    Dau, Puschel & Kohlrausch (1996), J. Acoust. Soc. Am. 99, 3615-3622; Dau, Kollmeier &
    Kohlrausch (1997), J. Acoust. Soc. Am. 102, 2892-2905; Osses & Kohlrausch (2021), J.
    Acoust. Soc. Am. 149, 3534-3547.

    Examples
    --------
    >>> y = adaptloop(torch.ones(1, 2, 16000), 16000)  # 1 s at 100 dB SPL
    >>> y.shape, round(float(y[0, 0, -1]))
    (torch.Size([1, 2, 16000]), 100)
    """
    tau = torch.as_tensor(tau_s, dtype=x.dtype, device=x.device)
    return adaptation_loops(x, tau, check_fs(fs), float(limit), torch.as_tensor(min_level).to(x))


class AdaptLoop(nn.Module):
    """Chain of adaptation loops as AMT ``adaptloop``/``comp_adaptloop``.

    Parameters
    ----------
    fs : float, Hz
    tau_s : sequence of float, s
        Loop time constants (default: the preset's; spec spelling ``tau``).
    limit : float
        Overshoot limit (AMT ``limit``; <= 1 disables limiting; default: the preset's).
    min_level : float or (C,) tensor, AMT units
        Input floor, linear amplitude; one value per channel for Paulick2024. Default: from
        ``min_spl_db``.
    min_spl_db : float, dB SPL
        Floor as a level (AMT ``minspl``, spec spelling; 0 -> 1e-5 at dboffset 100).
    preset : {'dau1997', 'osses2021', 'dau1996', 'breebaart2001', 'puschel1988'}
        AMT groups: limit 10, limit 5, no limiting, linearly spaced tau without limiting.
    learnable : bool
        The time constants become an ``nn.Parameter``.
    backend : {'auto', 'numba', 'torch'}
        numba kernel (CUDA tensors round-trip through host memory) or the device-resident
        per-sample torch loop (slow on GPU).
    dtype : torch.dtype

    Returns
    -------
    Tensor
        ``forward(x)``: the adapted envelope in model units (MU), shape of ``x`` ``(..., C, T)``
        (AMT units at dboffset 100).

    References
    ----------
    Dau, Puschel & Kohlrausch (1996), J. Acoust. Soc. Am. 99, 3615-3622; Dau et al. (1997).

    Examples
    --------
    >>> loops = AdaptLoop(16000)
    >>> loops(torch.full((1, 1, 1600), 1e-5)).abs().max() < 1e-3  # at the floor: 0 MU
    tensor(True)
    """

    about = (
        "Adaptation loops: onsets are emphasised, steady parts compressed (roughly logarithmic); the limit "
        "caps the onset overshoot."
    )
    KWARGS = ("tau_s", "limit", "min_level", "min_spl_db", "preset", "backend")
    ALIASES = {"tau": "tau_s", "minspl": "min_spl_db"}  # the spec's spellings

    def __init__(
        self,
        fs: float,
        tau_s: Sequence[float] | torch.Tensor | None = None,
        limit: float | None = None,
        min_level=None,
        min_spl_db: float = 0.0,
        preset: str = "dau1997",
        learnable: bool = False,
        backend: str = "auto",
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        self.fs = check_fs(fs)
        check_choice(preset, tuple(PRESETS), "preset")
        what = "time constants in s"
        tau = check_real_array(PRESETS[preset]["tau_s"] if tau_s is None else tau_s, "tau_s (tau)", what)
        if tau.dim() != 1 or not 0 < tau.numel() <= MAX_LOOPS or not bool((tau > 0).all()):
            raise ValueError(
                f"tau_s (tau) must be a 1-D sequence of 1 to {MAX_LOOPS} {what} > 0, got "
                f"{tau.tolist() if tau.numel() <= 8 else f'{tau.numel()} values'}"
            )
        tau = tau.to(dtype)
        self.limit = check_positive(
            PRESETS[preset]["limit"] if limit is None else limit,
            "limit (overshoot limit, <= 1 disables limiting)",
            allow_zero=True,
        )
        self.backend = check_choice(backend, ("auto", "numba", "torch"), "backend")
        if min_level is None:
            min_spl_db = check_finite(min_spl_db, "min_spl_db (minspl)")
            if not -100.0 <= min_spl_db < 100.0:
                raise ValueError(
                    f"min_spl_db (minspl) must lie in [-100, 100) dB SPL (AMT units: rms 1 = 100 dB SPL; "
                    f"the floor must lie below the signal), got {min_spl_db:g}"
                )
            level = min_level_from_db(min_spl_db)
        else:
            level = check_real_array(min_level, "min_level", "amplitudes (AMT units)")
            if level.numel() == 0 or not bool(((level >= 1e-10) & (level < 1)).all()):
                shown = level.tolist() if level.numel() <= 8 else f"{level.numel()} values"
                raise ValueError(
                    "min_level must be an amplitude in [1e-10, 1) AMT units (-100 to 100 dB SPL), a "
                    f"scalar or one value per channel, got {shown}"
                )
        if learnable:
            self.tau_s = nn.Parameter(tau)
        else:
            self.register_buffer("tau_s", tau)
        self.register_buffer("min_level", level.to(dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(..., channel, time)`` envelope -> same shape in model units."""
        level = self.min_level
        if level.dim() == 1 and (x.dim() < 2 or level.numel() != x.shape[-2]):
            raise ValueError(
                f"min_level has {level.numel()} values (one per channel) but the input has shape {tuple(x.shape)}"
            )
        return adaptation_loops(x, self.tau_s.to(x.dtype), self.fs, self.limit, level.to(x.dtype), backend=self.backend)

    def extra_repr(self) -> str:
        return f"fs={self.fs:g}, n_loops={self.tau_s.numel()}, limit={self.limit:g}"


def highpass_adaptation(x: torch.Tensor, fs: float, cutoff_hz=3.0, order: int = 1) -> torch.Tensor:
    """King et al.'s "adaptation" as a function: a Butterworth high-pass along the last axis.

    Designed and run in float64 (the 3 Hz pole sits 4e-4 from the unit circle at 44.1 kHz),
    returned in ``x``'s dtype.

    Parameters
    ----------
    x : Tensor
        IHC envelope ``(..., T)``, usually ``(B, C, T)``, any units.
    fs : float, Hz
    cutoff_hz : float or Tensor, Hz
        High-pass cutoff (3 Hz); a 0-d tensor that requires grad receives gradients.
    order : int
        Filter order (1).

    Returns
    -------
    Tensor
        ``x`` high-passed, same shape, units and dtype.

    See Also
    --------
    HighpassAdaptation : the Module (filter designed once).

    References
    ----------
    King, Varnet & Lorenzi (2019), J. Acoust. Soc. Am. 145, 2277-2293; AMT 1.4 ``king2019``
    ('adt_hp').

    Examples
    --------
    >>> y = highpass_adaptation(torch.ones(1, 8000, dtype=torch.float64), 8000)
    >>> float(y[..., -1]) < 1e-6  # a constant envelope decays to 0
    True
    """
    cutoff = (
        cutoff_hz.double()
        if isinstance(cutoff_hz, torch.Tensor)
        else torch.tensor(float(cutoff_hz), dtype=torch.float64)
    )
    return sosfilt(butter(order, cutoff.to(x.device), fs, "high"), x, out_dtype=x.dtype)  # float64 recursion


class HighpassAdaptation(nn.Module):
    """King et al.'s (2019) "adaptation": a Butterworth high-pass (AMT 1.4 ``king2019``).

    Parameters
    ----------
    fs : float, Hz
    cutoff_hz : float, Hz
        High-pass cutoff (3 Hz; spec spelling ``fc``); ``nn.Parameter`` when ``learnable``.
    order : int
        Filter order (1).
    learnable : bool

    Returns
    -------
    Tensor
        ``forward(x)``: the IHC envelope ``(..., C, T)`` high-passed, same shape and units.

    References
    ----------
    AMT 1.4 ``king2019`` ('adt_hp'); King, Varnet & Lorenzi (2019), J. Acoust. Soc. Am. 145.

    Examples
    --------
    >>> hp = HighpassAdaptation(8000)
    >>> float(hp(torch.ones(1, 1, 8000)).abs()[..., -1]) < 1e-3  # DC is removed
    True
    """

    about = "Adaptation approximated by a high-pass: slow changes of the envelope are removed."
    KWARGS = ("cutoff_hz", "order")
    ALIASES = {"fc": "cutoff_hz"}  # the spec's spelling

    def __init__(self, fs: float, cutoff_hz: float = 3.0, order: int = 1, learnable: bool = False):
        super().__init__()
        self.fs, self.order = check_fs(fs), order
        cutoff = torch.tensor(float(cutoff_hz), dtype=torch.float64)
        sos = butter(order, cutoff, self.fs, "high")  # validates the order and 0 < cutoff_hz < fs/2
        if learnable:
            self.cutoff_hz = nn.Parameter(cutoff)
        else:
            self.register_buffer("cutoff_hz", cutoff)
        self.register_buffer("_fixed_sos", None if learnable else sos, persistent=False)  # designed once

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._fixed_sos is None:
            return highpass_adaptation(x, self.fs, self.cutoff_hz, self.order)
        return sosfilt(self._fixed_sos, x, out_dtype=x.dtype)

    def extra_repr(self) -> str:
        return f"fs={self.fs:g}, cutoff_hz={float(self.cutoff_hz):g}, order={self.order}"
