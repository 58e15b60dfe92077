"""Fitting model parameters to psychophysical data by gradient (workbench.psychophysics.fit):
gradients against finite differences, parameter recovery from simulated data, and a fit to
human JNDs that lowers the model-minus-human error. Small: Paulick2024 at 16 kHz with three
channels around 1 kHz, stimuli of 0.1-0.2 s, float64."""

import dataclasses

import numpy as np
import pytest
import torch

from workbench import Paulick2024
from workbench.psychophysics import fit as F
from workbench.psychophysics.experiments import forward_masking_tone, intensity_discrimination, tone_in_noise
from workbench.psychophysics.human_data import jesteadt1977_weber_db

FS = 16000.0
TAU1 = 0.0318  # Paulick2024's second adaptation time constant (s)


pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def model():
    return Paulick2024(
        fs=FS, flow=800.0, fhigh=1250.0, n_channels=3, learnable=True, dtype=torch.float64, return_stages=True
    )


def _forward_masking(gap_s):
    return forward_masking_tone(
        60.0,
        masker_hz=1000.0,
        probe_hz=1000.0,
        gap_s=gap_s,
        masker_duration_s=0.1,
        probe_duration_s=0.01,
        tail_s=0.03,
        fs=FS,
    )


def _recovery_conditions():
    # probe levels spanning chance to ~99 % at two masker-probe gaps: the gap that matters for
    # the 32-ms adaptation loop (20 ms) separates its time constant from the noise variance
    return [
        F.BinomialData(_forward_masking(0.0), np.arange(30.0, 61.0, 6.0), np.zeros(6), np.ones(6)),
        F.BinomialData(_forward_masking(0.02), np.arange(20.0, 46.0, 5.0), np.zeros(6), np.ones(6)),
    ]


PARAMS = [F.FitParameter("noise_variance", 5.0, 500.0), F.FitParameter("adaptation.tau_s", 0.005, 0.2, index=1)]


def test_gradients_match_finite_differences(model):
    # (c): d(percent correct)/d(theta) and d(threshold)/d(theta) by autograd through the whole
    # model (hand-written kernel adjoints) vs central differences, float64
    params = PARAMS + [F.FitParameter("drnl.c", 0.1, 0.6)]
    problem = F.FitProblem(model, _recovery_conditions()[1:], params)
    check = F.gradient_check(problem, output="prediction")
    print("percent correct:", check)
    assert np.all(check["relative_error"] < 1e-5)
    jnd = F.FitProblem(
        model,
        [
            F.ThresholdData(
                intensity_discrimination(60.0, duration_s=0.1, ramp_s=0.005, total_s=0.15, fs=FS),
                -6.0,
                search=(-20.0, 10.0),
            )
        ],
        [F.FitParameter("noise_variance", 1.0, 1000.0), F.FitParameter("drnl.c", 0.1, 0.6)],
    )
    check = F.gradient_check(jnd, output="nll", relative_step=1e-5)
    print("threshold NLL:", check)
    assert np.all(check["relative_error"] < 1e-4)


def test_parameter_recovery(model):
    # (a): data simulated with noise variance x2 and tau_2 x1.5, fitted from the defaults
    base = F.FitProblem(model, _recovery_conditions(), PARAMS)
    truth = torch.tensor([80.0, 1.5 * TAU1], dtype=torch.float64)
    # expected counts: the optimiser finds the truth itself
    with torch.no_grad():
        expected = [
            F.BinomialData(c.experiment, c.values, p.numpy() * 1000, np.full(len(c.values), 1000.0))
            for c, p in zip(base.data, base.predict(truth))
        ]
    exact = F.fit(F.FitProblem(model, expected, PARAMS), uncertainty="none")
    np.testing.assert_allclose(list(exact.values.values()), truth.numpy(), rtol=1e-4)
    # sampled counts (4000 trials per level): within 10 % and within 4 standard errors
    data = F.simulate_counts(base, truth, n_trials=4000, seed=0)
    result = F.fit(F.FitProblem(model, data, PARAMS))
    print(
        result.table(),
        f"\nNLL {result.nll_initial:.1f} -> {result.nll:.1f}, {result.n_evaluations} evaluations, "
        f"{result.elapsed_s:.1f} s",
    )
    fitted, std = np.array(list(result.values.values())), np.array(list(result.std.values()))
    assert np.all(np.abs(fitted / truth.numpy() - 1) < 0.10)
    assert np.all(np.abs(fitted - truth.numpy()) < 4 * std) and np.all(std < 0.1 * truth.numpy())
    assert result.nll < result.nll_initial


