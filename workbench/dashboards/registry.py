"""The models the dashboards offer and which constructor arguments they show as widgets.

Plain data, so both front ends (ipywidgets in notebooks, Panel in the app) draw the same
controls. Everything else (input unit, stages, their labels, units and axes) the dashboards
read from the model itself: the model contract, :mod:`workbench.models.base`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any


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
class ModelSpec:
    """A model as the dashboards offer it: its class, sampling rate and widgets."""

    name: str
    module: str
    fs: int
    params: tuple[ParamSpec, ...]
    about: str  # what the model is, in two sentences, for students
    fixed_kwargs: dict = field(default_factory=dict)
    # (stage key, submodule) pairs when forward() is exactly this chain of submodules: then a
    # parameter change recomputes only from the first stage it affects (checked in the tests).
    chain: tuple[tuple[str, str], ...] = ()
    citation: str = ""  # the paper the model is from

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


_FLOW = ParamSpec("flow", "lowest centre frequency (Hz)", "float", 80.0, 50.0, 1000.0, 10.0, stage="filterbank")
_FHIGH = ParamSpec(
    "fhigh", "highest centre frequency (Hz)", "float", 8000.0, 1500.0, 16000.0, 100.0, stage="filterbank"
)
_DAU_CHAIN = (("filterbank", "filterbank"), ("ihc", "ihc"), ("adaptation", "adaptation"), ("output", "modulation"))

MODELS: dict[str, ModelSpec] = {
    "Dau1997": ModelSpec(
        "Dau1997",
        "workbench.models.dau1997",
        44100,
        params=(
            _FLOW,
            _FHIGH,
            ParamSpec(
                "limit",
                "adaptation overshoot limit",
                "float",
                10.0,
                1.5,
                50.0,
                0.5,
                target="adaptation_kwargs.limit",
                stage="adaptation",
            ),
        ),
        about=(
            "A model of how hearing analyses amplitude modulation: a gammatone filterbank, a hair-cell "
            "envelope, adaptation loops and a bank of modulation filters per auditory channel. With an optimal "
            "detector it predicts the detection and masking of modulated sounds."
        ),
        citation="Dau, T., Kollmeier, B. & Kohlrausch, A. (1997). J. Acoust. Soc. Am. 102, 2892-2905.",
        chain=_DAU_CHAIN,
    ),
    "Osses2021": ModelSpec(
        "Osses2021",
        "workbench.models.osses2021",
        44100,
        params=(
            _FLOW,
            _FHIGH,
            ParamSpec("phase_type", "ear filter phase", "choice", "minimum", options=("minimum", "zero")),
        ),
        about=(
            "A revised Dau model: headphone, outer- and middle-ear filters in front of the gammatone "
            "filterbank, with updated adaptation and modulation stages. It was built to predict how similar "
            "sounds seem, from templates of their internal representations."
        ),
        citation="Osses, A. & Kohlrausch, A. (2021). J. Acoust. Soc. Am. 149, 3534-3547.",
        chain=(("headphone", "headphone"), ("middleear", "middleear")) + _DAU_CHAIN,
    ),
    "King2019": ModelSpec(
        "King2019",
        "workbench.models.king2019",
        44100,
        params=(
            ParamSpec("basef", "centre frequency (Hz)", "float", 1000.0, 250.0, 8000.0, 50.0),
            ParamSpec("compression_type", "compression", "choice", "brokenstick", options=("brokenstick", "power")),
            ParamSpec("compression_knee_db", "compression knee (dB SPL)", "float", 30.0, 0.0, 80.0, 1.0),
            ParamSpec("compression_n", "compression exponent", "float", 0.3, 0.1, 1.0, 0.05),
        ),
        about=(
            "A model of amplitude-modulation masking around one base frequency: a narrow gammatone "
            "filterbank, broken-stick cochlear compression, a hair-cell envelope, a high-pass for adaptation "
            "and a modulation filterbank. It explains how one modulation masks another, including AM masking FM."
        ),
        citation="King, A., Varnet, L. & Lorenzi, C. (2019). J. Acoust. Soc. Am. 145, 2277-2293.",
    ),
    "Paulick2024": ModelSpec(
        "Paulick2024",
        "workbench.models.paulick2024",
        44100,
        params=(
            ParamSpec("n_channels", "number of channels", "int", 50, 5, 60, 1),
            ParamSpec("use_outerear", "outer/middle ear", "bool", True),
        ),
        about=(
            "The revised computational auditory signal processing and perception (CASP) model: outer "
            "and middle ear, a nonlinear DRNL filterbank, a biophysical inner-hair-cell model, adaptation "
            "loops and modulation filters. With its optimal detector it is the simulated listener of the "
            "Experiments tab."
        ),
        citation="Paulick, L., Relano-Iborra, H. & Dau, T. (2024). Hear. Res.; after Jepsen, Ewert & Dau (2008), "
        "J. Acoust. Soc. Am. 124, 422-438.",
    ),
    "Glasberg2002": ModelSpec(
        "Glasberg2002",
        "workbench.models.glasberg2002",
        32000,
        params=(),
        about=(
            "A loudness model for sounds that change over time: short-term spectra become excitation "
            "patterns on the ERB-rate (Cam) scale, then specific loudness and loudness in sone (instantaneous, "
            "short-term, long-term). This is the published model (ANSI S3.4-2007): a 1 kHz tone at 40 dB "
            "SPL heard with both ears is 1 sone."
        ),
        citation="Glasberg, B. R. & Moore, B. C. J. (2002). J. Audio Eng. Soc. 50, 331-342.",
    ),
    "Moore2016": ModelSpec(
        "Moore2016",
        "workbench.models.moore2016",
        32000,
        params=(),
        about=(
            "A loudness model for time-varying sounds heard with two ears: each ear's short-term specific "
            "loudness is inhibited by the other ear's before the loudness is summed. It gives the loudness of "
            "sounds that differ between the ears, such as a tone in one ear only."
        ),
        citation="Moore, B. C. J., Glasberg, B. R., Varathanathan, A. & Schlittenlacher, J. (2016). Trends Hear. 20.",
    ),
}


def model_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {name!r}")
    return MODELS[name]


def model_class(name: str):
    """The model class (an import error in a model shows as itself, not as "unavailable")."""
    spec = model_spec(name)
    return getattr(importlib.import_module(spec.module), name)
