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


def _check_int(value, name: str, low: int, high: int, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SystemExit(f"{name} must be an integer in {low}..{high}, got {value}")
    return value


def serve_command(
    port: int = 5006,
    address: str = "127.0.0.1",
    allow_websocket_origin=None,
    show: bool = False,
    dry_run: bool = False,
    session_lifetime_s: float = 15.0,
    num_procs: int = 1,
    threads: int | None = None,
    experiment_workers: int | None = None,
    cache_mb: float = 512.0,
    device: str = "auto",
    warm_up: str = "first",
    experiment_nice: int = 10,
):
    """Serve the Panel app (binds 127.0.0.1 unless told otherwise).

    Requests whose Host header is not 127.0.0.1, localhost, ``address`` or one of
    ``allow_websocket_origin`` (``host[:port]``) get 403 (see :mod:`workbench.app`).
    ``dry_run=True`` returns the settings instead of serving.
    """
    import math

    _check_int(port, "--port", 1, 65535)
    if not (
        isinstance(session_lifetime_s, (int, float))
        and math.isfinite(session_lifetime_s)
        and 0.1 <= session_lifetime_s <= 86400
    ):
        raise SystemExit(f"--session-lifetime must be in 0.1..86400 seconds, got {session_lifetime_s}")
    _check_int(num_procs, "--num-procs", 1, 64)
    _check_int(threads, "--threads", 1, 64, allow_none=True)
    _check_int(experiment_workers, "--experiment-workers", 1, 64, allow_none=True)
    _check_int(experiment_nice, "--experiment-nice", 0, 19)
    if not (isinstance(cache_mb, (int, float)) and math.isfinite(cache_mb) and 16 <= cache_mb <= 65536):
        raise SystemExit(f"--cache-mb must be in 16..65536 MB, got {cache_mb}")
    if warm_up not in ("none", "first", "all"):
        raise SystemExit(f"--warm-up must be none, first or all, got {warm_up!r}")
    if device not in ("auto", "cpu") and not (
        device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit())
    ):
        raise SystemExit(f"--device must be auto, cpu, cuda or cuda:N, got {device!r}")
    from workbench.app import allowed_hosts

    settings = dict(
        port=port,
        address=address,
        allow_websocket_origin=list(allow_websocket_origin or ()),
        show=show,
        session_lifetime_s=float(session_lifetime_s),
        num_procs=num_procs,
        threads=threads,
        experiment_workers=experiment_workers,
        cache_mb=float(cache_mb),
        device=device,
        warm_up_models=warm_up,
        experiment_nice=experiment_nice,
        allowed_hosts=allowed_hosts(port, address, allow_websocket_origin or ()),
    )
    if dry_run:
        return settings
    from workbench.app import serve

    settings.pop("allowed_hosts")
    try:
        serve(**settings)
    except ValueError as exc:  # e.g. --device cuda without a GPU
        raise SystemExit(str(exc)) from None
    return 0


SERVE_DESCRIPTION = """\
Serve the Panel app (workbench/app.py, in this process). The app is at the /app path:
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

A class on one machine (see the README's classroom recipe): slider work runs in
--threads threads per server process, experiments in --experiment-workers separate
processes at lower priority (with progress, cancel and a queue), identical computations
are shared by all sessions through a cache of --cache-mb. The status of the server
(sessions, cache, workers, memory) is at http://ADDRESS:PORT/workbench-status.
"""


def _model_names() -> str:
    from workbench.dashboards.registry import MODELS  # plain data: no torch import

    return ", ".join(MODELS)


def build_parser() -> argparse.ArgumentParser:
    from workbench import __version__

    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Psychoacoustics workbench: run the models (demo) or serve the Panel app to a class (serve).",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}", help="print the workbench version and exit"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{demo,serve}")
    p_demo = sub.add_parser(
        "demo",
        help="run every model on a calibrated 1 kHz tone",
        description="Run every model on a 1 kHz, 60 dB SPL tone: stage shapes and "
        "milliseconds of compute per second of audio.",
    )
    p_demo.add_argument("--duration", type=float, default=1.0, metavar="SECONDS", help="seconds of audio (default 1)")
    p_serve = sub.add_parser(
        "serve",
        help="serve the Panel app at http://127.0.0.1:5006/app",
        description=SERVE_DESCRIPTION,
        epilog=SERVE_EPILOG.format(models=_model_names()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_serve.add_argument("--port", type=int, default=5006, help="TCP port (1..65535; default 5006)")
    p_serve.add_argument(
        "--address", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only; 0.0.0.0: all)"
    )
    p_serve.add_argument(
        "--allow-websocket-origin",
        action="append",
        metavar="HOST[:PORT]",
        help="a further host (and port) the students' browsers use to reach this machine "
        "(repeatable; without a port: --port); requests for any other Host get 403",
    )
    p_serve.add_argument(
        "--session-lifetime",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="free a closed tab's session this long after it closed (default 15)",
    )
    p_serve.add_argument(
        "--num-procs",
        type=int,
        default=1,
        metavar="N",
        help="server processes sharing the port, each with its own cache and experiment "
        "workers (default 1; more helps only with more CPUs than students' slider work needs)",
    )
    p_serve.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="slider threads per server process (default: CPUs per process, at least 2)",
    )
    p_serve.add_argument(
        "--experiment-workers",
        type=int,
        default=None,
        metavar="N",
        help="experiment worker processes per server process (default: 1 with up to 2 CPUs, "
        "else CPUs - 1, at most 4); further experiments wait in a queue",
    )
    p_serve.add_argument(
        "--experiment-nice",
        type=int,
        default=10,
        metavar="0-19",
        help="CPU priority of the experiment workers below the server (default 10): slider work goes first",
    )
    p_serve.add_argument(
        "--cache-mb",
        type=float,
        default=512.0,
        metavar="MB",
        help="memory for the cache of computations shared by all sessions (default 512)",
    )
    p_serve.add_argument(
        "--device",
        default="auto",
        metavar="auto|cpu|cuda[:N]",
        help="where models and experiments run (default auto: CUDA when torch sees a GPU)",
    )
    p_serve.add_argument(
        "--warm-up",
        default="first",
        choices=("none", "first", "all"),
        help="models to compile and cache at start (default first: the one the app opens with)",
    )
    p_serve.add_argument("--show", action="store_true", help="also open the app in a browser on this machine")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        return demo(args.duration)
    if args.command == "serve":
        return serve_command(
            args.port,
            args.address,
            args.allow_websocket_origin,
            args.show,
            session_lifetime_s=args.session_lifetime,
            num_procs=args.num_procs,
            threads=args.threads,
            experiment_workers=args.experiment_workers,
            cache_mb=args.cache_mb,
            device=args.device,
            warm_up=args.warm_up,
            experiment_nice=args.experiment_nice,
        )
    return 2


if __name__ == "__main__":
    sys.exit(main())
