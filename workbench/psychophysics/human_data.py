"""Published human thresholds for the experiments in :mod:`workbench.psychophysics.experiments`.

Honesty first: every entry says how its numbers were obtained and from where.

* ``kind='formula'``: evaluated from an equation printed in the paper (exact to that
  equation); ``'table'``: numbers copied from a published table; ``'descriptive'``: rebuilt
  from a paper's verbal or parametric summary (approximate, typically within 1-3 dB).
  Nothing here is digitised from a figure.
* ``source``: the equation, table or passage; ``procedure``: the psychophysical method;
  ``stimulus``: the stimulus parameters the study used, as far as the sources held here
  state them; ``unverified``: what the entry assumes without having the paper's methods
  text at hand (checked before a number is trusted to better than a few dB).
* ``relative_to``: when set, ``y`` is a threshold *relative* to the threshold at
  ``x = relative_to`` (e.g. notched-noise thresholds re the no-notch threshold); model
  thresholds are compared the same way.

Left out because no numbers could be found in a form we can cite (figures only): the
Jepsen et al. (2008) and Paulick et al. (2024) figures, forward masking by broadband noise
as a function of the gap, spectral masking patterns (Egan & Hake 1950), and AM detection
with narrowband carriers (Dau et al. 1997a; Kohlrausch et al. 2000). Their experiments run
without human overlays; inventing numbers would be worse than leaving them out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

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
    kind: str  # 'formula' | 'table' | 'descriptive'
    note: str
    source: str = ""
    procedure: str = ""
    stimulus: dict = field(default_factory=dict)
    unverified: str = ""
    sd: tuple | None = None
    relative_to: float | None = None
    condition: dict = field(default_factory=dict)  # fixed parameters the data hold for

    def to_frame(self):
        import pandas as pd

        frame = pd.DataFrame({self.x_name: self.x, self.y_name: self.y, "source": self.citation})
        if self.sd is not None:
            frame.insert(2, "sd", self.sd)
        return frame

    def at(self, x) -> np.ndarray:
        """Human threshold interpolated at ``x`` (linear in log x for rates, else linear);
        NaN outside the measured range."""
        xs, ys = np.asarray(self.x, float), np.asarray(self.y, float)
        x = np.asarray(x, float)
        if xs.size == 1:
            return np.where(np.isclose(x, xs[0]), ys[0], np.nan)
        if self.x_unit == "Hz" and np.all(xs > 0):
            return np.interp(np.log(x), np.log(xs), ys, left=np.nan, right=np.nan)
        return np.interp(x, xs, ys, left=np.nan, right=np.nan)

    def matches(self, condition: dict) -> bool:
        """Whether a model condition (its parameters) is one these data were measured in."""
        return all(
            math.isclose(float(condition.get(k, v)), float(v), rel_tol=1e-6, abs_tol=1e-9)
            for k, v in self.condition.items()
        )


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


def glasberg_moore1990_erb_hz(f_hz) -> np.ndarray:
    """Equivalent rectangular bandwidth of the human auditory filter, Glasberg & Moore (1990)
    eq. 3: ERB = 24.7 (4.37 F + 1) Hz with F in kHz (132.6 Hz at 1 kHz)."""
    return 24.7 * (4.37 * np.asarray(f_hz, float) / 1000 + 1)


def roex_notched_noise_db(notch_width_hz, tone_hz: float = 1000.0, band_hz=(20.0, 10000.0)) -> np.ndarray:
    """Threshold change (dB re no notch) for a tone in noise with a symmetric spectral notch,
    from the power-spectrum model with the symmetric roex(p) filter
    W(g) = (1 + p g) exp(-p g), g = |f - fc| / fc, p = 4 fc / ERB(fc) (Patterson 1976;
    Glasberg & Moore 1990): the noise power through W with the notch over that without it.
    ``band_hz``: the noise's extent (integrated exactly on each side)."""

    def tail(p, g):  # integral of W from g to infinity (in units of g)
        return (2 + p * g) * np.exp(-p * g) / p

    p = 4 * tone_hz / glasberg_moore1990_erb_hz(tone_hz)
    half = np.asarray(notch_width_hz, float) / 2 / tone_hz
    g_low, g_high = (tone_hz - band_hz[0]) / tone_hz, (band_hz[1] - tone_hz) / tone_hz
    power = lambda g: (tail(p, g) - tail(p, g_low)) + (tail(p, g) - tail(p, g_high))  # noqa: E731
    return 10 * np.log10(power(half) / power(0.0))


