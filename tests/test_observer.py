"""CASP observer (template, internal noise, n-AFC) and the representation-level decision layer."""

import math

import numpy as np
import pytest
import torch
from scipy.special import erfc, ndtr

from workbench.models.base import AuditoryModel, StageInfo
from workbench.psychophysics.observer import OptimalDetector, amt_decision, percent_correct_analytic, roi_channels
from workbench.stages.decision import (
    decision_variable,
    make_decision,
    roi_selection,
    stack_representation,
    template_correlation,
)

# AMT 1.6 paulick2024_decision, transcribed: prob = 1 - erfc(((mue/sqrt(var))*s - o)*0.7071068)/2
AMT_CONSTANTS = {2: (0.707, 0.0), 3: (0.765, 0.423), 4: (0.810, 0.668)}


@pytest.mark.parametrize("n_afc", [2, 3, 4])
@pytest.mark.parametrize("model,variance", [("paulick2024", 40.0), ("jepsen2008", 130.0)])
def test_analytic_percent_correct_equals_amt(n_afc, model, variance):
    mues = np.array([-5.0, 0.0, 0.1, 1.0, 2.5, 6.3, 10.0, 25.0, 100.0])
    slope, offset = AMT_CONSTANTS[n_afc]
    amt = 1 - erfc(((mues / np.sqrt(variance)) * slope - offset) * 0.7071068) / 2
    ours = percent_correct_analytic(torch.tensor(mues, dtype=torch.float64), n_afc, model).numpy()
    np.testing.assert_allclose(ours, amt, rtol=0, atol=1e-12)
    for mue, expected in zip(mues, amt):
        assert abs(percent_correct_analytic(float(mue), n_afc, variance) - expected) < 1e-12
        detected, prob = amt_decision(float(mue), n_afc, (1, 2), model)
        assert detected == (expected > 1 / 2**0.5) and abs(prob - expected) < 1e-12


class ToyModel(AuditoryModel):
    """Representation = the audio itself as one channel, one band: (B, 1, 1, T)."""

    fs, return_stages, center_freqs_hz = 1000.0, False, torch.tensor([1000.0])
    stage_info = {"output": StageInfo("audio", "Pa", "BCMT", 1000.0)}

    def _run(self, x):
        return x.reshape(-1, 1, 1, x.shape[-1]), {}


def _fitted_detector(mue, n=1000, center=False):
    detector = OptimalDetector(ToyModel(), noise_variance=40.0, center_per_band=center)
    shape = torch.linspace(0, 1, n, dtype=torch.float64) ** 2
    detector.fit(shape, torch.zeros(n, dtype=torch.float64))
    # scale the target so its noise-free decision variable equals mue
    unit = float(detector.decision_variables(detector.representation(shape)[0]))
    return detector, shape * (mue / unit)


def test_template_is_unit_energy_and_decision_variable_linear():
    detector, target = _fitted_detector(3.0)
    assert float(detector.template.pow(2).sum() / detector.fs) == pytest.approx(1.0, rel=1e-12)
    dv = detector.decision_variables(detector.representation(torch.stack([target, 2 * target]))[0])
    np.testing.assert_allclose(dv.numpy(), [3.0, 6.0], rtol=1e-12)
    assert detector.noise_std() == pytest.approx(math.sqrt(40.0), rel=1e-12)


def test_defaults_are_paulick2024s_and_the_variant_is_chosen_by_name():
    detector = OptimalDetector(ToyModel(), noise_variance="jepsen2008", center_per_band=False)
    assert detector.noise_variance == 130.0 and not detector.center_per_band
    detector = OptimalDetector(ToyModel())
    assert detector.noise_variance == 40.0 and detector.center_per_band and detector.fs == 1000.0


def test_simulated_2afc_matches_analytic():
    detector, target = _fitted_detector(6.0)
    gen = torch.Generator().manual_seed(0)
    pc = detector.percent_correct(
        target, torch.zeros(1, target.numel(), dtype=torch.float64), n_afc=2, n_trials=20000, generator=gen
    )
    expected = ndtr(6.0 / math.sqrt(2 * 40.0))  # two intervals, each with noise variance 40
    assert abs(pc - expected) < 0.015
    assert abs(percent_correct_analytic(6.0, 2, 40.0) - expected) < 1e-3


def test_literal_noise_has_the_projected_variance():
    detector, target = _fitted_detector(0.0, n=200, center=True)
    gen = torch.Generator().manual_seed(3)
    rep = detector.representation(torch.zeros(2000, 200, dtype=torch.float64))[0]
    dv = detector.decision_variables(detector.add_internal_noise(rep, generator=gen))
    assert float(dv.std()) == pytest.approx(detector.noise_std(), rel=0.05)


def test_roi_channels_brackets_the_strongest_channel():
    fc = torch.tensor([250.0 * 1.2**k for k in range(20)], dtype=torch.float64)
    diff = torch.zeros(20, 2000, dtype=torch.float64)
    diff[10] = 1.0
    diff[9] = diff[11] = 0.6
    idx = roi_channels(diff, 10000.0, fc)
    assert int(idx[0]) <= 9 and int(idx[-1]) >= 11
    assert fc[idx[0]] <= fc[10] / math.sqrt(2) * 1.2 and fc[idx[-1]] >= 2 * fc[10] / 1.2


