"""Render every plot of ``workbench.plots`` for calibrated example stimuli, one PNG each.

    python docs/gallery.py [--out docs/gallery] [--dpi 80] [--models Dau1997 Moore2016 ...]

Stimuli are in pascals and reach each model through ``workbench.units.to_model_input``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import workbench  # noqa: E402
from workbench import plots  # noqa: E402
from workbench import stimuli as st  # noqa: E402
from workbench.units import to_model_input  # noqa: E402

FS = {
    "Dau1997": 44100,
    "Osses2021": 44100,
    "King2019": 44100,
    "Paulick2024": 44100,
    "Glasberg2002": 32000,
    "Moore2016": 32000,
}


def _save(fig, out: Path, name: str, dpi: int) -> None:
    path = out / f"{name}.png"
    fig.savefig(path, dpi=dpi)
    print(f"  {path}  ({path.stat().st_size // 1024} kB)")


def stimulus_plots(out: Path, dpi: int) -> None:
    fs = 44100
    sam = st.sam_tone(4000, 16, 0.25, fs, 60, depth=0.5, dtype=torch.float64)
    _save(plots.plot_waveform(sam, fs, title="SAM tone 4 kHz, fm 16 Hz, m 0.5, 60 dB SPL"), out, "waveform_sam", dpi)
    cplx = st.harmonic_complex(200, 0.5, fs, 70, harmonics=range(1, 21), phases="schroeder", dtype=torch.float64)
    _save(
        plots.plot_spectrum(cplx, fs, title="Harmonic complex, f0 200 Hz, 20 harmonics, 70 dB SPL"),
        out,
        "spectrum_harmonic",
        dpi,
    )
    binaural = st.dichotic(
        st.noise(0.02, fs, 65, band_hz=(200, 2000), seed=1, ramp_s=0.002), fs, itd_s=500e-6, ild_db=6
    )
    _save(plots.plot_waveform(binaural, fs, title="Band noise, ITD 500 us, ILD 6 dB"), out, "waveform_dichotic", dpi)


def psychophysics_plots(out: Path, dpi: int) -> None:
    """A simulated 2-AFC listener with a known logistic psychometric function."""
    from workbench.psychophysics import procedures as pp

    listener = pp.PsychometricObserver(threshold=2.0, slope=1.5, n_alternatives=2, seed=1)
    track = pp.Staircase(start_value=10.0, step_sizes=(4.0, 2.0, 1.0), n_final_reversals=8).run(listener)
    _save(plots.plot_staircase(track, ylabel="Signal level (dB)"), out, "staircase", dpi)
    data = pp.constant_stimuli(np.arange(-4, 9, 2.0), 40, listener, seed=2)
    fit = pp.fit_psychometric(data["values"], data["n_correct"], data["n_trials"], n_bootstrap=0)
    _save(
        plots.plot_psychometric(
            data["values"],
            data["n_correct"] / data["n_trials"],
            n_trials=data["n_trials"],
            fit=fit,
            threshold=fit.value_at(0.75),
            n_afc=2,
            xlabel="Signal level (dB)",
        ),
        out,
        "psychometric",
        dpi,
    )


def model_plots(name: str, out: Path, dpi: int) -> None:
    """Every stage of ``name`` on a calibrated stimulus, drawn from the model contract."""
    model = getattr(workbench, name)(fs=FS[name], return_stages=True)
    fs = model.fs
    x = (
        st.sam_tone(4000, 16, 0.25, fs, 60, depth=0.5)
        if "C" in model.stage_info["output"].axes
        else st.tone(1000, 0.3, fs, 60)
    )
    x = st.stereo(x, x / 10 ** (10 / 20)) if "E" in model.input_axes else x  # binaural: right ear 10 dB down
    start = time.perf_counter()
    with torch.no_grad():
        output, stages = model(to_model_input(x[None], model, ears=None))
    print(f"  {name}: forward {1e3 * (time.perf_counter() - start):.0f} ms")
    slug, info = name.lower(), model.stage_info
    _save(plots.plot_stages(model, stages, output), out, f"stages_{slug}", dpi)
    fc = model.center_freqs_hz
    for key in ("ihc", "adaptation", "adapted_response"):
        if key in stages:
            _save(
                plots.plot_stage(stages[key], info[key], center_freqs_hz=fc, title=f"{name}: '{key}'"),
                out,
                f"cochleagram_{slug}_{key}",
                dpi,
            )
    rep = model.output_stage(output)
    if info["output"].axes == "BCMT":
        ch = int(np.argmin(np.abs(np.asarray(fc, dtype=float) - 4000)))
        _save(
            plots.plot_modulation_channel(rep, ch, info["output"].rate_hz, model.mfc, center_freq_hz=float(fc[ch])),
            out,
            f"modchannel_{slug}",
            dpi,
        )
        _save(plots.plot_modulation_spectrum(rep, fc, model.mfc), out, f"modspectrum_{slug}", dpi)
    bank = getattr(model, "filterbank", None)
    if callable(bank):
        fig = plots.plot_filter_responses(bank, fs, fc, n_fft=8192, title=f"{name} filterbank")
        _save(fig, out, f"filters_{slug}", dpi)
    if "excitation" in stages:
        _save(
            plots.plot_excitation_pattern(stages["excitation"], fc, stages.get("specific_loudness")),
            out,
            f"excitation_{slug}",
            dpi,
        )
        _save(plots.plot_loudness_over_time(stages["stl"], output), out, f"loudness_{slug}", dpi)
    if "stl_loud_left" in stages:
        _save(
            plots.plot_excitation_pattern(
                [stages["excitation_left"], stages["excitation_right"]],
                fc,
                [stages["stl_spec_loud_left"], stages["stl_spec_loud_right"]],
                labels=["left", "right"],
            ),
            out,
            f"excitation_{slug}",
            dpi,
        )
        _save(plots.plot_binaural_loudness(stages, band_freqs_hz=fc), out, f"binaural_{slug}", dpi)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parent / "gallery"))
    parser.add_argument("--dpi", type=int, default=80)
    parser.add_argument("--models", nargs="*", default=list(FS))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print("stimuli and psychophysics:")
    stimulus_plots(out, args.dpi)
    psychophysics_plots(out, args.dpi)
    for name in args.models:
        print(f"{name}:")
        model_plots(name, out, args.dpi)


if __name__ == "__main__":
    main()
