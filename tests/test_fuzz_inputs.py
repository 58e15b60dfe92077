"""Bad input to every public entry point of stimuli, procedures and sweeps.

Each entry point has a valid baseline call; every argument in turn is replaced by each of
many bad values (table-driven), then hypothesis draws more. Every call must either return a
result without NaN (where NaN is not the documented meaning of a result) or raise
``ValueError``/``TypeError`` (``FileNotFoundError``/``PermissionError`` for file paths) whose
message names the argument; it must never raise anything else (an internal exception), run
past a timeout (a hang) or return NaN silently. The counts per entry point are printed.
"""

from __future__ import annotations

import collections
import math
import os
import signal
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from tests.helpers import every_keyword
from workbench import stimuli as S
from workbench.psychophysics import procedures as P
from workbench.psychophysics import sweep as W

FS = 8000
DUR = 0.05
TIMEOUT_S = 20
NAN, INF = math.nan, math.inf
CLEAN = (ValueError, TypeError)
FILE_ERRORS = (FileNotFoundError, PermissionError)


class Hang(Exception):
    pass


BAD_VALUES = [
    None,
    NAN,
    INF,
    -INF,
    -1,
    -1.0,
    0,
    0.0,
    1e-300,
    1e300,
    -1e300,
    2**70,
    True,
    False,
    "abc",
    "",
    b"x",
    [],
    [NAN],
    [1, "a"],
    [[1.0, 2.0], [3.0, 4.0]],
    {},
    {"a": 1},
    object(),
    1 + 2j,
    np.float64(NAN),
    np.array([1.0, NAN]),
    np.array([[1.0, 2.0]]),
    np.int64(-5),
    torch.tensor(NAN),
    torch.zeros(0),
    torch.tensor([INF]),
    torch.tensor([1, 2]),
    [1.0] * 1_000_000,
    1e9,
    -1e9,
    7.5,
]
BAD_SIGNALS = [
    torch.zeros(0),
    torch.tensor([NAN, 1.0]),
    torch.tensor([INF, 1.0]),
    torch.ones(2, 2, 2, 2, 2, 2, 2, 2, 2),
    np.array(["a", "b"]),
    "abc",
    None,
    torch.zeros(10, dtype=torch.int64),
    torch.zeros(10, dtype=torch.complex64),
    torch.zeros(10, dtype=torch.bool),
    torch.zeros(10),
    [1, 2, 3],
    5.0,
    object(),
    torch.tensor(1.0),
    torch.full((10,), 1e38),
]


def _tone():
    return S.tone(1000, DUR, FS, 60, ramp_s=0.005, dtype=torch.float64)