def _toy_list(batch=2, time=100):
    gen = torch.Generator().manual_seed(4)
    return [torch.randn(batch, m, time, generator=gen, dtype=torch.float64) for m in (3, 4, 4)]


def test_decision_layer_metrics_and_roi():
    rep = _toy_list()
    x, mask = stack_representation(rep)
    assert x.shape == (2, 3, 4, 100) and mask.sum() == 11
    rms = decision_variable(rep, "rms")
    manual = torch.sqrt(torch.cat([r.pow(2).mean(-1) for r in rep], 1).mean(1))
    assert torch.allclose(rms, manual)
    l2 = decision_variable(rep, "l2")
    assert torch.allclose(l2, torch.sqrt(sum(r.pow(2).sum((1, 2)) for r in rep)))
    weighted = decision_variable(rep, "max", channel_weights=torch.tensor([0.0, 0.0, 1.0]))
    assert torch.allclose(weighted, rep[2].flatten(1).amax(1))
    mean_mod0 = decision_variable(rep, "mean", modulation_weights=torch.tensor([1.0, 0, 0, 0]))
    assert torch.allclose(mean_mod0, torch.stack([r[:, 0].mean(-1) for r in rep], 1).mean(1))
    roi = roi_selection(rep, 100.0, time_window=(0.2, 0.5), channel_range=(1, 3), modulation_range=(0, 3))
    assert len(roi) == 2 and roi[0].shape == (2, 3, 30)
    assert torch.allclose(template_correlation(rep, rep), torch.ones(2, dtype=torch.float64))
    assert torch.equal(make_decision(torch.tensor([1.0, -1.0]), 0.0, "less"), torch.tensor([False, True]))


def test_bad_input():
    rep = _toy_list()
    with pytest.raises(ValueError, match="time_window"):
        roi_selection(rep, 100.0, time_window=(0.5, 0.2))
    with pytest.raises(ValueError, match="time_window"):
        roi_selection(rep, 100.0, time_window=(0.0, 2.0))
    with pytest.raises(ValueError, match="channel_range"):
        roi_selection(rep, 100.0, channel_range=(0, 4))
    with pytest.raises(ValueError, match="channel_weights"):
        decision_variable(rep, channel_weights=torch.ones(5))
    with pytest.raises(ValueError, match="metric"):
        decision_variable(rep, metric="median")
    with pytest.raises(ValueError, match="criterion"):
        make_decision(torch.ones(2), criterion="equal")
    with pytest.raises(ValueError, match="n_afc"):
        percent_correct_analytic(1.0, 5)
    with pytest.raises(ValueError, match="rule"):
        amt_decision(1.0, 2, rule=(2, 1))
    with pytest.raises(ValueError, match="noise_variance"):
        OptimalDetector(ToyModel(), noise_variance="casp")
    with pytest.raises(RuntimeError, match="fit"):
        OptimalDetector(ToyModel()).decision_variables(torch.zeros(1, 1, 1, 5))
    with pytest.raises(ValueError, match="identical"):
        OptimalDetector(ToyModel()).fit(torch.ones(10), torch.ones(10))


# --------------------------------------------------------------------------- AMT's CASP procedure
def test_amt_trial_decision_equals_amt_formula_by_hand():
    # demo_paulick2024: corr_fin = max(0, c_target - max(0, c_masker)); paulick2024_decision:
    # detected when 1 - erfc((mue/sqrt(var)*s - o)*0.7071068)/2 > 1/2^(1/n) (1-up-n-down)
    from workbench.psychophysics.observer import TemplateObserver, amt_mue

    target = torch.tensor([5.0, 3.0, 1.0, 20.0], dtype=torch.float64)
    refs = torch.tensor([[1.0, -2.0], [4.0, 0.0], [-1.0, -3.0], [2.0, 1.5]], dtype=torch.float64)
    mue = amt_mue(target, refs)
    np.testing.assert_allclose(mue.numpy(), [4.0, 0.0, 1.0, 18.0])  # largest reference, clipped at 0
    by_hand = [1 - erfc((m / math.sqrt(40.0) * 0.765 - 0.423) * 0.7071068) / 2 for m in (4.0, 0.0, 1.0, 18.0)]
    np.testing.assert_allclose(percent_correct_analytic(mue, 3, 40.0).numpy(), by_hand, rtol=0, atol=1e-14)
    detector, _ = _fitted_detector(1.0)
    observer = TemplateObserver(detector, decision="amt")
    ok = observer.judge(target, refs, 2**-0.5)  # 3-AFC, 1-up-2-down: 70.7 %
    assert ok.tolist() == [p > 2**-0.5 for p in by_hand] == [False, False, False, True]
    assert observer.judge(target, refs, 0.5).tolist() == [p > 0.5 for p in by_hand]
    with pytest.raises(ValueError, match="2-4 intervals"):
        observer.judge(target, torch.zeros(4, 4, dtype=torch.float64), 0.7)
    with pytest.raises(ValueError, match="decision"):
        TemplateObserver(detector, decision="bayes")


