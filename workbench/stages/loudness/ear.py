"""Outer + middle ear of the loudness models: one zero-phase FIR at 32 kHz."""

from __future__ import annotations

import functools
import json
from importlib import resources

import numpy as np
import torch
from torch import nn


@functools.lru_cache(maxsize=1)
def ansi_tables() -> dict:
    """ANSI S3.4-2007 tables (transfer functions, threshold, G->alpha, G->A) from package data."""
    text = resources.files("workbench").joinpath("data/ansi_s34_2007.json").read_text()
    return {k: (np.asarray(v, dtype=np.float64) if isinstance(v, list) else v) for k, v in json.loads(text).items()}


@functools.cache
def loudness_ear_fir(kind: str = "moore2016_free", fs: float = 32000.0, n_taps: int = 4097) -> np.ndarray:
    """Outer+middle-ear FIR of the loudness models (symmetric, delay ``(n_taps-1)/2``).

    ``kind``: ``'moore2016_free'`` - the 4097-tap free-field filter of Moore et al. (2016)
    (Cambridge ``ff_32000.mat``, shipped as package data; fs must be 32 kHz);
    ``'ansi2007_free'`` / ``'ansi2007_diffuse'`` / ``'ansi1997_free'`` - designed here from the
    ANSI S3.4-2007 outer-ear (free or diffuse field) and middle-ear tables: the summed dB
    response (pchip on 20 Hz..fs/2, held below 20 Hz) is the amplitude ``10^(dB/20)`` of a
    window-method FIR (``scipy.signal.firwin2``, Hamming).
    """
    if kind == "moore2016_free":
        if fs != 32000:
            raise ValueError(f"the Moore2016 ear filter exists for fs = 32000 Hz only, got {fs}")
        data = resources.files("workbench").joinpath("data/moore2016_ff_32000.npz")
        with data.open("rb") as fh:
            return np.load(fh)["coefficients"]
    from scipy.interpolate import PchipInterpolator
    from scipy.signal import firwin2

    field = {
        "ansi2007_free": ("free", "2007"),
        "ansi2007_diffuse": ("diffuse", "2007"),
        "ansi1997_free": ("free", "1997"),
    }
    if kind not in field:
        raise ValueError(f"kind must be one of {('moore2016_free', *field)}, got {kind!r}")
    t = ansi_tables()
    freqs = np.linspace(0.0, fs / 2, 4097)
    ff = np.clip(freqs, 20.0, None)
    db = PchipInterpolator(t["outer_ear_freqs_hz"], t[f"outer_ear_{field[kind][0]}_db"])(ff) + PchipInterpolator(
        t["middle_ear_freqs_hz"], t[f"middle_ear_{field[kind][1]}_db"]
    )(ff)
    return firwin2(n_taps, freqs, 10 ** (db / 20), fs=fs)


def fir_zero_phase(x: torch.Tensor, fir) -> torch.Tensor:
    """The loudness models' ear filter as a function (pure form of :class:`OuterMiddleEarFIR`).

    Full FFT convolution with a symmetric FIR of odd length ``L``, ``(L-1)/4`` samples trimmed
    at each end as Moore et al. (2016) do: output sample ``n`` is aligned with input sample
    ``n - (L-1)/4``.

    Parameters
    ----------
    x : Tensor, Pa
        Signal ``(..., T)`` at 32 kHz, e.g. ``(B, E, T)``.
    fir : array_like or Tensor
        ``(L,)`` symmetric taps, ``L - 1`` divisible by 4 (4097 for the models).

    Returns
    -------
    Tensor
        ``(..., T + (L-1)/2)``, Pa, the dtype of ``x``.

    See Also
    --------
    OuterMiddleEarFIR : the stage, with the taps from :func:`loudness_ear_fir`.

    References
    ----------
    Moore et al. (2016), Trends Hear. 20, the free-field ear filter; AMT 1.4 ``moore2016``.

    Examples
    --------
    >>> y = fir_zero_phase(torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.1, 0.2, 0.4, 0.2, 0.1]))
    >>> y.shape, int(y.argmax())  # 3 + 2 samples; the impulse moved (5 - 1) / 4 = 1 sample
    (torch.Size([5]), 1)
    """
    h = torch.as_tensor(fir, dtype=x.dtype, device=x.device)
    n_full = x.shape[-1] + h.numel() - 1
    n_fft = 1 << (n_full - 1).bit_length()
    y = torch.fft.irfft(torch.fft.rfft(x, n_fft) * torch.fft.rfft(h, n_fft), n_fft)
    trim = (h.numel() - 1) // 4
    return y[..., trim : n_full - trim]


class OuterMiddleEarFIR(nn.Module):
    """Outer + middle ear as one zero-phase FIR at 32 kHz (:func:`fir_zero_phase`).

    Parameters
    ----------
    kind : str
        :func:`loudness_ear_fir` kind ('moore2016_free', 'ansi2007_free', 'ansi2007_diffuse').
    dtype : torch.dtype
        Dtype of the taps (buffer ``fir``, ``L`` = 4097 taps).

    Returns
    -------
    Tensor
        ``forward(x)``: ``(..., T)`` Pa -> ``(..., T + (L-1)/2)`` Pa, delayed by ``(L-1)/4``.

    References
    ----------
    Moore, Glasberg, Varathanathan & Schlittenlacher (2016), Trends Hear. 20; ANSI S3.4-2007.

    Examples
    --------
    >>> OuterMiddleEarFIR()(torch.zeros(1, 320, dtype=torch.float64)).shape
    torch.Size([1, 2368])
    """

    def __init__(self, kind: str = "moore2016_free", dtype=torch.float64):
        super().__init__()
        self.kind = kind
        self.register_buffer("fir", torch.tensor(loudness_ear_fir(kind, 32000.0), dtype=dtype), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fir_zero_phase(x, self.fir)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, taps={self.fir.numel()}"
