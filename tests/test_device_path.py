"""Each model's whole device code path, on CPU: numerics against the CPU path, and no host reads.

1. ``use_backend('triton')`` sends every kernel call of a model through its Triton kernel
   (run by the Triton interpreter on CPU tensors, see conftest) and every stage through its
   device-path branch. Every stage and the output must match the CPU path (numba kernels):
   float64 to 1e-10 relative, float32 to 1e-4; the input gradient likewise.
2. On ``device='meta'`` tensors the same device path runs without data: meta tensors raise on
   anything that would read device memory on the host (``.item()``, ``bool()``, ``.numpy()``,
   ``.tolist()``) and on mixing devices, the two things that make a CUDA forward stall or
   fail. Forward and backward must run and give the CPU path's shapes.

Signals are short (tens of ms) because the interpreter pays ~30 us per operation and step.
"""

import pytest
import torch

import workbench
from workbench import stimuli
from workbench.kernels.backend import triton_available, use_backend
from workbench.units import to_model_input

pytestmark = pytest.mark.skipif(not triton_available(), reason="triton is not installed")

# model -> (constructor arguments, signal length in s)
CASES = {
    "Dau1997": (dict(fs=22050), 0.02),
    "Osses2021": (dict(fs=22050), 0.02),
    "King2019": (dict(fs=22050), 0.02),
    "Paulick2024": (dict(fs=22050), 0.03),
    "Glasberg2002": (dict(fs=32000), 0.02),
    "Moore2016": (dict(fs=32000), 0.02),
}
TOL = {torch.float64: 1e-10, torch.float32: 1e-4}
# The CPU excitation kernel drops lower-skirt terms below 1e-8 (20 uPa)^2 (-80 dB SPL, no
# visible effect on loudness) and evaluates exp by a polynomial; the device path sums every
# pair exactly. That is the only place where the two paths differ by design.
SKIRT_TOL = 1e-7


def _named(value, prefix):
    """Flatten an output (tensor, list, tuple, dict) into (name, tensor) pairs."""
    if isinstance(value, torch.Tensor):
        yield prefix, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _named(item, f"{prefix}.{key}")
    else:
        for i, item in enumerate(value):
            yield from _named(item, f"{prefix}[{i}]")


def _signal(model, seconds, batch=2):
    """A 1 kHz tone at 60 dB SPL plus 40 dB SPL noise, Pa -> the model's input unit."""
    gen = torch.Generator().manual_seed(0)
    tone = stimuli.tone(1000.0, seconds, model.fs, 60.0).to(torch.float64)
    noise = 2e-3 * torch.randn(batch, tone.shape[-1], generator=gen, dtype=torch.float64)
    return to_model_input(tone + noise, model)


def _loss(output):
    return sum(t.pow(2).mean() for _, t in _named(output, "out"))


def _run(model, x, backend):
    x = x.detach().requires_grad_()
    with use_backend(backend):
        output, stages = model(x)
        (grad,) = torch.autograd.grad(_loss(output), x)
    return dict(_named(output, "output")) | dict(_named(stages, "stage")) | {"input gradient": grad}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(CASES))
def test_device_path_matches_cpu_path(name, dtype):
    kwargs, seconds = CASES[name]
    model = getattr(workbench, name)(**kwargs, dtype=dtype, return_stages=True)
    x = _signal(model, seconds).to(dtype)
    cpu, dev = _run(model, x, "numba"), _run(model, x, "triton")
    assert cpu.keys() == dev.keys()
    errors = {}
    for key, ref in cpu.items():
        got = dev[key]
        assert got.shape == ref.shape and got.dtype == ref.dtype, key
        # NaN marks absent entries (e.g. frequencies of components below threshold): same places
        assert torch.equal(torch.isnan(got), torch.isnan(ref)), f"{key}: NaN in other places"
        assert not torch.isinf(got).any() or torch.equal(got[torch.isinf(got)], ref[torch.isinf(got)]), key
        ok = torch.isfinite(ref)
        scale = ref[ok].abs().max() if ok.any() else torch.tensor(0.0)
        diff = (got[ok] - ref[ok]).abs().max() if ok.any() else torch.tensor(0.0)
        errors[key] = float(diff / scale) if scale > 0 else float(diff)
    tol = {k: TOL[dtype] for k in errors}
    if dtype == torch.float64 and name in ("Glasberg2002", "Moore2016"):
        tol.update(
            {
                k: SKIRT_TOL
                for k in errors
                if k != "stage.freqs"
                and not k.startswith("stage.freqs_")
                and k not in ("stage.filtered", "stage.psd", "stage.filtered_left", "stage.filtered_right")
            }
        )
    bad = {k: f"{e:.2e} > {tol[k]:g}" for k, e in errors.items() if e > tol[k]}
    assert not bad, bad


@pytest.mark.parametrize("name", list(CASES))
def test_device_path_reads_no_data_on_the_host(name):
    kwargs, seconds = CASES[name]
    model = getattr(workbench, name)(**kwargs, return_stages=True)
    x = _signal(model, seconds, batch=1).float()
    expected = {k: v.shape for k, v in _named(model(x), "out")}
    meta_model = model.to("meta")
    xm = x.to("meta").requires_grad_()
    output = meta_model(xm)
    got = {k: v.shape for k, v in _named(output, "out")}
    assert got == expected
    assert all(t.is_meta for _, t in _named(output, "out"))
    _loss(output[0]).backward()
    assert xm.grad is not None and xm.grad.shape == xm.shape
