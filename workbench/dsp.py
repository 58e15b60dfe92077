"""Signal helpers shared by stimuli and stages: the one analytic signal and Hilbert envelope.

The Hilbert transform is taken with two real FFTs (DC and Nyquist bins zeroed), which equals
MATLAB's ``hilbert``: ``analytic_signal(x) = x + i H{x}``.

>>> import torch
>>> x = torch.tensor([1.0, 0.0, -1.0, 0.0] * 4, dtype=torch.float64)
>>> hilbert_envelope(x)[:4]
tensor([1., 1., 1., 1.], dtype=torch.float64)
"""

from __future__ import annotations

import torch


def hilbert_transform(x: torch.Tensor) -> torch.Tensor:
    """Hilbert transform ``H{x}`` of real ``x`` along the last axis (same shape and dtype)."""
    n = x.shape[-1]
    spec = torch.fft.rfft(x)
    w = torch.full((spec.shape[-1],), -1j, dtype=spec.dtype, device=x.device)
    w[0] = 0
    if n % 2 == 0:
        w[-1] = 0
    return torch.fft.irfft(spec * w, n)


def analytic_signal(x: torch.Tensor) -> torch.Tensor:
    """Analytic signal ``x + i H{x}`` along the last axis (complex; MATLAB ``hilbert``)."""
    return torch.complex(x, hilbert_transform(x))


def hilbert_envelope(x: torch.Tensor) -> torch.Tensor:
    """``|analytic_signal(x)|`` = ``sqrt(x^2 + H{x}^2)``, exactly 0 (with zero gradient) where
    both vanish."""
    power = x * x + hilbert_transform(x) ** 2
    return torch.where(power > 0, power.clamp_min(torch.finfo(x.dtype).tiny).sqrt(), 0.0)