def _files(tmp):
    """Bad sound files: missing, a folder, garbage after a RIFF header, empty, NaN samples."""
    import soundfile

    (tmp / "garbage.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 4)
    (tmp / "empty.wav").write_bytes(b"")
    soundfile.write(str(tmp / "nan.wav"), np.array([0.1, NAN, 0.2]), 8000, subtype="FLOAT")
    soundfile.write(str(tmp / "inf.wav"), np.array([0.1, INF, 0.2]), 8000, subtype="FLOAT")
    soundfile.write(str(tmp / "zero.wav"), np.zeros(0), 8000, subtype="FLOAT")
    (tmp / "folder.wav").mkdir()
    return [
        tmp / "missing.wav",
        tmp / "folder.wav",
        tmp / "garbage.wav",
        tmp / "empty.wav",
        tmp / "nan.wav",
        tmp / "inf.wav",
        tmp / "zero.wav",
        str(tmp / "no" / "dir.wav"),
        tmp / "x.txt",
        123,
        None,
        b"bytes.wav",
    ]


def _respond_bad():
    return [
        lambda v: np.full(np.shape(v), NAN),
        lambda v: np.ones(3, bool),
        lambda v: None,
        lambda v: np.array(["yes"] * np.size(v)),
        lambda v: np.full(np.shape(v), 2.0),
        42,
        None,
        "respond",
    ]


def _entries(tmp):
    """(name, function, baseline kwargs, {argument: extra bad values}, output check).

    A baseline holds every keyword of its function (:func:`~tests.helpers.every_keyword`):
    the values given here, the defaults for the rest; each is replaced in turn."""
    x = _tone()
    files = _files(tmp)
    good_wav = tmp / "good.wav"
    S.save_wav(good_wav, x, FS)
    short = dict(duration_s=DUR, fs=FS, ramp_s=0.005)  # the stimuli's common settings
    sig = {"x": BAD_SIGNALS}

    def entry(fn, extra=None, check=None, **given):
        return fn.__name__, fn, every_keyword(fn, **given), extra or {}, check

    e = [
        entry(S.db_to_pa, level_db_spl=60.0),
        entry(S.pa_to_db, check="nan_only", pressure_pa=0.02),
        entry(S.rms, sig, x=x),
        entry(S.level_db_spl, sig, "nan_only", x=x),
        entry(S.set_level, sig, x=x, level_db_spl=60.0),
        entry(S.ramp_window, n_samples=100, ramp_samples=10),
        entry(S.apply_ramp, sig, x=x, fs=FS, ramp_s=0.005),
        entry(S.tone, freq_hz=1000.0, **short),
        entry(S.complex_tone, freqs_hz=[500.0, 1000.0], **short),
        entry(S.harmonic_complex, f0_hz=200.0, **short),
        entry(S.sam_tone, carrier_hz=1000.0, mod_rate_hz=8.0, **short),
        entry(S.fm_tone, carrier_hz=1000.0, mod_rate_hz=8.0, freq_deviation_hz=50.0, **short),
        entry(S.noise, seed=1, **short),
        entry(S.sam_noise, mod_rate_hz=8.0, seed=1, **short),
        entry(S.noise_carrier, duration_s=DUR, fs=FS, seed=1),
        entry(S.tone_in_noise, freq_hz=1000.0, seed=1, **short),
        entry(S.clicks, rate_hz=100.0, duration_s=DUR, fs=FS),
        entry(S.silence, duration_s=DUR, fs=FS),
        entry(
            S.sequence,
            {"signals": [[x, torch.tensor([NAN])], [x, torch.ones(2, 5)], "abc", x, [None]]},
            signals=[x, x],
            fs=FS,
            gap_s=0.01,
        ),
        entry(
            S.nafc_intervals,
            {"target": BAD_SIGNALS, "reference": BAD_SIGNALS + [[x], [x, torch.ones(3)]]},
            target=x,
            reference=x,
            seed=1,
        ),
        entry(S.dichotic, sig, x=x, fs=FS, itd_s=0.0005, ild_db=3.0),
        entry(S.diotic, sig, x=x),
        entry(S.stereo, {"left": BAD_SIGNALS, "right": BAD_SIGNALS}, left=x, right=x),
        entry(S.load_wav, {"path": files}, path=good_wav),
        entry(S.save_wav, {"path": files, **sig}, path=tmp / "out.wav", x=x, fs=FS),
    ]
    obs = P.PsychometricObserver(threshold=0.0, slope=1.0, seed=1)
    stair = every_keyword(
        P.Staircase,
        start_value=5.0,
        step_sizes=(4.0, 2.0),
        n_final_reversals=4,
        n_threshold_reversals=None,
        bounds=(-40.0, 40.0),
        max_trials=200,
    )
    respond_bad = {"respond": _respond_bad()}
    e += [
        entry(P.psychometric, x=[0.0, 1.0], threshold=0.5, slope=2.0, lapse=0.02),
        entry(P.psychometric_inverse, p=0.75, threshold=0.5, slope=2.0, lapse=0.02),
        entry(P.levitt_target, n_down=2),
        (
            "PsychometricObserver",
            lambda **k: P.PsychometricObserver(**k).respond([0.0, 1.0]),
            every_keyword(P.PsychometricObserver, threshold=0.0, slope=1.0, seed=1),
            {},
            None,
        ),
        entry(P.afc_positions, n_trials=10, n_intervals=3, seed=1),
        entry(
            P.arrange_intervals,
            {"target": BAD_SIGNALS, "references": BAD_SIGNALS, "positions": [[0.5, 1, 2, 1], [0, 1, 2, 9]]},
            target=torch.ones(4, 5),
            references=torch.zeros(4, 2, 5),
            positions=[0, 1, 2, 1],
        ),
        ("Staircase", lambda **k: P.Staircase(**k).run(obs.respond, n_runs=2), stair, {}, "staircase"),
        (
            "Staircase.from_amt",
            lambda **k: P.Staircase.from_amt(**k, max_trials=200).run(obs.respond, 2),
            dict(rule=(2, 1), expvarstart=5.0, expvarstepstart=4.0, expvarsteprule=(0.5, 2), stepmin=(1.0, 4)),
            {"stepmin": [(-1, 8), (0, 8), (1, -1), (1e-300, 8), (1,)], "expvarstepstart": [INF]},
            "staircase",
        ),
        entry(P.run_staircase, respond_bad, "staircase", procedure=P.Staircase(**stair), respond=obs.respond, n_runs=2),
        entry(P.constant_stimuli, respond_bad, values=[-2.0, 0.0, 2.0], n_trials=10, respond=obs.respond, seed=1),
        entry(
            P.fit_psychometric,
            {"n_correct": [[NAN, 12, 17, 19], [6.5, 12, 17, 19], [30, 12, 17, 19]], "n_bootstrap": [10**9]},
            "fit",
            values=[-2.0, 0.0, 2.0, 4.0],
            n_correct=[6, 12, 17, 19],
            n_trials=[20, 20, 20, 20],
            n_bootstrap=3,
            seed=1,
        ),
    ]
    e += [
        entry(W.grid, rate=[4, 8]),  # (any keywords: the axes)
        entry(W.condition_id, condition={"a": 1}),
        entry(
            W.run_sweep,
            {
                "task": [
                    lambda i: object(),
                    lambda i: [1, 2],
                    lambda i: {"condition_id": 1},
                    lambda i: {"y": object()},
                    lambda i: {"y": 2**70},
                ],
                "conditions": [[{"i": 1}, {"i": 1}], [1, 2], [{1: 2}], "abc"],
                "output": [tmp / "x.txt", tmp, files[2], files[3]],
            },
            task=lambda i: {"y": float(i)},
            conditions=[{"i": 1}, {"i": 2}],
            output=tmp / "fuzz.csv",
            config={"c": 1},
            max_workers=1,
            progress=False,
        ),
        (
            "ResultStore",
            lambda **k: W.ResultStore(**k).close(),
            dict(path=tmp / "store.sqlite", config={"c": 1}),
            {"path": files},
            None,
        ),
        entry(W.load_results, {"path": files}, path=tmp / "fuzz.csv"),
        entry(
            W.export,
            {"store": files, "path": [tmp / "e.txt", tmp / "no" / "e.csv"]},
            store=tmp / "fuzz.csv",
            path=tmp / "export.csv",
        ),
        entry(W.store_paths, output=tmp / "a.csv"),
    ]
    return e


def _has_nan(value, check) -> bool:
    if check == "staircase":  # NaN thresholds are the documented result of runs that stopped at a bound
        return any(math.isnan(t) for t, s in zip(value.thresholds, value.status) if s == "converged")
    if check == "fit":
        return not all(math.isfinite(v) for v in (value.threshold, value.slope, value.lapse, value.log_likelihood))
    if isinstance(value, torch.Tensor):
        if not value.is_floating_point():
            return False
        return bool(torch.isnan(value).any()) if check == "nan_only" else not bool(torch.isfinite(value).all())
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
        return bool(np.isnan(value).any()) if check == "nan_only" else not bool(np.isfinite(value).all())
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, (tuple, list)):
        return any(_has_nan(v, check) for v in value)
    if isinstance(value, dict):
        return any(_has_nan(v, check) for v in value.values())
    return False


