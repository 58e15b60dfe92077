"""Bad-input fuzzing of every model's constructor and forward (used by tests/test_model_fuzz.py).

Each trial calls one entry point with one bad (or odd) value and classifies what happens:

* ``rejected``: ``TypeError``/``ValueError`` whose message names the argument (the keyword,
  or the keyword dict and its key) and shows no Python internals (object reprs, tracebacks);
* ``accepted``: the call returns, and every output value is finite (NaN only in stages that
  declare it, -inf only in dB stages); an accepted constructor is also run forward once;
* anything else is a failure: another exception type (an internal error), a message that does
  not name the argument or leaks internals, a non-finite output, or a hang (SIGALRM timeout).

``run_constructor_trials`` / ``run_forward_trials`` (``forward``, ``representation`` and
Paulick2024's ``detection_task``/``discrimination_task``: :data:`ENTRY_POINTS`) return
``(counts, failures)`` per model.
Run as a script (``python -m tests.model_fuzz``) to print the counts.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import warnings

import numpy as np
import torch

import workbench
from tests.helpers import SMALL_MODELS
from workbench.models.dau1997 import GAMMATONE_ALIASES
from workbench.stages.adaptation import AdaptLoop, HighpassAdaptation
from workbench.stages.loudness import MultiResolutionSpectrum
from workbench.stages.modulation import ModulationFilterbank

BASE = SMALL_MODELS  # every trial starts from one of them
N_SAMPLES = 800

# Keys of each keyword dict, fuzzed one at a time: the stages' own (KWARGS) and the spec's
# spellings (ALIASES), where the library keeps them; the others as the model docstrings list them.
_ADAPTATION_KEYS = AdaptLoop.KWARGS + tuple(AdaptLoop.ALIASES)
_GAMMATONE_KEYS = ("order", "bandwidth_factor", *GAMMATONE_ALIASES)
DICT_KEYS = {
    "Dau1997": {
        "filterbank_kwargs": (*_GAMMATONE_KEYS, "erb_scale", "basef"),
        "ihc_kwargs": ("method", "cutoff_hz", "filter_order"),
        "adaptation_kwargs": _ADAPTATION_KEYS,
        "modulation_kwargs": ModulationFilterbank.KWARGS,
    },
    "King2019": {
        "filterbank_kwargs": _GAMMATONE_KEYS,
        "compression_kwargs": ("n", "knee_db"),
        "ihc_kwargs": ("cutoff_hz", "filter_order"),
        "adaptation_kwargs": HighpassAdaptation.KWARGS + tuple(HighpassAdaptation.ALIASES),
        "modulation_kwargs": ("phase_insens_cut",),
    },
    "Paulick2024": {
        "outerear_kwargs": ("order", "phase_type"),
        "drnl_kwargs": ("subject", "model"),
        "ihc_kwargs": (),
        "adaptation_kwargs": _ADAPTATION_KEYS,
        "modulation_kwargs": ModulationFilterbank.KWARGS,
    },
    "Glasberg2002": {
        "multi_fft_kwargs": (
            "hop_length",
            "n_fft",
            "n_ffts",
            "band_edges_hz",
            "hann_correction_db",
            "range_db",
            "floor_db",
        ),
        "erb_kwargs": ("erb_lower", "erb_upper", "erb_step", "f_min", "f_max", "bandwidth_scale"),
        "excitation_kwargs": ("level_slope", "pivot_level_db"),
        "specific_loudness_kwargs": ("C", "threshold_db_above_500"),
        "loudness_integration_kwargs": (
            "stl_attack",
            "stl_release",
            "ltl_attack",
            "ltl_release",
            "tau_attack",
            "tau_release",
        ),
    },
    "Moore2016": {
        "outer_middle_ear_kwargs": ("kind", "compensation_type", "field_type"),
        "spectrum_kwargs": MultiResolutionSpectrum.KWARGS + ("range_db", "floor_db"),
        "excitation_kwargs": ("erb_lower", "erb_upper", "erb_step", "level_slope"),
        "specific_loudness_kwargs": ("C", "threshold_db_above_500"),
        "temporal_integration_kwargs": ("attack_alpha", "release_alpha"),
        "binaural_loudness_kwargs": ("sigma", "p"),
        "ltl_agc_kwargs": ("attack_alpha", "release_alpha"),
    },
}
DICT_KEYS["Osses2021"] = {
    **DICT_KEYS["Dau1997"],
    "headphone_kwargs": ("order", "delay_compensation"),
    "middleear_kwargs": ("order", "filter_type", "normalize", "delay_compensation"),
}

# Top-level arguments (besides the keyword dicts), fuzzed one at a time.
SCALAR_ARGS = {
    "Dau1997": ("fs", "flow", "fhigh", "learnable", "return_stages", "dtype"),
    "Osses2021": ("fs", "flow", "fhigh", "phase_type", "learnable", "return_stages", "dtype"),
    "King2019": (
        "fs",
        "flow",
        "fhigh",
        "basef",
        "compression_type",
        "compression_n",
        "compression_knee_db",
        "dboffset",
        "adt_hp_fc",
        "adt_hp_order",
        "mflow",
        "mfhigh",
        "modbank_nmod",
        "modbank_qfactor",
        "lp_150hz",
        "subfs",
        "learnable",
        "return_stages",
        "dtype",
    ),
    "Paulick2024": (
        "fs",
        "flow",
        "fhigh",
        "n_channels",
        "use_outerear",
        "learnable",
        "return_stages",
        "filter_type",
        "dtype",
        "model",
    ),
    "Glasberg2002": ("fs", "learnable", "return_stages", "dtype", "presentation", "field", "streaming"),
    "Moore2016": ("fs", "learnable", "return_stages", "dtype"),
}


class _Opaque:
    """An object with a default repr (``<... object at 0x...>``) that must never be shown."""


def bad_values() -> list:
    """Values every argument is tried with: wrong types, non-finite, extreme and edge numbers."""
    nan, inf = float("nan"), float("inf")
    return [
        None,
        True,
        False,
        "no",
        "",
        0,
        -1,
        0.5,
        3,
        1e-300,
        1e300,
        nan,
        inf,
        -inf,
        10**12,
        1j,
        [1.0, 2.0],
        [],
        (),
        {},
        _Opaque(),
        np.float32(nan),
        np.int64(-3),
        np.float64(1e5),
        torch.tensor([1.0, 2.0]),
        torch.tensor(nan),
        torch.tensor(2.0, device="meta"),
        torch.float16,
    ]


def bad_inputs(model) -> list[tuple[str, object]]:
    """(label, input) pairs for ``forward``: wrong types, dtypes, shapes, values and devices."""
    stereo = "E" in model.input_axes
    t = N_SAMPLES

    def sig(*lead, n=t, dtype=torch.float32, value=None):
        shape = (*lead, 2, n) if stereo else (*lead, n)
        x = 0.01 * torch.randn(*shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        return (x if value is None else torch.full(shape, float(value), dtype=torch.float64)).to(dtype)

    top_db = model.input_range_db_spl[1]
    unit = 1.0 if model.input_unit == "pa" else workbench.units.pa_per_amt_unit(model.dboffset)
    at_top = 20e-6 * 10 ** (top_db / 20) / unit  # largest allowed sample
    nan, inf = float("nan"), float("inf")
    cases = [
        ("None", None),
        ("str", "abc"),
        ("object", _Opaque()),
        ("dict", {"x": 1}),
        ("list of str", ["a", "b"]),
        ("ragged list", [[0.0, 1.0], [0.0]]),
        ("python float", 0.5),
        ("0-d tensor", torch.tensor(0.5)),
        ("empty", torch.zeros(0)),
        ("empty batch", sig(0)),
        ("empty time", sig(n=0)),
        ("1 sample", sig(n=1)),
        ("2 samples", sig(n=2)),
        ("3 samples", sig(n=3)),
        ("4 samples", sig(n=4)),
        ("5 samples", sig(n=5)),
        ("too many dims", sig(1, 1, 1)),
        ("int16", sig(dtype=torch.int16)),
        ("int64", sig(dtype=torch.int64)),
        ("bool", sig(dtype=torch.bool)),
        ("complex", sig(dtype=torch.complex64)),
        ("float16", sig(dtype=torch.float16)),
        ("bfloat16", sig(dtype=torch.bfloat16)),
        ("float64", sig(dtype=torch.float64)),
        ("numpy float64", sig().double().numpy()),
        ("numpy int16", (sig() * 1000).to(torch.int16).numpy()),
        ("list of floats", sig().tolist()),
        ("non-contiguous", sig(n=2 * t)[..., ::2]),
        ("requires grad", sig().requires_grad_()),
        ("batch 3", sig(3)),
        ("NaN", sig(value=nan)),
        ("inf", sig(value=inf)),
        ("-inf", sig(value=-inf)),
        ("one NaN", _poke(sig(), nan)),
        ("3e38 float32", sig(value=3e38)),
        ("1e30", sig(value=1e30)),
        ("1e300 float64", sig(dtype=torch.float64, value=1e300)),
        ("1e39 float64", sig(dtype=torch.float64, value=1e39)),
        ("float32 max", sig(value=torch.finfo(torch.float32).max)),
        ("denormal", sig(value=1e-40)),
        ("float64 denormal", sig(dtype=torch.float64, value=1e-310)),
        ("zeros", sig(value=0.0)),
        ("DC at the top of the range", sig(value=at_top * (1 - 1e-6))),
        ("DC 1 dB above the range", sig(value=at_top * 1.122)),
        ("-DC at the top", sig(value=-at_top * (1 - 1e-6))),
        ("alternating at the top", _alternate(sig(), at_top * (1 - 1e-6))),
        ("impulse at the top", _poke(sig(value=0.0), at_top * (1 - 1e-6))),
        ("meta input", sig().to("meta")),
    ]
    if stereo:
        cases += [
            ("mono", torch.zeros(t)),
            ("3 ears", torch.zeros(1, 3, t)),
            ("(T, 2)", torch.zeros(t, 2)),
            ("one ear NaN", _poke_ear(sig(), nan)),
        ]
    else:
        cases += [("(1, T)", sig(1)), ("(T, 1)", sig().reshape(-1, 1))]
    return cases


def _poke(x, value):
    x = x.clone()
    x.view(-1)[x.numel() // 2] = value
    return x


def _poke_ear(x, value):
    x = x.clone()
    x[..., 1, :] = value
    return x


def _alternate(x, value):
    sign = torch.ones(x.shape[-1], dtype=torch.float64)
    sign[1::2] = -1
    return (sign * value).expand(x.shape).to(x.dtype).contiguous()


# ---------------------------------------------------------------------------- classification
_INTERNALS = re.compile(
    r"object at 0x|<[A-Za-z_.]+ object|Traceback|\bFile \"|0x[0-9a-f]{8,}|"
    # texts of torch/numpy exceptions that once leaked through
    r"Could not infer dtype|new\(\): |invalid data type|too many dimensions|expected sequence|"
    r"not supported between instances|argument must be|could not convert|invalid literal"
)
NAN_STAGES = re.compile(r"^(freqs|levels)_(left|right)$")  # Moore2016: NaN marks absent components
DB_STAGES = re.compile(r"^(excitation|erb_excitation|levels_(left|right)|excitation_(left|right))$")


class Hang(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float):
    def handler(signum, frame):
        raise Hang(f"no result after {seconds} s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _tensors(value, prefix):
    if isinstance(value, torch.Tensor):
        yield prefix, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _tensors(item, key)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item, prefix)


def non_finite(output) -> list[str]:
    """Stage names whose values break the rules (NaN, +inf; -inf outside dB stages)."""
    bad = []
    for key, t in _tensors(output, "output"):
        if t.is_meta or not t.is_floating_point():
            continue
        t = t.detach()
        nan_ok, neg_inf_ok = bool(NAN_STAGES.match(key)), bool(DB_STAGES.match(key) or NAN_STAGES.match(key))
        if (
            (not nan_ok and bool(torch.isnan(t).any()))
            or bool(torch.isposinf(t).any())
            or (not neg_inf_ok and bool(torch.isneginf(t).any()))
        ):
            bad.append(key)
    return sorted(set(bad))


TIMEOUT_S = float(os.environ.get("WORKBENCH_FUZZ_TIMEOUT_S", "30"))


def classify(call, names: tuple[str, ...], timeout_s: float = TIMEOUT_S):
    """Run ``call()``; -> ('rejected' | 'accepted', result) or ('FAIL', reason)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with time_limit(timeout_s):
                result = call()
    except Hang as exc:
        return "FAIL", f"hang: {exc}"
    except (TypeError, ValueError) as exc:
        msg = str(exc)
        if _INTERNALS.search(msg):
            return "FAIL", f"{type(exc).__name__} leaks internals: {msg[:200]}"
        if names and not any(n in msg for n in names):
            return "FAIL", f"{type(exc).__name__} does not name {names}: {msg[:200]}"
        return "rejected", None
    except Exception as exc:  # noqa: BLE001 - what the fuzzer looks for
        return "FAIL", f"internal {type(exc).__name__}: {str(exc)[:200]}"
    return "accepted", result


