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
from workbench.units import P_REF_PA, to_model_input

STIMULUS_KINDS = ("tone", "sam_tone", "noise", "sam_noise", "tone_in_noise", "upload")
EARS = ("diotic", "left", "right")
MAX_UPLOAD_BYTES = 5_000_000
MAX_UPLOAD_SECONDS = 10.0
PROGRESS_DELAY_S = 0.3
DEBOUNCE_S = 0.15
STIMULUS_CONTROLS = (
    ParamSpec("kind", "stimulus", "choice", "tone", options=STIMULUS_KINDS),
    ParamSpec("frequency_hz", "frequency (Hz)", "float", 1000.0, 100.0, 8000.0, 50.0),
    ParamSpec("level_db_spl", "level (dB SPL)", "float", 60.0, 0.0, 100.0, 1.0),
    ParamSpec("duration_s", "duration (s)", "float", 0.5, 0.05, 2.0, 0.05),
    ParamSpec("mod_rate_hz", "modulation rate (Hz)", "float", 8.0, 1.0, 200.0, 1.0),
    ParamSpec("mod_depth", "modulation depth", "float", 1.0, 0.0, 1.0, 0.05),
    ParamSpec("snr_db", "tone re noise (dB)", "float", 0.0, -30.0, 30.0, 1.0),
    ParamSpec("ears", "ears (binaural models)", "choice", "diotic", options=EARS),
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


@dataclass(frozen=True)
class StimulusSpec:
    """What the stimulus designer shows. Levels are dB SPL of the steady-state rms.

    ``kind='upload'`` uses the session's uploaded WAV, rescaled to ``level_db_spl``.
    ``snr_db`` is the tone level re the noise (tone_in_noise). ``ears`` matters for
    binaural models only (a monaural model hears the left = right signal).
    """

    kind: str = "tone"
    frequency_hz: float = 1000.0
    level_db_spl: float = 60.0
    duration_s: float = 0.5
    mod_rate_hz: float = 8.0
    mod_depth: float = 1.0
    snr_db: float = 0.0
    ears: str = "diotic"
    seed: int = 1
    upload_digest: str = ""

    def validated(self) -> StimulusSpec:
        if self.kind not in STIMULUS_KINDS:
            raise ValueError(f"kind must be one of {STIMULUS_KINDS}, got {self.kind!r}")
        if self.ears not in EARS:
            raise ValueError(f"ears must be one of {EARS}, got {self.ears!r}")
        for name, lo, hi in (("frequency_hz", 20.0, 16000.0), ("level_db_spl", -10.0, 110.0),
                             ("duration_s", 0.02, 5.0), ("mod_rate_hz", 0.5, 500.0),
                             ("mod_depth", 0.0, 1.0), ("snr_db", -40.0, 40.0)):
            value = float(getattr(self, name))
            if not (lo <= value <= hi):
                raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
        return self

    def describe(self) -> str:
        if self.kind == "upload":
            return f"uploaded sound at {self.level_db_spl:g} dB SPL"
        what = {"tone": f"{self.frequency_hz:g} Hz tone",
                "sam_tone": f"{self.frequency_hz:g} Hz tone, {self.mod_rate_hz:g} Hz AM (m={self.mod_depth:g})",
                "noise": "white noise",
                "sam_noise": f"white noise, {self.mod_rate_hz:g} Hz AM (m={self.mod_depth:g})",
                "tone_in_noise": f"{self.frequency_hz:g} Hz tone in noise, SNR {self.snr_db:g} dB"}[self.kind]
        level = "noise " if self.kind == "tone_in_noise" else ""
        return f"{what}, {level}{self.level_db_spl:g} dB SPL, {self.duration_s * 1e3:g} ms"


def make_stimulus(spec: StimulusSpec, fs: float, upload: tuple[np.ndarray, float] | None = None) -> torch.Tensor:
    """Mono stimulus in pascals, float64 ``(T,)``, from :mod:`workbench.stimuli`."""
    from workbench import stimuli

    spec = spec.validated()
    d, f, lev = spec.duration_s, spec.frequency_hz, spec.level_db_spl
    if spec.kind in ("tone", "sam_tone", "tone_in_noise") and f >= fs / 2 - spec.mod_rate_hz:
        raise ValueError(f"frequency_hz must stay below {fs / 2 - spec.mod_rate_hz:g} Hz at fs = {fs:g} Hz")
    common = dict(dtype=torch.float64)
    if spec.kind == "tone":
        return stimuli.tone(f, d, fs, lev, **common)
    if spec.kind == "sam_tone":
        return stimuli.sam_tone(f, spec.mod_rate_hz, d, fs, lev, depth=spec.mod_depth, **common)
    if spec.kind == "noise":
        return stimuli.noise(d, fs, lev, seed=spec.seed, **common)
    if spec.kind == "sam_noise":
        return stimuli.sam_noise(spec.mod_rate_hz, d, fs, lev, depth=spec.mod_depth, seed=spec.seed, **common)
    if spec.kind == "tone_in_noise":
        return stimuli.tone_in_noise(f, d, fs, lev, spec.snr_db, seed=spec.seed, **common)
    if upload is None:
        raise ValueError("no WAV file uploaded yet: upload one or choose another stimulus type")
    samples, fs_file = upload
    return stimuli.set_level(resample(torch.from_numpy(samples), fs_file, fs), lev)


def decode_wav(data: bytes, max_bytes: int = MAX_UPLOAD_BYTES, max_seconds: float = MAX_UPLOAD_SECONDS):
    """Check and decode an uploaded WAV held in memory (never written to disk).

    Returns ``(samples, fs)``: float64 mono (channels averaged). Raises ValueError with a
    message for the page when the file is too large, too long, not a WAV or silent.
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
    mono = samples.mean(axis=1)
    if not np.isfinite(mono).all() or not np.any(mono):
        raise ValueError("the WAV file is silent or holds invalid samples")
    return mono, float(fs)


def wav_bytes(x, fs: float) -> bytes:
    """16-bit PCM WAV of ``x`` (``(T,)`` or ``(2, T)``) normalised to peak 0.9, for playback."""
    import wave

    a = np.atleast_2d(np.asarray(x, dtype=np.float64))
    peak = np.abs(a).max()
    pcm = (a / peak * 0.9 * 32767 if peak > 0 else a).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(a.shape[0])
        w.setsampwidth(2)
        w.setframerate(int(fs))
        w.writeframes(pcm.T.tobytes())
    return buf.getvalue()


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


def stage_choices(info: dict[str, StageInfo]) -> dict[str, str]:
    """Label -> key of the stages a user can pick (a model's ``stage_info``, in order),
    leaving out those that only hold another stage's frequencies."""
    coords = {i.freqs_key for i in info.values()}
    return {i.label: k for k, i in info.items() if k not in coords}


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
            service = compute.SERVICE if cache_size is None else \
                compute.ComputeService(cache_mb=max(16.0, 128.0 * cache_size), threads=1,
                                       device=compute.SERVICE.device)
        self.service = service
        self._device = None if device is None else compute.resolve_device(device)
        self._upload: tuple[np.ndarray, float] | None = None
        self.upload_digest = ""
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

    def set_upload(self, data: bytes) -> str:
        """Check, decode and keep an uploaded WAV; returns its digest for :class:`StimulusSpec`."""
        self._upload = decode_wav(data)
        self.upload_digest = hashlib.sha256(bytes(data)).hexdigest()[:16]
        return self.upload_digest

    def _with_upload(self, spec: StimulusSpec) -> StimulusSpec:
        return replace(spec, upload_digest=self.upload_digest if spec.kind == "upload" else "")

    def stimulus(self, spec: StimulusSpec, fs: float) -> torch.Tensor:
        """The stimulus in pascals (float64, ``(T,)``, on the CPU), from the shared cache."""
        from workbench.dashboards.compute import content_key

        spec = self._with_upload(spec)
        upload = self._upload
        if spec.kind == "upload" and upload is None:
            raise ValueError("no WAV file uploaded yet: upload one or choose another stimulus type")
        key = content_key("stimulus", spec, float(fs))
        return self.service.cache.get_or_compute(key, lambda _: make_stimulus(spec, fs, upload))[0]

    def _model_key(self, name: str, params: dict | None):
        spec = model_spec(name)
        kwargs = spec.constructor_kwargs(params)
        cls = model_class(name)
        device = self.device
        return (name, repr(sorted(kwargs.items())), device), \
            (lambda: cls(**kwargs, return_stages=True).to(device).eval())

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
        stimulus = self._with_upload(stimulus)
        key = content_key("run", name, params, stimulus, self.device)

        def stale():
            return self.closed or (is_stale is not None and is_stale())

        with self._lock:  # one computation at a time per session
            if stale():
                raise Superseded()
            result, hit = self.service.cache.get_or_compute(
                key, lambda wanted: self._compute(spec, stimulus, params, lambda: not wanted()), shared_stale=stale)
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
            x = to_model_input(x_pa[None], model, stimulus.ears).to(device=self.device, dtype=model.dtype)
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
        return RunResult(spec.name, dict(params), stimulus, fs, stages, info, freqs, mfc, elapsed,
                         input_pa=x_pa.numpy(), recomputed=recomputed)

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


def readout(result: RunResult, stage_key: str) -> dict:
    """Numbers shown next to the stage plot (all plain floats or strings)."""
    if stage_key not in result.stages:
        raise ValueError(f"{result.model} returned no stage {stage_key!r}; it has {sorted(result.stages)}")
    info, a = result.info[stage_key], np.asarray(result.stages[stage_key], dtype=np.float64)
    finite = a[np.isfinite(a)]
    x = result.input_pa
    out = {"stimulus level (dB SPL)": float(20 * np.log10(np.sqrt(np.mean(x ** 2)) / P_REF_PA + 1e-30)),
           f"{info.label}: max ({info.unit})": float(finite.max()) if finite.size else float("nan"),
           f"{info.label}: rms ({info.unit})": float(np.sqrt(np.mean(finite ** 2))) if finite.size else float("nan")}
    if info.axes == "BCT":
        ch = int(np.argmax(np.mean(a ** 2, axis=1)))
        fc = result.freqs_hz
        out["most active channel"] = f"{fc[ch]:.0f} Hz" if len(fc) == a.shape[0] else str(ch)
    out["recomputed"] = "nothing (cached)" if result.cached else ", ".join(result.recomputed)
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
