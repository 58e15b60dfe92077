"""Classic listening experiments, run on any model through an observer.

An :class:`Experiment` is declarative: a stimulus factory for target and reference intervals
as a function of the tracked variable, the fixed parameters, the number of intervals and an
adaptive :class:`~workbench.psychophysics.procedures.Staircase` (AMT ``amt_emuexp``
semantics: 'intnum' = ``n_intervals``, 'rule' = (n_down, n_up), 'expvarstart' =
``procedure.start_value``, step halving at reversals). Running it advances ``n_runs``
staircases in lock-step; each step puts *all intervals of all active runs* through the
observer as one batch (on the observer's device, e.g. CUDA).

Observer protocol (anything with these methods works)::

    observer.prepare(target, reference)   # optional: (n, T) supra-threshold target tokens
                                          # and reference tokens, e.g. to build a template
    observer.choose(intervals) -> index   # intervals (n_trials, n_intervals, T) in Pa,
                                          # returns the chosen interval per trial (n_trials,)

:mod:`workbench.psychophysics.observer` has the observers (:func:`make_observer`): the
CASP optimal detector through ``TemplateObserver``, and ``FeatureObserver`` stand-ins.
Experiments (registry :data:`EXPERIMENTS`): :func:`tmtf`, :func:`intensity_discrimination`
(tone and noise), :func:`tone_in_noise`, :func:`notched_noise`, :func:`forward_masking`
(broadband-noise masker, vs gap), :func:`forward_masking_tone` (tone masker on or off the
probe frequency: growth of masking), :func:`masking_pattern` (narrowband-noise masker, vs
probe frequency) and :func:`am_detection` (narrowband-noise or tone carriers). Their human
data, with provenance, are in :mod:`workbench.psychophysics.human_data`.
"""

from __future__ import annotations

import functools
import inspect
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from workbench import stimuli
from workbench._validation import check_choice, check_fs, check_int, check_kwargs, check_positive
from workbench.psychophysics.human_data import HUMAN_DATA, weber_db_to_delta_l
from workbench.psychophysics.observer import make_observer
from workbench.psychophysics.procedures import (
    Staircase,
    StaircaseResult,
    afc_positions,
    arrange_intervals,
    run_staircase,
)


# --------------------------------------------------------------------------- experiment
@dataclass
class ExperimentResult:
    """Thresholds of ``n_runs`` staircase runs plus everything to reproduce them."""

    experiment: Experiment
    staircase: StaircaseResult
    seed: int
    elapsed_s: float

    @property
    def thresholds(self) -> np.ndarray:
        return self.staircase.thresholds

    def rows(self) -> list[dict]:
        """One tidy row per run: condition parameters, threshold, reported quantity, status."""
        e = self.experiment
        return [
            {
                "experiment": e.name,
                **e.condition,
                "run": i,
                "seed": self.seed,
                e.variable: float(t),
                **e.report(float(t)),
                "status": s,
                "n_trials": int(len(v)),
                "elapsed_s": round(self.elapsed_s, 3),
            }
            for i, (t, s, v) in enumerate(zip(self.thresholds, self.staircase.status, self.staircase.values))
        ]

    def summary(self) -> dict:
        ok = self.thresholds[np.isfinite(self.thresholds)]
        mean = float(ok.mean()) if ok.size else math.nan
        return {
            "experiment": self.experiment.name,
            **self.experiment.condition,
            self.experiment.variable: mean,
            **self.experiment.report(mean),
            "sd": float(ok.std(ddof=1)) if ok.size > 1 else math.nan,
            "n_converged": int(ok.size),
            "n_runs": len(self.thresholds),
            "elapsed_s": self.elapsed_s,
        }


