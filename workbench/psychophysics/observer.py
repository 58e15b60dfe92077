"""CASP optimal detector (Jepsen et al. 2008; Paulick et al. 2024) as AMT 1.6 runs it, usable
with any model of the model contract.

AMT's procedure (``demo_paulick2024``, ``paulick2024_roi``, ``paulick2024_corr``,
``paulick2024_decision``), followed here step by step:

1. *Template.* The supra-threshold target (standard plus a clearly audible increment) and
   the reference (standard alone) go through the model; several tokens are averaged (noise).
   The template is their representation difference, normalised over all channels so that
   ``sum(T^2) / fs_R = 1`` (``fs_R``: the representation's rate). The mean reference
   representation is stored and subtracted from every interval.
2. *Region of interest* (:func:`roi_channels`, AMT ``paulick2024_roi``): from the difference
   at the adaptation stage (full rate), each channel is smoothed by a moving mean over 25
   periods of its centre frequency; the channels whose rms reaches half the maximum, widened
   to at least [fc_peak / sqrt 2, 2 fc_peak] around the strongest one, are kept. Only they
   enter the correlation (on by default for the CASP observers, ``roi=False`` switches off).
3. *Correlation* (``paulick2024_corr``): per modulation band, over the ROI channels with
   ``fc > 4 fm`` and all time; for paulick2024 the band's mean is removed from the template
   and the interval first (jepsen2008 correlates without), then the bands are summed.
4. *Decision.* Interval ``i``'s decision variable is ``c_i / fs_R``. AMT's deterministic
   rule (``decision='amt'``): ``mue = max(0, c_target - max(0, c_reference))`` and the
   response is correct when the analytic probability
   ``P = 1 - erfc((mue / sqrt(var) * s - o) / sqrt 2) / 2`` (s, o = 0.707, 0; 0.765, 0.423;
   0.810, 0.668 for 2-, 3-, 4-AFC; ``var`` = 40 paulick2024, 130 jepsen2008) exceeds the
   tracking rule's convergence point ``1 / 2**(1/n)`` (1-up-n-down). With several reference
   intervals AMT's demo (one reference) is generalised by taking the largest reference
   correlation. The sampled mode (``decision='sampled'``) instead adds Gaussian noise of
   variance ``var`` to every interval's decision variable and picks the largest; for 2-AFC
   its percent correct is AMT's analytic one exactly.

Because the decision variable is linear in the representation, the internal noise's
projection on the template is sampled directly; :meth:`OptimalDetector.add_internal_noise`
gives the literal per-sample version of the same noise.

For the experiments (:mod:`workbench.psychophysics.experiments`): :class:`TemplateObserver`
adapts the detector to their observer protocol, :class:`FeatureObserver` is a cheap stand-in
(a scalar feature plus Gaussian internal noise) and :func:`make_observer` builds either by name.
"""

from __future__ import annotations

import copy
import functools
import inspect
import math

import numpy as np
import torch

from workbench._validation import check_choice, check_fs, check_int, check_positive, check_signal
from workbench.dsp import hilbert_envelope
from workbench.units import P_REF_PA, hz_to_erb_number, to_model_input

NOISE_VARIANCE = {"paulick2024": 40.0, "jepsen2008": 130.0}
# AMT paulick2024_decision: P = 1 - erfc((mue / sqrt(var) * slope - offset) * 0.7071068) / 2
AFC_FIT = {2: (0.707, 0.0), 3: (0.765, 0.423), 4: (0.810, 0.668)}
DECISIONS = ("amt", "sampled")


def check_noise_variance(value) -> float:
    """The decision-noise variance: a positive number, or a named preset of :data:`NOISE_VARIANCE`."""
    if isinstance(value, str):
        return NOISE_VARIANCE[check_choice(value, NOISE_VARIANCE, "noise_variance")]
    return check_positive(value, "noise_variance")


