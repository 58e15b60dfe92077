"""Speed of every model: forward and forward+backward on 1 s of audio, batch 1 and 8.

Run: ``python benchmarks/models.py [--models Dau1997,King2019] [--repeats 3] [--device cpu]``.
Prints ms per call, the real-time factor (seconds of audio per second of compute; > 1 is
faster than real time), peak memory, the torch_amt 0.2 time when that package is importable
(with the ratio), and otherwise the reference times quoted in the issues (Octave AMT and
torch_amt measured on this 2-core machine kind). Never run as a test: timings are printed,
not asserted.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
import time
import tracemalloc
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.cli import demo_input  # noqa: E402
from workbench.dashboards.registry import MODELS, model_class  # noqa: E402

# Reference numbers quoted in the issues for 1 s mono on this machine kind (CPU seconds).
QUOTED_S = {
    "Dau1997": {"torch_amt 0.2": 15.0, "AMT/Octave": 2.0},
    "Osses2021": {"torch_amt 0.2": 19.0, "AMT/Octave": 2.0},
    "King2019": {"torch_amt 0.2": 3.0, "AMT/Octave": 0.4},
    "Paulick2024": {"torch_amt 0.2": 14.0, "AMT/Octave": 8.0},
    "Glasberg2002": {"AMT/Octave": 68.0},
    "Moore2016": {"torch_amt 0.2": 10.0, "AMT/Octave": 85.0},
}
GOAL_MS = {"Dau1997": 100, "Osses2021": 100, "King2019": 100, "Paulick2024": 250,
           "Glasberg2002": 100, "Moore2016": 300}


def _first_tensor(out):
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        return [t for v in out.values() for t in _first_tensor(v)]
    if isinstance(out, (list, tuple)):
        return [t for v in out for t in _first_tensor(v)]
    return []


def loss(out):
    tensors = [t for t in _first_tensor(out) if t.is_floating_point() and t.requires_grad]
    return sum(t.square().mean() for t in tensors)


def best_ms(fn, repeats: int) -> float:
    fn()  # warm-up: JIT compilation, allocator
    best = float("inf")
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def cpu_ms(fn, repeats: int) -> float:
    """Best process CPU time of ``fn`` in ms (all threads): on a shared, loaded machine with one
    thread this tracks an idle machine's wall time far better than wall time does."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best * 1e3


def bench_model(name: str, kwargs: dict, batch: int, device: str, repeats: int) -> dict:
    model = model_class(name)(**kwargs).to(device)
    x = demo_input(model, 1.0)
    x = x.repeat(batch, *([1] * (x.dim() - 1))).to(device)

    def forward():
        with torch.no_grad():
            model(x)

    def forward_backward():
        xi = x.clone().requires_grad_(True)
        loss(model(xi)).backward()

    fwd_ms = best_ms(forward, repeats)
    gc.collect()
    tracemalloc.start()
    forward()
    peak_py = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    try:
        fb_ms = best_ms(forward_backward, max(1, repeats - 1))
    except Exception as exc:  # noqa: BLE001 - report, keep benchmarking the others
        fb_ms = float("nan")
        print(f"  ({name}: backward failed: {exc})")
    peak_cuda = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else float("nan")
    return {"fwd_ms": fwd_ms, "fb_ms": fb_ms, "rtf": batch * 1000.0 / fwd_ms,
            "peak_mib": peak_cuda if device == "cuda" else peak_py}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    wanted = args.models.split(",")
    batches = [int(b) for b in args.batches.split(",")]
    print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}, "
          f"1 s of audio per item")
    print(f"{'model':13s} {'batch':>5s} {'fwd ms':>9s} {'fwd+bwd ms':>11s} {'bwd/fwd':>7s} "
          f"{'RTF':>8s} {'peak MiB':>9s}  goal (batch 1)")
    try:
        importlib.import_module("torch_amt")
        have_peer = True
    except ImportError:
        have_peer = False
    for name in wanted:
        kwargs = MODELS[name].constructor_kwargs()
        for batch in batches:
            r = bench_model(name, kwargs, batch, args.device, args.repeats)
            goal = f"<= {GOAL_MS[name]} ms: {'met' if r['fwd_ms'] <= GOAL_MS[name] else 'MISSED'}" if batch == 1 else ""
            print(f"{name:13s} {batch:5d} {r['fwd_ms']:9.1f} {r['fb_ms']:11.1f} {r['fb_ms'] / r['fwd_ms']:7.2f} "
                  f"{r['rtf']:8.1f} {r['peak_mib']:9.1f}  {goal}")
            if batch == 1:
                quoted = ", ".join(f"{k} {v:g} s -> {v * 1e3 / r['fwd_ms']:.0f}x faster"
                                   for k, v in QUOTED_S[name].items())
                peer = "torch_amt importable: see bench_<area>.py" if have_peer else "torch_amt not importable"
                print(f"{'':13s}   vs quoted CPU times: {quoted} ({peer})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