@dataclass
class Experiment:
    """A declarative n-AFC experiment.

    make_target(values (n,), generator) -> (n, T) Pa: target intervals at the tracked values.
    make_reference(n, generator) -> (n, T) Pa: reference intervals.
    variable/unit: name and unit of the tracked variable (lower = harder).
    template_value: supra-threshold value for the observer's template.
    condition: the swept parameters (e.g. {'rate_hz': 8}); params: all fixed parameters.
    report: maps a threshold to extra reported quantities (e.g. dL from 10 log dI/I).
    frozen: target and reference are deterministic functions of the value (no noise tokens);
        observers with ``score`` then get each distinct stimulus once (cached), exactly.
    """

    name: str
    variable: str
    unit: str
    make_target: Callable
    make_reference: Callable
    procedure: Staircase
    template_value: float
    fs: float
    n_intervals: int = 3
    condition: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    report: Callable = field(default=lambda t: {})
    frozen: bool = False

    def __post_init__(self):
        check_int(self.n_intervals, "n_intervals", 2)

    def config(self) -> dict:
        return {
            "experiment": self.name,
            "variable": self.variable,
            "unit": self.unit,
            "n_intervals": self.n_intervals,
            "template_value": self.template_value,
            "fs": self.fs,
            **self.condition,
            **self.params,
            "procedure": self.procedure.to_dict(),
        }

    def trial_intervals(self, values, generator, rng):
        """Build one trial per value: ``(intervals (n, n_intervals, T), target positions (n,))``."""
        values = np.asarray(values, float)
        n = values.size
        target = self.make_target(values, generator)
        refs = self.make_reference(n * (self.n_intervals - 1), generator).reshape(n, self.n_intervals - 1, -1)
        pos = afc_positions(n, self.n_intervals, rng)
        return arrange_intervals(target, refs, pos), pos

    def run(
        self,
        observer,
        n_runs: int = 4,
        seed: int = 0,
        n_template: int = 16,
        reference_pool: int | None = None,
        device=None,
    ) -> ExperimentResult:
        """Run ``n_runs`` staircases with ``observer`` (see the module's observer protocol).

        ``n_template`` supra-threshold target and reference tokens go to ``observer.prepare``
        (averaged into the template; one for frozen experiments); each target token holds the
        same noise as its reference token.

        Observers with ``score``/``judge`` (the built-in ones) take a faster path: each step
        scores the targets and references of all active runs in one batch, and
        ``judge(target_scores, reference_scores, target_p)`` says which trials are correct
        (sampled internal noise, or AMT's analytic rule at the procedure's convergence point
        ``target_p``). ``reference_pool=N`` scores N reference tokens once and draws each
        trial's references from them (an approximation for running-noise references, saving
        ``(n_intervals - 1) / n_intervals`` of the model calls); frozen experiments cache
        every stimulus's score (exact).

        ``device``: run the observer's batched trials there (``observer.to(device)``; e.g.
        'cuda'). Stimuli are made on the CPU (seeded generators) and sent once per step; only
        the decision variables come back.
        """
        if not hasattr(observer, "choose"):
            raise TypeError(f"observer must have choose(intervals); got {type(observer).__name__}")
        n_runs = check_int(n_runs, "n_runs", 1)
        if device is not None:
            if not hasattr(observer, "to"):
                raise TypeError(f"device needs an observer with to(device); {type(observer).__name__} has none")
            observer.to(device)
        gen = torch.Generator().manual_seed(int(seed))
        rng = np.random.default_rng(seed)
        start = time.perf_counter()
        if hasattr(observer, "prepare"):
            n_template = 1 if self.frozen else check_int(n_template, "n_template", 1)  # tokens identical
            # paired tokens: the supra-threshold target and the reference share each noise
            # token, so the template is the increment's effect (the two coincide for frozen stimuli)
            state = gen.get_state()
            supra = self.make_target(np.full(n_template, float(self.template_value)), gen)
            gen.set_state(state)
            observer.prepare(supra, self.make_reference(n_template, gen))
        scoring = hasattr(observer, "score") and hasattr(observer, "judge")
        if reference_pool is not None:
            reference_pool = check_int(reference_pool, "reference_pool", 1)
            if not scoring:
                raise TypeError("reference_pool needs an observer with score() and judge()")
        if scoring and self.frozen:
            reference_pool = 1
        pool = observer.score(self.make_reference(reference_pool, gen)) if reference_pool else None
        cache: dict = {}
        k = self.n_intervals - 1
        target_p = self.procedure.target_p

        def target_scores(values):
            if not self.frozen:
                return observer.score(self.make_target(values, gen))
            todo = sorted({round(v, 9) for v in values} - set(cache))
            if todo:
                cache.update(zip(todo, observer.score(self.make_target(np.array(todo), gen)).tolist()))
            return torch.tensor([cache[round(v, 9)] for v in values], dtype=torch.float64)

        def respond(values):
            n = len(values)
            if not scoring:
                intervals, pos = self.trial_intervals(values, gen, rng)
                return np.asarray(torch.as_tensor(observer.choose(intervals)).cpu()).reshape(-1) == pos
            if pool is None:  # targets and fresh references through the model in one batch
                audio = torch.cat([self.make_target(np.asarray(values, float), gen), self.make_reference(n * k, gen)])
                scores = observer.score(audio)
                t, refs = scores[:n], scores[n:].reshape(n, k)
            else:
                t = target_scores(values)
                refs = pool[torch.as_tensor(rng.integers(0, len(pool), (n, k)))]
            return np.asarray(observer.judge(t, refs, target_p), dtype=bool).reshape(-1)

        result = run_staircase(self.procedure, respond, n_runs)
        return ExperimentResult(self, result, int(seed), time.perf_counter() - start)


