"""Helpers shared by the tests (not part of the library API)."""

from __future__ import annotations

import inspect
import math
import os
import signal
import subprocess

import numpy as np
import torch

# Small, fast configuration of each model (constructor keywords) for tests that try many calls.
SMALL_MODELS = {
    "Dau1997": dict(fs=16000, fhigh=4000.0),
    "Osses2021": dict(fs=16000, fhigh=4000.0),
    "King2019": dict(fs=16000, fhigh=2000.0),
    "Paulick2024": dict(fs=16000, fhigh=4000.0, n_channels=3),
    "Glasberg2002": dict(fs=32000),
    "Moore2016": dict(fs=32000),
}

# The spec's (models-api.md) components of Glasberg2002, in its order: its submodules and the
# keys of get_learnable_parameters() (the spec's example prints "Components: [...]").
GLASBERG2002_COMPONENTS = (
    "multi_fft",
    "erb_integration",
    "excitation_pattern",
    "specific_loudness",
    "loudness_integration",
)


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


def every_keyword(fn, **given) -> dict:
    """Keyword arguments for a call of ``fn`` that name every parameter it has: ``given``,
    and each other parameter at its default (so a table of calls states only what it sets,
    and a parameter added later is covered too). Raises if a required one is not given."""
    out = {}
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name not in given and p.default is p.empty:
            raise TypeError(f"every_keyword: give {fn.__qualname__}'s required parameter {p.name!r}")
        out[p.name] = given[p.name] if p.name in given else p.default
    return {**out, **given}  # (keywords beyond the signature go to its **kwargs)


def stop_process_group(proc: subprocess.Popen | None, grace_s: float = 15.0) -> None:
    """Stop the process group that ``proc`` leads (started with ``start_new_session=True``, e.g.
    ``workbench serve`` and its server processes): SIGTERM, then SIGKILL after ``grace_s``.
    Nothing happens for ``None`` or a process that has exited."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
