"""Front-end independent dashboard logic: stimulus specs, cached model runs, readouts, debounce.

One :class:`Explorer` belongs to one user session (a notebook widget or one browser tab of
the Panel app) and holds only that session's own state (its upload, its settings); the
computations go through the process's shared, content-keyed cache and model pool
(:mod:`workbench.dashboards.compute`).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import math
import threading
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from workbench.dashboards.registry import ModelSpec, ParamSpec, model_class, model_spec
from workbench.models.base import StageInfo
from workbench.stages.resample import resample
from workbench.units import AMT_DBOFFSET, P_REF_PA, pa_per_amt_unit, to_model_input

# value -> what the page calls it; every kind is made by workbench.stimuli
STIMULUS_LABELS = {
    "tone": "pure tone",
    "sam_tone": "AM tone (sinusoidal AM)",
    "fm_tone": "FM tone (sinusoidal FM)",
    "harmonic_complex": "harmonic complex tone",
    "clicks": "click train",
    "noise": "white noise",
    "band_noise": "band-limited noise",
    "notched_noise": "notched noise",
    "sam_noise": "AM noise (sinusoidal AM)",
    "tone_in_noise": "tone in noise",
    "upload": "uploaded WAV file",
}
STIMULUS_KINDS = tuple(STIMULUS_LABELS)
EARS = ("diotic", "left", "right")
MASKER_BAND_HZ = (20.0, 10000.0)  # the noise of notched noise and tone in noise (as the Experiments tab's)
MAX_UPLOAD_BYTES = 5_000_000
MAX_UPLOAD_SECONDS = 10.0
PROGRESS_DELAY_S = 0.3
DEBOUNCE_S = 0.15
STIMULUS_CONTROLS = (
    ParamSpec("kind", "stimulus", "choice", "tone", options=STIMULUS_KINDS),
    ParamSpec("level_db_spl", "level (dB SPL)", "float", 60.0, 0.0, 100.0, 1.0),
    ParamSpec("duration_s", "duration (s)", "float", 0.5, 0.05, 2.0, 0.05),
    ParamSpec("frequency_hz", "frequency or centre (Hz)", "float", 1000.0, 100.0, 8000.0, 50.0),
    ParamSpec("mod_rate_hz", "modulation rate (Hz)", "float", 8.0, 1.0, 200.0, 1.0),
    ParamSpec("mod_depth", "AM depth m", "float", 1.0, 0.0, 1.0, 0.05),
    ParamSpec("fm_deviation_hz", "FM deviation (Hz)", "float", 100.0, 0.0, 1000.0, 10.0),
    ParamSpec("f0_hz", "fundamental f0 (Hz)", "float", 200.0, 50.0, 1000.0, 10.0),
    ParamSpec("n_harmonics", "number of harmonics", "int", 10, 1, 40, 1),
    ParamSpec("click_rate_hz", "click rate (Hz)", "float", 100.0, 1.0, 500.0, 1.0),
    ParamSpec("bandwidth_hz", "noise bandwidth (Hz)", "float", 1000.0, 10.0, 8000.0, 10.0),
    ParamSpec("notch_width_hz", "notch width (Hz)", "float", 0.0, 0.0, 4000.0, 50.0),
    ParamSpec("snr_db", "tone re noise spectrum level (dB)", "float", 20.0, -10.0, 60.0, 1.0),
    ParamSpec("ears", "ears (binaural models)", "choice", "diotic", options=EARS),
)
# the stimulus parameters each kind uses (level and ears: every kind; duration: all but uploads)
APPLIES = {
    "tone": ("frequency_hz",),
    "sam_tone": ("frequency_hz", "mod_rate_hz", "mod_depth"),
    "fm_tone": ("frequency_hz", "mod_rate_hz", "fm_deviation_hz"),
    "harmonic_complex": ("f0_hz", "n_harmonics"),
    "clicks": ("click_rate_hz",),
    "noise": (),
    "band_noise": ("frequency_hz", "bandwidth_hz"),
    "notched_noise": ("frequency_hz", "notch_width_hz"),
    "sam_noise": ("mod_rate_hz", "mod_depth"),
    "tone_in_noise": ("frequency_hz", "notch_width_hz", "snr_db"),
    "upload": (),
}
SNR_DEFINITION = (
    "tone level re the noise spectrum level N0 (dB): the tone's level in dB SPL minus the "
    "noise's level in one 1-Hz band, as the Experiments tab tracks it (the critical ratio at "
    "threshold)"
)
PLAYBACK_DBOFFSET = AMT_DBOFFSET
PLAYBACK_NOTE = (
    f"Fixed playback calibration: a sample rms of 1 (digital full scale) is {PLAYBACK_DBOFFSET:g} "
    f"dB SPL, as in the workbench's WAV files, so a sine reaches full scale at "
    f"{PLAYBACK_DBOFFSET - 20 * math.log10(math.sqrt(2)):.0f} dB SPL. Set your volume once with the "
    "sounds of a lesson; then every level you choose plays at its place relative to the others."
)


class Superseded(Exception):
    """A newer request replaced this computation; it stopped early (not an error)."""


LOG = logging.getLogger("workbench.dashboards")


def user_message(exc: Exception) -> str:
    """What a page or widget says about an error: the messages of our checks (ValueError and
    TypeError name the argument and its allowed range) as they are; anything else as a plain
    sentence, with the details logged (never an exception class name or an object repr)."""
    if isinstance(exc, (ValueError, TypeError)):
        return str(exc)
    LOG.error("computation failed", exc_info=exc)
    return "The computation failed unexpectedly (the details are in the server's log). Try other settings."


_DEFAULTS = {p.name: p.default for p in STIMULUS_CONTROLS}


@dataclass(frozen=True)
class StimulusSpec:
    """What the stimulus designer shows (:data:`STIMULUS_CONTROLS`). Levels are dB SPL of the
    steady-state rms (clicks: peak-equivalent SPL, the level of a sine with the same peak).

    ``kind='upload'`` uses the session's uploaded WAV, rescaled to ``level_db_spl`` (a stereo
    file: the rms over both channels, so its interaural level difference stays). For noise
    maskers (notched noise, tone in noise) ``level_db_spl`` is the noise's overall level over
    :data:`MASKER_BAND_HZ` less the notch; ``snr_db`` is :data:`SNR_DEFINITION`. ``ears``
    matters for binaural models only (a monaural model hears the left = right signal).
    Which fields a kind uses: :data:`APPLIES` (:meth:`canonical` resets the others).
    """

    kind: str = "tone"
    frequency_hz: float = 1000.0
    level_db_spl: float = 60.0
    duration_s: float = 0.5
    mod_rate_hz: float = 8.0
    mod_depth: float = 1.0
    snr_db: float = 20.0
    ears: str = "diotic"
    seed: int = 1
    upload_digest: str = ""
    fm_deviation_hz: float = 100.0
    f0_hz: float = 200.0
    n_harmonics: int = 10
    click_rate_hz: float = 100.0
    bandwidth_hz: float = 1000.0
    notch_width_hz: float = 0.0

    def validated(self) -> StimulusSpec:
        if self.kind not in STIMULUS_KINDS:
            raise ValueError(f"kind must be one of {STIMULUS_KINDS}, got {self.kind!r}")
        if self.ears not in EARS:
            raise ValueError(f"ears must be one of {EARS}, got {self.ears!r}")
        for name, lo, hi in (
            ("frequency_hz", 20.0, 16000.0),
            ("level_db_spl", -10.0, 110.0),
            ("duration_s", 0.02, 5.0),
            ("mod_rate_hz", 0.5, 500.0),
            ("mod_depth", 0.0, 1.0),
            ("snr_db", -40.0, 80.0),
            ("fm_deviation_hz", 0.0, 4000.0),
            ("f0_hz", 20.0, 2000.0),
            ("n_harmonics", 1, 60),
            ("click_rate_hz", 0.5, 1000.0),
            ("bandwidth_hz", 1.0, 16000.0),
            ("notch_width_hz", 0.0, 8000.0),
        ):
            value = float(getattr(self, name))
            if not (lo <= value <= hi):
                raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
        return self

    @staticmethod
    def applies(kind: str) -> tuple[str, ...]:
        """The parameters ``kind`` uses (besides level, ears and, but for uploads, duration)."""
        if kind not in APPLIES:
            raise ValueError(f"kind must be one of {STIMULUS_KINDS}, got {kind!r}")
        return ("level_db_spl", "ears") + (() if kind == "upload" else ("duration_s",)) + APPLIES[kind]

    def canonical(self, binaural: bool = True) -> StimulusSpec:
        """The same sound with every parameter it does not use at its default (so changing one
        of those is no new stimulus: no recompute); ``binaural=False``: ``ears`` too."""
        used = set(self.applies(self.kind)) - (set() if binaural else {"ears"})
        reset = {name: default for name, default in _DEFAULTS.items() if name not in used and name != "kind"}
        if self.kind != "upload":
            reset["upload_digest"] = ""
        return replace(self, **reset)

    def describe(self) -> str:
        d = f"{self.duration_s * 1e3:g} ms"
        f, lev = self.frequency_hz, self.level_db_spl
        if self.kind == "upload":
            return f"uploaded sound at {lev:g} dB SPL"
        if self.kind in ("notched_noise", "tone_in_noise"):
            lo, hi = MASKER_BAND_HZ
            width = _masker_bandwidth_hz(f, self.notch_width_hz)
            n0 = lev - 10 * math.log10(width)
            notch = f", notch {self.notch_width_hz:g} Hz wide at {f:g} Hz" if self.notch_width_hz else ""
            noise = (
                f"noise {lo:g} Hz to {hi / 1000:g} kHz{notch}, {lev:g} dB SPL "
                f"(spectrum level N0 {n0:.1f} dB SPL per Hz)"
            )
            if self.kind == "notched_noise":
                return f"{noise}, {d}"
            return f"{f:g} Hz tone at {n0 + self.snr_db:.1f} dB SPL ({self.snr_db:g} dB re N0) in {noise}, {d}"
        what = {
            "tone": f"{f:g} Hz tone",
            "sam_tone": f"{f:g} Hz tone, {self.mod_rate_hz:g} Hz AM (m = {self.mod_depth:g})",
            "fm_tone": f"{f:g} Hz tone, {self.mod_rate_hz:g} Hz FM (deviation {self.fm_deviation_hz:g} Hz)",
            "harmonic_complex": f"harmonic complex, f0 {self.f0_hz:g} Hz, harmonics 1-{self.n_harmonics}",
            "clicks": f"clicks at {self.click_rate_hz:g} Hz",
            "noise": "white noise",
            "band_noise": f"noise band {f - self.bandwidth_hz / 2:g}-{f + self.bandwidth_hz / 2:g} Hz",
            "sam_noise": f"white noise, {self.mod_rate_hz:g} Hz AM (m = {self.mod_depth:g})",
        }[self.kind]
        level = f"{lev:g} dB peak-equivalent SPL" if self.kind == "clicks" else f"{lev:g} dB SPL"
        return f"{what}, {level}, {d}"


def _masker_bandwidth_hz(center_hz: float, notch_hz: float) -> float:
    lo, hi = MASKER_BAND_HZ
    return hi - lo - notch_hz if notch_hz else hi - lo


def _masker_bands(center_hz: float, notch_hz: float, fs: float) -> list[tuple[float, float]]:
    lo, hi = MASKER_BAND_HZ
    if hi >= fs / 2:
        raise ValueError(f"the noise band {lo:g}-{hi:g} Hz needs fs above {2 * hi:g} Hz, got {fs:g}")
    if not notch_hz:
        return [(lo, hi)]
    if not (lo < center_hz - notch_hz / 2 and center_hz + notch_hz / 2 < hi):
        raise ValueError(
            f"notch_width_hz = {notch_hz:g} around frequency_hz = {center_hz:g} must leave noise on "
            f"both sides inside {lo:g}-{hi:g} Hz (at most {2 * min(center_hz - lo, hi - center_hz):g} Hz)"
        )
    return [(lo, center_hz - notch_hz / 2), (center_hz + notch_hz / 2, hi)]


def _masker(spec: StimulusSpec, fs: float) -> torch.Tensor:
    """Noise over :data:`MASKER_BAND_HZ` with the spec's notch at ``level_db_spl`` overall:
    every band at the same spectrum level (independent tokens, seeds ``seed``, ``seed + 1``)."""
    from workbench import stimuli

    n0 = spec.level_db_spl - 10 * math.log10(_masker_bandwidth_hz(spec.frequency_hz, spec.notch_width_hz))
    bands = _masker_bands(spec.frequency_hz, spec.notch_width_hz, fs)
    return sum(
        stimuli.noise(
            spec.duration_s, fs, n0 + 10 * math.log10(b[1] - b[0]), band_hz=b, seed=spec.seed + i, dtype=torch.float64
        )
        for i, b in enumerate(bands)
    )


def make_stimulus(spec: StimulusSpec, fs: float, upload: tuple[np.ndarray, float] | None = None) -> torch.Tensor:
    """The stimulus in pascals, float64 ``(T,)`` (a stereo upload: ``(2, T)``), from
    :mod:`workbench.stimuli`."""
    from workbench import stimuli

    spec = spec.validated()
    d, f, lev = spec.duration_s, spec.frequency_hz, spec.level_db_spl
    if spec.kind in ("tone", "sam_tone", "fm_tone", "tone_in_noise") and f >= fs / 2 - spec.mod_rate_hz:
        raise ValueError(f"frequency_hz must stay below {fs / 2 - spec.mod_rate_hz:g} Hz at fs = {fs:g} Hz")
    common = dict(dtype=torch.float64)
    if spec.kind == "tone":
        return stimuli.tone(f, d, fs, lev, **common)
    if spec.kind == "sam_tone":
        return stimuli.sam_tone(f, spec.mod_rate_hz, d, fs, lev, depth=spec.mod_depth, **common)
    if spec.kind == "fm_tone":
        if spec.fm_deviation_hz >= f:
            raise ValueError(f"fm_deviation_hz must stay below frequency_hz = {f:g} Hz, got {spec.fm_deviation_hz:g}")
        return stimuli.fm_tone(f, spec.mod_rate_hz, spec.fm_deviation_hz, d, fs, lev, **common)
    if spec.kind == "harmonic_complex":
        top = spec.n_harmonics * spec.f0_hz
        if top >= fs / 2:
            raise ValueError(
                f"n_harmonics x f0_hz = {top:g} Hz must stay below fs/2 = {fs / 2:g} Hz: at most "
                f"{math.ceil(fs / 2 / spec.f0_hz) - 1} harmonics of {spec.f0_hz:g} Hz"
            )
        return stimuli.harmonic_complex(spec.f0_hz, d, fs, lev, harmonics=range(1, spec.n_harmonics + 1), **common)
    if spec.kind == "clicks":
        if spec.click_rate_hz > fs / 2:
            raise ValueError(f"click_rate_hz must be at most fs/2 = {fs / 2:g} Hz, got {spec.click_rate_hz:g}")
        return stimuli.clicks(spec.click_rate_hz, d, fs, lev, **common)
    if spec.kind == "noise":
        return stimuli.noise(d, fs, lev, seed=spec.seed, **common)
    if spec.kind == "band_noise":
        lo, hi = f - spec.bandwidth_hz / 2, f + spec.bandwidth_hz / 2
        if lo <= 0 or hi >= fs / 2:
            raise ValueError(
                f"bandwidth_hz = {spec.bandwidth_hz:g} around frequency_hz = {f:g} must keep the band "
                f"inside (0, {fs / 2:g}) Hz: at most {2 * min(f, fs / 2 - f):g} Hz"
            )
        return stimuli.noise(d, fs, lev, band_hz=(lo, hi), seed=spec.seed, **common)
    if spec.kind == "notched_noise":
        return _masker(spec, fs)
    if spec.kind == "sam_noise":
        return stimuli.sam_noise(spec.mod_rate_hz, d, fs, lev, depth=spec.mod_depth, seed=spec.seed, **common)
    if spec.kind == "tone_in_noise":
        masker = _masker(spec, fs)
        n0 = lev - 10 * math.log10(_masker_bandwidth_hz(f, spec.notch_width_hz))
        return masker + stimuli.tone(f, d, fs, n0 + spec.snr_db, **common)
    if upload is None:
        raise ValueError("no WAV file uploaded yet: upload one or choose another stimulus type")
    samples, fs_file = upload
    x = resample(torch.from_numpy(np.ascontiguousarray(samples)), fs_file, fs)
    power = float(x.pow(2).mean())  # over both channels of a stereo file: the ILD stays
    return x * (P_REF_PA * 10 ** (lev / 20) / math.sqrt(power))


def decode_wav(data: bytes, max_bytes: int = MAX_UPLOAD_BYTES, max_seconds: float = MAX_UPLOAD_SECONDS):
    """Check and decode an uploaded WAV held in memory (never written to disk).

    Returns ``(samples, fs)``: float64 ``(T,)`` for a mono file, ``(2, T)`` [left, right]
    for a stereo one (more channels are mixed to mono). Raises ValueError with a message for
    the page when the file is too large, too long, not a WAV or silent.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise ValueError(f"file is {len(data) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:g} MB")
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a WAV file (expected a RIFF/WAVE header)")
    import soundfile

    from workbench._messages import sndfile_reason

    try:
        samples, fs = soundfile.read(io.BytesIO(bytes(data)), dtype="float64", always_2d=True)
    except Exception as exc:  # noqa: BLE001 - soundfile raises its own error types for broken files
        raise ValueError(f"could not decode the WAV file ({sndfile_reason(exc)})") from None
    if not 8000 <= fs <= 192000:
        raise ValueError(f"sampling rate {fs} Hz not supported (8000-192000 Hz)")
    if samples.shape[0] / fs > max_seconds:
        raise ValueError(f"sound is {samples.shape[0] / fs:.1f} s long; the limit is {max_seconds:g} s")
    if samples.shape[0] < 16:
        raise ValueError(f"the WAV file holds only {samples.shape[0]} samples; at least 16 are needed")
    out = np.ascontiguousarray(samples.T) if samples.shape[1] == 2 else samples.mean(axis=1)
    if not np.isfinite(out).all() or not np.any(out):
        raise ValueError("the WAV file is silent or holds invalid samples")
    return out, float(fs)


