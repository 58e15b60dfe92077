"""Command line: ``workbench demo`` (run every model on a calibrated tone) and ``workbench serve``."""

from __future__ import annotations

import argparse
import importlib
import sys
import time


def _demo_input(name: str, fs: float, duration_s: float):
    """A 1 kHz, 60 dB SPL tone with 10 ms cos^2 ramps, float64, in the model's input calibration."""
    import math

    import torch

    n = int(round(duration_s * fs))
    t = torch.arange(n, dtype=torch.float64) / fs
    level_db = 60.0
    rms_pa = 20e-6 * 10 ** (level_db / 20)
    x = math.sqrt(2) * rms_pa * torch.sin(2 * math.pi * 1000 * t)
    ramp = int(0.01 * fs)
    w = torch.sin(0.5 * math.pi * torch.arange(ramp, dtype=torch.float64) / ramp) ** 2
    x[:ramp] *= w
    x[-ramp:] *= w.flip(0)
    return x if name in PASCAL_INPUT else x / 2.0  # AMT units: 1.0 rms = 100 dB SPL


# (class name, constructor kwargs, fs). Input calibration per model: AMT full scale with
# dboffset 100 (rms 1 = 100 dB SPL, i.e. Pa / 2) or pascals.
DEMO_MODELS = [
    ("Dau1997", {"fs": 44100}, 44100),
    ("Osses2021", {"fs": 44100}, 44100),
    ("King2019", {"fs": 44100, "basef": 1000.0}, 44100),
    ("Paulick2024", {"fs": 44100}, 44100),
    ("Glasberg2002", {"fs": 32000}, 32000),
    ("Moore2016", {"fs": 32000}, 32000),
]
PASCAL_INPUT = {"Paulick2024", "Glasberg2002", "Moore2016"}


def demo(duration_s: float = 1.0) -> int:
    import torch

    import workbench

    print(f"workbench {workbench.__version__} demo: 1 kHz tone, 60 dB SPL, {duration_s:g} s, torch {torch.__version__}")
    ran = 0
    for name, kwargs, fs in DEMO_MODELS:
        try:
            cls = getattr(workbench, name)
        except (ImportError, AttributeError):
            print(f"\n{name}: not built yet")
            continue
        model = cls(**kwargs, return_stages=True)
        x = _demo_input(name, fs, duration_s).to(torch.float32)
        if name == "Moore2016":
            x = torch.stack([x, x])  # diotic (2, T)
        x = x.unsqueeze(0)
        with torch.no_grad():
            model(x)  # warm-up (JIT compilation)
            t0 = time.perf_counter()
            out, stages = model(x)
            ms = (time.perf_counter() - t0) * 1e3
        print(f"\n{name} ({ms / duration_s:.1f} ms per second of audio)")
        for key, value in stages.items():
            print(f"  {key:28s} {_shape(value)}")
        print(f"  {'output':28s} {_shape(out)}")
        ran += 1
    return 0 if ran else 1


def _shape(value) -> str:
    import torch

    if isinstance(value, torch.Tensor):
        return str(tuple(value.shape))
    if isinstance(value, (list, tuple)):
        inner = [_shape(v) for v in value[:3]]
        more = ", ..." if len(value) > 3 else ""
        return f"{type(value).__name__}[{len(value)}]: " + ", ".join(inner) + more
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_shape(v)}" for k, v in value.items()) + "}"
    return type(value).__name__


def serve_command(port: int = 5006, address: str = "127.0.0.1", allow_websocket_origin=None,
                  show: bool = False, dry_run: bool = False, session_lifetime_s: float = 15.0):
    """Serve the Panel app in this process (binds 127.0.0.1 unless told otherwise).

    Requests whose Host header is not 127.0.0.1, localhost, ``address`` or one of
    ``allow_websocket_origin`` (``host[:port]``) get 403 (see :mod:`workbench.app`).
    ``dry_run=True`` returns the settings instead of serving.
    """
    import math

    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise SystemExit(f"--port must be in 1..65535, got {port}")
    if not (isinstance(session_lifetime_s, (int, float)) and math.isfinite(session_lifetime_s)
            and 0.1 <= session_lifetime_s <= 86400):
        raise SystemExit(f"--session-lifetime must be in 0.1..86400 seconds, got {session_lifetime_s}")
    from workbench.app import allowed_hosts

    settings = dict(port=port, address=address, allow_websocket_origin=list(allow_websocket_origin or ()),
                    show=show, session_lifetime_s=float(session_lifetime_s),
                    allowed_hosts=allowed_hosts(port, address, allow_websocket_origin or ()))
    if dry_run:
        return settings
    from workbench.app import serve

    settings.pop("allowed_hosts")
    serve(**settings)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="run every model on a calibrated 1 kHz tone")
    p_demo.add_argument("--duration", type=float, default=1.0, help="seconds of audio (default 1)")
    p_serve = sub.add_parser("serve", help="serve the Panel app (default http://127.0.0.1:5006/app)")
    p_serve.add_argument("--port", type=int, default=5006)
    p_serve.add_argument("--address", default="127.0.0.1", help="interface to bind (default 127.0.0.1 only)")
    p_serve.add_argument("--allow-websocket-origin", action="append", metavar="HOST[:PORT]",
                         help="a further name or address students use to reach this machine (repeatable; "
                              "without a port: --port); requests for any other Host get 403")
    p_serve.add_argument("--session-lifetime", type=float, default=15.0, metavar="SECONDS",
                         help="free a closed tab's session this long after it closed (default 15)")
    p_serve.add_argument("--show", action="store_true", help="open a browser")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(args.duration)
    if args.command == "serve":
        return serve_command(args.port, args.address, args.allow_websocket_origin, args.show,
                             session_lifetime_s=args.session_lifetime)
    return 2


if __name__ == "__main__":
    sys.exit(main())
