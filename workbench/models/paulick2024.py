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
250-8000 Hz (AMT), not 125-8000 Hz, and the default ``fhigh`` follows ``fs`` (8000 Hz,
or 0.4 fs below fs = 20 kHz, so that the defaults also run at 8 or 16 kHz); the IHC is
AMT's membrane model, not rectify/compress/lowpass; tau are the Paulick2024 values, not
the Dau1996 ones; the modulation bank is AMT's (up to 12 filters, mfc <= fc/4), not an
8-filter 5/3 bank. ``model='jepsen2008'`` runs
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

from workbench._validation import (
    check_bool,
    check_choice,
    check_frequency_range,
    check_int,
    check_kwargs,
    check_positive,
)
from workbench.models.base import AuditoryModel, StageInfo
from workbench.stages import decision
from workbench.stages.adaptation import AdaptLoop
from workbench.stages.drnl import DRNLFilterbank
from workbench.stages.ears import HeadphoneFilter, MiddleEarFilter
from workbench.stages.erb import MAX_CHANNELS, erbspace
from workbench.stages.ihc import IHCJepsen2008, IHCPaulick2024
from workbench.stages.modulation import ModulationFilterbank
from workbench.stages.resample import resample_poly

PAULICK2024_TAU_S = (0.007, 0.0318, 0.0878, 0.2143, 0.5)
JEPSEN2008_TAU_S = (0.005, 0.050, 0.129, 0.253, 0.500)
RESAMPLE_FACTOR = 4
DEFAULT_FLOW_HZ, DEFAULT_FHIGH_HZ, DEFAULT_CHANNELS = 250.0, 8000.0, 50  # AMT 1.6 paulick2024
DEFAULT_MAX_MFC_HZ = 1000.0  # AMT modfilterbank's mfc_upper_limit_max
FS_FRACTION = 0.4  # defaults that follow fs: fhigh <= 0.4 fs, max_mfc <= 0.4 fs / 4


class _FollowsFs(float):
    """A default shown by its value at high rates that the model replaces by its rule for
    the given fs (a float, so signature readers such as the observers see a number)."""


FHIGH_FOLLOWS_FS = _FollowsFs(DEFAULT_FHIGH_HZ)


def default_fhigh(fs: float) -> float:
    """Paulick2024's ``fhigh`` when none is given: AMT's 8000 Hz, or 0.4 ``fs`` below 20 kHz.

    The top DRNL channel so stays clear of the Nyquist frequency at low rates.

    Parameters
    ----------
    fs : float, Hz

    Returns
    -------
    float
        ``min(8000, 0.4 fs)``, Hz.

    References
    ----------
    Paulick, Relano-Iborra & Dau (2024), Hear. Res.; AMT 1.6 ``paulick2024`` (8000 Hz).

    Examples
    --------
    >>> default_fhigh(44100), default_fhigh(8000)
    (8000.0, 3200.0)
    """
    return min(DEFAULT_FHIGH_HZ, FS_FRACTION * fs)


def default_max_mfc(fs: float) -> float:
    """Paulick2024's modulation ``max_mfc`` when none is given: AMT's 1000 Hz, or 0.4 x the
    modulation stage's rate ``fs / 4`` below fs = 10 kHz.

    Parameters
    ----------
    fs : float, Hz
        The model's input rate.

    Returns
    -------
    float
        ``min(1000, 0.4 fs / 4)``, Hz.

    References
    ----------
    Paulick, Relano-Iborra & Dau (2024), Hear. Res.; AMT 1.6 ``paulick2024``; AMT
    ``modfilterbank`` (``mfc_upper_limit_max``, 1000 Hz).

    Examples
    --------
    >>> default_max_mfc(44100), default_max_mfc(8000)
    (1000.0, 800.0)
    """
    return min(DEFAULT_MAX_MFC_HZ, FS_FRACTION * fs / RESAMPLE_FACTOR)


def paulick2024_minimum_levels(center_freqs_hz) -> torch.Tensor:
    """Adaptation floor per channel from Paulick2024's table: the entry nearest each centre
    frequency.

    The 50-value table ships as package data (``workbench/data/paulick2024_minimum_levels.csv``).

    Parameters
    ----------
    center_freqs_hz : array_like, Hz
        ``(C,)`` channel centre frequencies.

    Returns
    -------
    Tensor
        ``(C,)`` float64 minimum levels, the adaptation loops' input units (the IHC output,
        V), for :class:`~workbench.stages.adaptation.AdaptLoop`'s ``min_level``.

    References
    ----------
    Paulick, Relano-Iborra & Dau (2024), Hear. Res.; AMT 1.6 ``paulick2024``.

    Examples
    --------
    >>> paulick2024_minimum_levels([250.0, 1000.0, 8000.0])
    tensor([1.1460e-04, 1.2394e-04, 1.1709e-06], dtype=torch.float64)
    """
    with resources.files("workbench.data").joinpath("paulick2024_minimum_levels.csv").open() as f:
        rows = [r for r in csv.reader(line for line in f if not line.startswith("#"))][1:]
    table = torch.tensor([[float(a), float(b)] for a, b in rows], dtype=torch.float64)
    fc = torch.as_tensor(center_freqs_hz, dtype=torch.float64)
    return table[torch.argmin((fc[:, None] - table[None, :, 0]).abs(), dim=1), 1]