_LEVELS = (20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0)
_RATES = (4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0)
_NOTCHES = (0.0, 100.0, 200.0, 300.0, 400.0, 500.0, 600.0)

HUMAN_DATA = {
    "intensity_tone": HumanData(
        "intensity_tone",
        "level_db_spl",
        "dB SPL",
        "delta_l_db",
        "dB",
        _LEVELS,
        tuple(np.round(weber_db_to_delta_l(jesteadt1977_weber_db(_LEVELS)), 3)),
        "Jesteadt, Wier & Green (1977), J. Acoust. Soc. Am. 61, 169-177",
        "formula",
        "Their fit dI/I = 0.463 (I/I0)^-0.072 over 200 Hz-8 kHz, 5-80 dB SL; we equate SL with SPL at "
        "1 kHz (absolute threshold ~5 dB SPL, < 0.05 dB change in dL).",
        source="the paper's fitted equation for dI/I as a function of sensation level",
        procedure="2IFC with feedback, adaptive 2-down 1-up (70.7 % correct)",
        stimulus=dict(freq_hz=1000.0, duration_s=0.5, ramp_s=0.005, n_intervals=2, rule="1-up-2-down"),
        unverified="tone duration (500 ms) and ramps (5 ms) as reported for this series of studies "
        "(Wier, Jesteadt & Green 1977 used 500-ms tones); the paper's methods text is not held here",
    ),
    "intensity_noise": HumanData(
        "intensity_noise",
        "level_db_spl",
        "dB SPL",
        "delta_l_db",
        "dB",
        (40.0, 60.0, 80.0),
        (0.41, 0.41, 0.41),
        "Miller (1947), J. Acoust. Soc. Am. 19, 609-619",
        "descriptive",
        "Broadband (white) noise: Weber fraction about 0.1 (dL ~0.4 dB) from ~30 dB SL upward, "
        "larger near threshold. Approximate constant.",
        source="the paper's summary of the Weber fraction above ~30 dB SL",
        procedure="not held here (Miller's own method, not an adaptive n-AFC track)",
        unverified="procedure, durations and the noise band; our 2IFC 500-ms run is a stand-in",
    ),
    "tmtf": HumanData(
        "tmtf",
        "rate_hz",
        "Hz",
        "threshold_db",
        "dB (20 log m)",
        _RATES,
        tuple(np.round(viemeister1979_tmtf_db(_RATES), 2)),
        "Viemeister (1979), J. Acoust. Soc. Am. 66, 1364-1380",
        "descriptive",
        "Broadband noise carrier. Rebuilt from the paper's summary (first-order low-pass, "
        "~-25 dB below ~16 Hz, cutoff ~50 Hz); measured low-rate thresholds span about -23 to "
        "-26 dB across listeners; above 100 Hz the summary may miss the points by a few dB.",
        source="the paper's low-pass description of the TMTF",
        procedure="adaptive forced choice (Levitt 2-down 1-up)",
        stimulus=dict(carrier="broadband noise"),
        unverified="carrier bandwidth, level, duration and interval count are not held here; ours: "
        "20 Hz-10 kHz, 77 dB SPL, 1 s, 3 intervals",
    ),
    "tone_in_noise": HumanData(
        "tone_in_noise",
        "notch_width_hz",
        "Hz",
        "threshold_db_re_n0",
        "dB re noise spectrum level",
        (0.0,),
        (18.0,),
        "Hawkins & Stevens (1950), J. Acoust. Soc. Am. 22, 6-13",
        "descriptive",
        "Critical ratio (tone level at masked threshold minus noise spectrum level) for a "
        "1-kHz tone in broadband noise: about 18 dB. Approximate.",
        source="their critical ratio at 1 kHz",
        procedure="not an n-AFC track (threshold of audibility in continuous noise)",
        stimulus=dict(tone_hz=1000.0, noise="continuous broadband white noise"),
        unverified="tone duration and criterion; ours: 300 ms gated with the noise, 3 intervals",
        condition={"notch_width_hz": 0.0},
    ),
    "notched_noise": HumanData(
        "notched_noise",
        "notch_width_hz",
        "Hz",
        "threshold_re_no_notch_db",
        "dB re the no-notch threshold",
        _NOTCHES,
        tuple(np.round(roex_notched_noise_db(_NOTCHES), 2)),
        "Glasberg & Moore (1990), Hear. Res. 47, 103-138 (roex(p) filter, ERB = 24.7 (4.37 F + 1))",
        "formula",
        "The power-spectrum model with the symmetric roex(p) filter whose ERB is Glasberg & Moore's "
        "fit to human notched-noise data (p = 4 fc / ERB = 30.2 at 1 kHz), evaluated for our masker "
        "(broadband 20 Hz-10 kHz with a symmetric notch). A summary of human data, not data points; "
        "up to notches of 0.6 fc only: wider notches meet the roex(p,r) floor and absolute threshold.",
        source="eq. 3 (ERB) and the roex(p) shape of Patterson's method",
        procedure="power-spectrum model of masking (threshold proportional to the noise power through "
        "the filter); notched-noise thresholds relative to the no-notch threshold",
        stimulus=dict(tone_hz=1000.0, band_hz=[20.0, 10000.0]),
        relative_to=0.0,
    ),
    "forward_masking_tone": HumanData(
        "forward_masking_tone",
        "masker_level_db_spl",
        "dB SPL",
        "probe_level_db_spl",
        "dB SPL",
        (50.0, 70.0, 90.0),
        (36.56, 44.13, 51.56),
        "Schairer, Messersmith & Jesteadt (2008), J. Acoust. Soc. Am. 124, 2196-2215, Table 4",
        "table",
        "Mean forward-masked threshold of 4 listeners with normal hearing (SD 2.82, 4.09, 6.16 dB), "
        "4-kHz signal after an on-frequency (4-kHz) tone masker: growth-of-masking slope about 0.38 "
        "dB/dB between 50 and 90 dB SPL. Off-frequency maskers give slopes about 1 (Plack & Oxenham "
        "2000, Hear. Res. 150, 258-266, abstract; 2.4-kHz masker).",
        source="Table 4 (experiment 3, variable-signal, on-frequency rows for the 4-kHz signal)",
        procedure="thresholds from psychometric functions reconstructed from adaptive tracks",
        stimulus=dict(probe_hz=4000.0, masker_hz=4000.0, masker_duration_s=0.2, probe_duration_s=0.01, gap_s=0.0),
        unverified="timing from the companion study's abstract (Schairer et al. 2003: 10-ms 4-kHz signal, "
        "200-ms tone masker); 0-ms delay inferred from the table's separate '90 dB, 5 ms delay' row",
        sd=(2.82, 4.09, 6.16),
        condition={"masker_hz": 4000.0, "gap_s": 0.0},
    ),
}


def human_data(experiment: str) -> HumanData:
    """Human data for ``experiment`` (one of :data:`HUMAN_DATA`'s keys)."""
    return HUMAN_DATA[check_choice(experiment, tuple(HUMAN_DATA), "experiment")]
