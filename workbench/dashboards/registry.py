"""What the dashboards know about each model: how to build it, feed it and show its stages.

The registry is plain data, so both front ends (ipywidgets in notebooks, Panel in the app)
draw the same controls. A model whose module is not importable yet is listed as
"not available" instead of breaking the page.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class ParamSpec:
    """One constructor argument shown as a widget.

    ``kind`` is ``'float'``, ``'int'``, ``'choice'`` or ``'bool'``. ``target`` is the
    constructor argument it feeds: a plain name (``'flow'``) or ``'<group>.<key>'`` for an
    entry of a ``*_kwargs`` dict (``'adaptation_kwargs.limit'``).
    """

    name: str
    label: str
    kind: str
    default: Any
    low: float | None = None
    high: float | None = None
    step: float | None = None
    options: tuple = ()
    target: str | None = None
    stage: str | None = None  # first chain stage this parameter changes (None: the first stage)

    def validate(self, value):
        """Return ``value`` coerced to the widget type; ValueError when out of range."""
        if self.kind == "choice":
            if value not in self.options:
                raise ValueError(f"{self.name} must be one of {self.options}, got {value!r}")
            return value
        if self.kind == "bool":
            return bool(value)
        value = int(value) if self.kind == "int" else float(value)
        if not (self.low <= value <= self.high):
            raise ValueError(f"{self.name} must be in [{self.low}, {self.high}], got {value}")
        return value


@dataclass(frozen=True)
class StageSpec:
    """How to show one entry of the model's stage dict.

    ``layout``: ``'time'`` (one waveform), ``'channel_time'`` (channels x time),
    ``'frame_channel'`` (frames x channels, loudness models), ``'frames'`` (one value per frame),
    ``'modulation'`` (per-channel list of (mod, time) arrays or (time, channel, mod)).
    """

    key: str
    label: str
    layout: str
    unit: str = ""
    about: str = ""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    module: str
    fs: int
    calibration: str  # "pa" or "fullscale" (rms 1 = dboffset dB SPL)
    params: tuple[ParamSpec, ...]
    stages: tuple[StageSpec, ...]
    about: str
    binaural: bool = False
    dboffset: float = 100.0
    fixed_kwargs: dict = field(default_factory=dict)
    freqs_attr: tuple[str, ...] = ("fc", "center_freqs_hz")
    summarize: Callable | None = None
    # (stage key, submodule) pairs when forward() is exactly this chain of submodules: then a
    # parameter change recomputes only from the first stage it affects (checked in the tests).
    chain: tuple[tuple[str, str], ...] = ()

    @property
    def stage_keys(self) -> list[str]:
        return [s.key for s in self.stages]

    def stage(self, key: str) -> StageSpec:
        for s in self.stages:
            if s.key == key:
                return s
        raise ValueError(f"stage must be one of {self.stage_keys}, got {key!r}")

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def constructor_kwargs(self, values: dict | None = None) -> dict:
        """Constructor kwargs from widget values (checked; unknown names raise ValueError)."""
        values = dict(values or {})
        known = {p.name: p for p in self.params}
        unknown = set(values) - set(known)
        if unknown:
            raise ValueError(f"unknown parameter(s) {sorted(unknown)} for {self.name}; allowed {sorted(known)}")
        kwargs = {"fs": self.fs, **self.fixed_kwargs}
        for name, p in known.items():
            value = p.validate(values.get(name, p.default))
            target = p.target or name
            if "." in target:
                group, key = target.split(".", 1)
                kwargs.setdefault(group, {})[key] = value
            else:
                kwargs[target] = value
        return kwargs


def _loudness_summary(output, stages) -> dict:
    import torch

    out = output[1] if isinstance(output, tuple) else output  # Moore2016: long-term loudness
    return {"max long-term loudness (sone)": float(torch.as_tensor(out)[0].max())}


_GT = "Gammatone filterbank: the basilar membrane as a bank of overlapping bandpass filters."
_IHC = "Inner hair cell: half-wave rectification and lowpass, i.e. the envelope above ~1 kHz."
_ADT = ("Adaptation loops: onsets are emphasised, steady parts compressed (roughly logarithmic); "
        "the limit caps the onset overshoot.")
_MOD = "Modulation filterbank: each channel's envelope split into modulation-frequency bands."

_FLOW = ParamSpec("flow", "lowest centre frequency (Hz)", "float", 80.0, 50.0, 1000.0, 10.0, stage="filterbank")
_FHIGH = ParamSpec("fhigh", "highest centre frequency (Hz)", "float", 8000.0, 1500.0, 16000.0, 100.0,
                   stage="filterbank")
_DAU_CHAIN = (("filterbank", "filterbank"), ("ihc", "ihc"), ("adaptation", "adaptation"), ("output", "modulation"))

MODELS: dict[str, ModelSpec] = {
    "Dau1997": ModelSpec(
        "Dau1997", "workbench.models.dau1997", 44100, "fullscale",
        params=(_FLOW, _FHIGH,
                ParamSpec("limit", "adaptation overshoot limit", "float", 10.0, 1.5, 50.0, 0.5,
                          target="adaptation_kwargs.limit", stage="adaptation")),
        stages=(StageSpec("filterbank", "gammatone filterbank", "channel_time", "", _GT),
                StageSpec("ihc", "inner hair cell envelope", "channel_time", "", _IHC),
                StageSpec("adaptation", "adaptation loops", "channel_time", "MU", _ADT),
                StageSpec("output", "modulation filterbank", "modulation", "MU", _MOD)),
        about="Dau, Kollmeier & Kohlrausch (1997): the modulation filterbank model.",
        chain=_DAU_CHAIN),
    "Osses2021": ModelSpec(
        "Osses2021", "workbench.models.osses2021", 44100, "fullscale",
        params=(_FLOW, _FHIGH,
                ParamSpec("phase_type", "ear filter phase", "choice", "minimum", options=("minimum", "zero"))),
        stages=(StageSpec("headphone", "headphone + outer ear", "time", "", "Sound at the eardrum."),
                StageSpec("middleear", "middle ear", "time", "", "Middle-ear transmission (a bandpass)."),
                StageSpec("filterbank", "gammatone filterbank", "channel_time", "", _GT),
                StageSpec("ihc", "inner hair cell envelope", "channel_time", "", _IHC),
                StageSpec("adaptation", "adaptation loops", "channel_time", "MU", _ADT),
                StageSpec("output", "modulation filterbank", "modulation", "MU", _MOD)),
        about="Osses & Kohlrausch (2021): a revised Dau model with outer/middle ear.",
        chain=(("headphone", "headphone"), ("middleear", "middleear")) + _DAU_CHAIN),
    "King2019": ModelSpec(
        "King2019", "workbench.models.king2019", 44100, "fullscale",
        params=(ParamSpec("basef", "centre frequency (Hz)", "float", 1000.0, 250.0, 8000.0, 50.0),
                ParamSpec("compression_type", "compression", "choice", "brokenstick",
                          options=("brokenstick", "power")),
                ParamSpec("compression_knee_db", "compression knee (dB SPL)", "float", 30.0, 0.0, 80.0, 1.0),
                ParamSpec("compression_n", "compression exponent", "float", 0.3, 0.1, 1.0, 0.05)),
        stages=(StageSpec("gtone_response", "gammatone filterbank", "channel_time", "", _GT),
                StageSpec("compressed_response", "compression", "channel_time", "",
                          "Cochlear compression: linear below the knee, power law above."),
                StageSpec("ihc", "inner hair cell envelope", "channel_time", "", _IHC),
                StageSpec("adapted_response", "adaptation (highpass)", "channel_time", "",
                          "Adaptation approximated by a first-order highpass at 3 Hz."),
                StageSpec("output", "modulation filterbank", "modulation", "", _MOD)),
        about="King, Varnet & Lorenzi (2019): compression + modulation filterbank for AM masking."),
    "Paulick2024": ModelSpec(
        "Paulick2024", "workbench.models.paulick2024", 44100, "pa",
        params=(ParamSpec("n_channels", "number of channels", "int", 50, 5, 60, 1),
                ParamSpec("use_outerear", "outer/middle ear", "bool", True)),
        stages=(StageSpec("outerear", "outer + middle ear", "time", "", "Sound pressure at the stapes."),
                StageSpec("drnl", "DRNL filterbank", "channel_time", "m/s",
                          "Dual-resonance nonlinear filter: a linear and a compressive path."),
                StageSpec("ihc", "inner hair cell", "channel_time", "V",
                          "Receptor potential from a transduction model of the hair cell."),
                StageSpec("adaptation", "adaptation loops", "channel_time", "MU", _ADT),
                StageSpec("resampled", "resampled", "channel_time", "MU", "Downsampled before modulation analysis."),
                StageSpec("output", "modulation filterbank", "modulation", "MU", _MOD)),
        about="Paulick, Relano-Iborra & Dau (2024): the CASP model with a physiological hair cell."),
    "Glasberg2002": ModelSpec(
        "Glasberg2002", "workbench.models.glasberg2002", 32000, "pa",
        params=(),
        stages=(StageSpec("psd", "power spectrum", "frame_channel", "dB", "Multi-resolution FFT spectrum per frame."),
                StageSpec("erb_excitation", "ERB-band levels", "frame_channel", "dB SPL", "Power summed in ERB-wide bands."),
                StageSpec("excitation", "excitation pattern", "frame_channel", "dB SPL",
                          "Level-dependent spread of excitation along the cochlea."),
                StageSpec("specific_loudness", "specific loudness", "frame_channel", "sone/ERB",
                          "Loudness per ERB: compressive function of excitation."),
                StageSpec("stl", "short-term loudness", "frames", "sone", "Smoothed sum of specific loudness."),
                StageSpec("output", "long-term loudness", "frames", "sone", "Slower smoothing: the overall impression.")),
        about="Glasberg & Moore (2002): loudness of time-varying sounds.",
        freqs_attr=(), summarize=_loudness_summary),
    "Moore2016": ModelSpec(
        "Moore2016", "workbench.models.moore2016", 32000, "pa", binaural=True,
        params=(),
        stages=(StageSpec("filtered_left", "outer/middle ear (left)", "time", "Pa", "Free-field to eardrum to cochlea."),
                StageSpec("excitation_left", "excitation (left)", "frame_channel", "dB SPL", "Excitation pattern per frame."),
                StageSpec("inst_spec_loud_left", "instantaneous specific loudness (left)", "frame_channel", "sone/Cam", ""),
                StageSpec("stl_spec_loud_left", "short-term specific loudness (left)", "frame_channel", "sone/Cam",
                          "Short-term (AGC-smoothed) specific loudness, before binaural inhibition."),
                StageSpec("stl_loud_left", "short-term loudness (left)", "frames", "sone", ""),
                StageSpec("ltl_loud_left", "long-term loudness (left)", "frames", "sone", ""),
                StageSpec("excitation_right", "excitation (right)", "frame_channel", "dB SPL", "")),
        about="Moore, Glasberg, Varathanathan & Schlittenlacher (2016): binaural loudness.",
        freqs_attr=(), summarize=_loudness_summary),
}


def model_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {name!r}")
    return MODELS[name]


def model_class(name: str):
    """The model class, or None when its module has not landed yet."""
    spec = model_spec(name)
    try:
        return getattr(importlib.import_module(spec.module), name)
    except (ImportError, AttributeError):
        return None


def available_models() -> list[str]:
    return [name for name in MODELS if model_class(name) is not None]
