"""Speed of Osses2021 and King2019 (1 s of audio, batch 1 and 8), plus their new stages.

Run: ``python benchmarks/bench_osses_king.py [--device cpu] [--repeats 3]``. Prints forward
and forward+backward ms, real-time factor and peak memory per model (via the shared runner in
``benchmarks/models.py``), then the time of each stage added by issue 3 on the same input.
``NUMBA_NUM_THREADS=1 python benchmarks/bench_osses_king.py --cpu-time`` prints single-thread
process CPU times instead, which stay meaningful on a loaded shared machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.models import bench_model, cpu_ms, loss  # noqa: E402

CONFIGS = [
    ("Osses2021", {"fs": 44100}),
    ("King2019", {"fs": 44100, "basef": 1000.0}),
    ("King2019", {"fs": 44100, "basef": 1000.0, "subfs": 16000}),
]


def bench_stages(device: str, repeats: int) -> None:
    from workbench.stages.ears import HeadphoneFilter, MiddleEarFilter
    from workbench.stages.modulation import King2019ModulationFilterbank
    from workbench.stages.resample import resample_fft, resample_poly

    x = torch.randn(1, 44100, device=device)
    xf = torch.randn(1, 5, 44100, device=device)
    stages = {
        "headphone FIR (513 taps)": (HeadphoneFilter(44100).to(device), x),
        "middle-ear FIR (513 taps)": (MiddleEarFilter(44100).to(device), x),
        "King mod bank (5 ch x 5 mfc)": (King2019ModulationFilterbank(44100).to(device), xf),
        "resample_poly 1/4 (5 ch)": (lambda v: resample_poly(v, 1, 4), xf),
        "resample_fft 44.1->16 kHz (5 ch)": (lambda v: resample_fft(v, 16000), xf),
    }
    for name, (fn, inp) in stages.items():
        with torch.no_grad():
            fn(inp)
            best = float("inf")
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn(inp)
                best = min(best, time.perf_counter() - t0)
        print(f"  {name:34s} {best * 1e3:8.2f} ms")


def bench_cpu_time(repeats: int) -> None:
    """Forward and forward+backward CPU time, 1 s of audio, batch 1 (set 1 thread first)."""
    import workbench

    for name, kwargs in CONFIGS:
        model = getattr(workbench, name)(**kwargs)
        x = torch.randn(1, 44100) * 0.01

        def forward(model=model, x=x):
            with torch.no_grad():
                model(x)

        def forward_backward(model=model, x=x):
            loss(model(x.clone().requires_grad_(True))).backward()

        print(
            f"  {name:10s} {str(kwargs)[1:-1]:50s} fwd {cpu_ms(forward, repeats):7.1f} ms CPU, "
            f"fwd+bwd {cpu_ms(forward_backward, 1):7.1f} ms CPU"
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--cpu-time", action="store_true", help="only single-thread CPU times (run with NUMBA_NUM_THREADS=1)"
    )
    args = parser.parse_args(argv)
    if args.cpu_time:
        torch.set_num_threads(1)
        print("single-thread CPU time, 1 s of audio, batch 1:")
        bench_cpu_time(args.repeats)
        return 0
    print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}")
    print(f"{'model':34s} {'batch':>5s} {'fwd ms':>9s} {'fwd+bwd ms':>11s} {'RTF':>8s} {'peak MiB':>9s}")
    for name, kwargs in CONFIGS:
        for batch in (1, 8):
            r = bench_model(name, kwargs, batch, args.device, args.repeats)
            label = f"{name} {', '.join(f'{k}={v}' for k, v in kwargs.items() if k != 'fs')}"
            print(f"{label:34s} {batch:5d} {r['fwd_ms']:9.1f} {r['fb_ms']:11.1f} {r['rtf']:8.1f} {r['peak_mib']:9.1f}")
    print("stages (1 s, batch 1, forward):")
    bench_stages(args.device, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
