"""Command line of the psychoacoustics workbench: ``workbench demo`` runs every model on a
calibrated tone; ``workbench serve`` serves the Panel app at http://127.0.0.1:5006/app."""

from __future__ import annotations

import argparse
import sys
import time


def demo_input(model, duration_s: float):
    """A 1 kHz, 60 dB SPL tone with 10 ms cos^2 ramps, batch 1, in the model's input unit."""
    import torch

    from workbench import stimuli
    from workbench.units import to_model_input

    tone = stimuli.tone(1000.0, duration_s, model.fs, 60.0, dtype=torch.float64)
    return to_model_input(tone[None], model).to(model.dtype)


def demo(duration_s: float = 1.0) -> int:
    import torch

    import workbench
    from workbench.dashboards.registry import MODELS, model_class

    print(f"workbench {workbench.__version__} demo: 1 kHz tone, 60 dB SPL, {duration_s:g} s, torch {torch.__version__}")
    for name, spec in MODELS.items():
        model = model_class(name)(**spec.constructor_kwargs(), return_stages=True)
        x = demo_input(model, duration_s)
        with torch.no_grad():
            model(x)  # warm-up (JIT compilation)
            t0 = time.perf_counter()
            out, stages = model(x)
            ms = (time.perf_counter() - t0) * 1e3
        print(f"\n{name} ({ms / duration_s:.1f} ms per second of audio; input in {model.input_unit})")
        for key, value in stages.items():
            print(f"  {key:28s} {_shape(value)}")
        print(f"  {'output':28s} {_shape(out)}")
    return 0


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
                  show: bool = False, dry_run: bool = False) -> list[str] | int:
    """Build and run ``panel serve workbench/app.py`` (binds 127.0.0.1 unless told otherwise)."""
    import os

    app = os.path.join(os.path.dirname(os.path.abspath(__file__)), "app.py")
    if not 0 < port < 65536:
        raise SystemExit(f"--port must be in 1..65535, got {port}")
    origins = list(allow_websocket_origin or [f"{address}:{port}", f"localhost:{port}"])
    cmd = [sys.executable, "-m", "panel", "serve", app, "--port", str(port), "--address", address,
           "--num-procs", "1", "--warm", "--websocket-max-message-size", str(20 * 1024 * 1024)]
    for origin in origins:
        cmd += ["--allow-websocket-origin", origin]
    if show:
        cmd.append("--show")
    if dry_run:
        return cmd
    print(f"workbench app on http://{address}:{port}/app  (Ctrl+C stops it)", flush=True)
    os.execv(sys.executable, cmd)  # become the server: signals reach it directly


SERVE_DESCRIPTION = """\
Serve the Panel app (workbench/app.py, run by `panel serve`). The app is at the /app path:
students open http://ADDRESS:PORT/app, e.g. http://127.0.0.1:5006/app with the defaults.
Each browser tab is its own session with its own stimulus, model and results.
"""

SERVE_EPILOG = """\
Open a model directly with ?model=NAME, e.g. http://127.0.0.1:5006/app?model=Paulick2024
NAME is one of: {models}
(any other name opens the first available model).

To serve a class on the local network: --address 0.0.0.0 (all interfaces) and
--allow-websocket-origin HOST:PORT with the address the students type, e.g.
  workbench serve --address 0.0.0.0 --allow-websocket-origin 192.168.1.20:5006
then give them http://192.168.1.20:5006/app.
"""


def _model_names() -> str:
    from workbench.dashboards.registry import MODELS  # plain data: no torch import

    return ", ".join(MODELS)


def build_parser() -> argparse.ArgumentParser:
    from workbench import __version__

    parser = argparse.ArgumentParser(prog="workbench", description="Psychoacoustics workbench: run the models "
                                     "(demo) or serve the Panel app to a class (serve).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}",
                        help="print the workbench version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{demo,serve}")
    p_demo = sub.add_parser("demo", help="run every model on a calibrated 1 kHz tone",
                            description="Run every model on a 1 kHz, 60 dB SPL tone: stage shapes and "
                                        "milliseconds of compute per second of audio.")
    p_demo.add_argument("--duration", type=float, default=1.0, metavar="SECONDS",
                        help="seconds of audio (default 1)")
    p_serve = sub.add_parser("serve", help="serve the Panel app at http://127.0.0.1:5006/app",
                             description=SERVE_DESCRIPTION, epilog=SERVE_EPILOG.format(models=_model_names()),
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    p_serve.add_argument("--port", type=int, default=5006, help="TCP port (1..65535; default 5006)")
    p_serve.add_argument("--address", default="127.0.0.1",
                         help="interface to bind (default 127.0.0.1: this machine only; 0.0.0.0: all)")
    p_serve.add_argument("--allow-websocket-origin", action="append", metavar="HOST[:PORT]",
                         help="host (and port) the students' browsers use to reach the app; repeat for "
                              "several (default ADDRESS:PORT and localhost:PORT)")
    p_serve.add_argument("--show", action="store_true", help="also open the app in a browser on this machine")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        return demo(args.duration)
    if args.command == "serve":
        return serve_command(args.port, args.address, args.allow_websocket_origin, args.show)
    return 2


if __name__ == "__main__":
    sys.exit(main())
