"""King, Varnet & Lorenzi (2019) modulation model, as AMT 1.4 ``king2019``.

Stages: gammatone filterbank (1-ERB spaced, all-pole complex, AMT ``auditoryfilterbank``)
-> broken-stick (or power-law) compression -> IHC envelope ('king2019': half-wave
rectification + 1st-order 1 kHz lowpass) -> "adaptation" as a Butterworth high-pass (3 Hz,
order 1) -> optional 1st-order 150 Hz lowpass -> King2019 modulation filterbank (2nd-order
Butterworth band-passes, Q = 1, 2-150 Hz; Hilbert envelope above 10 Hz) -> optional FFT
resampling to ``subfs``.

Calibration: amplitude 1 = ``dboffset`` dB SPL (default 100, AMT's documented convention;
AMT's code default is 93.98 = Pa). The compression knee is in dB SPL re that calibration.

Differences from AMT, on purpose: the modulation band-passes run as float64 second-order
sections (AMT's 4th-order direct form is ill-conditioned at audio rates: 3.6 % error in its
2 Hz band at 44.1 kHz, unstable in float32), and ``subfs`` defaults to None (keep ``fs``;
AMT's default is 16 kHz).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from workbench._validation import (check_choice, check_dtype, check_fs, check_kwargs,
                                   check_positive, check_signal)
from workbench.kernels.iir import sosfilt
from workbench.stages.compression import Compression
from workbench.stages.erb import erb_number_to_fc, erbspacebw, fc_to_erb_number
from workbench.stages.filters import butter
from workbench.stages.gammatone import GammatoneFilterbank
from workbench.stages.ihc import IHCEnvelope
from workbench.stages.modulation import King2019ModulationFilterbank
from workbench.stages.resample import resample_fft, resampled_length


def basef_range(basef: float) -> tuple[float, float]:
    """AMT's analysis range around ``basef``: 2 ERB below and above, floored/ceiled to Hz."""
    erb = float(fc_to_erb_number(basef))
    return (math.floor(float(erb_number_to_fc(erb - 2))), math.ceil(float(erb_number_to_fc(erb + 2))))


