"""Paulick et al. (2024) revised CASP model, as AMT 1.6 ``paulick2024``, with its decision layer.

Chain (input in Pa, ``(T,)`` or ``(B, T)``):

0. optional outer/middle ear: headphone FIR then middle-ear FIR (513 taps each, AMT 1.6
   applies them causally, no delay compensation; output in stapes-velocity units);
1. DRNL filterbank (:mod:`workbench.stages.drnl`), ``n_channels`` ERB-spaced channels;
2. Paulick2024 IHC (MET conductance + RC membrane, volts re the pre-charge potential);
3. adaptation loops, tau = 7, 31.8, 87.8, 214.3, 500 ms, limit 10, per-channel minimum level
   from the model's 50-value table (nearest entry by centre frequency);
4. resampling by 4 as MATLAB's ``resample`` (81-tap Kaiser, beta 5), truncated to T // 4;
5. modulation filterbank as AMT's ``modfilterbank`` defaults (jepsen2008 options).

Output: list of ``n_channels`` tensors ``(B, M_i, T // 4)``; ``return_stages=True`` adds a
dict with 'outerear', 'drnl', 'ihc', 'adaptation', 'resampled'.

Differences from the torch_amt 0.2 documentation (AMT wins): the default range is
250-8000 Hz (AMT), not 125-8000 Hz; the IHC is AMT's membrane model, not rectify/compress/
lowpass; tau are the Paulick2024 values, not the Dau1996 ones; the modulation bank is AMT's
(up to 12 filters, mfc <= fc/4), not an 8-filter 5/3 bank. ``model='jepsen2008'`` runs
AMT 1.6's CASP 2008 variant: DRNL 2008 parameters, IHC = half-wave rectification + 2nd-order
1 kHz lowpass, then x 10^(50/20) and squaring, adaptation tau 5, 50, 129, 253, 500 ms with a
scalar minimum level 1e-5 (AMT itself calls this variant not fully verifiable).

Decision layer (spec semantics, see :mod:`workbench.stages.decision`): ``roi_selection``,
``template_correlation``, ``compute_decision_variable`` ('rms', 'mean', 'max', 'l2'),
``make_decision``, ``detection_task``, ``discrimination_task``. The CASP optimal detector
(template, internal noise, n-AFC) is :class:`workbench.psychophysics.observer.OptimalDetector`.
"""

from __future__ import annotations

import csv
from importlib import resources

import torch
from torch import nn

from workbench._validation import (check_choice, check_dtype, check_frequency_range, check_fs,
                                   check_kwargs, check_signal)
from workbench.stages import decision
from workbench.stages.adaptation import AdaptLoop
from workbench.stages.drnl import DRNLFilterbank
from workbench.stages.ears import HeadphoneFilter, MiddleEarFilter
from workbench.stages.erb import erbspace
from workbench.stages.ihc import IHCPaulick2024, relanoiborra2019_ihc
from workbench.stages.modulation import ModulationFilterbank
from workbench.stages.resample import resample_poly

PAULICK2024_TAU_S = (0.007, 0.0318, 0.0878, 0.2143, 0.5)
JEPSEN2008_TAU_S = (0.005, 0.050, 0.129, 0.253, 0.500)
JEPSEN2008_IHC_GAIN = 10 ** (50 / 20)  # compensates the outer/middle-ear attenuation (AMT)
RESAMPLE_FACTOR = 4


def paulick2024_minimum_levels(center_freqs_hz) -> torch.Tensor:
    """Adaptation minimum level per channel (float64): the table entry nearest each fc."""
    with resources.files("workbench.data").joinpath("paulick2024_minimum_levels.csv").open() as f:
        rows = [r for r in csv.reader(line for line in f if not line.startswith("#"))][1:]
    table = torch.tensor([[float(a), float(b)] for a, b in rows], dtype=torch.float64)
    fc = torch.as_tensor(center_freqs_hz, dtype=torch.float64)
    return table[torch.argmin((fc[:, None] - table[None, :, 0]).abs(), dim=1), 1]


