"""Dau1997 speed: forward, forward+backward, real-time factor, peak memory, per-stage times.

Run: ``python benchmarks/bench_dau1997.py [--device cpu|cuda] [--repeats 3]``. 1 s of a 60 dB
SPL 1 kHz tone at 44.1 kHz, batch 1 and 8, float32; also torch_amt 0.2 when importable.
Timings are printed, never asserted (the machine may be shared: CPU seconds are shown too).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from models import bench_model, best_ms  # noqa: E402

from workbench.cli import demo_input  # noqa: E402

FS = 44100


def stage_times(device: str, repeats: int) -> dict[str, float]:
    """Best-of-``repeats`` forward ms of each stage for batch 1."""
    from workbench.models.dau1997 import Dau1997

    model = Dau1997(FS).to(device)
    x = demo_input(model, 1.0).to(device)
    with torch.no_grad():
        fb = model.filterbank(x)
        ihc = model.ihc(fb)
        adapt = model.adaptation(ihc)
        steps = {
            "filterbank": lambda: model.filterbank(x),
            "ihc": lambda: model.ihc(fb),
            "adaptation": lambda: model.adaptation(ihc),
            "modulation": lambda: model.modulation(adapt),
        }
        return {name: best_ms(fn, repeats) for name, fn in steps.items()}


def bench_torch_amt(repeats: int) -> float | None:
    try:
        from torch_amt.models import Dau1997 as PeerDau1997
    except ImportError:
        return None
    from workbench.models.dau1997 import Dau1997

    model = PeerDau1997(fs=FS)
    x = demo_input(Dau1997(FS), 1.0)
    with torch.no_grad():
        return best_ms(lambda: model(x), max(1, repeats - 2))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"Dau1997, torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}")
    print(f"{'batch':>5s} {'fwd ms':>8s} {'fwd+bwd ms':>10s} {'bwd/fwd':>7s} {'RTF':>7s} {'peak MiB':>8s}")
    results = {}
    for batch in (1, 8):
        c0 = time.process_time()
        r = results[batch] = bench_model("Dau1997", {"fs": FS}, batch, args.device, args.repeats)
        print(
            f"{batch:5d} {r['fwd_ms']:8.1f} {r['fb_ms']:10.1f} {r['fb_ms'] / r['fwd_ms']:7.2f} "
            f"{r['rtf']:7.1f} {r['peak_mib']:8.1f}   (CPU s for this row: {time.process_time() - c0:.1f})"
        )
    stages = stage_times(args.device, args.repeats)
    print("per stage, batch 1 (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))
    peer = bench_torch_amt(args.repeats)
    if peer is None:
        print("torch_amt 0.2 not importable (quoted: ~15 s for 1 s mono on this machine kind)")
    else:
        print(f"torch_amt 0.2 forward: {peer:.0f} ms -> workbench is {peer / results[1]['fwd_ms']:.0f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