def test_inverse_of_the_analytic_rule():
    from workbench.psychophysics.observer import mue_at_percent_correct

    for n_afc in (2, 3, 4):
        mue = mue_at_percent_correct(2**-0.5, n_afc, "paulick2024")
        assert percent_correct_analytic(mue, n_afc, 40.0) == pytest.approx(2**-0.5, abs=1e-9)


class StagedToy(ToyModel):
    """ToyModel whose audio is split into C channels (rows of a fixed gain matrix), with an
    'adaptation' stage (the channels at full rate) and 3 modulation bands of which channel c
    has the first min(3, c + 1): ROI, the fc > 4 fm rule and normalisation over all channels."""

    center_freqs_hz = torch.tensor([100.0, 200.0, 400.0, 800.0, 1600.0, 3200.0])
    mfc = torch.tensor([0.0, 40.0, 150.0])
    return_stages = True

    @property
    def stage_info(self):
        return {
            "adaptation": StageInfo("channels", "MU", "BCT", 1000.0),
            "output": StageInfo("audio", "Pa", "BCMT", 1000.0),
        }

    def forward(self, x):
        out, stages = self._run(x)
        return out, stages

    def _run(self, x):
        gains = torch.tensor([0.0, 0.1, 1.0, 0.3, 0.05, 0.0], dtype=x.dtype)[:, None]
        chans = x[:, None, :] * gains  # (B, C, T)
        bands = [
            chans[:, c : c + 1].expand(-1, min(3, c + 1), -1) * torch.arange(1.0, min(3, c + 1) + 1)[:, None]
            for c in range(6)
        ]
        return bands, {"adaptation": chans}


def test_roi_template_normalisation_and_fourth_rule_as_amt():
    detector = OptimalDetector(StagedToy(), noise_variance=40.0, roi=True)
    target = torch.linspace(0, 1, 400, dtype=torch.float64) + 0.5
    detector.fit(target, torch.zeros(400, dtype=torch.float64))
    # ROI by hand: rms of the smoothed difference is proportional to the gains 0, .1, 1, .3, .05, 0:
    # core = channel 2 (>= 0.5 max), widened to the channels nearest 400/sqrt 2 = 283 Hz (200 Hz, 1)
    # and 2 * 400 = 800 Hz (3)
    assert detector.channels.tolist() == [1, 2, 3]
    # template normalised over ALL channels (AMT), then restricted: energy of the kept part < 1
    assert float(detector.template_full.pow(2).sum() / detector.fs) == pytest.approx(1.0, rel=1e-12)
    assert float(detector.template.pow(2).sum() / detector.fs) < 1.0
    # fc > 4 fm: 200 Hz keeps bands 0 (0 Hz) and 1 (40 Hz: 160 < 200); 400 Hz and 800 Hz keep
    # 0, 1 and 2 only where present (150 Hz band: 600 < 400? no -> absent at 400 Hz, present at 800 Hz)
    assert detector.mask.tolist() == [[True, True, False], [True, True, False], [True, True, True]]
    with pytest.raises(ValueError, match="roi_stage"):
        OptimalDetector(StagedToy(), roi=True, roi_stage="ihc")
    with pytest.raises(ValueError, match="return_stages"):
        OptimalDetector(type("NoStages", (StagedToy,), {"return_stages": False})(), roi=True)


@pytest.mark.slow
def test_roi_of_a_tone_in_noise_picks_the_channels_around_the_tone():
    # Paulick2024 (AMT defaults: 44.1 kHz, 50 channels, 250-8000 Hz); a 1-kHz tone at 55 dB SPL
    # in a 40 dB/Hz broadband noise (same noise token in target and reference, as the
    # experiments build the template). By hand: core = the channels next to 1 kHz, widened to
    # the channels nearest 1000 / sqrt 2 = 707 Hz and 2000 Hz (AMT paulick2024_roi)
    from workbench import Paulick2024, stimuli

    fs = 44100.0
    model = Paulick2024(fs=fs, return_stages=True)
    noise = stimuli.noise(0.2, fs, 40 + 10 * math.log10(9980.0), band_hz=(20.0, 10000.0), seed=3, ramp_s=0.01)
    tone = stimuli.tone(1000.0, 0.2, fs, 55.0, ramp_s=0.01)
    detector = OptimalDetector(model, roi=True).fit(noise + tone, noise)
    fc = model.center_freqs_hz.double()
    nearest = lambda f: int(torch.argmin((fc - f).abs()))  # noqa: E731
    low, high = int(detector.channels[0]), int(detector.channels[-1])
    print("ROI", float(fc[low]), "-", float(fc[high]), "Hz")
    assert low == nearest(1000.0 / math.sqrt(2))
    assert nearest(2000.0) <= high <= nearest(2000.0) + 1  # 2 fc (the tone's upward spread: one more)
    assert detector.channels.tolist() == list(range(low, high + 1)) and len(detector.channels) < 20
