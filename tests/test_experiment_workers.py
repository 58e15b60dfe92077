"""Experiments in worker processes: progress, result, sharing by content, the queue, cancel
(and the kill when a worker ignores it), crashes, errors; live staircase progress."""

import time
import warnings

import numpy as np
import pytest

from workbench.dashboards import progress
from workbench.dashboards.workers import GENERIC_FAILURE, ExperimentPool
from workbench.psychophysics import experiments
from workbench.psychophysics import observer as observers

QUICK = {"n_final_reversals": 6, "n_threshold_reversals": 4}


def events(sub, timeout=60.0):
    out = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ev = sub.get(timeout=max(0.1, end - time.monotonic()))
        out.append(ev)
        if ev["kind"] in ("done", "error", "cancelled"):
            return out
    raise AssertionError(f"no end event within {timeout} s: {out}")


@pytest.fixture(scope="module")
def pool():
    p = ExperimentPool(
        1, runner="tests.pool_jobs:run", warm_up=None, cancel_grace_s=1.0, report_interval_s=0.0, max_queued=3
    )
    yield p
    p.shutdown()


# ------------------------------------------------------------------------------- live progress
@pytest.mark.parametrize(
    "name, observer",
    [("intensity_tone", "level"), ("tmtf", "envelope"), ("tone_in_noise", "level"), ("intensity_tone", "envelope")],
)
def test_tracked_runs_decide_as_the_engine_and_show_every_step(name, observer):
    for seed in range(3):
        e = experiments.make_experiment(name, procedure=QUICK)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            plain = e.run(observers.make_observer(observer, e, seed=seed), n_runs=3, seed=seed)
            snaps, live = [], {}

            def report(p, snaps=snaps, live=live):
                snaps.append(p.snapshot())
                if not p.finished:
                    live["tracks"] = [list(t) for t in p.tracks]

            tracked, prog = progress.run_tracked(
                e, observers.make_observer(observer, e, seed=seed), n_runs=3, seed=seed, report=report
            )
        st = tracked.staircase
        np.testing.assert_array_equal(np.nan_to_num(st.thresholds, nan=-999), np.nan_to_num(plain.thresholds, nan=-999))
        for a, b in zip(st.values, plain.staircase.values):
            np.testing.assert_array_equal(a, b)  # the same decisions (frozen ones too)
        assert tracked.experiment is e
        # the live reconstruction saw every run's whole track
        assert len(live["tracks"]) == len(st.values)
        for seen, actual in zip(live["tracks"], st.values):
            np.testing.assert_array_equal(seen, actual)
        assert snaps[0]["phase"] == "template" and snaps[-1]["phase"] == "done"
        assert snaps[-1]["trials"] == sum(len(v) for v in st.values) and snaps[-1]["fraction"] == 1.0
        assert snaps[-1]["reversals"] == [len(r) for r in st.reversals]
        fractions = [s["fraction"] for s in snaps]
        assert fractions == sorted(fractions)
        assert any(np.isfinite(s["eta_s"]) for s in snaps[1:-1]) or len(snaps) < 6


def test_cancel_stops_the_run_before_the_next_model_batch():
    e = experiments.make_experiment("tmtf", procedure=QUICK)
    o = observers.make_observer("envelope", e, seed=0)
    calls = {"score": 0}
    original = o.score

    def score(audio):
        calls["score"] += 1
        return original(audio)

    o.score = score
    state = {"steps": 0}

    def report(p):
        state["steps"] = p.steps

    with pytest.raises(progress.Cancelled):
        progress.run_tracked(e, o, n_runs=2, seed=0, report=report, should_stop=lambda: state["steps"] >= 5)
    assert state["steps"] == 5 and calls["score"] <= 7  # pool + template + 5 steps, nothing after the stop


def test_progress_line_names_trials_reversals_and_time_left():
    text = progress.describe(
        {
            "phase": "trials",
            "trials": 40,
            "n_runs": 2,
            "runs_done": 1,
            "reversals": [10, 6],
            "reversals_needed": 10,
            "eta_s": 75.0,
        }
    )
    assert "40 trials done" in text and "reversals 16 of 20 (2 runs × 10 to finish)" in text
    assert "1 of 2 runs finished" in text
    assert "about 1 min 15 s left" in text
    assert "estimating" in progress.describe(
        {
            "phase": "trials",
            "trials": 2,
            "n_runs": 1,
            "runs_done": 0,
            "reversals": [0],
            "reversals_needed": 10,
            "eta_s": float("nan"),
        }
    )
    assert "template" in progress.describe({"phase": "template"})


