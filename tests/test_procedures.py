"""Procedures: staircase convergence to Levitt's targets, n-AFC layout, constant stimuli, ML fit."""

import math

import numpy as np
import pytest
import torch

from workbench.psychophysics.procedures import (
    PsychometricObserver,
    Staircase,
    afc_positions,
    arrange_intervals,
    constant_stimuli,
    fit_psychometric,
    levitt_target,
    psychometric,
    psychometric_inverse,
    run_staircase,
)


@pytest.mark.parametrize("n_down,n_alternatives", [(2, 2), (3, 2), (2, 3), (3, 3)])
def test_staircase_converges_to_levitt_target(n_down, n_alternatives):
    # 200 seeded runs on a listener with a known psychometric function (slope 0.5 /dB):
    # the mean threshold maps to the rule's target within 3 percentage points (issue 8 item 5)
    obs = PsychometricObserver(threshold=0.0, slope=0.5, n_alternatives=n_alternatives, seed=11)
    proc = Staircase(start_value=10.0, n_down=n_down, step_sizes=(8, 4, 2, 1))
    res = proc.run(obs.respond, n_runs=200)
    assert res.status == ["converged"] * 200
    p = float(obs.p_correct(res.thresholds.mean()))
    target = {2: 0.7071, 3: 0.7937}[n_down]
    assert levitt_target(n_down) == pytest.approx(target, abs=1e-4)
    print(f"1-up-{n_down}-down {n_alternatives}-AFC: p at mean threshold {p:.3f} (target {target:.3f})")
    assert abs(p - target) < 0.03


def test_staircase_rules_and_steps():
    # always-correct listener: moves down by the step every n_down trials; steps never shrink
    # (no reversals) until the lower bound stops it
    proc = Staircase(start_value=0.0, n_down=2, step_sizes=(4, 2), bounds=(-20, 10))
    with pytest.warns(RuntimeWarning, match="lower_bound"):
        res = proc.run(lambda v: np.ones_like(v, bool), n_runs=3)
    assert res.status == ["lower_bound"] * 3 and np.isnan(res.thresholds).all()
    np.testing.assert_allclose(res.values[0][:10], [0, 0, -4, -4, -8, -8, -12, -12, -16, -16])
    assert res.values[0].min() >= -20
    # pattern C C W: down, up, down...; every move after the first is a reversal; the step
    # shrinks after 2 reversals (applied to the reversing move itself)
    pattern = iter([True, True, False] * 200)
    proc = Staircase(
        start_value=0.0,
        n_down=2,
        step_sizes=(4, 2, 1),
        reversals_per_step=2,
        n_final_reversals=4,
        n_threshold_reversals=None,
    )
    res = proc.run(lambda v: np.array([next(pattern)]), n_runs=1)
    assert res.status == ["converged"]
    np.testing.assert_allclose(res.values[0][:9], [0, 0, -4, 0, 0, -2, 0, 0, -1])
    assert res.thresholds[0] == pytest.approx(np.mean(res.reversals[0][-4:]))


def test_staircase_upper_bound_stops_with_message():
    # AM depth can never exceed 0 dB (m = 1): a deaf listener stops at the bound, no crash
    proc = Staircase(start_value=-6.0, step_sizes=(4, 2), bounds=(-60, 0))
    with pytest.warns(RuntimeWarning, match="upper_bound.*largest allowed value 0"):
        res = proc.run(lambda v: np.zeros_like(v, bool), n_runs=2)
    assert res.status == ["upper_bound"] * 2
    assert max(r.max() for r in res.values) == 0.0