def _forward_input(model):
    x = 0.01 * torch.randn(N_SAMPLES, generator=torch.Generator().manual_seed(1))
    return workbench.units.to_model_input(x, model)


def run_constructor_trials(name: str):
    cls, base = getattr(workbench, name), BASE[name]
    trials = [((arg,), {arg: v}) for arg in SCALAR_ARGS[name] for v in bad_values()]
    for dict_name, keys in DICT_KEYS[name].items():
        trials += [((dict_name,), {dict_name: v}) for v in ("abc", [1, 2], {"bogus_key": 1}, 3.0)]
        trials += [((dict_name, key), {dict_name: {key: v}}) for key in keys for v in bad_values()]

    def outcomes():
        for names, kwargs in trials:
            label = f"{name}({', '.join(f'{k}={_short(v)}' for k, v in kwargs.items())})"
            outcome, result = classify(lambda kw=kwargs: cls(**{**base, **kw}), names)
            if outcome == "accepted":
                fwd, out = classify(lambda model=result: model(_forward_input(model)), ())
                if fwd == "FAIL":
                    outcome, result = "FAIL", f"accepted, then forward: {out}"
                elif fwd == "accepted" and non_finite(out):
                    outcome, result = "FAIL", f"accepted, then non-finite {non_finite(out)}"
            yield label, outcome, result

    return _tally(outcomes())