class Paulick2024(nn.Module):
    """Revised CASP model (Paulick, Relano-Iborra & Dau 2024); see the module docstring.

    ``fs`` Hz; ``flow``/``fhigh`` DRNL range (default AMT's 250-8000 Hz); ``n_channels`` >= 1;
    ``use_outerear``; ``learnable`` (DRNL a, b, c, gains, FIR taps, adaptation tau and
    modulation filters become parameters; the IHC constants stay fixed); ``filter_type`` 'efilt' or 'butterworth';
    ``dtype`` float32/float64; ``*_kwargs`` forwarded to the stages (unknown keys raise).
    """

    def __init__(self, fs: float = 44100, flow: float = 250.0, fhigh: float = 8000.0,
                 n_channels: int = 50, use_outerear: bool = True, learnable: bool = False,
                 return_stages: bool = False, filter_type: str = "efilt",
                 dtype: torch.dtype = torch.float32, outerear_kwargs=None, drnl_kwargs=None,
                 ihc_kwargs=None, adaptation_kwargs=None, modulation_kwargs=None,
                 model: str = "paulick2024"):
        super().__init__()
        self.fs = check_fs(fs)
        self.flow, self.fhigh = check_frequency_range(flow, fhigh, self.fs)
        if isinstance(n_channels, bool) or not isinstance(n_channels, int) or n_channels < 1:
            raise ValueError(f"n_channels must be an integer >= 1, got {n_channels!r}")
        self.dtype = check_dtype(dtype)
        self.filter_type = check_choice(filter_type, ("efilt", "butterworth"), "filter_type")
        self.model = check_choice(model, ("paulick2024", "jepsen2008"), "model")
        self.n_channels = self.num_channels = n_channels
        self.use_outerear, self.learnable, self.return_stages = bool(use_outerear), bool(learnable), bool(return_stages)
        outer = check_kwargs(outerear_kwargs, ("order", "phase_type"), "outerear_kwargs")
        drnl_kw = check_kwargs(drnl_kwargs, ("subject", "model"), "drnl_kwargs")
        check_kwargs(ihc_kwargs, (), "ihc_kwargs")
        adapt_kw = check_kwargs(adaptation_kwargs, ("tau_s", "limit", "min_level", "preset"), "adaptation_kwargs")
        mod_kw = check_kwargs(modulation_kwargs, ("filter_type", "preset", "Q", "max_mfc", "upper_limit",
                                                  "lowpass_150_hz", "attenuation", "phase_insensitive"),
                              "modulation_kwargs")
        self.resample_factor = RESAMPLE_FACTOR
        self.fs_resampled = self.fs / RESAMPLE_FACTOR

        fc = erbspace(self.flow, self.fhigh, n_channels).to(torch.float64)  # one channel: flow
        self.register_buffer("fc", fc.to(dtype))
        common = dict(learnable=learnable, dtype=dtype)
        if self.use_outerear:
            order = outer.get("order", 512)
            self.outer_middle_ear = nn.Sequential(
                HeadphoneFilter(self.fs, order, delay_compensation=False, **common),
                MiddleEarFilter(self.fs, order, outer.get("phase_type", "minimum"), normalize=False,
                                delay_compensation=False, **common))
        else:
            self.outer_middle_ear = None
        self.drnl = DRNLFilterbank(self.fs, fc, model=drnl_kw.pop("model", model), **drnl_kw, **common)
        self.ihc = IHCPaulick2024(self.fs) if model == "paulick2024" else None
        jepsen = model == "jepsen2008"
        if "preset" not in adapt_kw:  # an AdaptLoop preset supplies its own tau and limit
            adapt_kw.setdefault("tau_s", JEPSEN2008_TAU_S if jepsen else PAULICK2024_TAU_S)
            adapt_kw.setdefault("limit", 10.0)
        adapt_kw.setdefault("min_level", 1e-5 if jepsen else paulick2024_minimum_levels(fc))
        self.adaptation = AdaptLoop(self.fs, **adapt_kw, **common)
        mod_kw.setdefault("filter_type", filter_type)
        self.modulation = ModulationFilterbank(self.fs_resampled, fc, **mod_kw, **common)
        self.mfc = self.modulation.mfc

    def _run(self, x: torch.Tensor):
        x = check_signal(x, "x", dtype=self.dtype)
        unbatched = x.dim() == 1
        x = x.reshape(-1, x.shape[-1]).to(self.fc.device)
        stages = {"outerear": self.outer_middle_ear(x) if self.outer_middle_ear is not None else x}
        stages["drnl"] = self.drnl(stages["outerear"])
        if self.ihc is not None:
            stages["ihc"] = self.ihc(stages["drnl"])
        else:  # CASP 2008: envelope, gain, expansion (squaring)
            stages["ihc"] = (relanoiborra2019_ihc(stages["drnl"], self.fs) * JEPSEN2008_IHC_GAIN) ** 2
        stages["adaptation"] = self.adaptation(stages["ihc"])
        n_out = x.shape[-1] // RESAMPLE_FACTOR
        stages["resampled"] = resample_poly(stages["adaptation"], 1, RESAMPLE_FACTOR)[..., :n_out]
        out = self.modulation(stages["resampled"])
        if unbatched:
            out = [o[0] for o in out]
            stages = {k: v[0] for k, v in stages.items()}
        return out, stages

    def forward(self, x: torch.Tensor):
        """``x`` in Pa, ``(T,)`` or ``(B, T)`` -> list of ``(B, M_i, T // 4)`` (+ stages dict)."""
        out, stages = self._run(x)
        return (out, stages) if self.return_stages else out

    # ---------------------------------------------------------------- decision layer
    def _representation(self, audio: torch.Tensor, name: str) -> list[torch.Tensor]:
        audio = check_signal(audio, name)
        return self._run(audio.reshape(-1, audio.shape[-1]))[0]

    def roi_selection(self, internal_repr, time_window=None, channel_range=None, modulation_range=None):
        """Time window (s), channel and modulation index ranges ``(start, end)`` -> list."""
        return decision.roi_selection(internal_repr, self.fs_resampled, time_window, channel_range, modulation_range)

    def template_correlation(self, internal_repr, template, normalize: bool = True) -> torch.Tensor:
        """Pearson (``normalize``) or plain inner product with a template, shape ``(B,)``."""
        return decision.template_correlation(internal_repr, template, normalize)

    def compute_decision_variable(self, internal_repr, metric: str = "rms", channel_weights=None,
                                  modulation_weights=None) -> torch.Tensor:
        """'rms', 'mean', 'max' or 'l2' over the representation with optional weights, ``(B,)``."""
        return decision.decision_variable(internal_repr, metric, channel_weights, modulation_weights)

    def make_decision(self, decision_var, threshold: float = 0.0, criterion: str = "greater") -> torch.Tensor:
        """Bool ``(B,)``: DV > threshold ('greater') or DV < threshold ('less')."""
        return decision.make_decision(decision_var, threshold, criterion)

    def detection_task(self, signal_audio, noise_audio=None, metric: str = "rms", threshold=None,
                       return_decision_var: bool = False):
        """Decision variable of the signal's representation (minus the noise-alone
        representation when ``noise_audio`` is given; batch 1 or B). With ``threshold``:
        bool ``(B,)`` detections (DV > threshold), optionally with the DV."""
        rep = self._representation(signal_audio, "signal_audio")
        if noise_audio is not None:
            noise = self._representation(noise_audio, "noise_audio")
            if noise[0].shape[-1] != rep[0].shape[-1] or noise[0].shape[0] not in (1, rep[0].shape[0]):
                raise ValueError("noise_audio must match signal_audio's length and have batch 1 or B")
            rep = [s - n for s, n in zip(rep, noise)]
        dv = self.compute_decision_variable(rep, metric)
        if threshold is None:
            return dv
        decisions = self.make_decision(dv, threshold, "greater")
        return (decisions, dv) if return_decision_var else decisions

    def discrimination_task(self, stimulus1, stimulus2, metric: str = "rms", decision_rule: str = "greater",
                            return_decision_var: bool = False, criterion: str | None = None):
        """True where stimulus1 is chosen: DV1 > DV2 ('greater') or DV1 < DV2 ('less').

        ``criterion`` is accepted as another name for ``metric`` (the torch_amt example).
        Returns bool ``(B,)`` and, with ``return_decision_var``, DV1 - DV2."""
        if criterion is not None:
            metric = criterion
        check_choice(decision_rule, decision.CRITERIA, "decision_rule")
        s1, s2 = check_signal(stimulus1, "stimulus1"), check_signal(stimulus2, "stimulus2")
        if s1.shape[-1] != s2.shape[-1]:
            raise ValueError(f"stimulus1 and stimulus2 must have the same length, got {s1.shape[-1]} and {s2.shape[-1]}")
        both = torch.cat([s1.reshape(-1, s1.shape[-1]), s2.reshape(-1, s2.shape[-1])])
        dv = self.compute_decision_variable(self._representation(both, "stimuli"), metric)
        n1 = s1.reshape(-1, s1.shape[-1]).shape[0]
        delta = dv[:n1] - dv[n1:]
        decisions = self.make_decision(delta, 0.0, decision_rule)
        return (decisions, delta) if return_decision_var else decisions

    def extra_repr(self) -> str:
        return (f"fs={self.fs:g}, flow={self.flow:g}, fhigh={self.fhigh:g}, n_channels={self.n_channels}, "
                f"use_outerear={self.use_outerear}, filter_type={self.filter_type!r}, model={self.model!r}")
