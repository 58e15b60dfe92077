"""Benchmark Moore2016 and Glasberg2002: forward, forward+backward, real-time factor, peak memory.

``python benchmarks/bench_loudness.py`` prints one line per (model, signal, batch, dtype) for
1 s of audio. Signals: a 60 dB SPL 1 kHz tone (sparse spectrum: few relevant components) and
65 dB SPL white noise (all 960 components relevant: the worst case of the excitation stage).
"""

from __future__ import annotations

import resource
import time

import numpy as np
import torch

from workbench.models.glasberg2002 import Glasberg2002
from workbench.models.moore2016 import Moore2016, diotic

FS = 32000


def _signal(kind: str, batch: int, stereo: bool, dtype) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    t = torch.arange(FS, dtype=dtype) / FS
    if kind == "tone":
        x = np.sqrt(2) * 0.02 * torch.sin(2 * np.pi * 1000 * t).expand(batch, FS).clone()
    else:
        x = torch.randn(batch, FS, generator=g, dtype=dtype) * 20e-6 * 10 ** (65 / 20)
    return diotic(x) if stereo else x


def _time(fn, repeats: int = 3) -> tuple[float, float]:
    """Best wall time and best process CPU time (s); CPU time is the stabler number on a
    shared machine (wall time then includes waiting for a core)."""
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        best, best_cpu = min(best, time.perf_counter() - t0), min(best_cpu, time.process_time() - c0)
    return best, best_cpu


def bench(name: str, model: torch.nn.Module, x: torch.Tensor, repeats: int = 3) -> dict:
    with torch.no_grad():
        model(x[..., : FS // 10])  # compile kernels
        fwd, fwd_cpu = _time(lambda: model(x), repeats)
    xg = x.clone().requires_grad_(True)

    def fwd_bwd():
        out = model(xg)
        (out[1] if isinstance(out, tuple) else out).sum().backward()

    fb, _ = _time(fwd_bwd, 2)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process peak RSS so far (MB)
    row = {
        "model": name,
        "batch": x.shape[0],
        "forward_ms": 1e3 * fwd,
        "forward_cpu_ms": 1e3 * fwd_cpu,
        "fwd_bwd_ms": 1e3 * fb,
        "rtf": x.shape[0] * 1.0 / fwd,
        "peak_rss_mb": peak,
    }
    print(
        f"{name:28s} batch {x.shape[0]}: forward {row['forward_ms']:7.0f} ms (CPU {row['forward_cpu_ms']:6.0f} ms), "
        f"fwd+bwd {row['fwd_bwd_ms']:7.0f} ms, "
        f"{row['rtf']:6.1f}x real time, peak RSS {peak:6.0f} MB"
    )
    return row


def run(batches=(1, 8), dtypes=(torch.float32,), signals=("tone", "noise")) -> list[dict]:
    rows = []
    for dtype in dtypes:
        moore, glasberg = Moore2016(dtype=dtype), Glasberg2002(dtype=dtype)
        for kind in signals:
            for b in batches:
                tag = f"{kind} {str(dtype)[6:]}"
                rows.append(bench(f"Moore2016 {tag}", moore, _signal(kind, b, True, dtype)))
                rows.append(bench(f"Glasberg2002 {tag}", glasberg, _signal(kind, b, False, dtype)))
    return rows


if __name__ == "__main__":
    import argparse

    import numba

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=0, help="torch and numba threads (0: defaults)")
    parser.add_argument("--batches", default="1,8")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
        numba.set_num_threads(args.threads)
    run(batches=tuple(int(b) for b in args.batches.split(",")))