def _procedure(procedure, default: dict) -> Staircase:
    if isinstance(procedure, Staircase):
        return procedure
    kw = dict(default)
    kw.update(check_kwargs(procedure, Staircase.__dataclass_fields__, "procedure"))
    return Staircase(**kw)


def _ramped(x, fs, ramp_s):
    return stimuli.apply_ramp(x, fs, ramp_s)


def _noise_at(n, duration_s, fs, band_hz, level_db_spl, gen):
    """``n`` independent Gaussian noise tokens in ``band_hz``, each at ``level_db_spl`` (Pa, float64)."""
    return stimuli.set_level(
        stimuli.noise_carrier(duration_s, fs, band_hz=band_hz, batch=n, generator=gen), level_db_spl
    )


# probe level tracked in dB SPL (forward masking, masking patterns): steps and bounds
_PROBE_LEVEL_TRACK = dict(step_sizes=(8.0, 4.0, 2.0, 1.0), bounds=(-30.0, 110.0))
_RUN_SETTINGS = ("fs", "n_intervals", "procedure")  # how an experiment runs, not what it presents


def _factory(build):
    """An experiment factory whose :class:`Experiment` records as ``params`` every argument of
    the call (defaults included, in signature order, sequences as lists) that is neither in its
    ``condition`` nor a run setting (``fs``, ``n_intervals``, ``procedure``). A value the
    factory put in ``params`` itself (an argument it validated into a float) is the one kept,
    so ``duration_s=1`` and ``duration_s=1.0`` give one config."""
    signature = inspect.signature(build)

    @functools.wraps(build)
    def factory(*args, **kwargs):
        experiment = build(*args, **kwargs)
        call = signature.bind(*args, **kwargs)
        call.apply_defaults()
        checked = experiment.params
        experiment.params = {
            k: checked[k] if k in checked else list(v) if isinstance(v, (tuple, list)) else v
            for k, v in call.arguments.items()
            if k not in experiment.condition and k not in _RUN_SETTINGS
        }
        return experiment

    return factory


def _am_experiment(name, carrier, rate_hz, duration_s, level_db_spl, ramp_s, fs, n_intervals, procedure, **kwargs):
    """AM detection on ``carrier(n, gen)`` tokens ``c(t)`` (``(n, T)``, float64).

    Target ``(1 + m sin(2 pi rate_hz t)) c(t)``, reference ``c(t)``, every interval scaled to
    ``level_db_spl`` (no level cue), then ramped. Tracked: 20 log10 m in dB, bounded by 0 dB.
    ``kwargs``: the :class:`Experiment`'s ``condition`` and ``frozen``.
    """
    proc = _procedure(procedure, dict(start_value=-6.0, step_sizes=(4.0, 2.0, 1.0), bounds=(-60.0, 0.0)))
    t = torch.arange(int(round(duration_s * fs)), dtype=torch.float64) / fs

    def make(m_db, gen, modulated=True):
        c = carrier(len(m_db), gen)
        if modulated:
            m = torch.as_tensor(10 ** (np.minimum(m_db, 0.0) / 20))[:, None]
            c = c * (1 + m * torch.sin(2 * math.pi * rate_hz * t))
        return _ramped(stimuli.set_level(c, level_db_spl), fs, ramp_s)

    reference = lambda n, gen: make(np.zeros(n), gen, modulated=False)  # noqa: E731
    return Experiment(name, "threshold_db", "dB (20 log m)", make, reference, proc, -6.0, fs, n_intervals, **kwargs)


def _probe_experiment(name, masker, probe, start, *, start_value, template_value, fs, n_intervals, procedure, **kwargs):
    """Detection of a probe tone in or after a masker: references ``masker(n, gen)``
    (``(n, T)`` Pa, float64), targets the masker plus ``probe(levels)`` (``(n, P)``) from sample
    ``start`` on. Tracked: the probe level in dB SPL (:data:`_PROBE_LEVEL_TRACK`, starting at
    ``start_value``). ``kwargs``: the :class:`Experiment`'s ``condition`` and ``frozen``.
    """
    proc = _procedure(procedure, dict(start_value=start_value, **_PROBE_LEVEL_TRACK))

    def make(probe_db, gen):
        wave = probe(torch.as_tensor(probe_db))
        x = masker(len(probe_db), gen)
        x[:, start : start + wave.shape[-1]] += wave
        return x

    return Experiment(
        name, "probe_level_db_spl", "dB SPL", make, masker, proc, template_value, fs, n_intervals, **kwargs
    )