@dataclass(frozen=True)
class Playback:
    """A stimulus as played: 16-bit WAV bytes at the fixed calibration (:data:`PLAYBACK_NOTE`),
    its peak re digital full scale (dB) and whether it clipped."""

    wav: bytes
    duration_s: float
    peak_db_fs: float
    clipped: bool
    level_db_spl: float

    @property
    def clean_up_to_db_spl(self) -> float:
        """The highest level (dB SPL) at which this sound would play without clipping."""
        return self.level_db_spl - self.peak_db_fs

    def warning(self) -> str:
        """What the page says when the sound clipped ('' when it did not)."""
        if not self.clipped:
            return ""
        return (
            f"Clipped: at this level the peaks reach {self.peak_db_fs:+.1f} dB re digital full scale, so the "
            f"sound plays distorted (and quieter than its level). It plays cleanly up to about "
            f"{self.clean_up_to_db_spl:.0f} dB SPL."
        )


def playback(x_pa, fs: float) -> Playback:
    """Calibrated playback of a stimulus in pascals (``(T,)`` or ``(2, T)``): samples are
    ``x / pa_per_amt_unit(PLAYBACK_DBOFFSET)`` (an rms of 1 is 100 dB SPL, as
    :func:`workbench.stimuli.save_wav` writes), never normalised, so two stimuli 10 dB apart
    play 10 dB apart. Samples beyond full scale are clipped (and :attr:`Playback.clipped`).
    16-bit PCM: sounds below about 10 dB SPL play with audible quantisation."""
    import wave

    a = np.atleast_2d(np.asarray(x_pa, dtype=np.float64)) / pa_per_amt_unit(PLAYBACK_DBOFFSET)
    peak = float(np.abs(a).max()) if a.size else 0.0
    rms = float(np.sqrt(np.mean(a**2))) if a.size else 0.0
    full = 32767.0
    pcm = np.clip(np.round(a * full), -32768, 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(a.shape[0])
        w.setsampwidth(2)
        w.setframerate(int(round(fs)))
        w.writeframes(np.ascontiguousarray(pcm.T).tobytes())
    peak_db = 20 * math.log10(peak) if peak > 0 else -math.inf
    level = PLAYBACK_DBOFFSET + 20 * math.log10(rms) if rms > 0 else -math.inf
    return Playback(buf.getvalue(), a.shape[-1] / fs, peak_db, peak * full > 32767.5, level)


def wav_bytes(x_pa, fs: float) -> bytes:
    """16-bit PCM WAV of a stimulus in pascals at the fixed playback calibration
    (:func:`playback`; not normalised: the level is what it sounds)."""
    return playback(x_pa, fs).wav


@dataclass
class RunResult:
    model: str
    params: dict
    stimulus: StimulusSpec
    fs: float
    stages: dict  # key -> numpy array (batch item 0), 'output' = model.output_stage(output)
    info: dict[str, StageInfo]  # the model's stage_info
    freqs_hz: np.ndarray  # model.center_freqs_hz: channels (C) or bands (Z)
    mod_freqs_hz: np.ndarray | None  # model.mfc
    elapsed_s: float
    cached: bool = False
    input_pa: np.ndarray = field(default=None, repr=False)
    recomputed: tuple = ()  # stage keys computed in this run (the others came from the cache)


PAIR = "+"  # joins the keys of one quantity's left- and right-ear stages into one view key


def ear_pairs(info: dict[str, StageInfo]) -> dict[str, tuple[str, ...]]:
    """``{view key: (left key, right key)}`` for every quantity a binaural model has per ear
    (stages with ``ear`` set and the same :attr:`StageInfo.quantity`, unit and axes)."""
    groups: dict = {}
    for key, i in info.items():
        if i.ear:
            groups.setdefault((i.quantity, i.unit, i.axes), []).append(key)
    return {PAIR.join(keys): tuple(keys) for keys in groups.values() if len(keys) > 1}


def view_keys(view_key: str) -> tuple[str, ...]:
    """The stage keys a view key shows (one, or both ears' joined by :data:`PAIR`)."""
    return tuple(view_key.split(PAIR))


def stage_choices(info: dict[str, StageInfo]) -> dict[str, str]:
    """Label -> view key of what a user can pick: a model's stages (``stage_info``, in order,
    leaving out those that only hold another stage's frequencies) and, for a binaural model,
    each per-ear quantity as 'left', 'right' and 'both ears' (next to each other)."""
    coords = {i.freqs_key for i in info.values()}
    pairs = ear_pairs(info)
    partner = {k: view for view, keys in pairs.items() for k in keys}
    out, done = {}, set()
    for key, i in info.items():
        if key in coords or key in done:
            continue
        if key in partner:
            view = partner[key]
            for k in pairs[view]:
                out[info[k].label] = k
                done.add(k)
            out[f"{i.quantity} (both ears)"] = view
        else:
            out[i.label] = key
    return out


def _numpy(value, axes: str = "") -> np.ndarray:
    """A tensor as numpy on the host, in its own dtype (the models compute in float32 by
    default: a float64 copy would only double the memory), batch item 0 when its axes start
    with B."""
    a = value.detach().cpu().numpy()
    return a[0] if axes.startswith("B") else a


class Explorer:
    """One session's view of the dashboards' computations: its upload and its settings.

    The computations themselves go through a :class:`~workbench.dashboards.compute.ComputeService`
    (by default the process's shared one): a stimulus is cached per (spec, fs, upload digest),
    a model run per (model, parameters, stimulus), and for models with a stage ``chain`` every
    intermediate stage per (stimulus, the parameters acting up to it), all by content, so a
    run that any session did is a cache hit for every other one, and changing a late
    parameter reuses the earlier stages. Models are borrowed from the service's pool.

    ``device``: where the models run (default: the service's, 'cuda' when ``workbench serve``
    found a GPU). ``cache_size``: give this explorer a private service with room for about
    that many model runs instead of the shared one (isolated notebooks, tests).
    """

    def __init__(self, cache_size: int | None = None, service=None, device=None):
        from workbench.dashboards import compute

        if service is None:
            service = (
                compute.SERVICE
                if cache_size is None
                else compute.ComputeService(
                    cache_mb=max(16.0, 128.0 * cache_size), threads=1, device=compute.SERVICE.device
                )
            )
        self.service = service
        self._device = None if device is None else compute.resolve_device(device)
        self._upload: tuple[np.ndarray, float] | None = None
        self.upload_digest = ""
        self.upload_info: dict = {}  # name, duration_s, channels, fs of the accepted upload
        self._kept_uploads: dict[str, tuple] = {}  # digest -> (samples, fs): pinned by pin_upload
        self.closed = False
        self.last_elapsed_s: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def device(self) -> str:
        return self._device or self.service.device

    def close(self):
        """Free what this session holds (its upload); its running computation stops at the next
        stage unless another session waits for the same result (:class:`Superseded`). Shared
        cache entries stay: they are bounded and other sessions may use them."""
        self.closed = True
        self._upload = None
        self.upload_info = {}
        self._kept_uploads = {}

    def pin_upload(self, digest: str) -> None:
        """Keep the current upload (``digest``) for a stimulus that refers to it (e.g. a kept
        comparison stimulus B) after a newer upload replaces it; one is kept at a time."""
        self._kept_uploads = {digest: self._upload} if digest and digest == self.upload_digest else {}

    def _upload_for(self, spec: StimulusSpec):
        if spec.kind != "upload":
            return None
        if spec.upload_digest and spec.upload_digest in self._kept_uploads:
            return self._kept_uploads[spec.upload_digest]
        return self._upload if spec.upload_digest in ("", self.upload_digest) else None

    def set_upload(self, data: bytes, name: str = "") -> str:
        """Check, decode and keep an uploaded WAV; returns its digest for :class:`StimulusSpec`.
        A rejected file raises ValueError and leaves the previous upload in place."""
        samples, fs = decode_wav(data)
        self._upload = samples, fs
        self.upload_digest = hashlib.sha256(bytes(data)).hexdigest()[:16]
        self.upload_info = {
            "name": str(name)[:120],
            "duration_s": samples.shape[-1] / fs,
            "channels": 1 if samples.ndim == 1 else samples.shape[0],
            "fs": fs,
        }
        return self.upload_digest

    def _with_upload(self, spec: StimulusSpec, binaural: bool = True) -> StimulusSpec:
        """``spec`` with its unused settings at their defaults (changing one is no recompute) and,
        for an upload, the digest of the sound it means (a kept stimulus B names its own)."""
        digest = (spec.upload_digest or self.upload_digest) if spec.kind == "upload" else ""
        return replace(spec.canonical(binaural), upload_digest=digest)

    def stimulus(self, spec: StimulusSpec, fs: float) -> torch.Tensor:
        """The stimulus in pascals (float64, ``(T,)``, on the CPU), from the shared cache."""
        from workbench.dashboards.compute import content_key

        spec = self._with_upload(spec)
        upload = self._upload_for(spec)
        if spec.kind == "upload" and upload is None:
            raise ValueError("no WAV file uploaded yet: upload one or choose another stimulus type")
        key = content_key("stimulus", spec, float(fs))
        return self.service.cache.get_or_compute(key, lambda _: make_stimulus(spec, fs, upload))[0]

    def _model_key(self, name: str, params: dict | None):
        spec = model_spec(name)
        kwargs = spec.constructor_kwargs(params)
        cls = model_class(name)
        device = self.device
        return (name, repr(sorted(kwargs.items())), device), (
            lambda: cls(**kwargs, return_stages=True).to(device).eval()
        )

    def model(self, name: str, params: dict | None = None):
        """A model instance with these parameters, for reading its contract (``stage_info``,
        ``fs``); computations borrow their own instance from the pool."""
        key, factory = self._model_key(name, params)
        return self.service.models.peek(key, factory)

    def expected_slow(self, name: str) -> bool:
        """Whether the next run of ``name`` will probably exceed the progress threshold."""
        return self.last_elapsed_s.get(name, math.inf) > PROGRESS_DELAY_S

    def run(self, name: str, stimulus: StimulusSpec, params: dict | None = None, is_stale=None) -> RunResult:
        """Run model ``name`` on the stimulus; every ``return_stages`` output is kept.

        ``is_stale()`` (optional) is polled between stages: when it turns true the run stops
        with :class:`Superseded` (a slider moved on), keeping the stages done so far cached,
        unless another session waits for the same result.
        """
        from workbench.dashboards.compute import content_key

        spec = model_spec(name)
        params = {**spec.defaults(), **(params or {})}
        binaural = "E" in getattr(model_class(name), "input_axes", "BT")
        stimulus = self._with_upload(stimulus, binaural)
        key = content_key("run", name, params, stimulus, self.device)

        def stale():
            return self.closed or (is_stale is not None and is_stale())

        with self._lock:  # one computation at a time per session
            if stale():
                raise Superseded()
            result, hit = self.service.cache.get_or_compute(
                key, lambda wanted: self._compute(spec, stimulus, params, lambda: not wanted()), shared_stale=stale
            )
        if hit:
            result = replace(result, cached=True)
        else:
            self.last_elapsed_s[spec.name] = result.elapsed_s
        return result

    def _compute(self, spec: ModelSpec, stimulus: StimulusSpec, params: dict, is_stale) -> RunResult:
        t0 = time.perf_counter()
        x_pa = self.stimulus(stimulus, spec.fs)
        key, factory = self._model_key(spec.name, params)
        with self.service.models.borrow(key, factory) as model, torch.no_grad():
            if x_pa.dim() == 2:  # a stereo upload: both ears for a binaural model, their mean for the others
                x = (
                    to_model_input(x_pa[None], model, ears=None)
                    if "E" in model.input_axes
                    else to_model_input(x_pa.mean(0)[None], model)
                )
            else:
                x = to_model_input(x_pa[None], model, stimulus.ears)
            x = x.to(device=self.device, dtype=model.dtype)
            if spec.chain:
                output, stages, recomputed = self._run_chain(spec, model, x, stimulus, params, is_stale)
            else:
                output, stages = model(x)
                recomputed = tuple(stages) + ("output",)
            stages["output"] = model.output_stage(output)
            info = model.stage_info
            stages = {k: _numpy(v, info[k].axes) for k, v in stages.items()}
            mfc = None if model.mfc is None else _numpy(torch.as_tensor(model.mfc)).astype(np.float64)
            freqs = _numpy(torch.as_tensor(model.center_freqs_hz)).astype(np.float64)
            fs = model.fs
        elapsed = time.perf_counter() - t0
        return RunResult(
            spec.name,
            dict(params),
            stimulus,
            fs,
            stages,
            info,
            freqs,
            mfc,
            elapsed,
            input_pa=x_pa.numpy(),
            recomputed=recomputed,
        )

    def _run_chain(self, spec: ModelSpec, model, x, stimulus: StimulusSpec, params: dict, is_stale):
        """Run ``spec.chain`` stage by stage, reusing the longest cached prefix of stages.

        Stage i's cache key holds only the parameters that act at stage i or earlier, so
        changing e.g. the adaptation limit reuses the filterbank and hair-cell outputs. The
        last stage is not kept separately (the whole run is cached).
        """
        from workbench.dashboards.compute import content_key

        cache = self.service.cache
        keys = [key for key, _ in spec.chain]
        acts_at = {p.name: keys.index(p.stage) if p.stage else 0 for p in spec.params}

        def cache_key(i):
            upstream = {n: v for n, v in params.items() if acts_at.get(n, 0) <= i}
            return content_key("stage", spec.name, stimulus, i, upstream, self.device)

        outputs = []
        for i in range(len(keys) - 1):
            cached = cache.peek(cache_key(i))
            if cached is None:
                break
            outputs.append(cached)
        start = len(outputs)
        signal = outputs[-1] if outputs else x
        for i in range(start, len(keys)):
            if is_stale():
                raise Superseded()
            signal = getattr(model, spec.chain[i][1])(signal)
            if i < len(keys) - 1:
                cache.put(cache_key(i), signal)
            outputs.append(signal)
        stages = dict(zip(keys[:-1], outputs[:-1]))
        return outputs[-1], stages, tuple(keys[start:])


def value_statistics(a: np.ndarray, unit: str) -> dict[str, float]:
    """Summary numbers of a stage's values that mean something in its unit: the maximum and,
    for levels in dB the power mean (an rms of dB values is meaningless), for loudness
    (sone) and powers (``^2``) the mean, for signals the rms."""
    finite = np.asarray(a, dtype=float)
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        return {"max": float("nan")}
    out = {"max": float(finite.max())}
    if unit.startswith("dB"):
        top = finite.max()
        out["power mean"] = float(top + 10 * np.log10(np.mean(10 ** ((finite - top) / 10))))
    elif unit.startswith("sone") or "^2" in unit:
        out["mean"] = float(finite.mean())
    else:
        out["rms"] = float(np.sqrt(np.mean(finite**2)))
    return out


def _stage_readout(result: RunResult, key: str) -> dict:
    info, a = result.info[key], result.stages[key]
    out = {f"{info.label}: {name} ({info.unit})": v for name, v in value_statistics(a, info.unit).items()}
    fc = result.freqs_hz
    axes = info.axes.lstrip("B")
    if axes == "CT" and a.ndim == 2:
        ch = int(np.argmax(np.nanmean(a**2, axis=1)))
        out["most active channel"] = f"{fc[ch]:.0f} Hz" if len(fc) == a.shape[0] else str(ch + 1)
    elif axes == "KZ" and a.ndim == 2 and len(fc) == a.shape[1] and np.isfinite(a).any():
        band = int(np.nanargmax(np.nanmax(a, axis=0)))
        out[f"{info.label}: largest at"] = f"{fc[band]:.0f} Hz"
    return out


def readout(result: RunResult, stage_key: str) -> dict:
    """Numbers shown next to the stage plot (all plain floats or strings); ``stage_key`` is a
    view key of :func:`stage_choices` (one stage, or both ears' stages)."""
    keys = view_keys(stage_key)
    missing = [k for k in keys if k not in result.stages]
    if missing:
        raise ValueError(f"{result.model} returned no stage {missing[0]!r}; it has {sorted(result.stages)}")
    x = np.atleast_2d(result.input_pa)
    levels = 20 * np.log10(np.sqrt(np.mean(x**2, axis=-1)) / P_REF_PA + 1e-30)
    out = {"stimulus level (dB SPL)": float(20 * np.log10(np.sqrt(np.mean(x**2)) / P_REF_PA + 1e-30))}
    if len(levels) == 2:
        out["left / right ear (dB SPL)"] = f"{levels[0]:.1f} / {levels[1]:.1f}"
    for key in keys:
        out.update(_stage_readout(result, key))
    if result.cached:
        out["stages computed"] = "none: an earlier run with these settings was reused, only redrawn"
    elif set(result.recomputed) >= set(result.info):
        out["stages computed"] = "all"
    else:
        out["stages computed"] = ", ".join(result.recomputed) + " (earlier stages reused)"
    out["compute time (ms)"] = round(result.elapsed_s * 1e3, 1)
    return out


def format_readout(values: dict) -> str:
    parts = []
    for k, v in values.items():
        parts.append(f"{k}: **{v:.4g}**" if isinstance(v, float) else f"{k}: **{v}**")
    return " · ".join(parts)


class Debouncer:
    """Async debounce with a leading edge: ``await d.settled()`` is True for a call that comes
    after ``wait_s`` of quiet (it runs at once) and for the last call of a burst (it runs
    ``wait_s`` after that call); calls replaced by a newer one get False."""

    def __init__(self, wait_s: float = DEBOUNCE_S):
        self.wait_s = wait_s
        self._generation = 0
        self._last_call = -math.inf

    def bump(self) -> int:
        self._generation += 1
        return self._generation

    def is_latest(self, generation: int) -> bool:
        return generation == self._generation

    async def settled(self) -> bool:
        now = time.monotonic()
        quiet, self._last_call = now - self._last_call >= self.wait_s, now
        generation = self.bump()
        if not quiet:
            await asyncio.sleep(self.wait_s)
        return self.is_latest(generation)


async def run_with_progress(fn, show, hide, delay_s: float = PROGRESS_DELAY_S, executor=None):
    """Run blocking ``fn()`` in a thread; call ``show()`` only if it takes longer than ``delay_s``."""
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(executor, fn)
    shown = False
    try:
        return await asyncio.wait_for(asyncio.shield(future), delay_s)
    except asyncio.TimeoutError:
        shown = True
        show()
        return await future
    finally:
        if shown:
            hide()
