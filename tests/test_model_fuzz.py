"""Every model's constructor and forward, fuzzed with bad input (tests/model_fuzz.py).

Table-driven trials (every argument and keyword-dict key x ~28 bad values; ~50 bad inputs
per forward) and hypothesis-drawn ones (random numbers for every argument; random arrays of
any length, dtype and magnitude). Each must be rejected with a TypeError/ValueError that names
the argument and shows no internals, or accepted with finite output; never an internal
exception, a hang or a silent NaN. The counts are printed (``pytest -s``).
"""

import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import workbench
from tests import model_fuzz as fuzz
from workbench.units import to_model_input

MODELS = list(fuzz.BASE)
FUZZ_SETTINGS = settings(
    max_examples=int(os.environ.get("WORKBENCH_FUZZ_EXAMPLES", "200")),
    deadline=None,
    derandomize=os.environ.get("WORKBENCH_FUZZ_RANDOM") is None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module", autouse=True)
def _compiled():
    """Run each model once so that JIT compilation is not counted against the time limit."""
    for name in MODELS:
        model = getattr(workbench, name)(**fuzz.BASE[name])
        model(to_model_input(torch.zeros(fuzz.N_SAMPLES), model))


def _report(name, kind, counts, failures):
    print(
        f"\n{name}.{kind}: {sum(counts.values()) + len(failures)} bad inputs tried, {counts['rejected']} "
        f"rejected, {counts['accepted']} accepted (finite output), {len(failures)} failures"
    )
    assert not failures, "\n".join(failures[:40])


@pytest.mark.parametrize("name", MODELS)
def test_constructor_rejects_bad_arguments_clearly(name):
    counts, failures = fuzz.run_constructor_trials(name)
    assert counts["rejected"] > 500
    _report(name, "__init__ (table)", counts, failures)


@pytest.mark.parametrize("name, entry", [(n, e) for n in MODELS for e in fuzz.ENTRY_POINTS[n]])
def test_forward_rejects_bad_input_clearly(name, entry):
    counts, failures = fuzz.run_forward_trials(name, entry=entry)
    assert counts["rejected"] >= 30 and counts["accepted"] >= 15
    _report(name, f"{entry} (table)", counts, failures)


def _numbers():
    return st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-(10**15), 10**15),
        st.floats(-1e4, 1e4),
        st.none(),
        st.booleans(),
        st.text(max_size=3),
        st.lists(st.floats(-1e3, 1e3), max_size=3),
    )


@pytest.mark.parametrize("name", MODELS)
def test_constructor_hypothesis(name):
    cls, base = getattr(workbench, name), fuzz.BASE[name]
    targets = [((arg,), arg, None) for arg in fuzz.SCALAR_ARGS[name]]
    targets += [((d, k), d, k) for d, keys in fuzz.DICT_KEYS[name].items() for k in keys]
    counts, failures = {"rejected": 0, "accepted": 0}, []

    @FUZZ_SETTINGS
    @given(target=st.sampled_from(targets), value=_numbers())
    def trial(target, value):
        names, arg, key = target
        kwargs = {arg: value if key is None else {key: value}}
        outcome, result = fuzz.classify(lambda: cls(**{**base, **kwargs}), names)
        if outcome == "accepted":
            fwd, out = fuzz.classify(lambda: result(to_model_input(0.01 * torch.ones(fuzz.N_SAMPLES), result)), ())
            if fwd == "FAIL" or (fwd == "accepted" and fuzz.non_finite(out)):
                outcome, result = "FAIL", f"accepted, then forward: {out if fwd == 'FAIL' else fuzz.non_finite(out)}"
        if outcome == "FAIL":
            failures.append(f"{name}({kwargs!r}): {result}")
        else:
            counts[outcome] += 1

    trial()
    _report(name, "__init__ (hypothesis)", counts, failures)


@st.composite
def _signals(draw, stereo: bool):
    """Arrays of any small shape, float32/float64, with values from any magnitude (dB steps)
    and the special floats."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    lead = draw(st.sampled_from([(), (1,), (2,), (0,), (1, 1)]))
    shape = (*lead, *((2,) if stereo else ()), draw(st.integers(0, 64)))
    level_db = draw(st.floats(-400, 900))
    finite = st.floats(-1.0, 1.0, width=32)
    special = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1e-45, 3e38])
    x = draw(arrays(dtype, shape, elements=st.one_of(finite, special) if draw(st.booleans()) else finite))
    with np.errstate(all="ignore"):
        return (x * (10 ** (level_db / 20))).astype(dtype)


@pytest.mark.parametrize("name", MODELS)
def test_forward_hypothesis(name):
    model = getattr(workbench, name)(**fuzz.BASE[name], return_stages=True)
    counts, failures = {"rejected": 0, "accepted": 0}, []

    @FUZZ_SETTINGS
    @given(x=_signals("E" in model.input_axes), as_tensor=st.booleans())
    def trial(x, as_tensor):
        value = torch.from_numpy(x) if as_tensor else x
        outcome, result = fuzz.classify(lambda: model(value), (model.input_name,))
        if outcome == "accepted" and fuzz.non_finite(result):
            outcome, result = "FAIL", f"non-finite {fuzz.non_finite(result)}"
        if outcome == "FAIL":
            failures.append(
                f"{name} forward({x.dtype}, shape {x.shape}, max |x| {np.nanmax(np.abs(x), initial=0)}): {result}"
            )
        else:
            counts[outcome] += 1

    trial()
    _report(name, "forward (hypothesis)", counts, failures)