# --------------------------------------------------------------------------- experiments
@_factory
def tmtf(
    rate_hz: float = 8.0,
    *,
    level_db_spl: float = 77.0,
    duration_s: float = 1.0,
    band_hz=(20.0, 10000.0),
    ramp_s: float = 0.05,
    fs: float = 44100.0,
    n_intervals: int = 3,
    procedure=None,
) -> Experiment:
    """Amplitude-modulation detection on a broadband noise carrier (TMTF point).

    Target: (1 + m sin(2 pi f_m t)) n(t), reference: n(t), fresh noise in every interval;
    every interval is scaled to ``level_db_spl`` (no level cue). Modulation phase fixed at 0
    (a template observer needs it). 1 s: with 0.5 s, Paulick2024's 4-Hz threshold was ~8 dB
    worse than its 8-Hz one (two periods are too few for the slow modulation filters).
    Tracked: 20 log10 m in dB, bounded by 0 dB (m = 1).
    Human: Viemeister (1979); see :mod:`workbench.psychophysics.human_data`.
    """
    fs = check_fs(fs)
    rate = check_positive(rate_hz, "rate_hz")
    duration_s = check_positive(duration_s, "duration_s")
    if rate >= band_hz[1]:
        raise ValueError(f"rate_hz must be below the carrier's upper edge {band_hz[1]} Hz, got {rate}")
    return _am_experiment(
        "tmtf",
        lambda n, gen: stimuli.noise_carrier(duration_s, fs, band_hz=band_hz, batch=n, generator=gen),
        rate,
        duration_s,
        level_db_spl,
        ramp_s,
        fs,
        n_intervals,
        procedure,
        condition={"rate_hz": rate},
        params={"duration_s": duration_s},
    )


@_factory
def intensity_discrimination(
    level_db_spl: float = 60.0,
    *,
    carrier: str = "tone",
    freq_hz: float = 1000.0,
    duration_s: float = 0.5,
    ramp_s: float = 0.005,
    total_s: float = 0.6,
    band_hz=(20.0, 10000.0),
    fs: float = 44100.0,
    n_intervals: int = 2,
    procedure=None,
) -> Experiment:
    """Level discrimination of a 1-kHz tone (or broadband noise) at ``level_db_spl``.

    Reference at L, target at L + dL; ``duration_s`` of signal (``ramp_s`` ramps) followed by
    silence up to ``total_s``. Defaults: Jesteadt et al. (1977)'s 500-ms tones with 5-ms
    ramps, 2 intervals, 1-up-2-down (AMT's demo_paulick2024 uses 0.2 s, 10-ms ramps, 0.5 s).
    Tracked: the Weber fraction 10 log10(dI/I) in dB (Jesteadt et al. 1977's measure), so the
    steps are relative; the result also reports dL = 10 log10(1 + dI/I). Template at dL = 5 dB
    (AMT demo). Human: Jesteadt et al. (1977) for tones, Miller (1947) for noise.
    """
    fs = check_fs(fs)
    check_choice(carrier, ("tone", "noise"), "carrier")
    if not -20.0 <= float(level_db_spl) <= 120.0:
        raise ValueError(f"level_db_spl must lie in [-20, 120] dB SPL, got {level_db_spl}")
    if total_s < duration_s:
        raise ValueError(f"total_s ({total_s}) must be >= duration_s ({duration_s})")
    supra = 10 * math.log10(10**0.5 - 1)  # Weber fraction (dB) of dL = 5 dB
    proc = _procedure(procedure, dict(start_value=supra, step_sizes=(4.0, 2.0, 1.0), bounds=(-40.0, 20.0)))
    n_pad = int(round(total_s * fs)) - int(round(duration_s * fs))

    def make(weber_db, gen):
        levels = torch.as_tensor(level_db_spl + weber_db_to_delta_l(weber_db))
        if carrier == "tone":
            x = stimuli.tone(freq_hz, duration_s, fs, levels, ramp_s=ramp_s, dtype=torch.float64)
        else:
            x = _ramped(_noise_at(len(levels), duration_s, fs, band_hz, levels, gen), fs, ramp_s)
        return torch.nn.functional.pad(x, (0, n_pad))

    name = "intensity_" + carrier
    report = lambda w: {"delta_l_db": float(weber_db_to_delta_l(w)) if np.isfinite(w) else math.nan}  # noqa: E731
    return Experiment(
        name,
        "weber_db",
        "dB (10 log dI/I)",
        make,
        lambda n, gen: make(np.full(n, -np.inf), gen),
        proc,
        supra,
        fs,
        n_intervals,
        {"level_db_spl": float(level_db_spl)},
        report=report,
        frozen=carrier == "tone",
    )


