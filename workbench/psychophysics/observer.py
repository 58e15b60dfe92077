"""CASP optimal detector (Jepsen et al. 2008; Paulick et al. 2024), usable with any model.

The observer stores a *template*: the difference between the representation of a
supra-threshold target and that of the reference (masker alone), normalised to unit energy
per second (``sum(template^2) / fs = 1``, as AMT's demo_paulick2024). An interval's decision
variable is the correlation of its representation minus the reference with the template,
divided by the representation's sampling rate; for Paulick2024 each modulation band is
correlated after removing its across-channel/time mean (AMT ``paulick2024_corr``; Jepsen2008
does not remove it). Internal noise: Gaussian noise added to every sample of each interval's
representation, scaled so that its projection on the template has variance ``noise_variance``
(40 for paulick2024, 130 for jepsen2008, AMT ``paulick2024_decision``). Because the decision
variable is linear in the representation, that projection is sampled directly (same
distribution, no full-size noise tensors); ``add_internal_noise`` gives the literal version.
In an n-AFC trial the interval with the largest decision variable is chosen.

The deterministic variant is AMT's analytic percent correct, ``percent_correct_analytic``.

For the experiments (:mod:`workbench.psychophysics.experiments`): :class:`TemplateObserver`
adapts the detector to their observer protocol, :class:`FeatureObserver` is a cheap stand-in
(a scalar feature plus Gaussian internal noise) and :func:`make_observer` builds either by name.
"""

from __future__ import annotations

import functools
import inspect
import math

import torch

from workbench._validation import check_choice, check_fs, check_int, check_positive, check_signal
from workbench.dsp import hilbert_envelope
from workbench.units import P_REF_PA, hz_to_erb_number, to_model_input

NOISE_VARIANCE = {"paulick2024": 40.0, "jepsen2008": 130.0}
# AMT paulick2024_decision: P = 1 - erfc((mue / sqrt(var) * slope - offset) * 0.7071068) / 2
_AFC_FIT = {2: (0.707, 0.0), 3: (0.765, 0.423), 4: (0.810, 0.668)}


def _noise_variance(value) -> float:
    if isinstance(value, str):
        return NOISE_VARIANCE[check_choice(value, NOISE_VARIANCE, "noise_variance")]
    return check_positive(value, "noise_variance")


def percent_correct_analytic(mue, n_afc: int, noise_variance=40.0):
    """AMT's probability of a correct n-AFC response (2, 3, 4) for decision variable ``mue``.

    ``noise_variance``: a number or 'paulick2024' (40) / 'jepsen2008' (130). Returns a tensor
    (or float for float input) in [0, 1].
    """
    check_choice(n_afc, _AFC_FIT, "n_afc")
    slope, offset = _AFC_FIT[n_afc]
    sigma = math.sqrt(_noise_variance(noise_variance))
    if isinstance(mue, (int, float)):
        return 1 - math.erfc((mue / sigma * slope - offset) * 0.7071068) / 2
    mue = torch.as_tensor(mue)
    return 1 - torch.erfc((mue / sigma * slope - offset) * 0.7071068) / 2


def amt_decision(mue, n_afc: int, rule=(1, 2), noise_variance=40.0):
    """AMT ``paulick2024_decision``: (detected, probability). Only 1-up-n-down rules: detected
    when the probability exceeds the rule's convergence point 1 / 2**(1/n)."""
    if len(rule) != 2 or rule[0] != 1 or int(rule[1]) != rule[1] or rule[1] < 1:
        raise ValueError(f"rule must be (1, n) with integer n >= 1 (1-up-n-down), got {rule!r}")
    prob = percent_correct_analytic(mue, n_afc, noise_variance)
    return prob > 1 / 2 ** (1 / rule[1]), prob


def roi_channels(adaptation_difference: torch.Tensor, fs: float, center_freqs_hz) -> torch.Tensor:
    """AMT ``paulick2024_roi``: indices of the relevant channels from the template's
    adaptation-stage difference ``(C, T)`` (or ``(B, C, T)``, averaged over B).

    Each channel is smoothed by a moving mean of 25 periods of its centre frequency; channels
    whose rms reaches half the maximum form the core, widened to at least [fc_max / sqrt 2,
    2 fc_max] around the strongest channel (nearest channels)."""
    fs = check_fs(fs)
    x = torch.as_tensor(adaptation_difference, dtype=torch.float64)
    x = x.mean(0) if x.dim() == 3 else x
    fc = torch.as_tensor(center_freqs_hz, dtype=torch.float64)
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
    strongest = int(torch.argmax(rms))
    core = torch.nonzero(rms >= 0.5 * rms.max()).flatten()
    low = min(int(torch.argmin((fc - fc[strongest] / math.sqrt(2)).abs())), int(core[0]))
    high = max(int(torch.argmin((fc - 2 * fc[strongest]).abs())), int(core[-1]))
    return torch.arange(low, high + 1)


