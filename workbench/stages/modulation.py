"""Modulation filterbanks (AMT modfilterbank / jepsen2008; King2019)."""


# =========================================================================== King et al. (2019)
# AMT 1.4 ``king2019_modfilterbank``: 2nd-order Butterworth band-passes (Q = 1 by default,
# log-spaced mfc), run here as two second-order sections each, in float64: AMT's single 4th-order
# direct-form filter is ill-conditioned at audio rates (its 2 Hz band is 3.6 % off the exact
# response at 44.1 kHz, and unstable in float32). Above ``phase_insens_cut`` Hz the output is
# replaced by its Hilbert envelope scaled to the band's rms (AMT's phase insensitivity).
import math as _math  # noqa: E402

import torch as _torch  # noqa: E402
from torch import nn as _nn  # noqa: E402

from workbench._validation import check_positive as _check_positive  # noqa: E402
from workbench.kernels.iir import sosfilt as _sosfilt  # noqa: E402
from workbench.stages.filters import butter as _butter  # noqa: E402


def king2019_mfc(mflow: float = 2.0, mfhigh: float = 150.0, n_mod: int | None = None,
                 q_factor: float = 1.0) -> _torch.Tensor:
    """Modulation centre frequencies (Hz, float64): log-spaced from ``mflow``.

    Without ``n_mod`` the ratio between neighbours is ``(sqrt(4Q^2+1)+1)/(sqrt(4Q^2+1)-1)``
    (adjacent filters meet at their -3 dB edges) and the last mfc is the largest <= ``mfhigh``
    (2, 5.24, 13.7, 35.9, 94.0 Hz for Q = 1); with ``n_mod``, ``n_mod`` values from ``mflow``
    to ``mfhigh`` inclusive.
    """
    mflow, mfhigh = _check_positive(mflow, "mflow"), _check_positive(mfhigh, "mfhigh")
    q_factor = _check_positive(q_factor, "modbank_qfactor")
    if mflow >= mfhigh:
        raise ValueError(f"mflow must be below mfhigh ({mfhigh:g} Hz), got {mflow:g}")
    lo, hi = _math.log(mflow), _math.log(mfhigh)
    if n_mod is None:
        r = _math.sqrt(4 * q_factor ** 2 + 1)
        step = _math.log((r + 1) / (r - 1))
        # MATLAB colon lo:step:hi (with its tolerance on the last point).
        n = int(_math.floor((hi - lo) / step + 1e-10)) + 1
        logs = lo + step * _torch.arange(n, dtype=_torch.float64)
    else:
        if isinstance(n_mod, bool) or not isinstance(n_mod, int) or n_mod < 1:
            raise ValueError(f"modbank_nmod must be a positive integer or None, got {n_mod!r}")
        logs = _torch.linspace(lo, hi, n_mod, dtype=_torch.float64)
    return _torch.exp(logs)


