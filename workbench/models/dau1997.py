"""Dau, Kollmeier & Kohlrausch (1997) modulation-filterbank model, as AMT 1.4 ``dau1997``.

Stages (AMT defaults ``afb_dau1997``, ``ihc_dau1996``, ``adt_dau1997``, ``mfb_jepsen2008``):
1-ERB 4th-order all-pole complex gammatone filterbank (basef 1000 Hz: 30 channels, 107.7 ..
7469.7 Hz for 80..8000 Hz), half-wave rectification + 1st-order 1 kHz low-pass, five
adaptation loops (tau 5/50/129/253/500 ms, limit 10, floor 0 dB SPL), modulation filterbank
(150 Hz pre-low-pass, 2.5 Hz low-pass, band-passes up to min(fc/4, 1000 Hz), x2 gain,
envelope x 1/sqrt(2) above 10 Hz).

Calibration: input in AMT units with dboffset 100, i.e. an rms of 1 is 100 dB SPL
(``x = pressure_pa / 2``, up to the 20 uPa reference: 1 Pa rms = 93.98 dB SPL).

Where the torch_amt documentation (the API spec) differs, AMT wins: 30 channels (not 31)
for 80..8000 Hz, the top modulation filter is min(fc/4, 1000 Hz) (not 150 Hz), and the number
of modulation filters grows with fc (4 at 107.7 Hz .. 12 above ~4 kHz).
"""

from __future__ import annotations

import torch
from torch import nn

from workbench._validation import (check_dtype, check_frequency_range, check_fs, check_kwargs,
                                   check_signal)
from workbench.stages.adaptation import AdaptLoop
from workbench.stages.erb import erbspacebw
from workbench.stages.gammatone import GammatoneFilterbank
from workbench.stages.ihc import IHCEnvelope
from workbench.stages.modulation import ModulationFilterbank

FILTERBANK_KEYS = ("n", "betamul", "erb_scale", "basef")
IHC_KEYS = ("method", "cutoff_hz", "filter_order")
ADAPTATION_KEYS = ("tau", "limit", "minspl", "min_level", "preset", "backend")
MODULATION_KEYS = ("Q", "max_mfc", "filter_type", "preset", "upper_limit", "lowpass_150_hz",
                   "attenuation", "phase_insensitive")


