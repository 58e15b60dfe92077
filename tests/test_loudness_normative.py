"""Normative loudness values, independent of AMT (ISO 532-2/-3, ANSI S3.4-2007)."""

import numpy as np
import pytest
import torch

from workbench.models.glasberg2002 import Glasberg2002
from workbench.models.moore2016 import Moore2016, diotic, monaural

FS = 32000
LEVELS = [20, 40, 60, 80]
ISO_532_3_C1 = [0.14, 1.00, 4.1, 15.4]  # Moore2016, binaural (diotic) free field, sone
ISO_532_2_B1 = [0.14, 1.0, 4.1, 15.8]  # Glasberg2002, binaural (diotic) free field, sone
ANSI_TABLE7 = {40.0: 0.997, 60.0: 4.166, 80.0: 15.98}


def tone(level_db, dur=1.0, f=1000.0):
    t = torch.arange(int(dur * FS), dtype=torch.float64) / FS
    return np.sqrt(2) * 20e-6 * 10 ** (level_db / 20) * torch.sin(2 * np.pi * f * t)


@pytest.fixture(scope="module")
def glasberg():
    return Glasberg2002(dtype=torch.float64, return_stages=True)


@pytest.fixture(scope="module")
def moore_results():
    m = Moore2016(dtype=torch.float64)
    return {lvl: (m(diotic(tone(lvl))), m(monaural(tone(lvl)))) for lvl in LEVELS}


def test_table7_sone_phon_relation(glasberg):
    phon = torch.tensor(list(ANSI_TABLE7), dtype=torch.float64)
    sone = glasberg.compute_loudness_from_level(phon)
    np.testing.assert_allclose(sone.numpy(), list(ANSI_TABLE7.values()), rtol=2e-3)
    back = glasberg.compute_loudness_level(torch.tensor(list(ANSI_TABLE7.values()), dtype=torch.float64))
    np.testing.assert_allclose(back.numpy(), list(ANSI_TABLE7), atol=0.05)
    # inverse pair and silence
    p = torch.linspace(5, 110, 50, dtype=torch.float64)
    np.testing.assert_allclose(glasberg.compute_loudness_level(glasberg.compute_loudness_from_level(p)), p, atol=1e-6)


def test_moore2016_1khz_40db_is_one_sone_40_phon(moore_results, glasberg):
    (s, ltl, m), _ = moore_results[40]
    assert abs(float(m) - 1.0) <= 0.02
    assert abs(float(s[500:].mean()) - 1.0) <= 0.02
    assert abs(float(glasberg.compute_loudness_level(m)) - 40.0) <= 0.3


@pytest.mark.parametrize("i", range(4))
def test_moore2016_iso532_3_annex_c1(moore_results, glasberg, i):
    (s, ltl, m), _ = moore_results[LEVELS[i]]
    ours, iso = glasberg.compute_loudness_level(m), glasberg.compute_loudness_level(torch.tensor(ISO_532_3_C1[i]))
    print(LEVELS[i], float(m), ISO_532_3_C1[i], float(ours - iso))
    assert abs(float(ours - iso)) <= 0.5


@pytest.mark.parametrize("level", LEVELS)
def test_moore2016_diotic_is_1p5_times_monaural(moore_results, level):
    (s2, l2, m2), (s1, l1, m1) = moore_results[level]
    assert abs(float(m2 / m1) - 1.5) <= 0.02
    assert abs(float(s2[500] / s1[500]) - 1.5) <= 0.02


def test_moore2016_silence():
    s, ltl, m = Moore2016(dtype=torch.float64)(torch.zeros(2, 2 * FS // 10, dtype=torch.float64))
    assert float(m) == 0.0 and float(s.abs().max()) == 0.0


@pytest.mark.parametrize("i", range(4))
def test_glasberg2002_iso532_2_annex_b1(glasberg, i):
    ltl, st = glasberg(tone(LEVELS[i]))
    steady = st["stl"][300:].mean()  # steady-state part of the short-term loudness
    ours, iso = glasberg.compute_loudness_level(steady), glasberg.compute_loudness_level(torch.tensor(ISO_532_2_B1[i]))
    print(LEVELS[i], float(steady), ISO_532_2_B1[i], float(ours - iso))
    assert abs(float(ours - iso)) <= 0.5
    if LEVELS[i] == 40:
        assert abs(float(steady) - 1.0) <= 0.02 and abs(float(ours) - 40.0) <= 0.3
        assert abs(float(ltl[-1]) - 1.0) <= 0.02


def test_glasberg2002_silence(glasberg):
    ltl, st = glasberg(torch.zeros(6400, dtype=torch.float64))
    assert float(ltl.abs().max()) == 0.0 and float(st["stl"].abs().max()) == 0.0
