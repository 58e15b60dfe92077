"""Write ``workbench/kernels/_lanes.py``: the per-lane bodies of the CPU recursions.

Run ``python scripts/gen_lane_kernels.py`` after editing this file (the output is committed,
so that numba can cache the kernels on disk; never edit ``_lanes.py`` by hand).

Why generated code: a recursion is sequential in time but independent across rows, so the
CPU kernels run ``LANES`` rows side by side, time-major, with every row's state in its own
scalar variable. LLVM's SLP vectoriser then packs the lanes into SIMD registers
(``numba.core.config.SLP_VECTORIZE`` is switched on while the kernels compile, see
``workbench.kernels._numba``). numba has no vector types and keeps loop-carried state in
memory when it is held in arrays, which leaves the loop latency-bound; unrolled scalars are
what keeps the state in registers (a loop over the lanes with the state in arrays measured
2.2 to 2.6 times slower for a biquad). A per-lane statement is written once for all lanes, as
one tuple assignment (``o_0, ..., o_15 = b0_0 * v_0 + z0_0, ...``): numba compiles it to the
same machine code as sixteen separate statements (in ``adaptation_backward`` to shorter code:
all loads of a statement come before its stores, so LLVM need not order them against
possible aliasing). Each lane computes exactly the arithmetic, in the same order and dtype,
that the former one-row-at-a-time kernels computed for its row, so results are bitwise
unchanged.

Every function works on a *tile*: ``nt`` time steps of ``LANES`` rows stored time-major
(``tile[n * LANES + lane]``), the rows' coefficients ``c`` (``c[k * LANES + lane]`` for the
k-th coefficient) and states ``z`` (same layout), which it reads on entry and writes back on
exit. All indices are unsigned (numba then skips negative-index wrap-around, which would
block vectorisation) and ``error_model='numpy'`` drops the zero-divisor check of Python's
division (a branch per lane; the divisors here are never zero).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

LANES = 16
TAYLOR_DEGREE = 17  # exp(-f) = sum (-f)^k / k!, f in [0, 1): remainder < 1/18! = 1.6e-16
OUT = Path(__file__).resolve().parents[1] / "workbench" / "kernels" / "_lanes.py"


class Body:
    def __init__(self):
        self.lines: list[str] = []

    def add(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)

    def per_lane(self, indent: int, template: str, offset: int = 0) -> None:
        """``template`` (one statement of lane ``{l}``; ``{i}`` is ``offset + {l}``) for all
        lanes, as one tuple assignment.

        The lanes' statements are independent, so evaluating all right-hand sides before
        assigning is the same arithmetic; numba emits the same machine code as for one
        statement per lane. ``x += e`` becomes ``x = x + (e)`` (same rounding)."""
        target, op, value = template.partition(" += " if " += " in template else " = ")
        if op == " += ":
            value = f"{target} + ({value})"
        lanes = range(LANES)
        lhs = ", ".join(target.format(l=k, i=offset + k) for k in lanes)
        self.add(indent, lhs + " = " + ", ".join(value.format(l=k, i=offset + k) for k in lanes))


def load_consts(b: Body, names, array: str, indent: int = 1) -> None:
    for k, name in enumerate(names):
        b.per_lane(indent, f"{name}_{{l}} = {array}[np.uint64({{i}})]", k * LANES)


def store_consts(b: Body, names, array: str, indent: int = 1) -> None:
    for k, name in enumerate(names):
        b.per_lane(indent, f"{array}[np.uint64({{i}})] = {name}_{{l}}", k * LANES)


def tile_loads(b: Body, pairs, indent: int = 2) -> None:
    """``pairs``: (variable, tile array) loaded at the current step."""
    for var, arr in pairs:
        b.per_lane(indent, f"{var}_{{l}} = {arr}[base + np.uint64({{l}})]")


def tile_stores(b: Body, pairs, indent: int = 2) -> None:
    for var, arr in pairs:
        b.per_lane(indent, f"{arr}[base + np.uint64({{l}})] = {var}_{{l}}")


def function(name: str, args: str, doc: str, body: Body) -> str:
    head = ["@numba.njit(cache=True, fastmath=False, error_model='numpy')", f"def {name}({args}):", f'    """{doc}"""']
    return "\n".join(head + body.lines) + "\n"


def loop(b: Body) -> None:
    b.add(1, "for n in range(nt):")
    b.add(2, f"base = np.uint64(n * {LANES})")


def exp_neg() -> str:
    """exp(-v) for v in [0, 40] as exp(-floor v) (``table``) times the Taylor polynomial of
    exp(-f), f = v - floor v, in Horner form: vectorisable (libm's exp is a call per lane)
    and within ~3 ulp of it. Inlined by numba into every lane's statement."""
    horner = "1.0"
    for k in range(TAYLOR_DEGREE, 0, -1):
        horner = f"(1.0 + frac * (-1.0 / {k}.0) * {horner})"
    return "\n".join(
        [
            '@numba.njit(inline="always")',
            "def exp_neg(v, table):",
            '    """exp(-v), v in [0, 40], from the table of exp(-j) and a Taylor polynomial (see the generator)."""',
            "    whole = np.floor(v)",
            "    frac = v - whole",
            f"    return table[np.uint64(whole)] * {horner}",
            "",
        ]
    )


# ------------------------------------------------------------------ one-step recursions
class Recursion(NamedTuple):
    """A kernel that steps every lane once per sample: load the coefficients ``coefs`` (from
    ``c``) and states ``states`` (from ``z``), then per step load ``loads`` (variable, tile
    array), run the per-lane statements ``steps`` and store ``stores``; write the states back."""

    name: str
    args: str
    doc: str
    coefs: tuple
    states: tuple
    loads: tuple
    steps: tuple
    stores: tuple


def recursion(spec: Recursion) -> str:
    b = Body()
    if spec.coefs:
        load_consts(b, spec.coefs, "c")
    load_consts(b, spec.states, "z")
    loop(b)
    tile_loads(b, spec.loads)
    for step in spec.steps:
        b.per_lane(2, step)
    tile_stores(b, spec.stores)
    store_consts(b, spec.states, "z")
    return function(spec.name, spec.args, spec.doc, b)


def _cmul(res: str, a: str, v: str) -> list[str]:
    """numba's complex product (a * v): re = ar vr - ai vi, im = ar vi + ai vr."""
    return [
        f"{res}r_{{l}} = {a}r_{{l}} * {v}r_{{l}} - {a}i_{{l}} * {v}i_{{l}}",
        f"{res}i_{{l}} = {a}r_{{l}} * {v}i_{{l}} + {a}i_{{l}} * {v}r_{{l}}",
    ]


def complex_section(order: int) -> Recursion:
    """Complex section; ``vi`` is read from ``tile_im`` (a real input passes zeros)."""
    second = order == 2
    steps = _cmul("p", "b0", "v") + ["or_{l} = pr_{l} + z0r_{l}", "oi_{l} = pi_{l} + z0i_{l}"]
    steps += _cmul("q", "b1", "v") + _cmul("s", "a1", "o")
    if second:
        # z0 = z1 + b1 v - a1 out  ->  (z1 + b1 v) - a1 out
        steps += ["z0r_{l} = z1r_{l} + qr_{l} - sr_{l}", "z0i_{l} = z1i_{l} + qi_{l} - si_{l}"]
        steps += _cmul("q", "b2", "v") + _cmul("s", "a2", "o")
        steps += ["z1r_{l} = qr_{l} - sr_{l}", "z1i_{l} = qi_{l} - si_{l}"]
    else:
        steps += ["z0r_{l} = qr_{l} - sr_{l}", "z0i_{l} = qi_{l} - si_{l}"]
    return Recursion(
        f"{'biquad' if second else 'first_order'}_complex",
        "tile_re, tile_im, nt, c, z",
        f"Complex {'second' if second else 'first'}-order section ``c = "
        f"{'[b0 b1 b2 a1 a2]' if second else '[b0 b1 a1]'}`` as (re, im) pairs over a tile, in place.",
        ("b0r", "b0i", "b1r", "b1i", "b2r", "b2i", "a1r", "a1i", "a2r", "a2i")
        if second
        else ("b0r", "b0i", "b1r", "b1i", "a1r", "a1i"),
        ("z0r", "z0i", "z1r", "z1i") if second else ("z0r", "z0i"),
        (("vr", "tile_re"), ("vi", "tile_im")),
        tuple(steps),
        (("or", "tile_re"), ("oi", "tile_im")),
    )


# the modulation band-pass step y = g x + p y[n-1] (complex pole p, real gain g)
POLE_STEP = (
    "re_{l} = g_{l} * x_{l} + pr_{l} * yr_{l} - pi_{l} * yi_{l}",
    "im_{l} = pr_{l} * yi_{l} + pi_{l} * yr_{l}",
    "yr_{l} = re_{l}",
    "yi_{l} = im_{l}",
)

BIQUAD_REAL = Recursion(
    "biquad_real",
    "tile, nt, c, z",
    "Real second-order section (transposed direct form II) over a tile, in place.",
    ("b0", "b1", "b2", "a1", "a2"),
    ("z0", "z1"),
    (("v", "tile"),),
    (
        "o_{l} = b0_{l} * v_{l} + z0_{l}",
        "z0_{l} = z1_{l} + b1_{l} * v_{l} - a1_{l} * o_{l}",
        "z1_{l} = b2_{l} * v_{l} - a2_{l} * o_{l}",
    ),
    (("o", "tile"),),
)
FIRST_ORDER_REAL = Recursion(
    "first_order_real",
    "tile, nt, c, z",
    "Real first-order section ``c = [b0 b1 a1]`` over a tile, in place.",
    ("b0", "b1", "a1"),
    ("z0",),
    (("v", "tile"),),
    ("o_{l} = b0_{l} * v_{l} + z0_{l}", "z0_{l} = b1_{l} * v_{l} - a1_{l} * o_{l}"),
    (("o", "tile"),),
)
# tile_re gets real(y), tile_im |y|
MODULATION_POLE = Recursion(
    "modulation_pole",
    "tile_re, tile_im, nt, c, z",
    "Modulation band-pass ``c = [Re p, Im p, g]`` over a tile: real part into tile_re, "
    "magnitude into tile_im (input: tile_re).",
    ("pr", "pi", "g"),
    ("yr", "yi"),
    (("x", "tile_re"),),
    (*POLE_STEP, "m_{l} = np.sqrt(re_{l} * re_{l} + im_{l} * im_{l})"),
    (("re", "tile_re"), ("m", "tile_im")),
)
# IHC membrane: u = alpha u + beta (u into tile_b)
SCAN_FORWARD = Recursion(
    "scan_forward",
    "tile_a, tile_b, nt, z",
    "u = alpha u + beta over a tile (alpha in tile_a, beta in tile_b; u into tile_b).",
    (),
    ("u",),
    (("al", "tile_a"), ("be", "tile_b")),
    ("u_{l} = al_{l} * u_{l} + be_{l}",),
    (("u", "tile_b"),),
)
IHC_FORWARD = Recursion(
    "ihc_forward",
    "tile_a, tile_b, nt, rest, z",
    "u = (alpha u + rest) + drive over a tile (alpha in tile_a, drive in tile_b; u into tile_b).",
    (),
    ("u",),
    (("al", "tile_a"), ("dr", "tile_b")),
    ("u_{l} = al_{l} * u_{l} + rest + dr_{l}",),
    (("u", "tile_b"),),
)


# ----------------------------------------------------------------------- modulation band-pass
def modulation_pole_ri() -> str:
    """The band-pass outputs y (re, im) of the forward pass, for the adjoint: from the input
    tile ``tile_x`` into rows ``n + 1`` of the time-major arrays ``y_re``/``y_im``."""
    b = Body()
    load_consts(b, ("pr", "pi", "g"), "c")
    load_consts(b, ("yr", "yi"), "z")
    b.add(1, "for n in range(nt):")
    b.add(2, f"base = np.uint64(n * {LANES})")
    b.add(2, f"out = np.uint64((t0 + n + 1) * {LANES})")
    tile_loads(b, [("x", "tile_x")])
    for step in POLE_STEP:
        b.per_lane(2, step)
    b.per_lane(2, "y_re[out + np.uint64({l})] = re_{l}")
    b.per_lane(2, "y_im[out + np.uint64({l})] = im_{l}")
    store_consts(b, ("yr", "yi"), "z")
    return function(
        "modulation_pole_ri",
        "tile_x, y_re, y_im, t0, nt, c, z",
        "Forward band-pass keeping y (rows t + 1 of y_re, y_im; row 0 stays 0).",
        b,
    )


def modulation_pole_adjoint() -> str:
    """Adjoint of the band-pass with its post-processing, backwards over a tile:
    Y[n] = ybar[n] + conj(p) Y[n+1] (ybar: d out / d y), the input gradient terms g Re Y into
    ``tile_g``, and the sums sum Y conj(y[n-1]) (z[2], z[3]) and sum Re(Y) x (z[4]).
    ``c``: pole (re, im), gain, factor, envelope flag (1.0: magnitude rows)."""
    b = Body()
    load_consts(b, ("pr", "pi", "g", "fac", "env"), "c")
    load_consts(b, ("ar", "ai", "spr", "spi", "sg"), "z")
    b.add(1, "for step in range(nt):")
    b.add(2, "n = nt - 1 - step")
    b.add(2, f"base = np.uint64(n * {LANES})")
    b.add(2, f"cur = np.uint64((t0 + n + 1) * {LANES})")
    b.add(2, f"prev = np.uint64((t0 + n) * {LANES})")
    tile_loads(b, [("go", "tile_g"), ("x", "tile_x")])
    b.per_lane(2, "yr_{l} = y_re[cur + np.uint64({l})]")
    b.per_lane(2, "yi_{l} = y_im[cur + np.uint64({l})]")
    b.per_lane(2, "mag_{l} = np.sqrt(yr_{l} * yr_{l} + yi_{l} * yi_{l})")
    b.per_lane(2, "sc_{l} = fac_{l} * go_{l} / mag_{l}")
    b.per_lane(2, "br_{l} = (sc_{l} * yr_{l} if mag_{l} > 0.0 else 0.0) if env_{l} != 0.0 else go_{l}")
    b.per_lane(2, "bi_{l} = (sc_{l} * yi_{l} if mag_{l} > 0.0 else 0.0) if env_{l} != 0.0 else 0.0")
    b.per_lane(2, "nr_{l} = br_{l} + pr_{l} * ar_{l} + pi_{l} * ai_{l}")
    b.per_lane(2, "ai_{l} = bi_{l} + pr_{l} * ai_{l} - pi_{l} * ar_{l}")
    b.per_lane(2, "ar_{l} = nr_{l}")
    b.per_lane(2, "gx_{l} = g_{l} * ar_{l}")
    b.per_lane(2, "sg_{l} += ar_{l} * x_{l}")
    b.per_lane(2, "qr_{l} = y_re[prev + np.uint64({l})]")
    b.per_lane(2, "qi_{l} = y_im[prev + np.uint64({l})]")
    b.per_lane(2, "spr_{l} += ar_{l} * qr_{l} + ai_{l} * qi_{l}")
    b.per_lane(2, "spi_{l} += ai_{l} * qr_{l} - ar_{l} * qi_{l}")
    tile_stores(b, [("gx", "tile_g")])
    store_consts(b, ("ar", "ai", "spr", "spi", "sg"), "z")
    return function(
        "modulation_pole_adjoint",
        "tile_g, tile_x, y_re, y_im, t0, nt, c, z",
        "Adjoint of the modulation band-pass over a tile, backwards in time (see the generator).",
        b,
    )


# the limiter runs on all lanes when any lane's quotient is above 1
ANY_LIMITED = " | ".join(f"(q_{lane} > 1.0)" for lane in range(LANES))


def loop_rows(b: Body) -> None:
    """Offsets of loop ``j``'s lanes in the per-loop scratch (``o``, ``o1``: loop j and j + 1)
    and in the saved states at step ``n`` (``sb``)."""
    b.add(3, f"o = np.uint64(j * {LANES})")
    b.add(3, f"o1 = np.uint64((j + 1) * {LANES})")
    b.add(3, "sb = np.uint64(sbase + (n * n_loops + j) * srow)")


def adaptation_loop(save: bool) -> str:
    """One adaptation loop over a tile: q = v / s (overshoot-limited above 1), then the
    state low-passes q: s = a s + (1 - a) q. ``c``: limiter maxima per lane; ``a``: the
    loop's coefficient. With ``save``, the state before each step goes to
    ``states[sbase + n * sstride + lane]`` (the backward pass reads it)."""
    b = Body()
    load_consts(b, ("m",), "c")
    load_consts(b, ("s",), "z")
    # loop invariants of the limiter, the subexpressions that its formula evaluates first
    b.per_lane(1, "rm_{l} = 2.0 / m_{l}")
    b.per_lane(1, "dm_{l} = 2.0 * m_{l}")
    b.per_lane(1, "sm_{l} = m_{l} - 1.0")
    loop(b)
    if save:
        b.add(2, "sb = np.uint64(sbase + n * sstride)")
        b.per_lane(2, "states[sb + np.uint64({l})] = s_{l}")
    tile_loads(b, [("v", "tile")])
    b.per_lane(2, "q_{l} = v_{l} / s_{l}")
    tile_stores(b, [("q", "tile")])
    # The limiter (about 40 % of the samples of the slow loops) runs on all lanes when any
    # lane needs it; its exp(-v) (v = 2 (q - 1) / m clamped to [0, 40], where exp(-40) no
    # longer changes 2m / (1 + e)) is exp(-floor v) from a table times a Taylor polynomial
    # of exp(-f), f in [0, 1): vectorisable and within ~3 ulp of libm's exp.
    b.add(2, f"if limiting and ({ANY_LIMITED}):")
    b.per_lane(3, "ex_{l} = min(max(rm_{l} * (q_{l} - 1.0), 0.0), 40.0)")
    b.per_lane(3, "e_{l} = exp_neg(ex_{l}, table)")
    b.per_lane(3, "lim_{l} = dm_{l} / (1.0 + e_{l}) - sm_{l}")
    b.per_lane(3, "tile[base + " + "np.uint64({l})" + "] = lim_{l} if q_{l} > 1.0 else q_{l}")
    tile_loads(b, [("w", "tile")])
    b.per_lane(2, "s_{l} = a * s_{l} + (1.0 - a) * w_{l}")
    store_consts(b, ("s",), "z")
    name = "adaptation_loop_save" if save else "adaptation_loop"
    args = "tile, nt, a, limiting, c, z, table" + (", states, sbase, sstride" if save else "")
    return function(name, args, "One adaptation loop over a tile (see the generator).", b)


def adaptation_backward() -> str:
    """Adjoint of the adaptation loops over a tile, backwards in time (the former kernel's
    per-row order: at each step the loop quotients are re-evaluated from the saved states,
    then the loops are walked from the last to the first). ``tile_x``/``tile_g``: input and
    output gradient of the tile (time-major); ``tile_g`` receives the input gradient.
    ``states[sbase + (n * n_loops + j) * srow + lane]``: loop j's state before step n.
    ``m`` ``(n_loops * LANES)``: limiter maxima; ``lo``/``mult``: floor and output scale per
    lane; scratch ``w`` ``((n_loops + 1) * LANES)``, ``v``/``ev`` ``(n_loops * LANES)``;
    ``gs``/``ga`` ``(n_loops * LANES)``: state adjoints and coefficient gradients (in/out)."""
    b = Body()
    load_consts(b, ("lo", "mu"), "fm")
    b.add(1, "for step in range(nt):")
    b.add(2, "n = nt - 1 - step")
    b.add(2, f"base = np.uint64(n * {LANES})")
    tile_loads(b, [("x", "tile_x"), ("gy", "tile_g")])
    b.per_lane(2, "w[np.uint64({l})] = max(x_{l}, lo_{l})")
    b.add(2, "for j in range(n_loops):")
    loop_rows(b)
    b.per_lane(3, "q_{l} = w[o + np.uint64({l})] / states[sb + np.uint64({l})]")
    b.per_lane(3, "v[o + np.uint64({l})] = q_{l}")
    b.per_lane(3, "w[o1 + np.uint64({l})] = q_{l}")
    b.add(3, f"if limiting and ({ANY_LIMITED}):")
    b.per_lane(4, "mm_{l} = m[o + np.uint64({l})]")
    b.per_lane(4, "ex_{l} = min(max(2.0 / mm_{l} * (q_{l} - 1.0), 0.0), 40.0)")
    b.per_lane(4, "e_{l} = exp_neg(ex_{l}, table)")
    b.per_lane(4, "ev[o + np.uint64({l})] = e_{l}")
    b.per_lane(4, "lim_{l} = 2.0 * mm_{l} / (1.0 + e_{l}) - (mm_{l} - 1.0)")
    b.per_lane(4, "w[o1 + np.uint64({l})] = lim_{l} if q_{l} > 1.0 else q_{l}")
    b.per_lane(2, "g_{l} = gy_{l} * mu_{l}")
    b.add(2, "for jj in range(n_loops):")
    b.add(3, "j = n_loops - 1 - jj")
    b.add(3, "a = a1[j]")
    loop_rows(b)
    b.per_lane(3, "s_{l} = states[sb + np.uint64({l})]")
    b.per_lane(3, "gj_{l} = gs[o + np.uint64({l})]")
    b.per_lane(3, "t_{l} = g_{l} + gj_{l} * (1.0 - a)")
    b.per_lane(3, "ga[o + np.uint64({l})] += gj_{l} * (s_{l} - w[o1 + np.uint64({l})])")
    b.add(3, "if limiting:")
    b.per_lane(4, "vj_{l} = v[o + np.uint64({l})]")
    b.per_lane(4, "e_{l} = ev[o + np.uint64({l})]")
    # computed on every lane, then selected: a conditional division would stay a branch
    b.per_lane(4, "d_{l} = t_{l} * 4.0 * e_{l} / ((1.0 + e_{l}) * (1.0 + e_{l}))")
    b.per_lane(4, "t_{l} = d_{l} if vj_{l} > 1.0 else t_{l}")
    b.per_lane(3, "g_{l} = t_{l} / s_{l}")
    b.per_lane(3, "gs[o + np.uint64({l})] = gj_{l} * a - t_{l} * w[o + np.uint64({l})] / (s_{l} * s_{l})")
    b.per_lane(2, "tile_g[base + np.uint64({l})] = g_{l} if x_{l} > lo_{l} else 0.0")
    return function(
        "adaptation_backward",
        "tile_x, tile_g, nt, n_loops, a1, limiting, m, fm, table, states, sbase, srow, w, v, ev, gs, ga",
        "Adjoint of the adaptation loops over a tile, backwards in time (see the generator).",
        b,
    )


def main() -> None:
    parts = [
        '"""Generated by ``scripts/gen_lane_kernels.py`` (do not edit): per-lane recursion bodies.\n\n'
        f"{LANES} rows run side by side (see the generator's docstring). Every function is inlined\n"
        'into the kernels of the families (``iir``, ``modfilter``, ``ihc``).\n"""',
        "",
        "import math",
        "",
        "import numba",
        "import numpy as np",
        "",
        f"LANES = {LANES}",
        "EXP_NEG_INT = np.array([math.exp(-j) for j in range(41)])  # exp(-j), j = 0..40",
        "",
        "",
    ]
    for src in (
        exp_neg(),
        recursion(BIQUAD_REAL),
        recursion(FIRST_ORDER_REAL),
        recursion(complex_section(2)),
        recursion(complex_section(1)),
        recursion(MODULATION_POLE),
        modulation_pole_ri(),
        modulation_pole_adjoint(),
        recursion(SCAN_FORWARD),
        recursion(IHC_FORWARD),
        adaptation_loop(False),
        adaptation_loop(True),
        adaptation_backward(),
    ):
        parts.append(src)
        parts.append("")
    OUT.write_text("\n".join(parts).rstrip() + "\n")
    print(f"wrote {OUT} ({OUT.read_text().count(chr(10))} lines)")
    # numba's on-disk cache of a kernel does not notice changes in the functions it calls:
    # drop the cached kernels next to the sources so that they recompile with the new bodies
    stale = list((OUT.parent / "__pycache__").glob("*.nb[ic]"))
    for path in stale:
        path.unlink()
    print(f"removed {len(stale)} cached kernel files")


if __name__ == "__main__":
    main()