def test_from_amt_maps_emuexp_parameters():
    proc = Staircase.from_amt(rule=[3, 1], expvarstart=-6, expvarstepstart=8, expvarsteprule=[0.5, 2], stepmin=[1, 8])
    assert proc.step_sizes == (8, 4, 2, 1) and proc.n_down == 3 and proc.n_up == 1
    assert proc.reversals_per_step == 2 and proc.n_final_reversals == 8
    assert proc.statistic == "median" and proc.start_value == -6


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(n_down=0), ValueError, "n_down"),
        (dict(step_sizes=(4, -1)), ValueError, "step_sizes"),
        (dict(statistic="mode"), ValueError, "statistic"),
        (dict(bounds=(0, 10)), ValueError, "bounds"),
        (dict(n_threshold_reversals=20), ValueError, "n_threshold_reversals"),
        (dict(n_down=2.5), TypeError, "n_down"),
        (dict(stepsize=2), TypeError, "stepsize"),
    ],
)
def test_staircase_bad_parameters(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Staircase(start_value=-5.0, **kwargs)


def test_afc_positions_and_arrangement():
    with pytest.raises(ValueError, match="n_intervals"):
        afc_positions(10, 1)
    pos = afc_positions(3000, 3, seed=1)
    np.testing.assert_array_equal(pos, afc_positions(3000, 3, seed=1))
    counts = np.bincount(pos, minlength=3) / 3000
    assert np.all(np.abs(counts - 1 / 3) < 0.03)
    target = torch.full((4, 5), 9.0)
    refs = torch.arange(4 * 2 * 5, dtype=torch.float32).reshape(4, 2, 5)
    out = arrange_intervals(target, refs, [0, 1, 2, 1])
    assert out.shape == (4, 3, 5)
    for i, p in enumerate([0, 1, 2, 1]):
        assert bool((out[i, p] == 9).all())
        others = [k for k in range(3) if k != p]
        torch.testing.assert_close(out[i, others], refs[i])


def test_psychometric_inverse_roundtrip():
    for shape, x in (("logistic", -3.0), ("weibull", 0.2)):
        p = psychometric(x, 0.5 if shape == "weibull" else 1.0, 1.5, shape=shape, guess=1 / 3, lapse=0.02)
        back = psychometric_inverse(p, 0.5 if shape == "weibull" else 1.0, 1.5, shape=shape, guess=1 / 3, lapse=0.02)
        assert back == pytest.approx(x, rel=1e-9)
    with pytest.raises(ValueError, match="x must be > 0"):
        psychometric([-1.0], 0.1, 2.0, shape="weibull")


def test_constant_stimuli_and_fit_recover_known_function():
    obs = PsychometricObserver(threshold=2.0, slope=0.8, n_alternatives=2, seed=3)
    data = constant_stimuli(np.linspace(-6, 10, 9), 150, obs.respond, seed=4, batch_size=100)
    assert data["n_trials"].sum() == 9 * 150
    fit = fit_psychometric(data["values"], data["n_correct"], data["n_trials"], n_bootstrap=60, seed=5)
    assert fit.threshold == pytest.approx(2.0, abs=0.6)
    assert 0.5 < fit.slope < 1.3  # 1350 trials pin the slope only loosely
    lo, hi = fit.threshold_ci
    assert lo < fit.threshold < hi and hi - lo < 3.0
    assert abs(fit.threshold - 2.0) < hi - lo  # truth within ~2 standard errors
    assert fit.value_at(0.75) == pytest.approx(
        psychometric_inverse(0.75, fit.threshold, fit.slope, lapse=fit.lapse), rel=1e-9
    )


def test_weibull_fit_three_afc():
    m = np.array([0.03, 0.06, 0.1, 0.15, 0.25, 0.4])
    obs = PsychometricObserver(threshold=0.12, slope=2.5, shape="weibull", n_alternatives=3, seed=9)
    data = constant_stimuli(m, 200, obs.respond, seed=2)
    fit = fit_psychometric(
        m, data["n_correct"], data["n_trials"], shape="weibull", n_alternatives=3, lapse=0.0, n_bootstrap=0
    )
    assert fit.guess == pytest.approx(1 / 3)
    assert fit.threshold == pytest.approx(0.12, rel=0.15)
    assert math.isnan(fit.threshold_ci[0])


@pytest.mark.parametrize(
    "kwargs,exc",
    [
        (dict(n_alternatives=1), ValueError),
        (dict(shape="probit"), ValueError),
        (dict(lapse="estimate"), ValueError),
        (dict(ci=1.5), ValueError),
        (dict(n_bootstrap=-1), ValueError),
    ],
)
def test_fit_bad_input(kwargs, exc):
    with pytest.raises(exc):
        fit_psychometric([0, 1, 2], [5, 7, 9], [10, 10, 10], **kwargs)
    with pytest.raises(ValueError, match="n_correct"):
        fit_psychometric([0, 1], [11, 3], [10, 10])


def test_constant_stimuli_bad_input():
    with pytest.raises(ValueError, match="values"):
        constant_stimuli([], 10, lambda v: v > 0)
    with pytest.raises(ValueError, match="n_trials"):
        constant_stimuli([1.0], 0, lambda v: v > 0)
    with pytest.raises(TypeError, match="procedure"):
        run_staircase(dict(start_value=0), lambda v: v > 0)