@_factory
def tone_in_noise(
    notch_width_hz: float = 0.0,
    *,
    tone_hz: float = 1000.0,
    noise_spectrum_level_db: float = 30.0,
    band_hz=(20.0, 10000.0),
    duration_s: float = 0.3,
    ramp_s: float = 0.02,
    fs: float = 44100.0,
    n_intervals: int = 3,
    frozen_noise: bool = False,
    procedure=None,
) -> Experiment:
    """Detection of a tone in broadband (``notch_width_hz=0``) or notched noise.

    Noise: spectrum level ``noise_spectrum_level_db`` (dB/Hz) over ``band_hz``, with a
    spectral notch of ``notch_width_hz`` centred on the tone (arithmetically). Tone and noise
    are gated together. Running noise (a fresh token in every interval) by default;
    ``frozen_noise=True`` plays one fixed token in every interval and trial. Tracked: tone
    level re the noise spectrum level (dB), i.e. the critical ratio at threshold for
    broadband noise (human ~18 dB at 1 kHz).
    """
    fs = check_fs(fs)
    notch = check_positive(notch_width_hz, "notch_width_hz", allow_zero=True)
    lo, hi = band_hz
    if notch and not (lo < tone_hz - notch / 2 and tone_hz + notch / 2 < hi):
        raise ValueError(f"notch_width_hz={notch} leaves no noise band inside {band_hz}")
    bands = [(lo, hi)] if notch == 0 else [(lo, tone_hz - notch / 2), (tone_hz + notch / 2, hi)]
    proc = _procedure(procedure, dict(start_value=30.0, step_sizes=(4.0, 2.0, 1.0), bounds=(-20.0, 60.0)))

    def noise(n, gen):
        return sum(
            _noise_at(n, duration_s, fs, b, noise_spectrum_level_db + 10 * math.log10(b[1] - b[0]), gen) for b in bands
        )

    def masker(n, gen):
        if frozen_noise:  # one token, the same in every interval
            return noise(1, torch.Generator().manual_seed(20240)).expand(n, -1).clone()
        return noise(n, gen)

    def make(re_n0, gen):
        tone = stimuli.tone(
            tone_hz, duration_s, fs, torch.as_tensor(noise_spectrum_level_db + re_n0), ramp_s=0.0, dtype=torch.float64
        )
        return _ramped(masker(len(re_n0), gen) + tone, fs, ramp_s)

    return Experiment(
        "tone_in_noise",
        "threshold_db_re_n0",
        "dB re noise spectrum level",
        make,
        lambda n, gen: _ramped(masker(n, gen), fs, ramp_s),
        proc,
        30.0,
        fs,
        n_intervals,
        {"notch_width_hz": notch},
        report=lambda t: {"tone_level_db_spl": noise_spectrum_level_db + t},
        frozen=bool(frozen_noise),
    )


@_factory
def forward_masking(
    gap_s: float = 0.01,
    *,
    masker_level_db_spl: float = 70.0,
    masker_duration_s: float = 0.2,
    masker_band_hz=(20.0, 10000.0),
    probe_hz: float = 1000.0,
    probe_duration_s: float = 0.02,
    masker_ramp_s: float = 0.002,
    tail_s: float = 0.05,
    fs: float = 44100.0,
    n_intervals: int = 3,
    procedure=None,
) -> Experiment:
    """Forward masking: threshold of a short tone probe after a broadband-noise masker.

    ``gap_s``: silence between masker offset and probe onset. The probe is Hann-shaped
    (``probe_duration_s`` in total). Reference: masker alone (fresh noise each interval).
    Tracked: probe level in dB SPL (peak-equivalent rms of the un-windowed tone).
    """
    fs = check_fs(fs)
    gap = check_positive(gap_s, "gap_s", allow_zero=True)
    n_total = int(round((masker_duration_s + gap + probe_duration_s + tail_s) * fs))
    n_mask, n_gap, n_probe = (int(round(d * fs)) for d in (masker_duration_s, gap, probe_duration_s))
    window = torch.hann_window(n_probe, periodic=False, dtype=torch.float64)

    def masker(n, gen):
        m = _ramped(_noise_at(n, masker_duration_s, fs, masker_band_hz, masker_level_db_spl, gen), fs, masker_ramp_s)
        return torch.nn.functional.pad(m, (0, n_total - n_mask))

    def probe(levels):
        return stimuli.tone(probe_hz, n_probe / fs, fs, levels, ramp_s=0.0, dtype=torch.float64) * window

    return _probe_experiment(
        "forward_masking",
        masker,
        probe,
        n_mask + n_gap,
        start_value=70.0,
        template_value=80.0,
        fs=fs,
        n_intervals=n_intervals,
        procedure=procedure,
        condition={"gap_s": gap},
    )


