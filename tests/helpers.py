"""Helpers shared by the tests (not part of the library API)."""

from __future__ import annotations

import math

import numpy as np
import torch


def sos_to_ba(sos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Multiply sections out into one ``(b, a)`` pair (for frequency responses in tests)."""
    b = sos[0, :3]
    a = sos[0, 3:]
    for row in sos[1:]:
        b = torch.nn.functional.conv1d(b.reshape(1, 1, -1), row[:3].flip(0).reshape(1, 1, -1), padding=2).reshape(-1)
        a = torch.nn.functional.conv1d(a.reshape(1, 1, -1), row[3:].flip(0).reshape(1, 1, -1), padding=2).reshape(-1)
    return b, a


def freqz(b: torch.Tensor, a: torch.Tensor, freqs_hz, fs: float) -> torch.Tensor:
    """Complex frequency response of ``b(z)/a(z)`` (real or complex coefficients, last dim)
    at ``freqs_hz``; output shape ``(..., n_freqs)``."""
    f = torch.as_tensor(freqs_hz, dtype=torch.float64)
    z = torch.exp(-2j * math.pi * f / fs)  # z^-1 on the unit circle

    def poly(c):
        powers = z.unsqueeze(0) ** torch.arange(c.shape[-1]).unsqueeze(1)
        return c.to(torch.complex128) @ powers

    return poly(b) / poly(a)


def modulation_bank_layout() -> dict:
    """A small ``modulation_bandpass_bank`` layout (its keyword arguments): two channels and
    three bands, channel 0 without band 1; output rows 0 and 3 are the channels' lowpass rows;
    band 0 takes the real part, bands 1 and 2 the scaled magnitude (factors 1 and 0.7)."""
    return dict(
        row_channel=np.array([0, 0, 1, 1, 1]),
        row_band=np.array([0, 2, 0, 1, 2]),
        out_row=np.array([1, 2, 4, 5, 6]),
        lp_row=np.array([0, 3]),
        factor=np.array([1.0, 1.0, 0.7]),
        mode=np.array([0, 1, 1]),
        n_out=7,
    )