class Dau1997(nn.Module):
    """Dau et al. (1997) auditory model (AMT ``dau1997``), batched and differentiable.

    Parameters
    ----------
    fs : sampling rate in Hz.
    flow, fhigh : range of the auditory-filter centre frequencies in Hz (0 < flow < fhigh < fs/2).
    learnable : gammatone centre frequencies and bandwidths, the IHC cutoff, the adaptation
        time constants and the modulation filters' centre frequencies, bandwidths and
        low-pass cutoffs become ``nn.Parameter``.
    return_stages : also return ``{'filterbank', 'ihc', 'adaptation'}``, each ``(B, F, T)``.
    dtype : torch.float32 or torch.float64 (parameters and computation).
    filterbank_kwargs : ``n`` (order, 4), ``betamul`` (bandwidth in ERB, 1.01859 for n=4),
        ``erb_scale`` (channel spacing in ERB, AMT ``bwmul``, 1), ``basef`` (1000 Hz, a
        channel sits there; ``None`` or outside [flow, fhigh]: grid centred in the range).
    ihc_kwargs : ``method`` ('dau1996', 'breebaart2001', 'king2019', 'lindemann1986'),
        ``cutoff_hz``, ``filter_order``.
    adaptation_kwargs : ``tau`` (s), ``limit`` (10), ``minspl`` (dB SPL, 0) or ``min_level``
        (linear, scalar or per channel), ``preset`` ('dau1997'), ``backend`` ('auto', 'numba':
        also on CUDA via host memory, 'torch').
    modulation_kwargs : ``Q`` (2), ``max_mfc`` (1000 Hz), ``filter_type`` ('efilt' or
        'butterworth'), ``preset`` ('jepsen2008'), ``upper_limit``, ``lowpass_150_hz``,
        ``attenuation``, ``phase_insensitive``.

    Input ``(T,)`` or ``(B, T)`` (AMT units, see module docstring). Output: list of
    ``num_channels`` tensors ``(B, M_i, T)`` (``(M_i, T)`` for 1-D input), M_i modulation
    filters of channel i, the 2.5 Hz low-pass first.
    """

    def __init__(self, fs: float, flow: float = 80.0, fhigh: float = 8000.0, learnable: bool = False,
                 return_stages: bool = False, dtype: torch.dtype = torch.float32,
                 filterbank_kwargs: dict | None = None, ihc_kwargs: dict | None = None,
                 adaptation_kwargs: dict | None = None, modulation_kwargs: dict | None = None):
        super().__init__()
        self.fs = check_fs(fs)
        self.flow, self.fhigh = check_frequency_range(flow, fhigh, self.fs)
        self.dtype = check_dtype(dtype)
        self.learnable = bool(learnable)
        self.return_stages = bool(return_stages)
        fb = check_kwargs(filterbank_kwargs, FILTERBANK_KEYS, "filterbank_kwargs")
        ihc = check_kwargs(ihc_kwargs, IHC_KEYS, "ihc_kwargs")
        adt = check_kwargs(adaptation_kwargs, ADAPTATION_KEYS, "adaptation_kwargs")
        mfb = check_kwargs(modulation_kwargs, MODULATION_KEYS, "modulation_kwargs")

        basef = fb.get("basef", 1000.0)
        if basef is not None and not self.flow <= basef <= self.fhigh:
            basef = None  # AMT requires flow <= basef <= fhigh; fall back to a centred grid
        fc = erbspacebw(self.flow, self.fhigh, fb.get("erb_scale", 1.0), basef)
        self.filterbank = GammatoneFilterbank(self.fs, fc, order=fb.get("n", 4),
                                              bandwidth_factor=fb.get("betamul"),
                                              learnable=learnable, dtype=dtype)
        self.ihc = IHCEnvelope(self.fs, learnable=learnable, dtype=dtype, **ihc)
        self.adaptation = AdaptLoop(self.fs, tau_s=adt.get("tau"), limit=adt.get("limit"),
                                    min_level=adt.get("min_level"), min_spl_db=adt.get("minspl", 0.0),
                                    preset=adt.get("preset", "dau1997"), learnable=learnable,
                                    backend=adt.get("backend", "auto"), dtype=dtype)
        self.modulation = ModulationFilterbank(self.fs, fc, learnable=learnable, dtype=dtype, **mfb)
        self.register_buffer("fc", fc.to(torch.float64), persistent=False)

    @property
    def num_channels(self) -> int:
        return self.fc.numel()

    @property
    def mfc(self) -> torch.Tensor:
        """Modulation centre frequencies (Hz) of the channel with the most filters (AMT's mfc)."""
        return self.modulation.mfc

    @property
    def mfc_per_channel(self) -> list[torch.Tensor]:
        return self.modulation.mfc_per_channel

    def forward(self, x):
        x = check_signal(x, "x", min_samples=2, max_dims=2, dtype=self.dtype)
        squeeze = x.dim() == 1
        if squeeze:
            x = x.unsqueeze(0)
        filtered = self.filterbank(x)
        envelope = self.ihc(filtered)
        adapted = self.adaptation(envelope)
        out = self.modulation(adapted)
        if squeeze:
            out = [o.squeeze(0) for o in out]
        if not self.return_stages:
            return out
        stages = {"filterbank": filtered, "ihc": envelope, "adaptation": adapted}
        if squeeze:
            stages = {k: v.squeeze(0) for k, v in stages.items()}
        return out, stages

    def distribute_gradients(self) -> None:
        """No-op, kept for API compatibility: every modulation filter parameter is a single
        shared tensor, so autograd already accumulates the gradients of all channels using it."""

    def extra_repr(self) -> str:
        return (f"fs={self.fs:g}, flow={self.flow:g}, fhigh={self.fhigh:g}, "
                f"num_channels={self.num_channels}, learnable={self.learnable}")