class OptimalDetector:
    """Template-matching n-AFC observer around any model of the model contract.

    ``model``: an ``AuditoryModel``; audio in Pa goes through ``to_model_input`` and its
    ``representation`` ``(B, C, M, T')``. ``fs_representation``: sampling rate of that
    representation (default ``model.stage_info['output'].rate_hz``). ``noise_variance``:
    number, 'paulick2024' (40, default) or 'jepsen2008' (130); ``center_per_band``: remove
    each modulation band's mean before correlating (Paulick2024, default; False reproduces
    Jepsen2008). ``channels``: optional channel indices (e.g. from ``roi_channels``) to
    restrict the correlation to.
    """

    def __init__(self, model, noise_variance="paulick2024", fs_representation=None,
                 center_per_band: bool = True, channels=None):
        self.model = model
        self.noise_variance = _noise_variance(noise_variance)
        self.fs = check_fs(fs_representation or model.stage_info["output"].rate_hz, "fs_representation")
        self.center_per_band = bool(center_per_band)
        self.channels = None if channels is None else torch.as_tensor(channels, dtype=torch.long)
        self.template = self.reference = self.mask = None

    def representation(self, audio) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            x, mask = self.model.representation(to_model_input(check_signal(audio, "audio"), self.model))
        if self.channels is not None:
            x, mask = x[:, self.channels], mask[self.channels]
        return x, mask

    def fit(self, supra_target, reference) -> OptimalDetector:
        """Build the template from a supra-threshold target and the reference audio (``(T,)``
        or ``(B, T)``; several rows are averaged, e.g. noise tokens)."""
        target, mask = self.representation(supra_target)
        ref, _ = self.representation(reference)
        if target.shape[-1] != ref.shape[-1]:
            raise ValueError("supra_target and reference must have the same length")
        diff = (target.mean(0) - ref.mean(0)) * mask[..., None]
        energy = diff.pow(2).sum()
        if not energy > 0:
            raise ValueError("supra_target and reference give identical representations: no template")
        self.template = diff * torch.sqrt(self.fs / energy)
        self.reference, self.mask = ref.mean(0), mask
        return self

    def _centered_template(self) -> torch.Tensor:
        t = self.template
        if self.center_per_band:
            valid = self.mask[..., None].to(t.dtype)
            count = (valid.sum((0, 2), keepdim=True) * t.shape[-1]).clamp_min(1)
            t = (t - (t * valid).sum((0, 2), keepdim=True) / count) * valid
        return t

    def decision_variables(self, representation: torch.Tensor) -> torch.Tensor:
        """Noise-free decision variable per row of a stacked representation ``(B, C, M, T)``."""
        if self.template is None:
            raise RuntimeError("call fit(supra_target, reference) first")
        if representation.shape[1:] != self.template.shape:
            raise ValueError(f"representation layout {tuple(representation.shape[1:])} does not match the "
                             f"template's {tuple(self.template.shape)}")
        return ((representation - self.reference) * self._centered_template()).sum((1, 2, 3)) / self.fs

    def noise_std(self) -> float:
        """Std of the internal noise's projection on the (centred) template."""
        t = self._centered_template()
        return math.sqrt(self.noise_variance * float(t.pow(2).sum()) / self.fs)

    def add_internal_noise(self, representation: torch.Tensor, generator=None) -> torch.Tensor:
        """Literal internal noise: per-sample variance noise_variance * fs on present entries."""
        noise = torch.randn(representation.shape, generator=generator, dtype=representation.dtype)
        noise = noise.to(representation.device) * math.sqrt(self.noise_variance * self.fs)
        return representation + noise * self.mask[..., None]

    def percent_correct(self, target, maskers, n_afc: int = 3, n_trials: int = 200,
                        generator: torch.Generator | None = None) -> float:
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


# --------------------------------------------------------------------------- experiment observers
class _ScoringObserver:
    """Observers whose decision is argmax of a noise-free score per interval plus independent
    Gaussian internal noise of std ``noise_sd``: ``score(audio (n, T)) -> (n,)`` float64."""

    noise_sd = 0.0

    def choose(self, intervals) -> torch.Tensor:
        n, k, t = intervals.shape
        return self.add_noise(self.score(intervals.reshape(n * k, t)).reshape(n, k)).argmax(1)

    def add_noise(self, scores: torch.Tensor) -> torch.Tensor:
        return scores + self.noise_sd * torch.randn(scores.shape, generator=self.generator, dtype=scores.dtype)


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

    def __init__(self, feature="level", noise_sd: float = 0.5, fs: float | None = None,
                 window_s=None, floor_db_spl: float = 0.0, seed=None):
        if not callable(feature):
            check_choice(feature, ("level", "envelope"), "feature")
        self.feature, self.noise_sd = feature, check_positive(noise_sd, "noise_sd", allow_zero=True)
        self.fs, self.window_s, self.floor = fs, window_s, P_REF_PA ** 2 * 10 ** (floor_db_spl / 10)
        if window_s is not None and fs is None:
            raise ValueError("window_s needs fs")
        self.generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
        self.sign = 1.0

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(x, dtype=torch.float64)
        if self.window_s is not None:
            x = x[..., int(self.window_s[0] * self.fs):int(self.window_s[1] * self.fs)]
        if callable(self.feature):
            return torch.as_tensor(self.feature(x), dtype=torch.float64)
        if self.feature == "level":
            return 10 * torch.log10((x.pow(2).mean(-1) + self.floor) / P_REF_PA ** 2)
        env = hilbert_envelope(x)
        return 20 * torch.log10(env.std(-1) / env.mean(-1))

    def prepare(self, target, reference):
        diff = float(self.features(target).mean() - self.features(reference).mean())
        self.sign = 1.0 if diff >= 0 else -1.0

    def score(self, audio) -> torch.Tensor:
        return self.sign * self.features(audio).cpu()