# ------------------------------------------------------------------------------- the pool
def test_a_worker_reports_progress_and_its_result(pool):
    evs = events(pool.submit({"kind": "count", "steps": 3, "value": 1}))
    kinds = [e["kind"] for e in evs]
    assert kinds[-1] == "done" and kinds.count("progress") == 3 and "started" in kinds
    result = evs[-1]["result"]
    assert result["device"] == "cpu" and result["pid"] in pool.worker_pids()
    assert result["pid"] != __import__("os").getpid()


def test_identical_experiments_share_one_computation(pool):
    spec = {"kind": "count", "steps": 4, "sleep_s": 0.2, "value": 2}
    a, b = pool.submit(spec), pool.submit(spec)
    ea, eb = events(a), events(b)
    assert ea[-1]["result"] == eb[-1]["result"] and not ea[-1]["cached"]
    assert pool.stats()["joined"] >= 1
    c = events(pool.submit(spec))  # finished: from the result cache, at once
    assert c[-1]["kind"] == "done" and c[-1]["cached"] and c[-1]["result"] == ea[-1]["result"]


def test_the_queue_says_how_many_are_ahead_and_is_bounded(pool):
    long = pool.submit({"kind": "count", "steps": 40, "sleep_s": 0.1, "value": 3})
    time.sleep(0.3)
    second = pool.submit({"kind": "count", "steps": 1, "value": 4})
    third = pool.submit({"kind": "count", "steps": 1, "value": 5})
    assert second.get(5)["kind"] == "queued"
    first_of_third = third.get(5)
    assert first_of_third == {"kind": "queued", "ahead": 2}
    pool.submit({"kind": "count", "steps": 1, "value": 6})
    with pytest.raises(ValueError, match="already waiting"):
        pool.submit({"kind": "count", "steps": 1, "value": 7})
    third.cancel()
    assert events(third)[-1]["kind"] == "cancelled"
    long.cancel()  # its worker stops at the next check; the queue moves on
    assert events(second)[-1]["kind"] == "done"


def test_a_worker_that_ignores_cancel_is_killed_and_replaced(pool):
    sub = pool.submit({"kind": "ignore_cancel"})
    kinds = []
    while "progress" not in kinds:
        kinds.append(sub.get(30)["kind"])
    assert kinds[-2:] == ["started", "progress"]
    killed = pool.stats().get("workers_killed", 0)
    t0 = time.monotonic()
    sub.cancel()
    assert events(sub)[-1]["kind"] == "cancelled" and time.monotonic() - t0 < 1.0  # the page is told at once
    evs = events(pool.submit({"kind": "count", "steps": 1, "value": 8}), timeout=90)
    assert evs[-1]["kind"] == "done" and pool.stats()["workers_killed"] == killed + 1


def test_a_crash_fails_only_its_own_job(pool):
    evs = events(pool.submit({"kind": "crash"}), timeout=90)
    assert evs[-1]["kind"] == "error" and "stopped unexpectedly" in evs[-1]["message"]
    assert events(pool.submit({"kind": "count", "steps": 1, "value": 9}), timeout=90)[-1]["kind"] == "done"


def test_errors_reach_the_page_as_sentences(pool):
    assert events(pool.submit({"kind": "error"}))[-1]["message"] == "value must be in [0, 1], got 7"
    boom = events(pool.submit({"kind": "boom"}))[-1]["message"]
    assert boom == GENERIC_FAILURE and "RuntimeError" not in boom and "internal detail" not in boom


def test_pool_arguments_are_checked():
    with pytest.raises(ValueError, match="n_workers must be an integer in"):
        ExperimentPool(0, start=False)
    with pytest.raises(ValueError, match="nice must be an integer in"):
        ExperimentPool(1, nice=40, start=False)


def test_a_real_experiment_in_a_worker_process():
    """The default runner: a task from the registry, tracked, with figures, in a spawned worker."""
    p = ExperimentPool(1, warm_up=None, report_interval_s=0.0)
    try:
        evs = events(
            p.submit(
                {
                    "task": "intensity_tone",
                    "observer": "level",
                    "condition": 60.0,
                    "n_runs": 2,
                    "seed": 3,
                    "procedure": QUICK,
                }
            ),
            timeout=120,
        )
    finally:
        p.shutdown()
    assert evs[-1]["kind"] == "done", evs[-1]
    o = evs[-1]["result"]
    snaps = [e["progress"] for e in evs if e["kind"] == "progress"]
    assert any(s["phase"] == "trials" and s["reversals"] is not None for s in snaps)
    assert snaps[-1]["phase"] == "done" and snaps[-1]["reversals"] == [len(r["reversals"]) for r in o.runs]
    assert o.experiment == "intensity_tone" and o.seed == 3 and o.device == "cpu" and np.isfinite(o.threshold)
    assert o.figures["track"][:4] == b"\x89PNG" and o.figures["curve"][:4] == b"\x89PNG"
