"""Paulick2024 speed: whole model (via benchmarks/models.py) and its DRNL and IHC stages alone.

Run: ``python benchmarks/bench_paulick2024.py [--repeats 3] [--device cpu]``. 1 s of a
60 dB SPL 1 kHz tone at 44.1 kHz, batch 1 and 8; forward ms, forward+backward ms, real-time
factor, peak memory. Goal (issue 4): whole forward <= 250 ms for batch 1 on the 2-core CPU.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.models import bench_model, best_ms, cpu_ms  # noqa: E402
from workbench.cli import demo_input  # noqa: E402

FS = 44100


def bench_stages(batch: int, device: str, repeats: int) -> dict:
    """Forward and forward+backward ms (wall) and forward CPU ms of the whole model, the DRNL
    filterbank and the IHC on 1 s of audio."""
    from workbench.models.paulick2024 import Paulick2024

    model = Paulick2024(fs=FS, return_stages=True).to(device)
    x = demo_input(model, 1.0).repeat(batch, 1).to(device)
    with torch.no_grad():
        _, stages = model(x)
    om, bm = stages["outerear"], stages["drnl"]
    result = {}
    for name, stage, inp in (("model", model, x), ("drnl", model.drnl, om), ("ihc", model.ihc, bm)):

        def forward(stage=stage, inp=inp):
            with torch.no_grad():
                stage(inp)

        def forward_backward(stage=stage, inp=inp):
            xi = inp.clone().requires_grad_(True)
            out = stage(xi)
            out = out[0] if isinstance(out, tuple) else out
            (sum(o.square().mean() for o in out) if isinstance(out, list) else out.square().mean()).backward()

        result[name] = (
            best_ms(forward, repeats),
            best_ms(forward_backward, max(1, repeats - 1)),
            cpu_ms(forward, repeats),
        )
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads (1 avoids spin-wait slowdowns on a loaded machine)",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"Paulick2024, torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}")
    for batch in (1, 8):
        r = bench_model("Paulick2024", {"fs": FS}, batch, args.device, args.repeats)
        s = bench_stages(batch, args.device, args.repeats)
        goal = f"  goal <= 250 ms: {'met' if r['fwd_ms'] <= 250 else 'MISSED'}" if batch == 1 else ""
        print(
            f"batch {batch}: model fwd {r['fwd_ms']:.1f} ms, fwd+bwd {r['fb_ms']:.1f} ms, RTF {r['rtf']:.1f}, "
            f"peak {r['peak_mib']:.1f} MiB{goal}"
        )
        for name, (fwd, fb, cpu) in s.items():
            print(f"         {name:5s} fwd {fwd:.1f} ms, fwd+bwd {fb:.1f} ms, fwd CPU time {cpu:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