def notched_noise(notch_width_hz: float = 0.0, **kwargs) -> Experiment:
    """Notched-noise masking (Patterson 1976's method): :func:`tone_in_noise` with a notch of
    ``notch_width_hz`` (total width, symmetric about the tone), reported as its own experiment.
    Human: the roex(p) filter of Glasberg & Moore (1990) (threshold re the no-notch threshold)."""
    exp = tone_in_noise(notch_width_hz, **kwargs)
    exp.name = "notched_noise"
    return exp


@_factory
def forward_masking_tone(
    masker_level_db_spl: float = 70.0,
    *,
    masker_hz: float = 4000.0,
    probe_hz: float = 4000.0,
    gap_s: float = 0.0,
    masker_duration_s: float = 0.2,
    probe_duration_s: float = 0.01,
    masker_ramp_s: float = 0.005,
    probe_ramp_s: float = 0.005,
    tail_s: float = 0.05,
    fs: float = 44100.0,
    n_intervals: int = 3,
    procedure=None,
) -> Experiment:
    """Forward masking by a tone: threshold of a brief tone probe after a tone masker.

    On-frequency (``masker_hz == probe_hz``) or off-frequency masker; swept over
    ``masker_level_db_spl`` this gives the growth-of-masking function, whose slope (dB probe
    threshold per dB masker level) is below 1 on frequency and about 1 off frequency for
    humans (basilar-membrane compression; Oxenham & Plack 1997, Plack & Oxenham 2000).
    Defaults: the 4-kHz paradigm of Schairer et al. (2003, 2008): 200-ms masker, 10-ms probe.
    ``gap_s``: silence from masker offset (end of its ramp) to probe onset. Probe: cos^2
    ramps of ``probe_ramp_s`` (no steady part for 10 ms with 5-ms ramps). Deterministic
    stimuli (frozen). Tracked: probe level in dB SPL (rms of its un-ramped tone).
    """
    fs = check_fs(fs)
    gap = check_positive(gap_s, "gap_s", allow_zero=True)
    masker_db = float(masker_level_db_spl)
    if not -20.0 <= masker_db <= 120.0:
        raise ValueError(f"masker_level_db_spl must lie in [-20, 120] dB SPL, got {masker_level_db_spl}")
    n_mask, n_gap, n_probe = (int(round(d * fs)) for d in (masker_duration_s, gap, probe_duration_s))
    n_total = n_mask + n_gap + n_probe + int(round(tail_s * fs))
    masker_wave = stimuli.tone(masker_hz, n_mask / fs, fs, masker_db, ramp_s=masker_ramp_s, dtype=torch.float64)

    def masker(n, gen=None):
        return torch.nn.functional.pad(masker_wave, (0, n_total - n_mask)).expand(n, -1).clone()

    def probe(levels):
        return stimuli.tone(probe_hz, n_probe / fs, fs, levels, ramp_s=probe_ramp_s, dtype=torch.float64)

    return _probe_experiment(
        "forward_masking_tone",
        masker,
        probe,
        n_mask + n_gap,
        start_value=min(masker_db, 100.0),
        template_value=min(masker_db + 10.0, 105.0),
        fs=fs,
        n_intervals=n_intervals,
        procedure=procedure,
        condition={"masker_level_db_spl": masker_db, "masker_hz": float(masker_hz), "gap_s": gap},
        frozen=True,
    )


