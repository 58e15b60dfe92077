"""Linear IIR filtering: the engine under every recursive filter of the workbench.

``lfilter(b, a, x)`` computes, for each row of ``x`` independently and from zero initial state,

    a[0] y[n] = sum_k b[k] x[n-k] - sum_{k>=1} a[k] y[n-k]

for real or complex coefficients and signals (MATLAB/scipy ``filter`` semantics). It is
differentiable with respect to ``b``, ``a`` and ``x``:

* on CPU tensors a numba kernel runs the recursion (transposed direct form II, as MATLAB) and
  the backward pass is the adjoint recursion run backwards in time:
  ``u = A^-H g`` (all-pole filter with conjugated denominator, time reversed), then
  ``grad_x[n] = sum_k conj(b_k) u[n+k]``, ``grad_b[k] = sum_n conj(x[n-k]) u[n]`` and
  ``grad_a[k] = -sum_n conj(y[n-k]) u[n]``;
* on the device path (CUDA, see :mod:`workbench.kernels.backend`) a Triton kernel runs the
  same recursion (:mod:`workbench.kernels.triton_iir`, one lane per row, all sections of a
  cascade fused), and the backward pass filters the time-reversed gradient by the
  conjugated sections (the adjoint of a causal filter is the anti-causal conjugate filter);
  without Triton a torch loop over samples does it (slow, autograd differentiates it);
* ``method='fft'`` multiplies by the transfer function sampled on a grid long enough that
  the impulse response has decayed below machine precision (from the largest pole radius),
  so circular convolution equals linear filtering. It needs memory for the whole grid and
  refuses grids above ``FFT_MAX_BYTES`` instead of allocating them.

Shapes: ``x`` is ``(..., T)``; ``b`` is ``(..., nb)`` and ``a`` is ``(..., na)``, their
leading dims broadcast against those of ``x`` (e.g. ``x`` ``(B, F, T)`` with ``b``
``(F, nb)`` filters every channel with its own filter).

>>> import torch
>>> x = torch.zeros(2, 3, 8, dtype=torch.float64); x[..., 0] = 1
>>> b = torch.tensor([[1.0, 0.0]] * 3, dtype=torch.float64)
>>> a = torch.tensor([[1.0, -0.5]] * 3, dtype=torch.float64)
>>> lfilter(b, a, x)[0, 0, :4]
tensor([1.0000, 0.5000, 0.2500, 0.1250], dtype=torch.float64)
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch

from workbench.kernels import _tiles as tiles
from workbench.kernels._lanes import (
    LANES,
    biquad_complex,
    biquad_real,
    first_order_complex,
    first_order_real,
)
from workbench.kernels._numba import compiled, host_array
from workbench.kernels.backend import load_triton_kernels, resolve_backend
from workbench.kernels.memory import empty_output

__all__ = ["lfilter", "sosfilt", "section", "FFT_MAX_BYTES"]

# Largest FFT working set (bytes) ``method='fft'`` allocates; beyond it the call is refused.
FFT_MAX_BYTES = 2**32


# --------------------------------------------------------------------------- numba kernels
@numba.njit(cache=True, parallel=True)
def _forward_kernel(b, a, x, y):
    """Rows r: y = filter(b[r], a[r], x[r]), a[r, 0] == 1, transposed direct form II.

    ``x`` may be real while the coefficients (and ``y``) are complex. Orders 1 and 2 (the
    one-pole and biquad sections everything is built from) keep their state in scalars.
    """
    rows, n_samples = x.shape
    order = max(b.shape[1], a.shape[1]) - 1
    for r in numba.prange(rows):
        br = np.zeros(order + 1, dtype=y.dtype)
        ar = np.zeros(order + 1, dtype=y.dtype)
        br[: b.shape[1]] = b[r]
        ar[: a.shape[1]] = a[r]
        if order == 1:
            b0, b1, a1 = br[0], br[1], ar[1]
            s0 = b0 * 0
            for n in range(n_samples):
                xn = x[r, n]
                yn = b0 * xn + s0
                s0 = b1 * xn - a1 * yn
                y[r, n] = yn
        elif order == 2:
            b0, b1, b2, a1, a2 = br[0], br[1], br[2], ar[1], ar[2]
            s0 = b0 * 0
            s1 = b0 * 0
            for n in range(n_samples):
                xn = x[r, n]
                yn = b0 * xn + s0
                s0 = s1 + b1 * xn - a1 * yn
                s1 = b2 * xn - a2 * yn
                y[r, n] = yn
        else:
            state = np.zeros(order + 1, dtype=y.dtype)
            for n in range(n_samples):
                xn = x[r, n]
                yn = br[0] * xn + state[0]
                for k in range(1, order + 1):
                    state[k - 1] = state[k] + br[k] * xn - ar[k] * yn
                y[r, n] = yn


@numba.njit(cache=True, parallel=True)
def _adjoint_kernel(a, g, u):
    """Rows r: u = A^-H g, i.e. the all-pole filter 1/conj(a[r]) run backwards in time."""
    rows, n_samples = g.shape
    na = a.shape[1]
    for r in numba.prange(rows):
        if na <= 3:
            c1 = np.conj(a[r, 1]) if na > 1 else a[r, 0] * 0
            c2 = np.conj(a[r, 2]) if na > 2 else a[r, 0] * 0
            u1 = g[r, 0] * 0  # u[n+1] (g is finite; u is not yet written)
            u2 = u1  # u[n+2]
            for n in range(n_samples - 1, -1, -1):
                un = g[r, n] - c1 * u1 - c2 * u2
                u[r, n] = un
                u2 = u1
                u1 = un
        else:
            for n in range(n_samples - 1, -1, -1):
                acc = g[r, n]
                for k in range(1, na):
                    if n + k < n_samples:
                        acc -= np.conj(a[r, k]) * u[r, n + k]
                u[r, n] = acc


# Cascade kernel: LANES rows side by side, time-major tiles of TILE steps (see _lanes.py).
TILE = 256


@numba.njit(cache=True, parallel=True)
def _cascade_kernel(coef, first_order, complex_coef, xv, x_index, x_complex, yv, y_complex, reverse):
    """Rows r: the cascade of sections ``coef[r, k]`` in one pass over time.

    ``coef`` (rows, n_sections, 5) real ``[b0 b1 b2 a1 a2]`` or (rows, n_sections, 10) as
    (re, im) pairs, normalised (a0 == 1). ``xv``/``yv``: rows of real samples, or of
    interleaved (re, im) pairs when ``x_complex``/``y_complex``; output row r filters input
    row ``x_index[r]`` (broadcast inputs are not copied). ``first_order``: every
    section has b2 == a2 == 0 (their zero taps are skipped). ``reverse`` runs the recursion
    backwards in time (the adjoint of the cascade with conjugated coefficients).

    Per row the arithmetic is transposed direct form II section after section in float64
    (the former one-row-at-a-time kernel's, bitwise for float64 rows); float32 rows are read
    and rounded once on output (the former kernel rounded its states to float32 every step).
    """
    rows = yv.shape[0]
    n_t = xv.shape[1] // 2 if x_complex else xv.shape[1]
    n_sections = coef.shape[1]
    n_coef = coef.shape[2]
    n_groups = (rows + LANES - 1) // LANES
    for g in numba.prange(n_groups):
        r0 = g * LANES
        n_lanes = min(LANES, rows - r0)
        c = np.zeros((n_sections, 10 * LANES))
        z = np.zeros((n_sections, 4 * LANES))
        for k in range(n_sections):
            j = 0
            for q in range(n_coef):
                # first-order sections keep b0, b1, a1 (and their imaginary parts)
                tap = q // 2 if complex_coef else q
                if first_order and (tap == 2 or tap == 4):
                    continue
                for lane in range(n_lanes):
                    c[k, j * LANES + lane] = coef[r0 + lane, k, q]
                j += 1
        tile_re = np.zeros(TILE * LANES)
        tile_im = np.zeros(TILE * LANES)
        x_step = 2 if x_complex else 1
        y_step = 2 if y_complex else 1
        for t0 in range(0, n_t, TILE):
            nt = min(TILE, n_t - t0)
            tiles.load_indexed(xv, x_index, r0, n_lanes, t0, nt, n_t, x_step, 0, reverse, tile_re)
            if x_complex:
                tiles.load_indexed(xv, x_index, r0, n_lanes, t0, nt, n_t, x_step, 1, reverse, tile_im)
            elif complex_coef:
                tiles.fill(tile_im, nt, 0.0)
            for k in range(n_sections):
                if complex_coef:
                    if first_order:
                        first_order_complex(tile_re, tile_im, nt, c[k], z[k])
                    else:
                        biquad_complex(tile_re, tile_im, nt, c[k], z[k])
                elif first_order:
                    first_order_real(tile_re, nt, c[k], z[k])
                else:
                    biquad_real(tile_re, nt, c[k], z[k])
            tiles.store(tile_re, yv, r0, n_lanes, t0, nt, n_t, y_step, 0, reverse)
            if y_complex:
                if not (complex_coef or x_complex):
                    tiles.fill(tile_im, nt, 0.0)
                tiles.store(tile_im, yv, r0, n_lanes, t0, nt, n_t, y_step, 1, reverse)


_cascade = compiled(_cascade_kernel)


def _real_view(t: torch.Tensor) -> np.ndarray:
    """Rows of a (rows, T) tensor as a numpy array: real, or complex as interleaved pairs."""
    t = t.detach().contiguous()
    return torch.view_as_real(t).reshape(t.shape[0], -1).numpy() if t.is_complex() else t.numpy()


def _pack_coefficients(sos: torch.Tensor) -> tuple[np.ndarray, bool, bool]:
    """Normalised rows ``sos (R, K, 6)`` -> kernel coefficients, first_order, complex."""
    first_order = not bool((sos[..., 2] != 0).any() or (sos[..., 5] != 0).any())
    taps = sos[..., [0, 1, 2, 4, 5]].detach()
    if taps.is_complex():
        return torch.view_as_real(taps).reshape(*taps.shape[:2], 10).contiguous().numpy(), first_order, True
    return taps.contiguous().numpy(), first_order, False


def _run_cascade(
    sos: torch.Tensor,
    x: torch.Tensor,
    dtype: torch.dtype,
    reverse: bool = False,
    x_index: np.ndarray | None = None,
    out_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """``y (R, T)`` from normalised rows ``sos (R, K, 6)`` of ``dtype`` and input rows ``x``
    (row ``x_index[r]`` feeds output row r; default: the same row). The recursion runs in
    float64 (complex: pairs of float64); ``y`` has ``out_dtype`` (default ``dtype``)."""
    coef, first_order, complex_coef = _pack_coefficients(sos)
    out_dtype = dtype if out_dtype is None else out_dtype
    rows = sos.shape[0]
    y = empty_output(rows, x.shape[-1], dtype=out_dtype)
    if x_index is None:
        x_index = np.arange(rows)
    if rows and x.shape[-1]:
        _cascade(
            coef,
            first_order,
            complex_coef,
            _real_view(x),
            x_index,
            x.is_complex(),
            torch.view_as_real(y).reshape(rows, -1).numpy() if out_dtype.is_complex else y.numpy(),
            out_dtype.is_complex,
            reverse,
        )
    return y


def _conj_sections(sos: torch.Tensor) -> torch.Tensor:
    return sos.conj().resolve_conj() if sos.is_complex() else sos


class _SectionsCPU(torch.autograd.Function):
    """Fixed sections on CPU (no coefficient gradient): fused cascade forward; the gradient of
    ``x`` is the conjugated cascade run backwards in time (the adjoint of a causal filter)."""

    @staticmethod
    def forward(ctx, x, sos, dtype):
        ctx.sos, ctx.dtype, ctx.x_dtype = sos, dtype, x.dtype
        return _run_cascade(sos, x, dtype)

    @staticmethod
    def backward(ctx, grad_y):
        grad = _run_cascade(_conj_sections(ctx.sos), grad_y.to(ctx.dtype), ctx.dtype, reverse=True)
        if grad.is_complex() and not ctx.x_dtype.is_complex:
            grad = grad.real
        return grad.to(ctx.x_dtype), None, None


@numba.njit(cache=True, parallel=True)
def _correlate_kernel(u, s, lags, out):
    """out[r, k] = sum_n conj(s[r, n-k]) u[r, n] for k < lags (gradient of a coefficient)."""
    rows, n_samples = u.shape
    for r in numba.prange(rows):
        for k in range(lags):
            acc = out[r, k]  # zero-initialised by the caller (fixes the accumulator dtype)
            for n in range(k, n_samples):
                acc += np.conj(s[r, n - k]) * u[r, n]
            out[r, k] = acc


@numba.njit(cache=True, parallel=True)
def _input_grad_kernel(b, u, gx):
    """gx[r, n] = sum_k conj(b[r, k]) u[r, n+k]."""
    rows, n_samples = u.shape
    nb = b.shape[1]
    for r in numba.prange(rows):
        for n in range(n_samples):
            acc = gx[r, n]  # zero-initialised by the caller
            for k in range(nb):
                if n + k < n_samples:
                    acc += np.conj(b[r, k]) * u[r, n + k]
            gx[r, n] = acc


def _broadcast_shapes(*shapes) -> tuple[int, ...]:
    """``torch.broadcast_shapes`` without its first-call cost (it imports torch._refs and
    sympy: ~0.3 s of a model's first call)."""
    return tuple(int(n) for n in np.broadcast_shapes(*(tuple(s) for s in shapes)))


class _LFilterCPU(torch.autograd.Function):
    """Rows of (b, a, x) with a[:, 0] == 1, CPU; b, a share the output dtype, x may be real."""

    @staticmethod
    def forward(ctx, b, a, x):
        y = empty_output(*x.shape, dtype=b.dtype)
        _forward_kernel(host_array(b), host_array(a), host_array(x), y.numpy())
        ctx.save_for_backward(b, a, x, y)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        b, a, x, y = ctx.saved_tensors
        g = grad_y.to(y.dtype).contiguous()
        u = empty_output(*g.shape, dtype=g.dtype)
        _adjoint_kernel(host_array(a), g.numpy(), u.numpy())
        un = u.numpy()
        grad_b = grad_a = grad_x = None
        if ctx.needs_input_grad[0]:
            grad_b = torch.zeros_like(b)
            _correlate_kernel(un, host_array(x), b.shape[1], grad_b.numpy())
        if ctx.needs_input_grad[1]:
            grad_a = torch.zeros_like(a)
            _correlate_kernel(un, host_array(y), a.shape[1], grad_a.numpy())
            grad_a = -grad_a
            grad_a[:, 0] = 0  # a[0] is fixed at 1 here; normalisation is differentiated outside
        if ctx.needs_input_grad[2]:
            grad_x = torch.zeros_like(u)
            _input_grad_kernel(host_array(b), un, grad_x.numpy())
            if not x.is_complex():
                grad_x = grad_x.real if grad_x.is_complex() else grad_x
                grad_x = grad_x.to(x.dtype)
        return grad_b, grad_a, grad_x


# ----------------------------------------------------------------------------- FFT path
def _max_pole_radius(a: torch.Tensor) -> float:
    """Largest pole radius over all monic denominators ``a`` (..., na)."""
    a = a.reshape(-1, a.shape[-1])
    na = a.shape[-1]
    if na < 2:
        return 0.0
    # Companion matrices; eigenvalues are the poles.
    comp = torch.zeros(a.shape[0], na - 1, na - 1, dtype=torch.complex128, device=a.device)
    comp[:, 0, :] = -a[:, 1:].detach().to(torch.complex128)
    if na > 2:
        idx = torch.arange(na - 2, device=a.device)
        comp[:, idx + 1, idx] = 1
    return float(torch.linalg.eigvals(comp).abs().max())


def _lfilter_fft(b: torch.Tensor, a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Filtering as multiplication by the sampled transfer function (device-resident).

    The grid length follows from the largest pole radius (computed on the host: this
    explicit method synchronises once per call)."""
    n_samples = x.shape[-1]
    radius = _max_pole_radius(a)
    if radius >= 1.0:
        raise ValueError("lfilter: unstable filter (pole radius >= 1); the FFT path cannot run it")
    eps = torch.finfo(x.real.dtype if x.is_complex() else x.dtype).eps
    tail = 0 if radius == 0 else int(math.ceil(math.log(eps * 1e-2) / math.log(radius)))
    n_fft = 1 << int(math.ceil(math.log2(n_samples + max(tail, b.shape[-1]) + 1)))
    rows = math.prod(_broadcast_shapes(b.shape[:-1], a.shape[:-1], x.shape[:-1]))
    complex_bytes = 2 * torch.empty((), dtype=x.real.dtype if x.is_complex() else x.dtype).element_size()
    need = 4 * rows * n_fft * complex_bytes  # spectra of x, b, a and the product
    if need > FFT_MAX_BYTES:
        raise ValueError(
            f"method='fft' needs a {n_fft}-point grid per row (pole radius {radius:.6f}): "
            f"about {need / 2**30:.1f} GiB for {rows} rows, above FFT_MAX_BYTES = "
            f"{FFT_MAX_BYTES / 2**30:.1f} GiB; use the recursive method (the default)"
        )
    spec = torch.fft.fft(x, n=n_fft) * torch.fft.fft(b, n=n_fft) / torch.fft.fft(a, n=n_fft)
    y = torch.fft.ifft(spec)[..., :n_samples]
    return y if (x.is_complex() or a.is_complex() or b.is_complex()) else y.real


# ------------------------------------------------------------------------------ device path
def _conj_packed(coef: torch.Tensor) -> torch.Tensor:
    """Conjugate packed sections (imaginary parts are the odd entries)."""
    sign = torch.ones(10, dtype=coef.dtype, device=coef.device)
    sign[1::2] = -1
    return coef * sign


class _SectionsDevice(torch.autograd.Function):
    """Fixed sections on the device path: fused cascade forward; the gradient of ``x`` is the
    conjugated cascade run backwards in time (no coefficient gradients)."""

    @staticmethod
    def forward(ctx, x, coef, out_dtype):
        kernels = load_triton_kernels("iir")
        ctx.coef, ctx.out_dtype, ctx.x_dtype = coef, out_dtype, x.dtype
        return kernels.cascade(coef, x, out_dtype)

    @staticmethod
    def backward(ctx, grad_y):
        kernels = load_triton_kernels("iir")
        grad = kernels.cascade(_conj_packed(ctx.coef), grad_y.to(ctx.out_dtype), ctx.out_dtype, reverse=True)
        if grad.is_complex() and not ctx.x_dtype.is_complex:
            grad = grad.real
        return grad.to(ctx.x_dtype), None, None


def _shift_left(u: torch.Tensor, k: int) -> torch.Tensor:
    """``u[..., n + k]`` with zeros past the end."""
    return torch.nn.functional.pad(u[..., k:], (0, k)) if k else u


def _lagged_sum(u: torch.Tensor, s: torch.Tensor, k: int) -> torch.Tensor:
    """``sum_n conj(s[n - k]) u[n]`` per row."""
    n = u.shape[-1]
    return (u[..., k:] * s[..., : n - k].conj()).sum(-1) if k < n else u.new_zeros(u.shape[:-1])


class _SectionDevice(torch.autograd.Function):
    """One section of order <= 2 on the device path, differentiable in ``b``, ``a`` and ``x``
    (rows ``b, a (R, 3)`` monic, ``x (R, T)``): adjoint ``u = A^-H g`` by the Triton kernel
    backwards in time, then the lagged products of the module docstring as torch ops."""

    @staticmethod
    def forward(ctx, b, a, x):
        kernels = load_triton_kernels("iir")
        y = kernels.cascade(kernels.pack_sections(b[:, None], a[:, None]), x, b.dtype)
        ctx.save_for_backward(b, a, x, y)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        kernels = load_triton_kernels("iir")
        b, a, x, y = ctx.saved_tensors
        g = grad_y.to(y.dtype)
        all_pole = kernels.pack_sections(
            torch.nn.functional.pad(torch.ones_like(a[:, :1]), (0, 2))[:, None], a.conj()[:, None]
        )
        u = kernels.cascade(all_pole, g, y.dtype, reverse=True)
        grad_b = grad_a = grad_x = None
        if ctx.needs_input_grad[0]:
            grad_b = torch.stack([_lagged_sum(u, x, k) for k in range(3)], -1).to(b.dtype)
        if ctx.needs_input_grad[1]:
            grad_a = torch.stack([torch.zeros_like(u[:, 0])] + [-_lagged_sum(u, y, k) for k in (1, 2)], -1)
            grad_a = grad_a.to(a.dtype)
        if ctx.needs_input_grad[2]:
            grad_x = sum(b[:, k : k + 1].conj() * _shift_left(u, k) for k in range(3))
            if not x.is_complex() and grad_x.is_complex():
                grad_x = grad_x.real
            grad_x = grad_x.to(x.dtype)
        return grad_b, grad_a, grad_x


def _lfilter_torch(b: torch.Tensor, a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Reference recursion (transposed direct form II) as torch ops over samples; rows
    ``b (R, nb)``, monic ``a (R, na)``, ``x (R, T)``. Any device; autograd differentiates it."""
    order = max(b.shape[-1], a.shape[-1]) - 1
    b = torch.nn.functional.pad(b, (0, order + 1 - b.shape[-1]))
    a = torch.nn.functional.pad(a, (0, order + 1 - a.shape[-1]))
    dtype = torch.promote_types(b.dtype, x.dtype)
    state = [torch.zeros(x.shape[0], dtype=dtype, device=x.device) for _ in range(order)]
    out = []
    for n in range(x.shape[-1]):
        xn = x[:, n]
        yn = b[:, 0] * xn + (state[0] if order else 0)
        for k in range(1, order + 1):
            state[k - 1] = (state[k] if k < order else 0) + b[:, k] * xn - a[:, k] * yn
        out.append(yn)
    return torch.stack(out, -1) if out else x.new_zeros(x.shape, dtype=dtype)


# --------------------------------------------------------------------------------- public
def _promote(coeff_dtype: torch.dtype, x: torch.Tensor) -> tuple[torch.dtype, torch.Tensor]:
    """Common dtype of coefficients and signal, and ``x`` cast for the kernels: a real signal
    stays real under complex coefficients (the kernels mix them directly)."""
    dtype = torch.promote_types(coeff_dtype, x.dtype)
    if not (dtype.is_floating_point or dtype.is_complex):
        dtype = torch.get_default_dtype()
    return dtype, x.to(dtype.to_real() if (dtype.is_complex and not x.is_complex()) else dtype)


def _rows(t: torch.Tensor, lead: torch.Size, n_tail: int) -> torch.Tensor:
    """Broadcast ``t`` to ``lead`` plus its last ``n_tail`` dims, leading dims flattened to rows."""
    tail = t.shape[t.dim() - n_tail :]
    return t.expand(*lead, *tail).reshape(-1, *tail)


def _check_method(method: str) -> None:
    if method not in ("auto", "recursive", "fft"):
        raise ValueError(f"method must be 'auto', 'recursive' or 'fft', got {method!r}")


def lfilter(
    b: torch.Tensor, a: torch.Tensor, x: torch.Tensor, method: str = "auto", backend: str = "auto"
) -> torch.Tensor:
    """Filter ``x`` along its last axis with the rational filter ``b / a`` (zero initial state).

    Args:
        b: numerator coefficients ``(..., nb)``, real or complex.
        a: denominator coefficients ``(..., na)``; ``a[..., 0]`` must be non-zero (checked on
            CPU; on the device path the check would synchronise with the host).
        x: signal ``(..., T)``; leading dims broadcast with those of ``b`` and ``a``.
        method: ``'auto'``/``'recursive'`` (the recursion, run by ``backend``) or ``'fft'``
            (explicit FFT filtering, refused above ``FFT_MAX_BYTES``).
        backend: ``'auto'``, ``'numba'``, ``'triton'`` or ``'torch'``
            (:mod:`workbench.kernels.backend`). On the Triton backend the order is at most
            2 (use :func:`sosfilt` for higher orders).

    Returns:
        ``(broadcast leading dims..., T)``, complex when any input is complex, else the
        promoted real dtype of the inputs.
    """
    _check_method(method)
    b = torch.as_tensor(b, device=x.device)
    a = torch.as_tensor(a, device=x.device)
    if b.dim() == 0 or a.dim() == 0 or b.shape[-1] == 0 or a.shape[-1] == 0:
        raise ValueError("b and a need at least one coefficient along their last axis")
    if x.dim() == 0:
        raise ValueError("x must have a time axis")
    kind = resolve_backend(x, backend)
    dtype, x = _promote(torch.promote_types(b.dtype, a.dtype), x)
    b, a = b.to(dtype), a.to(dtype)
    a0 = a[..., :1]
    if kind == "numba" and bool((a0 == 0).any()):
        raise ValueError("a[..., 0] must be non-zero")
    b, a = b / a0, a / a0
    if method == "fft":
        return _lfilter_fft(b, a, x)
    lead = _broadcast_shapes(b.shape[:-1], a.shape[:-1], x.shape[:-1])
    n_samples = x.shape[-1]
    rows_b, rows_a, rows_x = _rows(b, lead, 1), _rows(a, lead, 1), _rows(x, lead, 1)
    if kind == "numba":
        y = _LFilterCPU.apply(rows_b, rows_a, rows_x)
    elif kind == "triton":
        if max(b.shape[-1], a.shape[-1]) > 3:
            raise ValueError(
                "the Triton lfilter runs filters of order <= 2; split higher orders into "
                "second-order sections (sosfilt) or pass method='fft'"
            )
        pad = lambda c: torch.nn.functional.pad(c, (0, 3 - c.shape[-1]))  # noqa: E731
        y = _SectionDevice.apply(pad(rows_b), pad(rows_a), rows_x)
    else:
        y = _lfilter_torch(rows_b, rows_a, rows_x)
    return y.reshape(*lead, n_samples)


def sosfilt(
    sos: torch.Tensor,
    x: torch.Tensor,
    method: str = "auto",
    backend: str = "auto",
    out_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Cascade of second-order sections ``sos`` ``(..., n_sections, 6)`` = ``[b0 b1 b2 a0 a1 a2]``.

    Leading dims of ``sos`` (without the section axis) broadcast against those of ``x``.
    Running high-order filters as sections keeps them stable in float32. When no gradient
    reaches the coefficients, all sections run fused in one pass over time (numba on CPU,
    Triton on the device path; same arithmetic as section by section); otherwise each
    section goes through :func:`lfilter` for autograd. The fused paths are differentiable in
    ``x`` (the adjoint is the conjugated cascade run backwards in time). ``method``/``backend``
    as :func:`lfilter`. ``out_dtype``: dtype of the result (default: the promoted dtype of
    ``sos`` and ``x``), e.g. float64 sections on a float32 signal that should come back in
    float32: the same as ``.to(out_dtype)`` afterwards, without the float64 intermediate.

    >>> import torch
    >>> sos = torch.tensor([[0.5, 0.5, 0.0, 1.0, 0.0, 0.0]] * 2, dtype=torch.float64)
    >>> sosfilt(sos, torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64))
    tensor([0.2500, 0.5000, 0.2500], dtype=torch.float64)
    """
    _check_method(method)
    sos = torch.as_tensor(sos, device=x.device)
    if sos.dim() < 2 or sos.shape[-1] != 6:
        raise ValueError(f"sos must have shape (..., n_sections, 6), got {tuple(sos.shape)}")
    kind = resolve_backend(x, backend)
    grad_on = torch.is_grad_enabled()
    sos_grad = grad_on and sos.requires_grad
    if method != "fft" and not sos_grad and kind != "torch":
        if kind == "numba":
            return _sosfilt_fused(sos, x, out_dtype)
        if kind == "triton":
            y = _sosfilt_device(sos, x)
            return y if out_dtype is None else y.to(out_dtype)
    y = x
    for k in range(sos.shape[-2]):
        section = sos[..., k, :]
        y = lfilter(section[..., :3], section[..., 3:], y, method=method, backend=backend)
    return y if out_dtype is None else y.to(out_dtype)


def _sosfilt_fused(sos: torch.Tensor, x: torch.Tensor, out_dtype: torch.dtype | None = None) -> torch.Tensor:
    dtype = torch.promote_types(sos.dtype, x.dtype)
    if not (dtype.is_floating_point or dtype.is_complex):
        dtype = torch.get_default_dtype()
    sos = sos.to(dtype)
    a0 = sos[..., 3:4]
    if bool((a0 == 0).any()):
        raise ValueError("every section needs a0 != 0")
    sos = sos / a0
    lead = _broadcast_shapes(sos.shape[:-2], x.shape[:-1])
    rows = _rows(sos, lead, 2)
    if not (x.is_floating_point() or x.is_complex()) or x.is_complex() and not dtype.is_complex:
        x = x.to(dtype)
    if torch.is_grad_enabled() and x.requires_grad:
        y = _SectionsCPU.apply(_rows(x, lead, 1), rows, dtype)
        return y.reshape(*lead, x.shape[-1]) if out_dtype is None else y.reshape(*lead, x.shape[-1]).to(out_dtype)
    # float rows are read in their dtype (the kernel converts them to float64 exactly) and
    # broadcast input rows are read in place, through an index
    x_rows = x.reshape(-1, x.shape[-1])
    index = torch.arange(x_rows.shape[0]).reshape(x.shape[:-1]).expand(lead).reshape(-1).numpy()
    y = _run_cascade(rows, x_rows, dtype, x_index=index, out_dtype=out_dtype)
    return y.reshape(*lead, x.shape[-1])


def _sosfilt_device(sos: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Fused Triton cascade for coefficients without gradient (``a0`` is not checked here:
    the check would synchronise with the host)."""
    dtype, x = _promote(sos.dtype, x)
    sos = sos.to(dtype)
    sos = sos / sos[..., 3:4]
    lead = _broadcast_shapes(sos.shape[:-2], x.shape[:-1])
    rows = _rows(sos, lead, 2)
    coef = load_triton_kernels("iir").pack_sections(rows[..., :3], rows[..., 3:])
    y = _SectionsDevice.apply(_rows(x, lead, 1), coef, dtype)
    return y.reshape(*lead, x.shape[-1])


def section(b: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Pack a first- or second-order filter ``b (..., <=3)``, ``a (..., <=3)`` as an sos row ``(..., 6)``."""
    if b.shape[-1] > 3 or a.shape[-1] > 3:
        raise ValueError("section() takes filters of order <= 2")
    lead = _broadcast_shapes(b.shape[:-1], a.shape[:-1])
    dtype = torch.promote_types(b.dtype, a.dtype)
    row = torch.zeros(*lead, 6, dtype=dtype, device=b.device)
    row[..., : b.shape[-1]] = b
    row[..., 3 : 3 + a.shape[-1]] = a
    return row