class TemplateObserver(_ScoringObserver):
    """Adapts a template detector (``fit``, ``representation``, ``decision_variables``,
    ``noise_std``; e.g. the CASP ``OptimalDetector``) to the experiment protocol: the
    template comes from supra-threshold target tokens vs reference tokens; in each trial
    every interval's decision variable gets independent internal noise and the largest wins.
    ``batch_size`` caps how many intervals go through the model at once (memory)."""

    def __init__(self, detector, seed=None, device=None, dtype=torch.float32,
                 batch_size: int | None = None):
        for attr in ("fit", "representation", "decision_variables", "noise_std"):
            if not hasattr(detector, attr):
                raise TypeError(f"detector lacks {attr}(); expected an OptimalDetector-like object")
        self.detector, self.device, self.dtype = detector, device, dtype
        self.batch_size = None if batch_size is None else check_int(batch_size, "batch_size", 1)
        self.generator = torch.Generator().manual_seed(0 if seed is None else int(seed))

    def _audio(self, x):
        return torch.as_tensor(x).to(device=self.device, dtype=self.dtype)

    def prepare(self, target, reference):
        self.detector.fit(self._audio(target), self._audio(reference))
        self.noise_sd = self.detector.noise_std()

    def score(self, audio) -> torch.Tensor:
        flat = self._audio(audio)
        size = self.batch_size or flat.shape[0]
        return torch.cat([self.detector.decision_variables(self.detector.representation(flat[s:s + size])[0])
                          for s in range(0, flat.shape[0], size)]).cpu().double()


# CASP observer: (model, its constructor keywords, internal noise variance, centre per band),
# AMT paulick2024_decision (40 / 130); the detector also runs on Dau1997 (40, no centring)
CASP_OBSERVERS = {"paulick2024": ("Paulick2024", {"model": "paulick2024"}, 40.0, True),
                  "jepsen2008": ("Paulick2024", {"model": "jepsen2008"}, 130.0, False),
                  "dau1997": ("Dau1997", {}, 40.0, False)}
OBSERVERS = (*CASP_OBSERVERS, "level", "envelope")


@functools.lru_cache(maxsize=8)
def casp_model(name: str, fs: float, band: tuple = (), device=None):
    """The model of a CASP observer (cached: experiments reuse it), in eval mode.

    ``band``: the sorted items of ``flow``/``fhigh`` (Hz). A model with ``n_channels`` keeps
    its default grid's ERB spacing in the sub-band (Paulick2024: 50 channels over 250-8000 Hz)."""
    import workbench

    model_name, kwargs, _, _ = CASP_OBSERVERS[name]
    cls, kwargs = getattr(workbench, model_name), {**kwargs, **dict(band)}
    defaults = inspect.signature(cls).parameters
    if band and "n_channels" in defaults:
        lo, hi, n = (defaults[k].default for k in ("flow", "fhigh", "n_channels"))
        span = lambda a, b: float(hz_to_erb_number(b) - hz_to_erb_number(a))  # noqa: E731
        width = span(kwargs.get("flow", lo), kwargs.get("fhigh", hi)) / (span(lo, hi) / (n - 1))
        kwargs["n_channels"] = max(1, round(width) + 1)
    return cls(fs=fs, **kwargs).to(device or "cpu").eval()


def make_observer(name: str, experiment, *, seed: int = 0, device=None, flow: float | None = None,
                  fhigh: float | None = None, noise_sd: float = 1.0, batch_size: int | None = None):
    """Observer by name for ``experiment`` (read for its ``fs``).

    A :data:`CASP_OBSERVERS` name: the CASP optimal detector on that model; ``flow``/``fhigh``
    restrict the auditory channels (default: the model's; a stand-in for AMT's ROI selection).
    'level' / 'envelope': :class:`FeatureObserver` stand-ins with ``noise_sd`` (dB).
    """
    check_choice(name, OBSERVERS, "observer")
    if name not in CASP_OBSERVERS:
        return FeatureObserver(name, noise_sd=noise_sd, seed=seed)
    band = tuple(sorted((k, v) for k, v in (("flow", flow), ("fhigh", fhigh)) if v is not None))
    model = casp_model(name, float(experiment.fs), band, None if device is None else str(device))
    _, _, variance, centre = CASP_OBSERVERS[name]
    detector = OptimalDetector(model, noise_variance=variance, center_per_band=centre)
    return TemplateObserver(detector, seed=seed, device=device, batch_size=batch_size)