@_factory
def masking_pattern(
    probe_hz: float = 1000.0,
    *,
    masker_hz: float = 1000.0,
    masker_bandwidth_hz: float = 80.0,
    masker_level_db_spl: float = 60.0,
    duration_s: float = 0.3,
    probe_duration_s: float = 0.2,
    ramp_s: float = 0.01,
    fs: float = 44100.0,
    n_intervals: int = 3,
    procedure=None,
) -> Experiment:
    """Spectral masking pattern: threshold of a tone probe at ``probe_hz`` in a narrowband
    noise masker (``masker_bandwidth_hz`` around ``masker_hz``, overall ``masker_level_db_spl``,
    fresh noise each interval), the paradigm of Egan & Hake (1950); swept over ``probe_hz``.
    The probe (``ramp_s`` cos^2 ramps) is centred in the masker. Tracked: probe level in dB SPL.
    No human numbers are held for it (the classic data are figures only)."""
    fs = check_fs(fs)
    probe = check_positive(probe_hz, "probe_hz")
    if probe >= fs / 2:
        raise ValueError(f"probe_hz must be below fs/2 = {fs / 2:g} Hz, got {probe}")
    bw = check_positive(masker_bandwidth_hz, "masker_bandwidth_hz")
    band = (masker_hz - bw / 2, masker_hz + bw / 2)
    if band[0] <= 0 or band[1] >= fs / 2:
        raise ValueError(f"masker band {band} Hz must lie inside (0, fs/2)")
    if probe_duration_s > duration_s:
        raise ValueError(f"probe_duration_s ({probe_duration_s}) must be <= duration_s ({duration_s})")
    n_total, n_probe = int(round(duration_s * fs)), int(round(probe_duration_s * fs))
    start = (n_total - n_probe) // 2

    def masker(n, gen):
        return _ramped(_noise_at(n, duration_s, fs, band, masker_level_db_spl, gen), fs, ramp_s)

    def probe_tone(levels):
        return stimuli.tone(probe, n_probe / fs, fs, levels, ramp_s=ramp_s, dtype=torch.float64)

    return _probe_experiment(
        "masking_pattern",
        masker,
        probe_tone,
        start,
        start_value=masker_level_db_spl,
        template_value=masker_level_db_spl + 10.0,
        fs=fs,
        n_intervals=n_intervals,
        procedure=procedure,
        condition={"probe_hz": probe},
        params={"masker_bandwidth_hz": bw},
    )


@_factory
def am_detection(
    rate_hz: float = 16.0,
    *,
    carrier_hz: float = 5000.0,
    bandwidth_hz: float = 31.0,
    level_db_spl: float = 65.0,
    duration_s: float = 1.0,
    ramp_s: float = 0.05,
    fs: float = 44100.0,
    n_intervals: int = 3,
    procedure=None,
) -> Experiment:
    """Amplitude-modulation detection with a narrowband carrier (Dau, Kollmeier & Kohlrausch
    1997a: Gaussian noise bands of 3, 31, 314 Hz at 5 kHz; ``bandwidth_hz=0`` gives a
    sinusoidal carrier as in Kohlrausch, Fassel & Dau 2000).

    Target ``(1 + m sin(2 pi f_m t)) c(t)``, reference ``c(t)``; every interval at
    ``level_db_spl`` (no level cue); fresh noise each interval (frozen for the tone carrier).
    Tracked: 20 log10 m in dB, bounded by 0 dB. No human numbers are held for it (figures only).
    """
    fs = check_fs(fs)
    rate = check_positive(rate_hz, "rate_hz")
    bw = check_positive(bandwidth_hz, "bandwidth_hz", allow_zero=True)
    if carrier_hz + bw / 2 + rate >= fs / 2 or carrier_hz - bw / 2 <= 0:
        raise ValueError(f"carrier {carrier_hz} Hz +- {bw / 2} Hz (+ rate {rate} Hz) must fit inside (0, fs/2)")

    def carrier(n, gen):
        if bw == 0:
            return stimuli.tone(carrier_hz, duration_s, fs, 0.0, ramp_s=0.0, dtype=torch.float64).expand(n, -1)
        band = (carrier_hz - bw / 2, carrier_hz + bw / 2)
        return stimuli.noise_carrier(duration_s, fs, band_hz=band, batch=n, generator=gen)

    return _am_experiment(
        "am_detection",
        carrier,
        rate,
        duration_s,
        level_db_spl,
        ramp_s,
        fs,
        n_intervals,
        procedure,
        condition={"rate_hz": rate, "bandwidth_hz": bw},
        frozen=bw == 0,
    )


EXPERIMENTS = {
    "tmtf": tmtf,
    "intensity_tone": intensity_discrimination,
    "intensity_noise": lambda *a, **k: intensity_discrimination(*a, carrier="noise", **k),
    "tone_in_noise": tone_in_noise,
    "notched_noise": notched_noise,
    "forward_masking": forward_masking,
    "forward_masking_tone": forward_masking_tone,
    "masking_pattern": masking_pattern,
    "am_detection": am_detection,
}
"""Experiment factories by name (:func:`make_experiment`)."""


def make_experiment(name: str, **kwargs) -> Experiment:
    """Experiment from the registry by name (kwargs go to its factory)."""
    return EXPERIMENTS[check_choice(name, tuple(EXPERIMENTS), "experiment")](**kwargs)


