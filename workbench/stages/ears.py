"""Outer- and middle-ear filters (headphone, middle ear, loudness-model transfer functions)."""


# =========================================================================================
# Loudness models (Glasberg & Moore 2002, Moore et al. 2016): outer + middle ear as one
# zero-phase FIR. Section owned by the loudness stages (helper "loudness").
# =========================================================================================
import functools as _functools  # noqa: E402
from importlib import resources as _resources  # noqa: E402

import numpy as _np  # noqa: E402
import torch as _torch  # noqa: E402


@_functools.lru_cache(maxsize=None)
def loudness_ear_fir(kind: str = "moore2016_free", fs: float = 32000.0, n_taps: int = 4097) -> _np.ndarray:
    """Outer+middle-ear FIR of the loudness models (symmetric, delay ``(n_taps-1)/2``).

    ``kind``: ``'moore2016_free'`` - the 4097-tap free-field filter of Moore et al. (2016)
    (Cambridge ``ff_32000.mat``, shipped as package data; fs must be 32 kHz);
    ``'ansi2007_free'`` / ``'ansi2007_diffuse'`` / ``'ansi1997_free'`` - designed here from the
    ANSI S3.4-2007 outer-ear (free or diffuse field) and middle-ear tables: the summed dB
    response (pchip on 20 Hz..fs/2, held below 20 Hz) is the amplitude ``10^(dB/20)`` of a
    window-method FIR (``scipy.signal.firwin2``, Hamming).
    """
    from workbench.stages.loudness import ansi_tables

    if kind == "moore2016_free":
        if fs != 32000:
            raise ValueError(f"the Moore2016 ear filter exists for fs = 32000 Hz only, got {fs}")
        data = _resources.files("workbench").joinpath("data/moore2016_ff_32000.npz")
        with data.open("rb") as fh:
            return _np.load(fh)["coefficients"]
    from scipy.interpolate import PchipInterpolator
    from scipy.signal import firwin2

    field = {"ansi2007_free": ("free", "2007"), "ansi2007_diffuse": ("diffuse", "2007"),
             "ansi1997_free": ("free", "1997")}
    if kind not in field:
        raise ValueError(f"kind must be one of {('moore2016_free', *field)}, got {kind!r}")
    t = ansi_tables()
    freqs = _np.linspace(0.0, fs / 2, 4097)
    ff = _np.clip(freqs, 20.0, None)
    db = (PchipInterpolator(t["outer_ear_freqs_hz"], t[f"outer_ear_{field[kind][0]}_db"])(ff)
          + PchipInterpolator(t["middle_ear_freqs_hz"], t[f"middle_ear_{field[kind][1]}_db"])(ff))
    return firwin2(n_taps, freqs, 10 ** (db / 20), fs=fs)


def fir_zero_phase(x: _torch.Tensor, fir) -> _torch.Tensor:
    """Full convolution of ``x`` ``(..., T)`` with a symmetric FIR of odd length ``L``, with
    ``(L-1)/4`` samples trimmed at each end (as Moore et al. 2016): output ``(..., T + (L-1)/2)``
    whose sample ``n`` corresponds to input sample ``n - (L-1)/4``. FFT-based, differentiable."""
    h = _torch.as_tensor(fir, dtype=x.dtype, device=x.device)
    n_full = x.shape[-1] + h.numel() - 1
    n_fft = 1 << (n_full - 1).bit_length()
    y = _torch.fft.irfft(_torch.fft.rfft(x, n_fft) * _torch.fft.rfft(h, n_fft), n_fft)
    trim = (h.numel() - 1) // 4
    return y[..., trim:n_full - trim]