def analytic_envelope(x: _torch.Tensor) -> _torch.Tensor:
    """``|hilbert(x)|`` along the last axis (MATLAB ``hilbert``: one-sided FFT, x2)."""
    n = x.shape[-1]
    spec = _torch.fft.fft(x)
    w = _torch.zeros(n, dtype=x.dtype, device=x.device)
    w[0] = 1
    w[1:(n + 1) // 2] = 2
    if n % 2 == 0:
        w[n // 2] = 1
    return _torch.fft.ifft(spec * w).abs()


def king2019_modfilterbank(x: _torch.Tensor, sos: _torch.Tensor, mfc: _torch.Tensor,
                           phase_insens_cut: float | None = 10.0) -> _torch.Tensor:
    """Filter ``x`` ``(..., time)`` by every band: output ``(..., n_mod, time)``.

    Bands with ``mfc > phase_insens_cut`` become ``|hilbert(y)| * rms(y)/rms(|hilbert(y)|)``
    (factor 1 for silent bands, as AMT); ``None`` keeps every band's waveform.
    The recursion always runs in float64: poles ~1e-4 from the unit circle (2 Hz at 44.1 kHz)
    leave float32 sections with errors of order one.
    """
    y = _sosfilt(sos.double(), x.double().unsqueeze(-2)).to(x.dtype)
    if phase_insens_cut is None:
        return y
    hi = mfc > phase_insens_cut
    if not bool(hi.any()):
        return y
    y_hi = y[..., hi, :]
    env = analytic_envelope(y_hi)
    env_ms = env.pow(2).mean(-1, keepdim=True)
    silent = env_ms == 0
    scale = _torch.where(silent, _torch.ones_like(env_ms),
                         (y_hi.pow(2).mean(-1, keepdim=True) / env_ms.masked_fill(silent, 1)).sqrt())
    out = y.clone()
    out[..., hi, :] = env * scale
    return out


class King2019ModulationFilterbank(_nn.Module):
    """King et al. (2019) modulation filterbank on ``(batch, channel, time)`` signals.

    Returns ``(batch, channel, n_mod, time)``. Arguments as AMT ``arg_king2019``: ``mflow``,
    ``mfhigh`` (Hz), ``n_mod`` (None = Q-spaced), ``q_factor``, ``lp_150hz`` (1st-order
    150 Hz Butterworth lowpass first; AMT default off), ``phase_insens_cut`` (Hz, 10).
    Attributes ``mfc`` (Hz) and ``sos`` ``(n_mod, 2, 6)``. ``learnable=True`` makes the log
    centre frequencies parameters (edges follow from Q).
    """

    def __init__(self, fs: float, mflow: float = 2.0, mfhigh: float = 150.0,
                 n_mod: int | None = None, q_factor: float = 1.0, lp_150hz: bool = False,
                 phase_insens_cut: float | None = 10.0, learnable: bool = False,
                 dtype: _torch.dtype = _torch.float32):
        super().__init__()
        self.fs = _check_positive(fs, "fs")
        mfc = king2019_mfc(mflow, mfhigh, n_mod, q_factor)
        if float(mfc[-1]) * (_math.sqrt(4 + 1 / q_factor ** 2) + 1 / q_factor) / 2 >= fs / 2:
            raise ValueError(f"mfhigh ({mfhigh:g} Hz) puts a band edge above fs/2 = {fs / 2:g} Hz")
        self.q_factor = float(q_factor)
        self.phase_insens_cut = phase_insens_cut
        log_mfc = _torch.log(mfc).to(dtype)
        if learnable:
            self.log_mfc = _nn.Parameter(log_mfc)
        else:
            self.register_buffer("log_mfc", log_mfc)
        if lp_150hz:
            self.register_buffer("lp_sos", _butter(1, 150.0, self.fs, "low"))
        else:
            self.lp_sos = None

    @property
    def mfc(self) -> _torch.Tensor:
        return self.log_mfc.exp()

    @property
    def sos(self) -> _torch.Tensor:
        """Sections ``(n_mod, 2, 6)``, float64 (designed and run in double precision)."""
        mfc, q = self.mfc.double(), self.q_factor
        centre = mfc * _math.sqrt(4 + 1 / q ** 2) / 2  # edges centre -/+ mfc/(2Q), as AMT
        edges = _torch.stack([centre - mfc / (2 * q), centre + mfc / (2 * q)], -1)
        return _torch.stack([_butter(2, e, self.fs, "bandpass") for e in edges])

    def forward(self, x: _torch.Tensor) -> _torch.Tensor:
        if self.lp_sos is not None:  # 1st-order 150 Hz lowpass (AMT 'LP_150_Hz'), float64
            x = _sosfilt(self.lp_sos.double(), x.double()).to(x.dtype)
        return king2019_modfilterbank(x, self.sos, self.mfc.detach(), self.phase_insens_cut)

    def extra_repr(self) -> str:
        mfc = ", ".join(f"{f:.3g}" for f in self.mfc.tolist())
        return f"fs={self.fs:g}, mfc=[{mfc}], Q={self.q_factor:g}"