class King2019(nn.Module):
    """King et al. (2019) model; see the module docstring and the spec's ``King2019`` section.

    Input ``(batch, time)`` or ``(time,)`` at ``fs`` in calibrated units (see ``dboffset``).
    Output ``(batch, time', channel, n_mod)`` with ``time' = round(time * subfs / fs)`` when
    ``subfs`` is set. ``return_stages=True`` adds a dict with 'gtone_response',
    'compressed_response', 'ihc', 'adapted_response' ``(batch, channel, time)``.
    Attributes ``fc`` (Hz), ``mfc`` (Hz), ``num_channels``.

    ``basef`` (Hz) overrides ``flow``/``fhigh`` with AMT's basef -/+ 2 ERB (5 channels).
    ``compression_n`` may be one exponent per channel. ``*_kwargs``: filterbank ``order``,
    ``bandwidth_factor``; compression ``n``, ``knee_db``; IHC ``cutoff_hz``, ``filter_order``;
    adaptation ``fc``, ``order``; modulation ``phase_insens_cut`` (Hz, 10; None = no envelope).
    ``learnable=True``: gammatone centre frequencies and bandwidths, compression exponent, IHC
    cutoff, high-pass cutoff and modulation centre frequencies become parameters.
    """

    def __init__(self, fs, flow=80.0, fhigh=8000.0, basef=None, compression_type="brokenstick",
                 compression_n=0.3, compression_knee_db=30.0, dboffset=100.0, adt_hp_fc=3.0,
                 adt_hp_order=1, mflow=2.0, mfhigh=150.0, modbank_nmod=None, modbank_qfactor=1.0,
                 lp_150hz=False, subfs=None, learnable=False, return_stages=False,
                 dtype=torch.float32, filterbank_kwargs=None, compression_kwargs=None,
                 ihc_kwargs=None, adaptation_kwargs=None, modulation_kwargs=None):
        super().__init__()
        self.fs = fs = check_fs(fs)
        dtype = check_dtype(dtype)
        if basef is not None:
            basef = check_positive(basef, "basef")
            if basef >= fs / 2:
                raise ValueError(f"basef must lie in (0, fs/2 = {fs / 2:g}) Hz, got {basef:g}")
            flow, fhigh = basef_range(basef)
            fhigh = min(fhigh, fs / 2 * 0.999)
        flow, fhigh = check_positive(flow, "flow"), check_positive(fhigh, "fhigh")
        if not flow < fhigh <= fs / 2:
            raise ValueError(f"need 0 < flow < fhigh <= fs/2 = {fs / 2:g} Hz, got flow={flow:g}, "
                             f"fhigh={fhigh:g}")
        if subfs is not None:
            subfs = check_positive(subfs, "subfs")
            if subfs > fs:
                raise ValueError(f"subfs must be <= fs = {fs:g} Hz (downsampling only), got {subfs:g}")
        if isinstance(adt_hp_order, bool) or not isinstance(adt_hp_order, int) or adt_hp_order < 1:
            raise ValueError(f"adt_hp_order must be a positive integer, got {adt_hp_order!r}")
        check_choice(compression_type, ("brokenstick", "power"), "compression_type")
        self.flow, self.fhigh, self.basef, self.subfs = flow, fhigh, basef, subfs
        self.dboffset, self.compression_type = float(dboffset), compression_type
        self.return_stages, self.learnable, self.dtype = return_stages, learnable, dtype
        common = dict(learnable=learnable, dtype=dtype)

        fb_kw = check_kwargs(filterbank_kwargs, ("order", "bandwidth_factor"), "filterbank_kwargs")
        fc = erbspacebw(flow, fhigh, 1.0, basef)
        self.filterbank = GammatoneFilterbank(fs, fc, **{**common, **fb_kw})
        comp_kw = {"n": compression_n, "knee_db": compression_knee_db,
                   **check_kwargs(compression_kwargs, ("n", "knee_db"), "compression_kwargs")}
        self.compression = Compression(compression_type, dboffset=dboffset, **comp_kw, **common)
        ihc_kw = check_kwargs(ihc_kwargs, ("cutoff_hz", "filter_order"), "ihc_kwargs")
        self.ihc = IHCEnvelope(fs, "king2019", **{**common, **ihc_kw})
        adt_kw = check_kwargs(adaptation_kwargs, ("fc", "order"), "adaptation_kwargs")
        hp_fc = torch.tensor(check_positive(adt_kw.get("fc", adt_hp_fc), "adt_hp_fc"),
                             dtype=torch.float64)
        self.adt_hp_order = adt_kw.get("order", adt_hp_order)
        butter(self.adt_hp_order, hp_fc, fs, "high")  # validates the order and fc < fs/2
        if learnable:
            self.adt_hp_fc = nn.Parameter(hp_fc)
        else:
            self.register_buffer("adt_hp_fc", hp_fc)
        mod_kw = check_kwargs(modulation_kwargs, ("phase_insens_cut",), "modulation_kwargs")
        self.modulation_filterbank = King2019ModulationFilterbank(
            fs, mflow, mfhigh, modbank_nmod, modbank_qfactor, lp_150hz, **mod_kw, **common)

    @property
    def fc(self) -> torch.Tensor:
        return self.filterbank.center_freqs_hz.detach()

    @property
    def mfc(self) -> torch.Tensor:
        return self.modulation_filterbank.mfc.detach()

    @property
    def num_channels(self) -> int:
        return self.filterbank.num_channels

    def forward(self, x):
        x = check_signal(x, "x", max_dims=2, dtype=self.dtype)
        squeeze = x.dim() == 1
        x = x.reshape(-1, x.shape[-1])
        stages = {"gtone_response": self.filterbank(x)}
        stages["compressed_response"] = self.compression(stages["gtone_response"])
        stages["ihc"] = self.ihc(stages["compressed_response"])
        # Double precision: the 3 Hz pole sits 4e-4 from the unit circle at 44.1 kHz.
        hp_sos = butter(self.adt_hp_order, self.adt_hp_fc.double().cpu(), self.fs, "high")
        stages["adapted_response"] = sosfilt(hp_sos.to(x.device), stages["ihc"], out_dtype=x.dtype)
        out = self.modulation_filterbank(stages["adapted_response"])  # (B, F, M, T)
        if self.subfs is not None and self.subfs != self.fs:
            out = resample_fft(out, resampled_length(out.shape[-1], self.fs, self.subfs))
        out = out.permute(0, 3, 1, 2)
        if squeeze:
            out, stages = out[0], {k: v[0] for k, v in stages.items()}
        return (out, stages) if self.return_stages else out

    def extra_repr(self) -> str:
        return (f"fs={self.fs:g}, channels={self.num_channels} ({float(self.fc[0]):.0f}-"
                f"{float(self.fc[-1]):.0f} Hz), compression={self.compression_type}, "
                f"n_mod={self.mfc.numel()}, subfs={self.subfs}")
