"""Device check of every model: correctness on the device, speed, memory and host syncs.

One command, one table (printed last) and a JSON file::

    python benchmarks/gpu.py                     # on a CUDA machine, < 7 minutes on one GPU
    python benchmarks/gpu.py --device cpu --batch 2 --seconds 0.02 --check-seconds 0.01

Per model:

(a) float64 on a short batch: the CPU path (numba kernels) against the device path, every
    ``return_stages`` key and the output, relative error ``||dev - cpu|| / ||cpu||`` (goal
    <= 1e-9) and a NaN/inf check;
(b) float32, ``--batch`` x ``--seconds`` of a calibrated 60 dB SPL tone in noise: forward and
    forward+backward (gradient of the summed squared output w.r.t. the input), median of
    ``--repeats`` timings after warm-up (CUDA events on a GPU), peak device memory;
(c) host synchronisations in one forward and one backward, counted with
    ``torch.cuda.set_sync_debug_mode('warn')`` (goal: 0). With ``--device cpu`` the device
    path runs under the Triton interpreter, and (c) is replaced by a run of forward and
    backward on meta tensors, which fails on any host read of device data.

Every failure (exception, out of memory, NaN) is caught into the table, so one call gives
the whole picture. Numbers are only what this script measured on the machine it ran on.
"""

from __future__ import annotations

import argparse
import copy
import inspect
import json
import math
import os
import platform
import statistics
import sys
import time
import traceback
import warnings