def percent_correct_analytic(mue, n_afc: int, noise_variance=40.0):
    """AMT's probability of a correct n-AFC response (2, 3, 4) for decision variable ``mue``.

    ``noise_variance``: a number, a tensor (differentiable, e.g. a fitted parameter) or
    'paulick2024' (40) / 'jepsen2008' (130). Returns a tensor (float for float input) in [0, 1].

    >>> round(percent_correct_analytic(0.0, 2), 3), round(percent_correct_analytic(10.0, 3, 'paulick2024'), 3)
    (0.5, 0.784)
    """
    check_choice(n_afc, AFC_FIT, "n_afc")
    slope, offset = AFC_FIT[n_afc]
    if isinstance(noise_variance, torch.Tensor):
        sigma = noise_variance.sqrt()
    else:
        sigma = math.sqrt(check_noise_variance(noise_variance))
    if isinstance(mue, (int, float)) and not isinstance(sigma, torch.Tensor):
        return 1 - math.erfc((mue / sigma * slope - offset) * 0.7071068) / 2
    mue = torch.as_tensor(mue)
    return 1 - torch.erfc((mue / sigma * slope - offset) * 0.7071068) / 2


def mue_at_percent_correct(p: float, n_afc: int, noise_variance=40.0) -> float:
    """Inverse of :func:`percent_correct_analytic`: the ``mue`` at which P = ``p``."""
    from scipy.special import erfcinv

    check_choice(n_afc, AFC_FIT, "n_afc")
    if not 0 < p < 1:
        raise ValueError(f"p must lie in (0, 1), got {p}")
    slope, offset = AFC_FIT[n_afc]
    return float((erfcinv(2 * (1 - p)) / 0.7071068 + offset) / slope * math.sqrt(check_noise_variance(noise_variance)))


def amt_decision(mue, n_afc: int, rule=(1, 2), noise_variance=40.0):
    """AMT ``paulick2024_decision``: (detected, probability). Only 1-up-n-down rules: detected
    when the probability exceeds the rule's convergence point 1 / 2**(1/n)."""
    if len(rule) != 2 or rule[0] != 1 or int(rule[1]) != rule[1] or rule[1] < 1:
        raise ValueError(f"rule must be (1, n) with integer n >= 1 (1-up-n-down), got {rule!r}")
    prob = percent_correct_analytic(mue, n_afc, noise_variance)
    return prob > 1 / 2 ** (1 / rule[1]), prob


def amt_mue(target_dv, reference_dv):
    """AMT's trial decision variable ``max(0, c_target - max(0, c_reference))``.

    ``target_dv`` ``(n,)``; ``reference_dv`` ``(n,)`` or ``(n, k)`` (k reference intervals:
    the largest is used; AMT's demo has one). Tensors, differentiable."""
    ref = torch.as_tensor(reference_dv)
    if ref.dim() == 2:
        ref = ref.amax(1)
    return (torch.as_tensor(target_dv) - ref.clamp_min(0)).clamp_min(0)