def _alarm(signum, frame):
    raise Hang()


def _try(fn, kwargs, args: tuple, check):
    """Outcome of one call: 'rejected', 'accepted', or a failure description."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, TIMEOUT_S)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn(**kwargs)
    except Hang:
        return "hang"
    except CLEAN + FILE_ERRORS as exc:
        message = str(exc)
        if "<" in message and " at 0x" in message or "Traceback" in message:
            return f"internal detail in message: {message[:200]}"
        named = any(a in message or _alias(a, message) for a in args) or (
            isinstance(kwargs.get(args[0]) if args else None, (str, os.PathLike)) and str(kwargs[args[0]]) in message
        )
        if args and not named:
            return f"message does not name {' or '.join(args)}: {type(exc).__name__}: {message[:200]}"
        return "rejected"
    except Exception as exc:  # noqa: BLE001 - this is what the test counts
        return f"internal exception {type(exc).__name__}: {str(exc)[:200]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if _has_nan(out, check):
        return "silent NaN"
    return "accepted"


ALIASES = {
    "pressure_pa": ("pressure",),
    "level_db_spl": ("level",),
    "n_samples": ("samples",),
    "store": ("store", "path"),
    "output": ("output", "store"),
    "conditions": ("condition",),
    "task": ("task", "field", "store's own"),
    "expvarsteprule": ("expvarsteprule",),
    "signals": ("signals",),
    "procedure": ("procedure",),
}


def _alias(arg, message):
    return any(a in message for a in ALIASES.get(arg, ()))


def _bad_values_for(arg, extra):
    return list(extra.get(arg, [])) + BAD_VALUES


@pytest.mark.timeout(900)
def test_every_entry_point_survives_bad_input(tmp_path, capsys):
    counts = collections.OrderedDict()
    failures = []
    for name, fn, base, extra, check in _entries(tmp_path):
        out = _try(fn, dict(base), (), check)
        assert out == "accepted", f"{name}: the valid baseline call failed: {out}"
        c = counts.setdefault(name, collections.Counter())
        for arg in base:
            for bad in _bad_values_for(arg, extra):
                kwargs = {**base, arg: bad}
                result = _try(fn, kwargs, (arg,), check)
                c["tried"] += 1
                c[result if result in ("rejected", "accepted") else "FAILED"] += 1
                if result not in ("rejected", "accepted"):
                    failures.append(f"{name}({arg}={_short(bad)}): {result}")
    with capsys.disabled():
        total = collections.Counter()
        print("\nbad inputs per entry point (tried / rejected with a clear error / accepted, finite output):")
        for name, c in counts.items():
            total.update(c)
            print(f"  {name:24s} {c['tried']:5d} / {c['rejected']:5d} / {c['accepted']:4d}   failed {c['FAILED']}")
        print(
            f"  {'all':24s} {total['tried']:5d} / {total['rejected']:5d} / {total['accepted']:4d}   "
            f"failed {total['FAILED']}"
        )
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:60])


def _short(value):
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


# --------------------------------------------------------------------------- hypothesis
bad_numbers = hs.one_of(
    hs.floats(allow_nan=True, allow_infinity=True),
    hs.integers(min_value=-(2**80), max_value=2**80),
    hs.sampled_from([None, True, "1000", b"", [], {}, 1 + 1j]),
    hs.lists(hs.floats(allow_nan=True, allow_infinity=True), max_size=5),
)

_ENTRIES = None


def _entry_table(tmp_factory):
    global _ENTRIES
    if _ENTRIES is None:
        _ENTRIES = _entries(tmp_factory.mktemp("fuzz"))
    return _ENTRIES


HYPOTHESIS_COUNTS = collections.Counter()


@pytest.mark.timeout(900)
@settings(max_examples=1500, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(data=hs.data())
def test_hypothesis_bad_numbers(tmp_path_factory, data):
    table = [
        e for e in _entry_table(tmp_path_factory) if e[0] not in ("run_sweep", "ResultStore", "export", "load_results")
    ]
    name, fn, base, extra, check = data.draw(hs.sampled_from(table), label="entry")
    args = data.draw(hs.lists(hs.sampled_from(sorted(base)), min_size=1, max_size=2, unique=True), label="args")
    kwargs = dict(base)
    for arg in args:
        kwargs[arg] = data.draw(bad_numbers, label=arg)
    if _valid_but_slow(kwargs):
        return
    result = _try(fn, kwargs, tuple(args), check)
    HYPOTHESIS_COUNTS[name] += 1
    assert result in ("rejected", "accepted"), f"{name}({', '.join(f'{a}={kwargs[a]!r}' for a in args)}): {result}"


def _valid_but_slow(kwargs) -> bool:
    """Random numbers can make a valid, merely long stimulus (e.g. 900 s) or fit (many bootstrap
    fits): not what this test is about. (Only calls with ``duration_s`` and ``fs``, or with
    ``n_bootstrap``, can be.)"""
    nb = kwargs.get("n_bootstrap")
    if isinstance(nb, int) and not isinstance(nb, bool) and 20 < nb <= 10_000:  # valid, seconds of fitting
        return True
    d, fs = kwargs.get("duration_s"), kwargs.get("fs")
    try:
        return float(d) * float(fs) > 2e6
    except (TypeError, ValueError, OverflowError):
        return False


def test_hypothesis_counts_reported(capsys):
    with capsys.disabled():
        print(f"\nhypothesis bad-number examples per entry point: {dict(sorted(HYPOTHESIS_COUNTS.items()))}")