class Paulick2024(AuditoryModel):
    """Revised CASP model (Paulick, Relano-Iborra & Dau 2024); see the module docstring.

    Parameters
    ----------
    fs : float, Hz
    flow, fhigh : float, Hz
        DRNL range (AMT's 250-8000 Hz). When ``fhigh`` is not given it follows ``fs``:
        8000 Hz, or 0.4 ``fs`` where that is lower (fs below 20 kHz: 3200 Hz at fs = 8 kHz),
        so the defaults run at any rate from fs = 625 Hz (:func:`default_fhigh`); a given
        ``fhigh`` is used as it is (and must lie below fs/2).
    n_channels : int
        Number of ERB-spaced channels (>= 1; 50).
    use_outerear : bool
        Headphone and middle-ear FIRs in front (their output is stapes velocity).
    learnable : bool
        DRNL a, b, c and gains, the FIR taps, the adaptation tau and the modulation filters
        become parameters; the IHC constants stay fixed.
    return_stages : bool
    filter_type : {'efilt', 'butterworth'}
        Modulation filters.
    dtype : torch.dtype
    outerear_kwargs, drnl_kwargs, ihc_kwargs, adaptation_kwargs, modulation_kwargs : dict
        Forwarded to the stages (unknown keys raise): ``order``, ``phase_type``; ``subject``,
        ``model``; none; :class:`~workbench.stages.adaptation.AdaptLoop` keys (``tau_s``,
        spec ``tau``, ...); :class:`~workbench.stages.modulation.ModulationFilterbank` keys
        (the bank runs at fs / 4; ``max_mfc`` defaults to AMT's 1000 Hz, or to 0.4 fs / 4 where
        that is lower, :func:`default_max_mfc`).
    model : {'paulick2024', 'jepsen2008'}
        The CASP variant (module docstring).

    Returns
    -------
    list of Tensor
        ``forward(x)``, ``x`` ``(B, T)`` or ``(T,)`` in Pa: ``n_channels`` tensors
        ``(B, M_i, T // 4)`` in MU; with ``return_stages`` also the stage dict
        (:attr:`stage_info`).

    References
    ----------
    Paulick, Relano-Iborra & Dau (2024), Hear. Res.; Jepsen, Ewert & Dau (2008), J. Acoust.
    Soc. Am. 124, 422-438; AMT 1.6 ``paulick2024``.

    Examples
    --------
    >>> model = Paulick2024(fs=16000, fhigh=4000, n_channels=4)
    >>> model(torch.zeros(1, 1600))[0].shape  # channel 0: 6 modulation filters, fs / 4
    torch.Size([1, 6, 400])
    """

    min_input_samples = RESAMPLE_FACTOR  # one output sample after resampling by 4

    def __init__(
        self,
        fs: float = 44100,
        flow: float = DEFAULT_FLOW_HZ,
        fhigh: float = FHIGH_FOLLOWS_FS,
        n_channels: int = DEFAULT_CHANNELS,
        use_outerear: bool = True,
        learnable: bool = False,
        return_stages: bool = False,
        filter_type: str = "efilt",
        dtype: torch.dtype = torch.float32,
        outerear_kwargs=None,
        drnl_kwargs=None,
        ihc_kwargs=None,
        adaptation_kwargs=None,
        modulation_kwargs=None,
        model: str = "paulick2024",
    ):
        super().__init__()
        self.fs = self._check_settings(fs, learnable, return_stages, dtype)
        if isinstance(fhigh, _FollowsFs):
            fhigh = default_fhigh(self.fs)
            if check_positive(flow, "flow") >= fhigh:
                raise ValueError(
                    f"flow must be below fhigh; fhigh defaults to min(8000 Hz, 0.4 fs) = {fhigh:g} Hz "
                    f"at fs = {self.fs:g} Hz, got flow = {flow:g}: give a lower flow (or a higher fs)"
                )
        self.flow, self.fhigh = check_frequency_range(flow, fhigh, self.fs)
        if self.flow < 20.0:
            raise ValueError(
                f"flow must be >= 20 Hz (the lower limit of hearing; the DRNL parameters are "
                f"regressions fitted from 250 Hz up), got {self.flow:g}"
            )
        self.n_channels = check_int(n_channels, "n_channels", 1, MAX_CHANNELS)
        self.filter_type = check_choice(filter_type, ("efilt", "butterworth"), "filter_type")
        self.model = check_choice(model, ("paulick2024", "jepsen2008"), "model")
        self.use_outerear = check_bool(use_outerear, "use_outerear")
        outer = check_kwargs(outerear_kwargs, ("order", "phase_type"), "outerear_kwargs")
        drnl_kw = check_kwargs(drnl_kwargs, ("subject", "model"), "drnl_kwargs")
        check_kwargs(ihc_kwargs, (), "ihc_kwargs")
        adapt_kw = check_kwargs(adaptation_kwargs, AdaptLoop.KWARGS, "adaptation_kwargs", AdaptLoop.ALIASES)
        mod_kw = check_kwargs(modulation_kwargs, ModulationFilterbank.KWARGS, "modulation_kwargs")
        self.resample_factor = RESAMPLE_FACTOR
        self.fs_resampled = self.fs / RESAMPLE_FACTOR
        if "max_mfc" in mod_kw:
            top = check_positive(mod_kw["max_mfc"], "modulation_kwargs['max_mfc']")
            if top >= self.fs_resampled / 2:
                raise ValueError(
                    f"modulation_kwargs['max_mfc'] must lie in (0, {self.fs_resampled / 2:g}) Hz: the "
                    f"modulation stage runs at fs / {RESAMPLE_FACTOR} = {self.fs_resampled:g} Hz, "
                    f"got {top:g}"
                )
        else:
            mod_kw["max_mfc"] = default_max_mfc(self.fs)

        fc = erbspace(self.flow, self.fhigh, self.n_channels).to(torch.float64)  # one channel: flow
        self.register_buffer("center_freqs_hz", fc.to(dtype))
        common = dict(learnable=learnable, dtype=dtype)
        if self.use_outerear:
            order = outer.get("order", 512)
            self.outer_middle_ear = nn.Sequential(
                HeadphoneFilter(self.fs, order, delay_compensation=False, **common),
                MiddleEarFilter(
                    self.fs,
                    order,
                    outer.get("phase_type", "minimum"),
                    normalize=False,
                    delay_compensation=False,
                    **common,
                ),
            )
        else:
            self.outer_middle_ear = None
        self.drnl = DRNLFilterbank(self.fs, fc, model=drnl_kw.pop("model", model), **drnl_kw, **common)
        jepsen = model == "jepsen2008"
        self.ihc = IHCJepsen2008(self.fs) if jepsen else IHCPaulick2024(self.fs)
        if "preset" not in adapt_kw:  # an AdaptLoop preset supplies its own tau and limit
            adapt_kw.setdefault("tau_s", JEPSEN2008_TAU_S if jepsen else PAULICK2024_TAU_S)
            adapt_kw.setdefault("limit", 10.0)
        if "min_spl_db" not in adapt_kw:
            adapt_kw.setdefault("min_level", 1e-5 if jepsen else paulick2024_minimum_levels(fc))
        self.adaptation = AdaptLoop(self.fs, **adapt_kw, **common)
        mod_kw.setdefault("filter_type", filter_type)
        self.modulation = ModulationFilterbank(self.fs_resampled, fc, **mod_kw, **common)
        self.mfc = self.modulation.mfc

    @property
    def stage_info(self) -> dict[str, StageInfo]:
        fs, fs4 = self.fs, self.fs_resampled
        ear = self.outer_middle_ear
        ihc_unit = "V (re pre-charge)" if self.model == "paulick2024" else "(m/s)^2 x 10^5"
        if ear:
            outer = StageInfo(
                "stapes velocity",
                "m/s",
                "BT",
                fs,
                "Headphone/outer-ear and middle-ear filters: the sound pressure becomes the velocity "
                "of the stapes, which drives the cochlea.",
            )
        else:
            outer = StageInfo(
                "sound pressure (no outer/middle ear)",
                "Pa",
                "BT",
                fs,
                "The outer and middle ear are switched off: the input pressure goes straight to the cochlea.",
            )
        return {
            "outerear": outer,
            "drnl": StageInfo(
                "basilar-membrane velocity",
                "m/s",
                "BCT",
                fs,
                "DRNL filterbank: each place on the basilar membrane is a linear and a compressive "
                "band-pass path summed, so strong sounds are compressed near the place's own "
                "frequency.",
            ),
            "ihc": StageInfo("inner-hair-cell receptor potential", ihc_unit, "BCT", fs, self.ihc.about),
            "adaptation": StageInfo("adapted envelope", "MU", "BCT", fs, self.adaptation.about + " MU: model units."),
            "resampled": StageInfo(
                "adapted envelope, resampled",
                "MU",
                "BCT",
                fs4,
                f"The adapted envelope downsampled by {RESAMPLE_FACTOR} (to {fs4:g} Hz) "
                "before the modulation analysis.",
            ),
            "output": StageInfo("modulation filterbank output", "MU", "BCMT", fs4, self.modulation.about),
        }

    def _run(self, x: torch.Tensor):
        x = x.to(dtype=self.dtype, device=self.center_freqs_hz.device)
        stages = {"outerear": self.outer_middle_ear(x) if self.outer_middle_ear is not None else x}
        stages["drnl"] = self.drnl(stages["outerear"])
        stages["ihc"] = self.ihc(stages["drnl"])
        stages["adaptation"] = self.adaptation(stages["ihc"])
        n_out = x.shape[-1] // RESAMPLE_FACTOR
        stages["resampled"] = resample_poly(stages["adaptation"], 1, RESAMPLE_FACTOR)[..., :n_out]
        return self.modulation(stages["resampled"]), stages

    # ---------------------------------------------------------------- decision layer
    def _representation(self, audio: torch.Tensor, name: str) -> list[torch.Tensor]:
        audio = self._check_input(audio, name, 2)
        return self._run(audio.reshape(-1, audio.shape[-1]))[0]

    def roi_selection(self, internal_repr, time_window=None, channel_range=None, modulation_range=None):
        """Time window (s), channel and modulation index ranges ``(start, end)`` -> list."""
        return decision.roi_selection(internal_repr, self.fs_resampled, time_window, channel_range, modulation_range)

    def template_correlation(self, internal_repr, template, normalize: bool = True) -> torch.Tensor:
        """Pearson (``normalize``) or plain inner product with a template, shape ``(B,)``."""
        return decision.template_correlation(internal_repr, template, normalize)

    def compute_decision_variable(
        self, internal_repr, metric: str = "rms", channel_weights=None, modulation_weights=None
    ) -> torch.Tensor:
        """'rms', 'mean', 'max' or 'l2' over the representation with optional weights, ``(B,)``."""
        return decision.decision_variable(internal_repr, metric, channel_weights, modulation_weights)

    def make_decision(self, decision_var, threshold: float = 0.0, criterion: str = "greater") -> torch.Tensor:
        """Bool ``(B,)``: DV > threshold ('greater') or DV < threshold ('less')."""
        return decision.make_decision(decision_var, threshold, criterion)

    def detection_task(
        self, signal_audio, noise_audio=None, metric: str = "rms", threshold=None, return_decision_var: bool = False
    ):
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

    def discrimination_task(
        self,
        stimulus1,
        stimulus2,
        metric: str = "rms",
        decision_rule: str = "greater",
        return_decision_var: bool = False,
        criterion: str | None = None,
    ):
        """True where stimulus1 is chosen: DV1 > DV2 ('greater') or DV1 < DV2 ('less').

        ``criterion`` is accepted as another name for ``metric`` (the torch_amt example).
        Returns bool ``(B,)`` and, with ``return_decision_var``, DV1 - DV2."""
        if criterion is not None:
            metric = criterion
        check_choice(decision_rule, decision.CRITERIA, "decision_rule")
        s1, s2 = self._check_input(stimulus1, "stimulus1", 2), self._check_input(stimulus2, "stimulus2", 2)
        if s1.shape[-1] != s2.shape[-1]:
            raise ValueError(
                f"stimulus1 and stimulus2 must have the same length, got {s1.shape[-1]} and {s2.shape[-1]}"
            )
        both = torch.cat([s1.reshape(-1, s1.shape[-1]), s2.reshape(-1, s2.shape[-1])])
        dv = self.compute_decision_variable(self._representation(both, "stimuli"), metric)
        n1 = s1.reshape(-1, s1.shape[-1]).shape[0]
        delta = dv[:n1] - dv[n1:]
        decisions = self.make_decision(delta, 0.0, decision_rule)
        return (decisions, delta) if return_decision_var else decisions

    def extra_repr(self) -> str:
        return (
            f"fs={self.fs:g}, flow={self.flow:g}, fhigh={self.fhigh:g}, n_channels={self.n_channels}, "
            f"use_outerear={self.use_outerear}, filter_type={self.filter_type!r}, model={self.model!r}"
        )
