"""Compile every model's numba kernels once, into numba's on-disk cache.

Run ``python scripts/warm_kernel_cache.py`` after installing (or in an image build, or before
serving the app): the very first call of a model compiles its kernels (tens of seconds on a
2-core machine); afterwards every fresh process loads them from the cache (``__pycache__``
next to the sources, or numba's user-wide cache directory when the package directory is
read-only; ``NUMBA_CACHE_DIR`` overrides both). Runs each model in float32 and float64 on
0.1 s of a tone, forward and backward, so that the signatures the models use are all cached.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from workbench.cli import demo_input  # noqa: E402
from workbench.dashboards.registry import MODELS, model_class  # noqa: E402


def main() -> int:
    for name, spec in MODELS.items():
        kwargs = {k: v for k, v in spec.constructor_kwargs().items() if k != "basef"}
        for dtype in (torch.float32, torch.float64):
            t0 = time.perf_counter()
            model = model_class(name)(**kwargs, dtype=dtype)
            x = demo_input(model, 0.1).to(dtype)
            with torch.no_grad():
                model(x)
            xi = x.clone().requires_grad_(True)
            out = model(xi)
            outs = out if isinstance(out, (list, tuple)) else [out]
            sum(o.square().mean() for o in outs if isinstance(o, torch.Tensor) and o.requires_grad).backward()
            print(f"{name:13s} {dtype!s:14s} {time.perf_counter() - t0:6.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