def compare_with_human(summary: dict, baseline: float | None = None) -> dict:
    """Human value and model-minus-human difference for one condition's summary row (NaN
    where :mod:`~workbench.psychophysics.human_data` has no matching condition).

    Human data given relative to a reference condition (``relative_to``, e.g. no notch) need
    the model's own threshold there as ``baseline``; the row's threshold is compared
    relative to it (reported as ``model_relative``)."""
    none = {"human": math.nan, "model_minus_human": math.nan, "human_source": "none"}
    h = HUMAN_DATA.get(summary["experiment"])
    if h is None or not h.matches(summary):
        return none
    x = summary.get(h.x_name, h.x[0])
    human = float(h.at(x))
    if not np.isfinite(human):
        return none
    if h.relative_to is not None:
        exp_var = next((k for k in ("threshold_db_re_n0", "probe_level_db_spl", "threshold_db") if k in summary), None)
        value = summary.get(exp_var, math.nan) - (math.nan if baseline is None else baseline)
        return {"human": human, "model_relative": value, "model_minus_human": value - human, "human_source": h.citation}
    return {"human": human, "model_minus_human": summary.get(h.y_name, math.nan) - human, "human_source": h.citation}


def run_condition(
    experiment: str,
    observer: str = "paulick2024",
    n_runs: int = 4,
    seed: int = 0,
    device=None,
    flow: float | None = None,
    fhigh: float | None = None,
    noise_sd: float = 1.0,
    reference_pool: int | None = None,
    roi: bool = True,
    decision: str = "amt",
    n_template: int = 16,
    **params,
) -> list[dict]:
    """One sweep condition: build the experiment and observer by name, run, return tidy rows
    (importable, so Dask workers can run it). ``device``: where the observer's model runs
    ('cuda' when present); ``roi``/``decision``: the CASP observer's procedure
    (:func:`~workbench.psychophysics.observer.make_observer`)."""
    exp = make_experiment(experiment, **params)
    obs = make_observer(
        observer, exp, seed=seed, device=device, flow=flow, fhigh=fhigh, noise_sd=noise_sd, roi=roi, decision=decision
    )
    rows = exp.run(
        obs,
        n_runs=n_runs,
        seed=seed,
        reference_pool=reference_pool,
        n_template=n_template,
        device=device if hasattr(obs, "to") else None,
    ).rows()
    return [{**row, "observer": observer} for row in rows]


# experiment: (swept variable, reported threshold) of its model-vs-human figure
PLOT_AXES = {
    "tmtf": ("rate_hz", "threshold_db"),
    "tone_in_noise": ("notch_width_hz", "threshold_db_re_n0"),
    "notched_noise": ("notch_width_hz", "threshold_re_no_notch_db"),
    "intensity_tone": ("level_db_spl", "delta_l_db"),
    "intensity_noise": ("level_db_spl", "delta_l_db"),
    "forward_masking": ("gap_s", "probe_level_db_spl"),
    "forward_masking_tone": ("masker_level_db_spl", "probe_level_db_spl"),
    "masking_pattern": ("probe_hz", "probe_level_db_spl"),
    "am_detection": ("rate_hz", "threshold_db"),
}


def plot_experiment(summary, experiment: str, *, ax=None):
    """Model thresholds of one experiment's summary table over its human data (the figure is
    :func:`workbench.plots.plot_experiment`). For relative human data (notched noise) the
    model's thresholds are drawn relative to its threshold at the reference condition."""
    import pandas as pd

    from workbench import plots

    x_name, y_name = PLOT_AXES[check_choice(experiment, PLOT_AXES, "experiment")]
    human = HUMAN_DATA.get(experiment)
    table = pd.DataFrame(summary).copy()
    if y_name not in table and human is not None and human.relative_to is not None:
        variable = make_experiment(experiment).variable
        base = table.loc[np.isclose(table[x_name], human.relative_to), variable]
        table[y_name] = table[variable] - (float(base.iloc[0]) if len(base) else math.nan)
    return plots.plot_experiment(
        table,
        x_name,
        y_name,
        human,
        log_x=experiment in ("tmtf", "am_detection"),
        title=experiment.replace("_", " "),
        ax=ax,
    )


def reference_results(experiment: str):
    """The model-vs-human summary table of the full run shipped with the package
    (``workbench/data/experiments/<experiment>.csv``, written by ``scripts/run_experiments.py``
    with the CASP observer as AMT runs it; the stimulus and procedure are in the
    ``<experiment>.md`` next to it), or None where no run is shipped."""
    from importlib import resources

    import pandas as pd

    check_choice(experiment, EXPERIMENTS, "experiment")
    path = resources.files("workbench.data").joinpath("experiments").joinpath(f"{experiment}.csv")
    if not path.is_file():
        return None
    with path.open() as f:
        return pd.read_csv(f)