GOALS_MS = {
    "Dau1997": (30, 100),
    "Osses2021": (30, 100),
    "Paulick2024": (30, 100),
    "King2019": (15, None),
    "Glasberg2002": (40, None),
    "Moore2016": (40, None),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu (smoke test via the interpreter)")
    p.add_argument("--models", default="all", help="comma-separated model names (default: all six)")
    p.add_argument("--batch", type=int, default=64, help="batch for the float32 timings (default 64)")
    p.add_argument("--seconds", type=float, default=1.0, help="signal length for the timings (default 1 s)")
    p.add_argument("--check-batch", type=int, default=2, help="batch of the float64 comparison (default 2)")
    p.add_argument("--check-seconds", type=float, default=0.1, help="length of the float64 comparison (s)")
    p.add_argument("--repeats", type=int, default=10, help="timed repetitions (median reported)")
    p.add_argument("--json", default="gpu_check.json", help="where to write the results")
    return p.parse_args(argv)


ARGS = parse_args()
if ARGS.device == "cpu":  # the device path on CPU tensors: Triton's interpreter, set before import
    os.environ["TRITON_INTERPRET"] = "1"

import torch  # noqa: E402

import workbench  # noqa: E402
from workbench import stimuli  # noqa: E402
from workbench.kernels.backend import use_backend  # noqa: E402
from workbench.units import to_model_input  # noqa: E402


def default_fs(cls) -> float:
    fs = inspect.signature(cls.__init__).parameters.get("fs")
    return float(fs.default) if fs is not None and fs.default is not inspect.Parameter.empty else 44100.0


def make_model(name: str, dtype, return_stages=True):
    cls = getattr(workbench, name)
    return cls(fs=default_fs(cls), dtype=dtype, return_stages=return_stages)


def stimulus(model, batch: int, seconds: float, dtype, seed: int = 0) -> torch.Tensor:
    """A 1 kHz tone at 60 dB SPL in 40 dB SPL noise (Pa) in the model's input unit."""
    fs = model.fs
    tone = stimuli.tone(1000.0, seconds, fs, 60.0, ramp_s=min(0.01, seconds / 4))
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(batch, tone.shape[-1], generator=gen, dtype=torch.float64) * 20e-6 * 10 ** (40 / 20)
    return to_model_input(tone.to(torch.float64) + noise, model).to(dtype)


def tensors(value, prefix=""):
    """Flatten an output (tensor, list, tuple or dict of them) into named tensors."""
    if isinstance(value, torch.Tensor):
        yield prefix or "output", value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from tensors(v, f"{prefix}{k}" if not prefix else f"{prefix}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from tensors(v, f"{prefix}[{i}]")


def grouped_errors(ref, test) -> dict:
    """Relative error per stage key (lists of per-channel tensors pooled); NaN entries that
    both paths have (absent components) are left out."""
    groups: dict[str, list[float]] = {}
    for (name, a), (_, b) in zip(tensors(ref), tensors(test)):
        key = name.split("[")[0].split(".")[0]
        a, b = a.detach().to("cpu", torch.float64), b.detach().to("cpu", torch.float64)
        both_nan = torch.isnan(a) & torch.isnan(b)
        bad = not bool(torch.isfinite(b[~both_nan]).all())
        a, b = a[~both_nan], b[~both_nan]
        num, den = float((a - b).pow(2).sum()), float(a.pow(2).sum())
        g = groups.setdefault(key, [0.0, 0.0, 0.0])
        g[0], g[1], g[2] = g[0] + num, g[1] + den, max(g[2], float(bad))
    return {
        k: {"rel_error": math.sqrt(n / d) if d > 0 else math.sqrt(n), "nonfinite": bool(bad)}
        for k, (n, d, bad) in groups.items()
    }


def check_float64(name, device):
    model_cpu = make_model(name, torch.float64)
    x = stimulus(model_cpu, ARGS.check_batch, ARGS.check_seconds, torch.float64)
    out_cpu, stages_cpu = model_cpu(x)
    model_dev = copy.deepcopy(model_cpu).to(device)
    if device.type == "cpu":
        with use_backend("triton"):
            out_dev, stages_dev = model_dev(x)
    else:
        out_dev, stages_dev = model_dev(x.to(device))
    return grouped_errors({"output": out_cpu, **stages_cpu}, {"output": out_dev, **stages_dev})


class Timer:
    def __init__(self, device):
        self.cuda = device.type == "cuda"

    def __call__(self, fn, repeats):
        times = []
        for _ in range(repeats):
            if self.cuda:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                torch.cuda.synchronize()
                times.append(start.elapsed_time(end))
            else:
                t0 = time.perf_counter()
                fn()
                times.append(1e3 * (time.perf_counter() - t0))
        return statistics.median(times)


def loss_of(output) -> torch.Tensor:
    return sum(t.float().pow(2).mean() for _, t in tensors(output))


def timings(name, device):
    model = make_model(name, torch.float32, return_stages=False).to(device)
    x = stimulus(model, ARGS.batch, ARGS.seconds, torch.float32).to(device)
    ctx = use_backend("triton") if device.type == "cpu" else use_backend("auto")
    timer = Timer(device)
    result = {}
    with ctx:

        def forward():
            with torch.no_grad():
                model(x)

        def forward_backward():
            xg = x.detach().requires_grad_()
            loss_of(model(xg)).backward()

        forward()  # warm-up (kernel compilation)
        forward_backward()
        if device.type == "cuda":
            torch.cuda.synchronize()
        result["forward_ms"] = timer(forward, ARGS.repeats)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        result["forward_backward_ms"] = timer(forward_backward, ARGS.repeats)
        if device.type == "cuda":
            result["peak_memory_gb"] = torch.cuda.max_memory_allocated() / 2**30
            result.update(count_syncs(model, x))
    return result


def count_syncs(model, x) -> dict:
    """Host syncs of one forward and one backward, as torch's sync debug mode reports them."""
    counts = {}
    xg = x.detach().requires_grad_()
    for phase in ("forward", "backward"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                if phase == "forward":
                    loss = loss_of(model(xg))
                else:
                    loss.backward()
            finally:
                torch.cuda.set_sync_debug_mode("default")
        counts[f"syncs_{phase}"] = sum("synchroniz" in str(w.message) for w in caught)
    return counts


def meta_run(name) -> dict:
    """Forward and backward on meta tensors: any host read of device data raises."""
    model = make_model(name, torch.float32, return_stages=True).to("meta")
    x = stimulus(model, 1, ARGS.check_seconds, torch.float32).to("meta").requires_grad_()
    loss_of(model(x)).backward()
    return {"meta_forward_backward": "ok"}


def run_model(name, device) -> dict:
    row = {"model": name}
    for part, fn in (
        ("check", lambda: check_float64(name, device)),
        ("timing", lambda: timings(name, device)),
        ("meta", lambda: meta_run(name) if device.type == "cpu" else {}),
    ):
        try:
            value = fn()
            if part == "check":
                row["stages"] = value
                row["max_rel_error_f64"] = max(v["rel_error"] for v in value.values())
                row["nonfinite"] = any(v["nonfinite"] for v in value.values())
            else:
                row.update(value)
        except Exception as exc:  # noqa: BLE001  (every failure goes into the table)
            kind = "OOM" if "out of memory" in str(exc).lower() else type(exc).__name__
            row.setdefault("errors", []).append(f"{part}: {kind}: {str(exc).splitlines()[0][:160]}")
            row.setdefault("tracebacks", []).append(traceback.format_exc(limit=6))
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return row


def fmt(value, spec):
    width = int(spec.split(".")[0] or 0)
    return "-".rjust(width) if value is None else format(value, spec)


def table(rows, device) -> str:
    head = (
        f"{'model':13s} {'f64 max rel err':>15s} {'NaN':>4s} {'fwd ms':>9s} {'fwd+bwd ms':>11s} "
        f"{'peak GB':>8s} {'syncs f/b':>9s} {'goal fwd/fwd+bwd ms':>20s}  errors"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        goal = GOALS_MS.get(r["model"], (None, None))
        syncs = (
            f"{r['syncs_forward']}/{r['syncs_backward']}"
            if "syncs_forward" in r
            else r.get("meta_forward_backward", "-")
        )
        nan = "yes" if r.get("nonfinite") else "no"
        lines.append(
            f"{r['model']:13s} {fmt(r.get('max_rel_error_f64'), '15.2e')} {nan:>4s} "
            f"{fmt(r.get('forward_ms'), '9.1f')} {fmt(r.get('forward_backward_ms'), '11.1f')} "
            f"{fmt(r.get('peak_memory_gb'), '8.2f')} {syncs:>9s} {str(goal[0]) + ' / ' + str(goal[1] or '-'):>20s}  "
            f"{'; '.join(r.get('errors', []))}"
        )
    return "\n".join(lines)


def main() -> int:
    device = torch.device(ARGS.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: nothing measured (use --device cpu for the smoke test)")
        return 2
    names = list(workbench._MODELS) if ARGS.models == "all" else [m.strip() for m in ARGS.models.split(",")]
    info = {
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "settings": {k: v for k, v in vars(ARGS).items() if k != "json"},
    }
    try:
        import triton

        info["triton"] = triton.__version__
    except ImportError:
        info["triton"] = None
    rows = []
    t0 = time.perf_counter()
    for name in names:
        rows.append(run_model(name, device))
        print(f"{name}: done after {time.perf_counter() - t0:.0f} s", flush=True)
    info["wall_s"] = time.perf_counter() - t0
    with open(ARGS.json, "w") as f:
        json.dump({"info": info, "models": rows}, f, indent=1)
    print(
        f"\n{info['device']}, torch {info['torch']}, triton {info['triton']}; float32 batch {ARGS.batch} x "
        f"{ARGS.seconds:g} s, median of {ARGS.repeats}; float64 check batch {ARGS.check_batch} x "
        f"{ARGS.check_seconds:g} s; {info['wall_s']:.0f} s in all; JSON: {ARGS.json}"
    )
    print(table(rows, device))
    return 1 if any(r.get("errors") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
