"""Published human thresholds for the experiments in :mod:`workbench.psychophysics.experiments`.

Honesty first: every entry says how its numbers were obtained. ``kind='formula'`` entries are
evaluated from a fit equation printed in the paper (exact to that equation);
``kind='descriptive'`` entries are rebuilt from a paper's verbal/parametric summary and are
approximate (typically within 1-3 dB of the plotted points); nothing here is digitised from a
figure. Figures of Jepsen et al. (2008) and Paulick et al. (2024) are not included: we do not
hold their numbers, and inventing them would be worse than leaving them out. Forward masking
has no entry for the same reason (its decay with gap is checked qualitatively in the tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench._validation import check_choice


@dataclass(frozen=True)
class HumanData:
    """One experiment's human thresholds: ``y`` (in ``y_unit``) against ``x`` (``x_unit``)."""

    experiment: str
    x_name: str
    x_unit: str
    y_name: str
    y_unit: str
    x: tuple
    y: tuple
    citation: str
    kind: str          # 'formula' | 'descriptive'
    note: str

    def to_frame(self):
        import pandas as pd
        return pd.DataFrame({self.x_name: self.x, self.y_name: self.y, "source": self.citation})

    def at(self, x) -> np.ndarray:
        """Human threshold interpolated at ``x`` (linear in log x for rates, else linear)."""
        xs, ys = np.asarray(self.x, float), np.asarray(self.y, float)
        x = np.asarray(x, float)
        if self.x_unit == "Hz":
            return np.interp(np.log(x), np.log(xs), ys)
        return np.interp(x, xs, ys)


def jesteadt1977_weber_db(level_db_sl) -> np.ndarray:
    """10 log10(dI/I) for pure tones: dI/I = 0.463 (I/I0) ** -0.072 (Jesteadt et al. 1977)."""
    return 10 * np.log10(0.463) - 0.072 * np.asarray(level_db_sl, float)


def weber_db_to_delta_l(weber_db) -> np.ndarray:
    """Level difference dL = 10 log10(1 + dI/I) in dB from 10 log10(dI/I)."""
    return 10 * np.log10(1 + 10 ** (np.asarray(weber_db, float) / 10))


def viemeister1979_tmtf_db(rate_hz, floor_db: float = -25.0, cutoff_hz: float = 50.0) -> np.ndarray:
    """Broadband-noise TMTF as Viemeister (1979) summarises it: a first-order low-pass,
    about -25 dB (20 log m) at low rates with a cutoff near 50 Hz. Approximate."""
    f = np.asarray(rate_hz, float)
    return floor_db + 10 * np.log10(1 + (f / cutoff_hz) ** 2)


_LEVELS = (20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0)
_RATES = (4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0)

HUMAN_DATA = {
    "intensity_tone": HumanData(
        "intensity_tone", "level_db_spl", "dB SPL", "delta_l_db", "dB", _LEVELS,
        tuple(np.round(weber_db_to_delta_l(jesteadt1977_weber_db(_LEVELS)), 3)),
        "Jesteadt, Wier & Green (1977), J. Acoust. Soc. Am. 61, 169-177",
        "formula",
        "Their fit dI/I = 0.463 (I/I0)^-0.072 over 200 Hz-8 kHz, 5-80 dB SL (2IFC, 70.7 %); we "
        "equate SL with SPL at 1 kHz (absolute threshold ~5 dB SPL, < 0.05 dB change in dL)."),
    "intensity_noise": HumanData(
        "intensity_noise", "level_db_spl", "dB SPL", "delta_l_db", "dB", (40.0, 60.0, 80.0),
        (0.41, 0.41, 0.41),
        "Miller (1947), J. Acoust. Soc. Am. 19, 609-619",
        "descriptive",
        "Broadband (white) noise: Weber fraction about 0.1 (dL ~0.4 dB) from ~30 dB SL upward, "
        "larger near threshold. Approximate constant."),
    "tmtf": HumanData(
        "tmtf", "rate_hz", "Hz", "threshold_db", "dB (20 log m)", _RATES,
        tuple(np.round(viemeister1979_tmtf_db(_RATES), 2)),
        "Viemeister (1979), J. Acoust. Soc. Am. 66, 1364-1380",
        "descriptive",
        "Broadband noise carrier. Rebuilt from the paper's summary (first-order low-pass, "
        "~-25 dB below ~16 Hz, cutoff ~50 Hz); measured low-rate thresholds span about -23 to "
        "-26 dB across listeners; above 100 Hz the summary may miss the points by a few dB."),
    "tone_in_noise": HumanData(
        "tone_in_noise", "tone_hz", "Hz", "threshold_db_re_n0", "dB re noise spectrum level",
        (1000.0,), (18.0,),
        "Hawkins & Stevens (1950), J. Acoust. Soc. Am. 22, 6-13",
        "descriptive",
        "Critical ratio (tone level at masked threshold minus noise spectrum level) for a "
        "1-kHz tone in broadband noise: about 18 dB. Approximate."),
}


def human_data(experiment: str) -> HumanData:
    """Human data for ``experiment`` (one of :data:`HUMAN_DATA`'s keys)."""
    return HUMAN_DATA[check_choice(experiment, tuple(HUMAN_DATA), "experiment")]