def _tally(outcomes) -> tuple[dict, list]:
    """``(counts, failures)`` of ``(label, outcome, result)`` triples from :func:`classify`."""
    counts, failures = {"rejected": 0, "accepted": 0}, []
    for label, outcome, result in outcomes:
        if outcome == "FAIL":
            failures.append(f"{label}: {result}")
        else:
            counts[outcome] += 1
    return counts, failures


ENTRY_POINTS = {name: ("forward", "representation") for name in BASE}
ENTRY_POINTS["Paulick2024"] += ("detection_task", "discrimination_task")


def _entry(model, entry: str):
    """(callable of one input, the argument name its errors must give)."""
    if entry == "forward":
        return model, model.input_name
    if entry == "discrimination_task":
        return (lambda x: model.discrimination_task(x, x)), "stimul"
    if entry == "detection_task":
        return model.detection_task, "signal_audio"
    return getattr(model, entry), model.input_name


def run_forward_trials(name: str, return_stages: bool = True, entry: str = "forward"):
    model = getattr(workbench, name)(**BASE[name], return_stages=return_stages)
    call, arg = _entry(model, entry)

    def outcomes():
        for label, x in bad_inputs(model):
            outcome, result = classify(lambda x=x: call(x), (arg,))
            if outcome == "accepted" and non_finite(result):
                outcome, result = "FAIL", f"non-finite {non_finite(result)}"
            yield f"{name}.{entry}({label})", outcome, result

    return _tally(outcomes())


def _short(value) -> str:
    text = repr(value) if not isinstance(value, _Opaque) else "<object>"
    return text if len(text) < 40 else text[:37] + "..."


if __name__ == "__main__":
    for model_name in BASE:
        runs = [("__init__", run_constructor_trials)] + [
            (e, lambda n, e=e: run_forward_trials(n, entry=e)) for e in ENTRY_POINTS[model_name]
        ]
        for kind, run in runs:
            c, f = run(model_name)
            print(
                f"{model_name}.{kind}: {sum(c.values()) + len(f)} tried, {c['rejected']} rejected, "
                f"{c['accepted']} accepted, {len(f)} failures"
            )
            for line in f:
                print("   ", line)
