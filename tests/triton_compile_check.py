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


def variants():
    """(name, kernel, signature, constexprs) for the configurations the library launches."""
    for fp in ("fp32", "fp64"):
        for complex_ in (False, True):
            for ns in (1, 4, 8):
                sig = {
                    "x_ptr": f"*{fp}",
                    "y_ptr": f"*{fp}",
                    "coef_ptr": "*fp64",
                    "n_rows": "i32",
                    "n_t": "i32",
                    "x_row_stride": "i32",
                    "y_row_stride": "i32",
                }
                yield (
                    f"iir {fp} complex={complex_} sections={ns}",
                    triton_iir._cascade_kernel,
                    sig,
                    dict(NS=ns, X_COMPLEX=complex_, COMPLEX=complex_, F64=fp == "fp64", REVERSE=complex_, BLOCK=32),
                )
        common = {"n_rows": "i32", "n_t": "i32", "n_chunks": "i32"}
        sig = {
            "x_ptr": f"*{fp}",
            "y_ptr": f"*{fp}",
            "ckpt_ptr": "*fp64",
            "a1_ptr": "*fp64",
            "s0_ptr": "*fp64",
            "maxv_ptr": "*fp64",
            "floor_ptr": "*fp64",
            "corr_ptr": "*fp64",
            "mult_ptr": "*fp64",
            **common,
        }
        yield (
            f"adaptation forward {fp}",
            triton_adaptation._forward_kernel,
            sig,
            dict(NL=5, CH=triton_adaptation.CHUNK, LIMITING=True, SAVE=True, BLOCK=32),
        )
        sig = {
            "gy_ptr": f"*{fp}",
            "x_ptr": f"*{fp}",
            "gx_ptr": f"*{fp}",
            "ga_ptr": "*fp64",
            "ckpt_ptr": "*fp64",
            "scratch_ptr": "*fp64",
            "a1_ptr": "*fp64",
            "maxv_ptr": "*fp64",
            "floor_ptr": "*fp64",
            "mult_ptr": "*fp64",
            **common,
        }
        yield (
            f"adaptation backward {fp}",
            triton_adaptation._backward_kernel,
            sig,
            dict(NL=5, CH=triton_adaptation.CHUNK, LIMITING=True, BLOCK=32),
        )
        sig = {
            "x_ptr": f"*{fp}",
            "y0_ptr": f"*{fp}",
            "coef_ptr": "*fp64",
            "y_ptr": f"*{fp}",
            "up_ptr": "*i8",
            "n_rows": "i32",
            "n_t": "i32",
        }
        yield f"agc forward {fp}", triton_agc._forward_kernel, sig, dict(BLOCK=32)
        sig = {
            "g_ptr": f"*{fp}",
            "x_ptr": f"*{fp}",
            "y_ptr": f"*{fp}",
            "y0_ptr": f"*{fp}",
            "up_ptr": "*i8",
            "coef_ptr": "*fp64",
            "gx_ptr": f"*{fp}",
            "gy0_ptr": f"*{fp}",
            "gcoef_ptr": "*fp64",
            "n_rows": "i32",
            "n_t": "i32",
        }
        yield f"agc backward {fp}", triton_agc._backward_kernel, sig, dict(BLOCK=32)
        sig = {
            "v_ptr": f"*{fp}",
            "out_ptr": f"*{fp}",
            "gout_ptr": f"*{fp}",
            "gv_ptr": f"*{fp}",
            "c_ptr": "*fp64",
            "n_rows": "i32",
            "n_t": "i32",
        }
        for backward in (False, True):
            yield f"ihc backward={backward} {fp}", triton_ihc._ihc_kernel, sig, dict(BACKWARD=backward, BLOCK=32)
        sig = {"alpha_ptr": f"*{fp}", "beta_ptr": f"*{fp}", "out_ptr": f"*{fp}", "n_rows": "i32", "n_t": "i32"}
        for adjoint in (False, True):
            yield f"scan adjoint={adjoint} {fp}", triton_ihc._scan_kernel, sig, dict(ADJOINT=adjoint, BLOCK=32)
        tables = {
            "band_ptr": "*i32",
            "orow_ptr": "*i32",
            "pr_ptr": "*fp64",
            "pi_ptr": "*fp64",
            "g_ptr": "*fp64",
            "fac_ptr": "*fp64",
            "env_ptr": "*i32",
        }
        sig = {"x_ptr": f"*{fp}", "out_ptr": f"*{fp}", **tables, "n_chan": "i32", "n_t": "i32", "n_out": "i32"}
        yield f"modfilter forward {fp}", triton_modfilter._forward_kernel, sig, dict(MB=16, BC=2)
        sig = {
            "gout_ptr": f"*{fp}",
            "x_ptr": f"*{fp}",
            "gx_ptr": f"*{fp}",
            "acc_ptr": "*fp64",
            "ckpt_ptr": "*fp64",
            "scratch_ptr": "*fp64",
            **tables,
            "n_chan": "i32",
            "n_t": "i32",
            "n_out": "i32",
            "n_chunks": "i32",
        }
        yield (
            f"modfilter backward {fp}",
            triton_modfilter._backward_kernel,
            sig,
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
