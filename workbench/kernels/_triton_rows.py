"""What the one-lane-per-row Triton kernels share: a program's rows and the launch grid.

Imported by the ``triton_*`` kernel modules only (it imports triton). A nested
``@triton.jit`` call costs the Triton interpreter ~0.1 ms, so :func:`program_rows` is called
once per program, never inside a time loop.
"""

from __future__ import annotations

import triton
import triton.language as tl

from workbench.kernels.backend import rows_per_program


@triton.jit
def program_rows(n_rows, BLOCK: tl.constexpr):
    """The program's ``BLOCK`` row indices (int64) and which of them exist (``< n_rows``)."""
    rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    live = rows < n_rows
    return rows.to(tl.int64), live


def row_grid(n_rows: int):
    """Launch grid and ``BLOCK`` for a kernel over ``n_rows`` rows (see ``rows_per_program``)."""
    block = rows_per_program(n_rows)
    return (triton.cdiv(n_rows, block),), block
