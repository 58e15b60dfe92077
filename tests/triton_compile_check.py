"""Compile every Triton kernel of workbench for a CUDA target without a GPU.

Run as a script (``python tests/triton_compile_check.py [arch]``; TRITON_INTERPRET must be
unset): triton lowers each kernel to PTX and assembles it with its bundled ptxas, so a
kernel that only the interpreter accepts fails here. Prints one line per kernel variant
and exits non-zero on the first failure. Used by tests/test_kernels_device.py.
"""

from __future__ import annotations

import os
import sys

os.environ.pop("TRITON_INTERPRET", None)
os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")

import triton  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.compiler import ASTSource  # noqa: E402

from workbench.kernels import triton_adaptation, triton_agc, triton_ihc, triton_iir, triton_modfilter  # noqa: E402


def _sig(fp: str, pointers: str, scalars: str = "n_rows n_t") -> dict:
    """A kernel signature in parameter order: pointers (``name`` -> ``*fp``, ``name:type`` ->
    ``*type``), then the i32 scalars."""
    sig = {}
    for pointer in pointers.split():
        name, _, kind = pointer.partition(":")
        sig[f"{name}_ptr"] = f"*{kind or fp}"
    return {**sig, **{name: "i32" for name in scalars.split()}}


def variants():
    """(name, kernel, signature, constexprs) for the configurations the library launches."""
    for fp in ("fp32", "fp64"):
        for complex_ in (False, True):
            for ns in (1, 4, 8):
                yield (
                    f"iir {fp} complex={complex_} sections={ns}",
                    triton_iir.cascade_kernel,
                    _sig(fp, "x y coef:fp64", "n_rows n_t x_row_stride y_row_stride"),
                    dict(NS=ns, X_COMPLEX=complex_, COMPLEX=complex_, F64=fp == "fp64", REVERSE=complex_, BLOCK=32),
                )
        chunked = "n_rows n_t n_chunks"
        yield (
            f"adaptation forward {fp}",
            triton_adaptation.forward_kernel,
            _sig(fp, "x y ckpt:fp64 a1:fp64 s0:fp64 maxv:fp64 floor:fp64 corr:fp64 mult:fp64", chunked),
            dict(NL=5, CH=triton_adaptation.CHUNK, LIMITING=True, SAVE=True, BLOCK=32),
        )
        yield (
            f"adaptation backward {fp}",
            triton_adaptation.backward_kernel,
            _sig(fp, "gy x gx ga:fp64 ckpt:fp64 scratch:fp64 a1:fp64 maxv:fp64 floor:fp64 mult:fp64", chunked),
            dict(NL=5, CH=triton_adaptation.CHUNK, LIMITING=True, BLOCK=32),
        )
        sig = _sig(fp, "x y0 coef:fp64 y up:i8")
        yield f"agc forward {fp}", triton_agc.forward_kernel, sig, dict(BLOCK=32)
        sig = _sig(fp, "g x y y0 up:i8 coef:fp64 gx gy0 gcoef:fp64")
        yield f"agc backward {fp}", triton_agc.backward_kernel, sig, dict(BLOCK=32)
        sig = _sig(fp, "v out gout gv c:fp64")
        for backward in (False, True):
            yield f"ihc backward={backward} {fp}", triton_ihc.ihc_kernel, sig, dict(BACKWARD=backward, BLOCK=32)
        sig = _sig(fp, "alpha beta out")
        for adjoint in (False, True):
            yield f"scan adjoint={adjoint} {fp}", triton_ihc.scan_kernel, sig, dict(ADJOINT=adjoint, BLOCK=32)
        tables = "lane:i32 coef:fp64"
        sig = _sig(fp, f"x out {tables}", "n_chan n_t n_out")
        yield f"modfilter forward {fp}", triton_modfilter.forward_kernel, sig, dict(MB=16, BC=2)
        yield (
            f"modfilter backward {fp}",
            triton_modfilter.backward_kernel,
            _sig(fp, f"gout x gx acc:fp64 ckpt:fp64 scratch:fp64 {tables}", "n_chan n_t n_out n_chunks"),
            dict(MB=16, BC=2, CH=triton_modfilter.CHUNK),
        )


def main(arch: int = 90) -> int:
    target = GPUTarget("cuda", arch, 32)
    count = 0
    for name, kernel, signature, constexprs in variants():
        signature = {**signature, **{k: "constexpr" for k in constexprs}}
        compiled = triton.compile(
            ASTSource(fn=kernel, signature=signature, constexprs=constexprs), target=target, options={"num_warps": 1}
        )
        ptx = compiled.asm["ptx"]
        print(
            f"ok  {name:40s} ptx {ptx.count(chr(10)):6d} lines, cubin {len(compiled.asm['cubin']):7d} B, "
            f"local stores {ptx.count('st.local')}"
        )
        count += 1
    print(f"compiled {count} kernel variants for sm_{arch} with triton {triton.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 90))