def roi_channels(adaptation_difference: torch.Tensor, fs: float, center_freqs_hz) -> torch.Tensor:
    """AMT ``paulick2024_roi``: indices of the relevant channels from the template's
    adaptation-stage difference ``(C, T)`` (or ``(B, C, T)``, averaged over B).

    Each channel is smoothed by a moving mean of 25 periods of its centre frequency; channels
    whose rms reaches half the maximum form the core, widened to at least [fc_max / sqrt 2,
    2 fc_max] around the strongest channel (nearest channels).

    >>> fc = torch.tensor([250.0 * 1.25 ** k for k in range(12)])
    >>> diff = torch.zeros(12, 400); diff[6] = 1.0
    >>> roi_channels(diff, 8000.0, fc).tolist()   # fc[6] = 954 Hz: 675-1907 Hz
    [4, 5, 6, 7, 8, 9]
    """
    fs = check_fs(fs)
    x = torch.as_tensor(adaptation_difference).detach().to("cpu", torch.float64)
    x = x.mean(0) if x.dim() == 3 else x
    fc = torch.as_tensor(center_freqs_hz).detach().to("cpu", torch.float64)
    if x.dim() != 2 or x.shape[0] != fc.numel():
        raise ValueError(f"adaptation_difference must be (C, T) with C = {fc.numel()}, got {tuple(x.shape)}")
    n = x.shape[-1]
    csum = torch.nn.functional.pad(torch.cumsum(x, -1), (1, 0))
    rms = torch.empty(len(fc), dtype=torch.float64)
    idx = torch.arange(n)
    for c in range(len(fc)):
        width = max(1, int(25 / float(fc[c]) * fs))  # MATLAB movmean: centred, shrinking at the edges
        lo = (idx - width // 2).clamp(0, n)
        hi = (idx + (width - 1) // 2 + 1).clamp(0, n)
        rms[c] = torch.sqrt((((csum[c, hi] - csum[c, lo]) / (hi - lo)) ** 2).mean())
    if not rms.max() > 0:
        raise ValueError("adaptation_difference is zero in every channel: no region of interest")
    strongest = int(torch.argmax(rms))
    core = torch.nonzero(rms >= 0.5 * rms.max()).flatten()
    low = min(int(torch.argmin((fc - fc[strongest] / math.sqrt(2)).abs())), int(core[0]))
    high = max(int(torch.argmin((fc - 2 * fc[strongest]).abs())), int(core[-1]))
    return torch.arange(low, high + 1)


def fourth_rule(center_freqs_hz, mfc, n_bands: int) -> torch.Tensor | None:
    """``(C, n_bands)`` bool: modulation band m of channel c enters the correlation when
    ``fc > 4 mfc`` (AMT ``paulick2024_corr``); None when the model has no modulation bank."""
    if mfc is None or len(mfc) < n_bands:
        return None
    fc = torch.as_tensor(center_freqs_hz).detach().to("cpu", torch.float64)
    fm = torch.as_tensor(mfc).detach().to("cpu", torch.float64)[:n_bands]
    return fc[:, None] > 4 * fm[None, :]


def casp_template(
    target_mean: torch.Tensor, reference_mean: torch.Tensor, mask: torch.Tensor, fs: float
) -> torch.Tensor:
    """AMT's template ``(C, M, T)``: the representation difference (absent entries zero)
    scaled to ``sum(T^2) / fs = 1``. Differentiable."""
    diff = (target_mean - reference_mean) * mask[..., None].to(target_mean.dtype)
    energy = diff.pow(2).sum()
    return diff * torch.sqrt(fs / energy)


def centered(template: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The template with each modulation band's mean (over present channels and time)
    removed: AMT ``paulick2024_corr`` for paulick2024. Differentiable."""
    valid = mask[..., None].to(template.dtype)
    count = (valid.sum((0, 2), keepdim=True) * template.shape[-1]).clamp_min(1)
    return (template - (template * valid).sum((0, 2), keepdim=True) / count) * valid


class OptimalDetector:
    """Template-matching n-AFC observer around any model of the model contract (module
    docstring: AMT's procedure).

    Parameters
    ----------
    model : AuditoryModel
        Audio in Pa goes through ``to_model_input`` and its ``representation`` ``(B, C, M, T')``.
    noise_variance : float or {'paulick2024', 'jepsen2008'}
        Internal noise variance of the decision variable (40 / 130, AMT ``paulick2024_decision``).
    fs_representation : float, optional
        Rate of the representation (default ``model.stage_info['output'].rate_hz``).
    center_per_band : bool
        Remove each modulation band's mean before correlating (Paulick2024, default; False
        reproduces Jepsen2008).
    channels : sequence of int, optional
        Channel indices the correlation is restricted to (overrides ``roi``).
    roi : bool
        Choose the channels from the template as AMT's ``paulick2024_roi`` does (needs the
        model's ``roi_stage`` stage: build it with ``return_stages=True``).
    roi_stage : str
        The stage the ROI is computed on (AMT: the adaptation loops' output).
    channel_model : callable, optional
        ``channel_model(indices) -> model`` giving a model whose channels are this model's
        channels at ``indices`` (checked by centre frequency); after :meth:`fit` the trials
        run through it instead of through all channels (same numbers, faster).
    """

    def __init__(
        self,
        model,
        noise_variance="paulick2024",
        fs_representation=None,
        center_per_band: bool = True,
        channels=None,
        roi: bool = False,
        roi_stage: str = "adaptation",
        channel_model=None,
    ):
        self.model = model
        self.noise_variance = check_noise_variance(noise_variance)
        self.fs = check_fs(fs_representation or model.stage_info["output"].rate_hz, "fs_representation")
        self.center_per_band = bool(center_per_band)
        self.fixed_channels = None if channels is None else torch.as_tensor(channels, dtype=torch.long)
        self.roi = bool(roi)
        if self.roi and self.fixed_channels is None:
            info = model.stage_info.get(roi_stage)
            if info is None or info.axes != "BCT" or info.rate_hz is None:
                raise ValueError(
                    f"roi_stage must name a (batch, channel, time) stage of the model with a rate; "
                    f"got {roi_stage!r} (stages: {[k for k in model.stage_info if k != 'output']})"
                )
            if not getattr(model, "return_stages", False):
                raise ValueError(
                    "roi=True needs the model's stages: build the model with return_stages=True "
                    "(or pass channels=... / roi=False)"
                )
        self.roi_stage = roi_stage
        self.channel_model = channel_model
        self.channels = self.template = self.reference = self.mask = self.template_full = None
        self._scoring_model = None
        self._n_bands = None

    @property
    def n_bands(self) -> int | None:
        """Modulation bands the fitted detector keeps (the first ``n_bands``); None before
        :meth:`fit`."""
        return self._n_bands

    # ---------------------------------------------------------------- representations
    def _device(self):
        buffers = list(self.model.buffers()) + list(self.model.parameters())
        return buffers[0].device if buffers else torch.device("cpu")

    def _full(self, audio, with_stage: bool = False):
        x = to_model_input(check_signal(audio, "audio"), self.model)
        with torch.no_grad():
            if with_stage:
                out, stages = self.model(x if x.dim() > 1 else x[None])
                rep, mask = self.model.to_representation(out)
                return rep, mask, stages[self.roi_stage]
            return self.model.representation(x)

    def representation(self, audio) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, C', M', T')`` representation restricted to the detector's channels (all
        before :meth:`fit`), and its ``(C', M')`` mask. No host reads on a device."""
        if self._scoring_model is not None:
            x = to_model_input(check_signal(audio, "audio"), self._scoring_model)
            with torch.no_grad():
                rep, mask = self._scoring_model.representation(x)
        else:
            rep, mask = self._full(audio)
            if self.channels is not None:
                rep, mask = rep[:, self.channels.to(rep.device)], mask[self.channels.to(mask.device)]
        if self._n_bands is not None:
            rep, mask = rep[:, :, : self._n_bands], mask[:, : self._n_bands]
        return rep, mask

    def fit(self, supra_target, reference, batch_size: int | None = None) -> OptimalDetector:
        """Build the template from supra-threshold target and reference audio (``(T,)`` or
        ``(B, T)`` Pa; several rows are averaged, e.g. noise tokens), choose the channels
        (ROI) and store the mean reference. ``batch_size`` caps the rows per model call."""
        supra = torch.as_tensor(supra_target)
        ref_audio = torch.as_tensor(reference)
        supra, ref_audio = (a if a.dim() > 1 else a[None] for a in (supra, ref_audio))
        if supra.shape[-1] != ref_audio.shape[-1]:
            raise ValueError("supra_target and reference must have the same length")
        need_stage = self.roi and self.fixed_channels is None
        self._scoring_model, self._n_bands = None, None
        sums = []
        for audio in (supra, ref_audio):
            size = batch_size or audio.shape[0]
            total_rep = total_stage = mask = None
            for s in range(0, audio.shape[0], size):
                part = self._full(audio[s : s + size], with_stage=need_stage)
                rep = part[0].double().sum(0)
                total_rep = rep if total_rep is None else total_rep + rep
                mask = part[1]
                if need_stage:
                    st = part[2].double().sum(0)
                    total_stage = st if total_stage is None else total_stage + st
            sums.append(
                (total_rep / audio.shape[0], mask, None if total_stage is None else total_stage / audio.shape[0])
            )
        (target, mask, stage_t), (ref, _, stage_r) = sums
        if not bool(((target - ref) * mask[..., None]).abs().max() > 0):
            raise ValueError("supra_target and reference give identical representations: no template")
        full = casp_template(target, ref, mask, self.fs)
        fc = self.model.center_freqs_hz
        if self.fixed_channels is not None:
            channels = self.fixed_channels
        elif need_stage:
            channels = roi_channels(stage_t - stage_r, self.model.stage_info[self.roi_stage].rate_hz, fc)
        else:
            channels = torch.arange(mask.shape[0])
        device = full.device
        channels = channels.to(device)
        sel_mask = mask[channels].clone()
        rule = fourth_rule(torch.as_tensor(fc)[channels.cpu()], getattr(self.model, "mfc", None), mask.shape[1])
        if rule is not None:
            sel_mask &= rule.to(device)
        n_bands = int(torch.nonzero(sel_mask.any(0)).max()) + 1 if bool(sel_mask.any()) else mask.shape[1]
        self.template_full, self.channels = full, channels
        self._n_bands = n_bands
        self.mask = sel_mask[:, :n_bands]
        self.template = full[channels, :n_bands] * self.mask[..., None].to(full.dtype)
        self.reference = ref[channels, :n_bands]
        if self.channel_model is not None and len(channels) < mask.shape[0]:
            self._use_channel_model(channels)
        return self

    def _use_channel_model(self, channels):
        sub = self.channel_model(channels.cpu())
        if sub is None:
            return
        want = torch.as_tensor(self.model.center_freqs_hz).detach().cpu().double()[channels.cpu()]
        got = torch.as_tensor(sub.center_freqs_hz).detach().cpu().double()
        if got.shape == want.shape and torch.allclose(got, want, rtol=1e-5, atol=0):
            self._scoring_model = sub

    # ---------------------------------------------------------------- decision variables
    def _centered_template(self) -> torch.Tensor:
        return centered(self.template, self.mask) if self.center_per_band else self.template

    def decision_variables(self, representation: torch.Tensor) -> torch.Tensor:
        """Noise-free decision variable ``c / fs_R`` per row of a representation ``(B, C', M', T')``
        from :meth:`representation` (stays on the representation's device)."""
        if self.template is None:
            raise RuntimeError("call fit(supra_target, reference) first")
        if representation.shape[1:] != self.template.shape:
            raise ValueError(
                f"representation layout {tuple(representation.shape[1:])} does not match the "
                f"template's {tuple(self.template.shape)}"
            )
        t = self._centered_template().to(representation.device, representation.dtype)
        ref = self.reference.to(representation.device, representation.dtype)
        return ((representation - ref) * t).sum((1, 2, 3)) / self.fs

    def noise_std(self) -> float:
        """Std of the internal noise on each interval's decision variable: ``sqrt(var)``."""
        return math.sqrt(self.noise_variance)

    def add_internal_noise(self, representation: torch.Tensor, generator=None) -> torch.Tensor:
        """Literal internal noise: white Gaussian noise on every present entry, scaled so that
        its projection on the (centred) template has variance ``noise_variance``."""
        t = self._centered_template()
        per_sample = math.sqrt(self.noise_variance) * self.fs / math.sqrt(float(t.pow(2).sum()))
        noise = torch.randn(representation.shape, generator=generator, dtype=representation.dtype)
        noise = noise.to(representation.device) * per_sample
        return representation + noise * self.mask[..., None].to(representation.device)

    def percent_correct_analytic(self, target_dv, reference_dv, n_afc: int):
        """AMT's analytic percent correct of trials with these decision variables."""
        return percent_correct_analytic(amt_mue(target_dv, reference_dv), n_afc, self.noise_variance)

    def percent_correct(
        self, target, maskers, n_afc: int = 3, n_trials: int = 200, generator: torch.Generator | None = None
    ) -> float:
        """Simulated n-AFC run: per trial the target interval and ``n_afc - 1`` masker intervals,
        each with fresh internal noise; returns the fraction of trials choosing the target.

        ``target``: ``(K, T)`` audio tokens, ``maskers``: ``(L, T)``; trial i uses target token
        i % K and masker tokens drawn (seeded by ``generator``) from the L rows.
        """
        if int(n_afc) != n_afc or n_afc < 2:
            raise ValueError(f"n_afc must be an integer >= 2, got {n_afc!r}")
        n_trials = int(check_positive(n_trials, "n_trials"))
        dv_target = self.decision_variables(self.representation(target)[0]).cpu()
        dv_masker = self.decision_variables(self.representation(maskers)[0]).cpu()
        pick = torch.randint(len(dv_masker), (n_trials, n_afc - 1), generator=generator)
        dv = torch.cat([dv_target[torch.arange(n_trials) % len(dv_target), None], dv_masker[pick]], 1)
        dv = dv + self.noise_std() * torch.randn(dv.shape, generator=generator, dtype=dv.dtype)
        return float((dv.argmax(1) == 0).to(torch.float64).mean())

    def to(self, device) -> OptimalDetector:
        """The detector on ``device``: its model (a copy when it lives elsewhere, so a shared
        model is never moved), template and reference."""
        device = torch.device(device)
        if self._device() != device:
            self.model = copy.deepcopy(self.model).to(device)
            if self._scoring_model is not None:
                self._scoring_model = copy.deepcopy(self._scoring_model).to(device)
        for name in ("template", "reference", "mask", "template_full", "channels"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value.to(device))
        return self


# --------------------------------------------------------------------------- experiment observers
class _ScoringObserver:
    """Observers whose decision is on a noise-free score per interval plus independent
    Gaussian internal noise of std ``noise_sd``: ``score(audio (n, T)) -> (n,)`` float64."""

    noise_sd = 0.0

    def choose(self, intervals) -> torch.Tensor:
        n, k, t = intervals.shape
        return self.add_noise(self.score(intervals.reshape(n * k, t)).reshape(n, k)).argmax(1)

    def add_noise(self, scores: torch.Tensor) -> torch.Tensor:
        return scores + self.noise_sd * torch.randn(scores.shape, generator=self.generator, dtype=scores.dtype)

    def judge(self, target_scores, reference_scores, target_p: float) -> np.ndarray:
        """Correct (bool per trial) from the target's score ``(n,)`` and the references'
        ``(n, k)``: the target's noisy score beats every noisy reference (sampled noise)."""
        t = self.add_noise(torch.as_tensor(target_scores, dtype=torch.float64))
        r = self.add_noise(torch.as_tensor(reference_scores, dtype=torch.float64))
        return (t > r.amax(1)).numpy()


class FeatureObserver(_ScoringObserver):
    """Stand-in observer: one scalar feature per interval plus Gaussian internal noise.

    ``feature``: 'level' (rms level in dB SPL of a Pa signal, plus an internal floor at
    ``floor_db_spl`` so that silence is not infinitely informative) or 'envelope' (20 log10
    of the Hilbert envelope's std/mean: modulation depth), or a callable
    ``(n, T) tensor -> (n,) tensor``.
    ``window_s``: optional (start, stop) in seconds the feature looks at.
    ``prepare`` learns whether the target raises or lowers the feature; ``choose`` picks the
    interval whose noisy feature lies furthest in that direction.
    """

    def __init__(
        self,
        feature="level",
        noise_sd: float = 0.5,
        fs: float | None = None,
        window_s=None,
        floor_db_spl: float = 0.0,
        seed=None,
    ):
        if not callable(feature):
            check_choice(feature, ("level", "envelope"), "feature")
        self.feature, self.noise_sd = feature, check_positive(noise_sd, "noise_sd", allow_zero=True)
        self.fs, self.window_s, self.floor = fs, window_s, P_REF_PA**2 * 10 ** (floor_db_spl / 10)
        if window_s is not None and fs is None:
            raise ValueError("window_s needs fs")
        self.generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
        self.sign = 1.0

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(x, dtype=torch.float64)
        if self.window_s is not None:
            x = x[..., int(self.window_s[0] * self.fs) : int(self.window_s[1] * self.fs)]
        if callable(self.feature):
            return torch.as_tensor(self.feature(x), dtype=torch.float64)
        if self.feature == "level":
            return 10 * torch.log10((x.pow(2).mean(-1) + self.floor) / P_REF_PA**2)
        env = hilbert_envelope(x)
        return 20 * torch.log10(env.std(-1) / env.mean(-1))

    def prepare(self, target, reference):
        diff = float(self.features(target).mean() - self.features(reference).mean())
        self.sign = 1.0 if diff >= 0 else -1.0

    def score(self, audio) -> torch.Tensor:
        return self.sign * self.features(audio).cpu()


class TemplateObserver(_ScoringObserver):
    """Adapts a template detector (``fit``, ``representation``, ``decision_variables``,
    ``noise_std``; e.g. the CASP ``OptimalDetector``) to the experiment protocol.

    The template comes from supra-threshold target tokens vs reference tokens. ``decision``:
    'amt' (AMT's deterministic analytic rule, see the module docstring; needs 2-4 intervals
    and a detector with ``noise_variance``) or 'sampled' (independent internal noise on every
    interval's decision variable, the largest wins). ``device``: where the model runs (audio
    is moved there in one transfer per batch; only the decision variables come back).
    ``batch_size`` caps how many intervals go through the model at once (memory).
    """

    def __init__(
        self,
        detector,
        seed=None,
        device=None,
        dtype=torch.float32,
        batch_size: int | None = None,
        decision: str = "sampled",
    ):
        for attr in ("fit", "representation", "decision_variables", "noise_std"):
            if not hasattr(detector, attr):
                raise TypeError(f"detector lacks {attr}(); expected an OptimalDetector-like object")
        self.detector, self.dtype = detector, dtype
        self.decision = check_choice(decision, DECISIONS, "decision")
        if self.decision == "amt" and not hasattr(detector, "noise_variance"):
            raise TypeError("decision='amt' needs a detector with noise_variance (the analytic rule's variance)")
        self.batch_size = None if batch_size is None else check_int(batch_size, "batch_size", 1)
        self.generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
        self.device = None
        if device is not None:
            self.to(device)

    def to(self, device) -> TemplateObserver:
        """Run the model (and keep the template) on ``device``."""
        self.device = torch.device(device)
        if hasattr(self.detector, "to"):
            self.detector.to(self.device)
        return self

    def _audio(self, x):
        return torch.as_tensor(x).to(device=self.device, dtype=self.dtype)

    def prepare(self, target, reference):
        kwargs = (
            {"batch_size": self.batch_size} if "batch_size" in inspect.signature(self.detector.fit).parameters else {}
        )
        self.detector.fit(self._audio(target), self._audio(reference), **kwargs)
        self.noise_sd = self.detector.noise_std()

    def score_on_device(self, audio) -> torch.Tensor:
        """Decision variables ``(n,)`` on the model's device (no host transfer)."""
        flat = self._audio(audio)
        size = self.batch_size or flat.shape[0]
        return torch.cat(
            [
                self.detector.decision_variables(self.detector.representation(flat[s : s + size])[0])
                for s in range(0, flat.shape[0], size)
            ]
        )

    def score(self, audio) -> torch.Tensor:
        return self.score_on_device(audio).cpu().double()

    def judge(self, target_scores, reference_scores, target_p: float) -> np.ndarray:
        if self.decision == "sampled":
            return super().judge(target_scores, reference_scores, target_p)
        reference_scores = torch.as_tensor(reference_scores, dtype=torch.float64)
        n_afc = reference_scores.shape[1] + 1
        if n_afc not in AFC_FIT:
            raise ValueError(
                f"decision='amt' has AMT's analytic rule for 2-4 intervals only, got {n_afc}; use decision='sampled'"
            )
        prob = percent_correct_analytic(
            amt_mue(torch.as_tensor(target_scores, dtype=torch.float64), reference_scores),
            n_afc,
            self.detector.noise_variance,
        )
        return (prob > target_p).numpy()


# CASP observer: (model, its constructor keywords, internal noise variance, centre per band),
# AMT paulick2024_decision (40 / 130); the detector also runs on Dau1997 (40, no centring)
CASP_OBSERVERS = {
    "paulick2024": ("Paulick2024", {"model": "paulick2024"}, 40.0, True),
    "jepsen2008": ("Paulick2024", {"model": "jepsen2008"}, 130.0, False),
    "dau1997": ("Dau1997", {}, 40.0, False),
}
OBSERVERS = (*CASP_OBSERVERS, "level", "envelope")


@functools.lru_cache(maxsize=16)
def casp_model(name: str, fs: float, band: tuple = (), device=None):
    """The model of a CASP observer (cached: experiments reuse it), in eval mode, with its
    stages (the ROI reads the adaptation stage).

    ``band``: the sorted items of ``flow``/``fhigh``/``n_channels`` (Hz). A model with
    ``n_channels`` keeps its default grid's ERB spacing in the sub-band (Paulick2024: 50
    channels over 250-8000 Hz) unless ``n_channels`` is given."""
    import workbench

    model_name, kwargs, _, _ = CASP_OBSERVERS[name]
    cls, kwargs = getattr(workbench, model_name), {**kwargs, **dict(band)}
    defaults = inspect.signature(cls).parameters
    if band and "n_channels" in defaults and "n_channels" not in kwargs:
        lo, hi, n = (defaults[k].default for k in ("flow", "fhigh", "n_channels"))
        span = lambda a, b: float(hz_to_erb_number(b) - hz_to_erb_number(a))  # noqa: E731
        width = span(kwargs.get("flow", lo), kwargs.get("fhigh", hi)) / (span(lo, hi) / (n - 1))
        kwargs["n_channels"] = max(1, round(width) + 1)
    return cls(fs=fs, return_stages=True, **kwargs).to(device or "cpu").eval()


def _channel_model(name: str, fs: float, device, center_freqs_hz, indices):
    """A CASP observer's model holding only the channels ``indices`` of the full grid."""
    import workbench

    fc = torch.as_tensor(center_freqs_hz).detach().cpu().double()[indices]
    band = {"flow": float(fc[0]), "fhigh": float(fc[-1])}
    if "n_channels" in inspect.signature(getattr(workbench, CASP_OBSERVERS[name][0])).parameters:
        band["n_channels"] = len(fc)
    if len(fc) == 1:
        return None
    return casp_model(name, fs, tuple(sorted(band.items())), device)


def make_observer(
    name: str,
    experiment,
    *,
    seed: int = 0,
    device=None,
    flow: float | None = None,
    fhigh: float | None = None,
    noise_sd: float = 1.0,
    batch_size: int | None = None,
    roi: bool = True,
    decision: str = "amt",
):
    """Observer by name for ``experiment`` (read for its ``fs``).

    A :data:`CASP_OBSERVERS` name: the CASP optimal detector on that model, as AMT runs it:
    ROI channel selection (``roi``, default on) and AMT's analytic decision (``decision='amt'``;
    'sampled' adds internal noise to every interval instead). ``flow``/``fhigh`` restrict the
    model's channels beforehand (default: the model's own range). ``device``: where the
    model runs ('cuda' when present; default CPU).
    'level' / 'envelope': :class:`FeatureObserver` stand-ins with ``noise_sd`` (dB).
    """
    check_choice(name, OBSERVERS, "observer")
    check_choice(decision, DECISIONS, "decision")
    if name not in CASP_OBSERVERS:
        return FeatureObserver(name, noise_sd=noise_sd, seed=seed)
    band = tuple(sorted((k, v) for k, v in (("flow", flow), ("fhigh", fhigh)) if v is not None))
    dev = None if device is None else str(torch.device(device))
    model = casp_model(name, float(experiment.fs), band, dev)
    _, _, variance, centre = CASP_OBSERVERS[name]
    sub = functools.partial(_channel_model, name, float(experiment.fs), dev, model.center_freqs_hz)
    detector = OptimalDetector(
        model, noise_variance=variance, center_per_band=centre, roi=roi, channel_model=lambda idx: sub(idx)
    )
    return TemplateObserver(detector, seed=seed, device=device, batch_size=batch_size, decision=decision)
