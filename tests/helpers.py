"""Helpers shared by the tests (not part of the library API)."""

from __future__ import annotations

import math

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