def test_fit_to_human_jnds_lowers_the_rms_error(model):
    # (b): Jesteadt et al. (1977) Weber fractions at 40/60/80 dB SPL; this small, short-tone
    # model starts far above them (its JND is too large), the fit lowers the error
    levels = (40.0, 60.0, 80.0)
    data = [
        F.ThresholdData(
            intensity_discrimination(level, duration_s=0.1, ramp_s=0.005, total_s=0.15, fs=FS),
            float(w),
            search=(-20.0, 10.0),
        )
        for level, w in zip(levels, jesteadt1977_weber_db(levels))
    ]
    problem = F.FitProblem(
        model, data, [F.FitParameter("noise_variance", 1.0, 1000.0), F.FitParameter("drnl.c", 0.1, 0.6)]
    )
    before = F.rms_error(problem, problem.initial())
    result = F.fit(problem)
    after = F.rms_error(problem, torch.tensor(list(result.values.values())))
    print(result.table(), f"\nRMS model - human: {before:.2f} dB before, {after:.2f} dB after")
    assert after < before - 2.0
    assert result.std["noise_variance"] > 0 and np.isfinite(result.std["drnl.c"])


def test_running_noise_predictions_average_over_frozen_tokens(model):
    exp = tone_in_noise(0.0, band_hz=(500.0, 2000.0), duration_s=0.1, ramp_s=0.01, fs=FS)
    data = [F.BinomialData(exp, [20.0, 30.0, 40.0], [1, 1, 1], [2, 2, 2])]
    problem = F.FitProblem(model, data, [F.FitParameter("noise_variance", 5.0, 500.0)], n_tokens=3)
    p = problem.predict(problem.initial())[0].detach().numpy()
    assert p.shape == (3,) and np.all(np.diff(p) > 0) and p[0] > 0.3 and p[-1] < 1.0
    again = problem.predict(problem.initial())[0].detach().numpy()
    np.testing.assert_array_equal(p, again)  # common random numbers: the same tokens every time
    assert F.gradient_check(problem)["relative_error"][0] < 1e-5


def test_bad_input(model):
    data = [F.BinomialData(_forward_masking(0.0), [40.0], [1], [2])]
    with pytest.raises(ValueError, match="unknown parameter"):
        F.FitProblem(model, data, [F.FitParameter("drnl.q", 0.0, 1.0)])
    with pytest.raises(ValueError, match="strictly inside"):
        F.FitProblem(model, data, [F.FitParameter("noise_variance", 50.0, 100.0)])
    with pytest.raises(ValueError, match="index"):
        F.FitProblem(model, data, [F.FitParameter("adaptation.tau_s", 0.001, 1.0, index=7)])
    with pytest.raises(ValueError, match="lower < upper"):
        F.FitParameter("noise_variance", 10.0, 1.0)
    with pytest.raises(TypeError, match="BinomialData"):
        F.FitProblem(model, [(1, 2)], PARAMS)
    with pytest.raises(ValueError, match="n_correct"):
        F.BinomialData(data[0].experiment, [1.0], [3], [2])
    with pytest.raises(ValueError, match="n_intervals"):
        F.FitProblem(
            model,
            [
                F.BinomialData(
                    dataclasses.replace(_forward_masking(0.0), n_intervals=5),
                    [40.0],
                    [1],
                    [2],
                )
            ],
            PARAMS,
        )
