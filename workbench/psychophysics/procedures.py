"""Psychophysical procedures: n-AFC trials, transformed up-down staircases, the method of
constant stimuli and maximum-likelihood psychometric-function fits.

Everything here is model-agnostic: a procedure asks a *respond* callable for the outcome of
trials at given values of the tracked variable (``respond(values) -> bool array``, True =
correct). Many independent runs are advanced in lock-step, so one call of ``respond`` covers
one trial of every active run; an experiment turns that into one batch through the model.

The staircase follows the transformed up-down method of Levitt (1971, J. Acoust. Soc. Am.
49, 467-477): ``n_down`` consecutive correct answers lower the variable, ``n_up`` wrong
answers raise it, converging on p = 0.5 ** (n_up / n_down) correct (1-up-2-down: 70.7 %,
1-up-3-down: 79.4 %). Its parameters map onto AMT's ``amt_emuexp``/``emuexp`` ('intnum',
'rule', 'expvarstart', 'expvarstepstart', 'expvarsteprule', 'stepmin'), see
:meth:`Staircase.from_amt`. Differences from AMT, on purpose: the step changes at the
reversal itself (AMT waits for the next correct answer), and the threshold statistic is the
mean of the last K reversals at the smallest step (AMT: median of all of them; pass
``statistic='median'`` for AMT's choice).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import optimize, special

from workbench._validation import check_choice, check_positive
from workbench._validation import check_int as _check_int

SHAPES = ("logistic", "weibull")


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


# --------------------------------------------------------------------------- psychometric fn
def psychometric(x, threshold: float, slope: float, *, shape: str = "logistic",
                 guess: float = 0.5, lapse: float = 0.0) -> np.ndarray:
    """Probability correct ``guess + (1 - guess - lapse) * F(x)``.

    ``logistic``: F = 1 / (1 + exp(-slope (x - threshold))), x in any unit (often dB), F = 0.5
    at the threshold. ``weibull``: F = 1 - exp(-(x / threshold) ** slope) for x > 0 (linear
    units, e.g. modulation depth m), F = 1 - 1/e at the threshold.
    """
    x = np.asarray(x, dtype=float)
    if shape == "logistic":
        core = special.expit(slope * (x - threshold))
    elif shape == "weibull":
        if np.any(x <= 0):
            raise ValueError("x must be > 0 for the Weibull psychometric function (use linear units)")
        core = -np.expm1(-(x / threshold) ** slope)
    else:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
    return guess + (1.0 - guess - lapse) * core


def psychometric_inverse(p, threshold: float, slope: float, *, shape: str = "logistic",
                         guess: float = 0.5, lapse: float = 0.0) -> np.ndarray:
    """Value of the variable at which :func:`psychometric` equals ``p`` (guess < p < 1-lapse)."""
    p = np.asarray(p, dtype=float)
    if np.any((p <= guess) | (p >= 1.0 - lapse)):
        raise ValueError(f"p must lie strictly between guess={guess} and 1-lapse={1 - lapse}")
    core = (p - guess) / (1.0 - guess - lapse)
    if shape == "logistic":
        return threshold + special.logit(core) / slope
    check_choice(shape, SHAPES, "shape")
    return threshold * (-np.log1p(-core)) ** (1.0 / slope)


def levitt_target(n_down: int, n_up: int = 1) -> float:
    """Percent-correct point a transformed up-down rule converges on (Levitt 1971), as fraction."""
    return 0.5 ** (n_up / n_down)


class PsychometricObserver:
    """Simulated listener with a known psychometric function, for testing procedures.

    ``respond(values)`` returns a Bernoulli draw per value with probability
    :func:`psychometric` (guess = 1 / n_alternatives).
    """

    def __init__(self, threshold: float, slope: float, *, shape: str = "logistic",
                 n_alternatives: int = 2, lapse: float = 0.0, seed=None):
        self.n_alternatives = _check_int(n_alternatives, "n_alternatives", 2)
        self.shape = check_choice(shape, SHAPES, "shape")
        self.params = dict(threshold=float(threshold), slope=check_positive(slope, "slope"),
                           shape=shape, guess=1.0 / self.n_alternatives, lapse=float(lapse))
        self.rng = _rng(seed)

    def p_correct(self, values) -> np.ndarray:
        return psychometric(values, **self.params)

    def respond(self, values) -> np.ndarray:
        return self.rng.random(np.shape(values)) < self.p_correct(values)

    __call__ = respond


# --------------------------------------------------------------------------- n-AFC trials
def afc_positions(n_trials: int, n_intervals: int, seed=None) -> np.ndarray:
    """Random target interval (0-based) for each of ``n_trials`` n-AFC trials, uniform, seedable."""
    _check_int(n_intervals, "n_intervals", 2)
    _check_int(n_trials, "n_trials", 0)
    return _rng(seed).integers(0, n_intervals, size=n_trials)


def arrange_intervals(target, references, positions):
    """Place each trial's target among its references.

    target ``(n_trials, T)``, references ``(n_trials, n_intervals - 1, T)`` (numpy or torch),
    positions ``(n_trials,)`` 0-based -> ``(n_trials, n_intervals, T)``: row ``i`` holds the
    references in order with the target inserted at ``positions[i]``.
    """
    import torch

    target = torch.as_tensor(target)
    references = torch.as_tensor(references, dtype=target.dtype, device=target.device)
    if references.dim() != 3 or target.dim() != 2 or references.shape[0] != target.shape[0] \
            or references.shape[2] != target.shape[1]:
        raise ValueError("target must be (n_trials, T) and references (n_trials, n_intervals-1, T); "
                         f"got {tuple(target.shape)} and {tuple(references.shape)}")
    n_trials, n_ref, _ = references.shape
    pos = torch.as_tensor(np.asarray(positions), device=target.device).long()
    if pos.shape != (n_trials,) or bool(((pos < 0) | (pos > n_ref)).any()):
        raise ValueError(f"positions must be ({n_trials},) integers in [0, {n_ref}]")
    out = torch.empty((n_trials, n_ref + 1, target.shape[1]), dtype=target.dtype, device=target.device)
    slot = torch.arange(n_ref + 1, device=target.device)[None, :]
    is_target = slot == pos[:, None]
    # reference k goes to slot k when k < position, else to slot k + 1
    ref_slot = torch.arange(n_ref, device=target.device)[None, :] + (
        torch.arange(n_ref, device=target.device)[None, :] >= pos[:, None]).long()
    out[is_target] = target
    rows = torch.arange(n_trials, device=target.device)[:, None].expand(-1, n_ref)
    out[rows, ref_slot] = references
    return out


# --------------------------------------------------------------------------- staircase
@dataclass(frozen=True)
class Staircase:
    """Transformed up-down staircase (Levitt 1971) on a variable where *lower is harder*.

    start_value: first value of the tracked variable (AMT 'expvarstart').
    n_down, n_up: consecutive correct / wrong answers that lower / raise it (AMT 'rule' =
        [n_down n_up]).
    step_sizes: step sizes in order; the next one is used after ``reversals_per_step``
        reversals (AMT: 'expvarstepstart' times 'expvarsteprule(1)' to the power k until
        'stepmin(1)'; 'expvarsteprule(2)' = reversals_per_step).
    n_final_reversals: stop after this many reversals at the smallest step (AMT 'stepmin(2)').
    n_threshold_reversals: threshold = statistic of the last K of those (None: all).
    statistic: 'mean' (Levitt) or 'median' (AMT's emuexp).
    bounds: valid range of the variable (e.g. 20 log m <= 0). A step past a bound is clamped
        to it; ``max_bound_hits`` consecutive clamped steps stop the run with status
        'upper_bound'/'lower_bound' and a NaN threshold (the observer cannot do the task in
        the valid range, or does it perfectly at the floor).
    max_trials: safety stop (status 'max_trials', threshold from the reversals so far).
    """

    start_value: float
    n_down: int = 2
    n_up: int = 1
    step_sizes: tuple = (8.0, 4.0, 2.0, 1.0)
    reversals_per_step: int = 2
    n_final_reversals: int = 12
    n_threshold_reversals: int | None = 8
    statistic: str = "mean"
    bounds: tuple = (-math.inf, math.inf)
    max_bound_hits: int = 3
    max_trials: int = 400

    def __post_init__(self):
        if isinstance(self.start_value, bool) or not isinstance(self.start_value, (int, float)) \
                or not math.isfinite(self.start_value):
            raise ValueError(f"start_value must be a finite number, got {self.start_value!r}")
        _check_int(self.n_down, "n_down", 1)
        _check_int(self.n_up, "n_up", 1)
        steps = tuple(float(check_positive(s, "step_sizes[i]")) for s in self.step_sizes)
        if not steps:
            raise ValueError("step_sizes must hold at least one positive step")
        object.__setattr__(self, "step_sizes", steps)
        _check_int(self.reversals_per_step, "reversals_per_step", 1)
        _check_int(self.n_final_reversals, "n_final_reversals", 1)
        if self.n_threshold_reversals is not None:
            k = _check_int(self.n_threshold_reversals, "n_threshold_reversals", 1)
            if k > self.n_final_reversals:
                raise ValueError(f"n_threshold_reversals ({k}) must be <= n_final_reversals "
                                 f"({self.n_final_reversals})")
        check_choice(self.statistic, ("mean", "median"), "statistic")
        lo, hi = (float(b) for b in self.bounds)
        if not lo < hi or not lo <= self.start_value <= hi:
            raise ValueError(f"bounds must satisfy lower < upper with start_value inside, got "
                             f"bounds={self.bounds}, start_value={self.start_value}")
        object.__setattr__(self, "bounds", (lo, hi))
        _check_int(self.max_bound_hits, "max_bound_hits", 1)
        _check_int(self.max_trials, "max_trials", 1)

    @property
    def target_p(self) -> float:
        return levitt_target(self.n_down, self.n_up)

    @classmethod
    def from_amt(cls, *, rule=(2, 1), expvarstart, expvarstepstart=8.0, expvarsteprule=(0.5, 2),
                 stepmin=(1.0, 8), **kwargs) -> Staircase:
        """Build from AMT ``emuexp`` 'expinit' values (intnum belongs to the experiment)."""
        factor, turns = expvarsteprule
        if not 0 < factor < 1:
            raise ValueError(f"expvarsteprule[0] must be in (0, 1), got {factor}")
        steps, step = [], float(expvarstepstart)
        while step > stepmin[0] * (1 + 1e-9):
            steps.append(step)
            step *= factor
        steps.append(float(stepmin[0]))
        return cls(start_value=float(expvarstart), n_down=int(rule[0]), n_up=int(rule[1]),
                   step_sizes=tuple(steps), reversals_per_step=int(turns),
                   n_final_reversals=int(stepmin[1]), statistic=kwargs.pop("statistic", "median"),
                   **kwargs)

    def to_dict(self) -> dict:
        return asdict(self)

    def run(self, respond, n_runs: int = 1) -> StaircaseResult:
        """Run ``n_runs`` independent tracks in lock-step; ``respond(values) -> bool array``."""
        return run_staircase(self, respond, n_runs)


@dataclass
class StaircaseResult:
    """Per-run outcome: thresholds ``(n_runs,)`` (NaN when stopped at a bound), status strings,
    and for each run the tracked values, correctness and reversal values."""

    thresholds: np.ndarray
    status: list
    values: list
    correct: list
    reversals: list
    procedure: Staircase = field(repr=False)

    @property
    def n_trials(self) -> np.ndarray:
        return np.array([len(v) for v in self.values])

    def summary(self) -> dict:
        ok = np.isfinite(self.thresholds)
        t = self.thresholds[ok]
        return dict(threshold_mean=float(t.mean()) if t.size else math.nan,
                    threshold_sd=float(t.std(ddof=1)) if t.size > 1 else math.nan,
                    n_runs=len(self.thresholds), n_converged=int(ok.sum()),
                    mean_trials=float(self.n_trials.mean()))


def run_staircase(procedure: Staircase, respond, n_runs: int = 1) -> StaircaseResult:
    """Advance ``n_runs`` staircases together; see :class:`Staircase`."""
    p = procedure
    if not isinstance(p, Staircase):
        raise TypeError(f"procedure must be a Staircase, got {type(p).__name__}")
    n = _check_int(n_runs, "n_runs", 1)
    steps = np.asarray(p.step_sizes)
    last_step = len(steps) - 1
    lo, hi = p.bounds
    value = np.full(n, float(p.start_value))
    n_right = np.zeros(n, int)
    n_wrong = np.zeros(n, int)
    direction = np.zeros(n, int)          # last move: -1 down, +1 up, 0 none yet
    step_idx = np.zeros(n, int)
    rev_since_step = np.zeros(n, int)
    bound_hits = np.zeros(n, int)
    active = np.ones(n, bool)
    status = ["running"] * n
    values = [[] for _ in range(n)]
    correct_hist = [[] for _ in range(n)]
    reversals = [[] for _ in range(n)]
    final_revs = [[] for _ in range(n)]

    while active.any():
        idx = np.flatnonzero(active)
        v = value[idx]
        ok = np.asarray(respond(v.copy()), dtype=bool).reshape(-1)
        if ok.shape != idx.shape:
            raise ValueError(f"respond must return one bool per value ({idx.size}), got {ok.shape}")
        for j, i in enumerate(idx):
            values[i].append(v[j])
            correct_hist[i].append(bool(ok[j]))
        n_right[idx] = np.where(ok, n_right[idx] + 1, 0)
        n_wrong[idx] = np.where(ok, 0, n_wrong[idx] + 1)
        move = np.where(n_right[idx] >= p.n_down, -1, np.where(n_wrong[idx] >= p.n_up, 1, 0))
        n_right[idx[move != 0]] = 0
        n_wrong[idx[move != 0]] = 0
        is_rev = (move != 0) & (direction[idx] != 0) & (move != direction[idx])
        for j in np.flatnonzero(is_rev):
            i = idx[j]
            reversals[i].append(v[j])
            if step_idx[i] == last_step:
                final_revs[i].append(v[j])
            else:
                rev_since_step[i] += 1
                if rev_since_step[i] >= p.reversals_per_step:
                    step_idx[i] += 1
                    rev_since_step[i] = 0
        moved = move != 0
        direction[idx[moved]] = move[moved]
        new = v + move * steps[step_idx[idx]]
        clamped = (new > hi) | (new < lo)
        bound_hits[idx] = np.where(clamped, bound_hits[idx] + 1, np.where(moved, 0, bound_hits[idx]))
        value[idx] = np.clip(new, lo, hi)
        for j, i in enumerate(idx):
            if len(final_revs[i]) >= p.n_final_reversals:
                status[i], active[i] = "converged", False
            elif bound_hits[i] >= p.max_bound_hits:
                status[i] = "upper_bound" if new[j] > hi else "lower_bound"
                active[i] = False
            elif len(values[i]) >= p.max_trials:
                status[i], active[i] = "max_trials", False

    stat = np.mean if p.statistic == "mean" else np.median
    k = p.n_threshold_reversals or p.n_final_reversals
    thresholds = np.array([stat(r[-k:]) if s in ("converged", "max_trials") and r else math.nan
                           for r, s in zip(final_revs, status)])
    bad = [s for s in status if s != "converged"]
    if bad:
        kinds = {s: bad.count(s) for s in set(bad)}
        warnings.warn(f"{len(bad)} of {n} staircase runs did not converge: {kinds}. 'upper_bound': "
                      f"the observer failed at the largest allowed value {hi:g} (threshold NaN); "
                      f"'lower_bound': perfect at the smallest allowed value {lo:g} (threshold NaN); "
                      f"'max_trials': stopped after {p.max_trials} trials.", RuntimeWarning,
                      stacklevel=2)
    return StaircaseResult(thresholds, status, [np.asarray(x) for x in values],
                           [np.asarray(x) for x in correct_hist],
                           [np.asarray(x) for x in reversals], p)


# --------------------------------------------------------------------------- constant stimuli
def constant_stimuli(values, n_trials: int, respond, *, seed=None, batch_size: int | None = None) -> dict:
    """Method of constant stimuli: ``n_trials`` trials at each value, presented in random order.

    ``respond(values) -> bool array`` is called in chunks of ``batch_size`` trials (default:
    all at once). Returns ``{'values', 'n_correct', 'n_trials'}`` arrays, one entry per value.
    """
    values = np.asarray(values, dtype=float).reshape(-1)
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError("values must be a non-empty array of finite numbers")
    n_trials = _check_int(n_trials, "n_trials", 1)
    order = _rng(seed).permutation(np.repeat(np.arange(values.size), n_trials))
    size = order.size if batch_size is None else _check_int(batch_size, "batch_size", 1)
    correct = np.concatenate([np.asarray(respond(values[order[s:s + size]]), bool).reshape(-1)
                              for s in range(0, order.size, size)])
    if correct.size != order.size:
        raise ValueError("respond must return one bool per value")
    n_correct = np.bincount(order, weights=correct, minlength=values.size).astype(int)
    return dict(values=values, n_correct=n_correct, n_trials=np.full(values.size, n_trials))


# --------------------------------------------------------------------------- ML fit
@dataclass
class PsychometricFit:
    """Maximum-likelihood fit; ``threshold`` is the psychometric function's location parameter
    (logistic: F = 0.5; Weibull: F = 1 - 1/e); CIs are parametric-bootstrap percentiles."""

    threshold: float
    slope: float
    lapse: float
    guess: float
    shape: str
    log_likelihood: float
    threshold_ci: tuple = (math.nan, math.nan)
    slope_ci: tuple = (math.nan, math.nan)
    bootstrap: np.ndarray | None = field(default=None, repr=False)

    def __call__(self, x) -> np.ndarray:
        return psychometric(x, self.threshold, self.slope, shape=self.shape, guess=self.guess,
                            lapse=self.lapse)

    def value_at(self, p: float) -> float:
        """Value of the variable at which the fitted function gives ``p`` correct."""
        return float(psychometric_inverse(p, self.threshold, self.slope, shape=self.shape,
                                          guess=self.guess, lapse=self.lapse))


def _ml_fit(x, k, n, shape, guess, lapse_max, fit_lapse, start, log_slopes):
    # unconstrained parameters: threshold (log threshold for Weibull), log slope, logit lapse;
    # Nelder-Mead needs no gradients and is fast for three parameters
    def unpack(theta):
        thr = theta[0] if shape == "logistic" else math.exp(theta[0])
        lapse = lapse_max * special.expit(theta[2]) if fit_lapse else lapse_max
        return thr, math.exp(theta[1]), lapse

    def nll(theta):
        if abs(theta[1]) > 30:
            return np.inf
        thr, slope, lapse = unpack(theta)
        pc = np.clip(psychometric(x, thr, slope, shape=shape, guess=guess, lapse=lapse), 1e-12, 1 - 1e-12)
        return -np.sum(k * np.log(pc) + (n - k) * np.log1p(-pc))

    thr0 = start if shape == "logistic" else math.log(start)
    best = None
    for log_slope in log_slopes:
        theta0 = [thr0, log_slope] + ([-2.0] if fit_lapse else [])
        res = optimize.minimize(nll, theta0, method="Nelder-Mead",
                                options=dict(xatol=1e-5, fatol=1e-7, maxiter=2000))
        if best is None or res.fun < best.fun:
            best = res
    thr, slope, lapse = unpack(best.x)
    return thr, slope, lapse, -best.fun


def fit_psychometric(values, n_correct, n_trials, *, shape: str = "logistic",
                     n_alternatives: int = 2, lapse: float | str = "fit", max_lapse: float = 0.06,
                     n_bootstrap: int = 200, ci: float = 0.95, seed=None) -> PsychometricFit:
    """Maximum-likelihood fit of :func:`psychometric` to binomial data.

    values, n_correct, n_trials: one entry per stimulus value (e.g. from
    :func:`constant_stimuli`). Guess rate = 1 / n_alternatives. ``lapse='fit'`` estimates the
    lapse rate in [0, max_lapse] (Wichmann & Hill 2001); a number fixes it. Confidence
    intervals: parametric bootstrap with ``n_bootstrap`` simulated data sets (0 = none).
    """
    x = np.asarray(values, float).reshape(-1)
    k = np.asarray(n_correct, float).reshape(-1)
    n = np.asarray(n_trials, float).reshape(-1)
    if not (x.size == k.size == n.size) or x.size < 2:
        raise ValueError("values, n_correct and n_trials must have the same length >= 2")
    if np.any(n < 1) or np.any(k < 0) or np.any(k > n) or not np.all(np.isfinite(x)):
        raise ValueError("need finite values, n_trials >= 1 and 0 <= n_correct <= n_trials")
    check_choice(shape, SHAPES, "shape")
    guess = 1.0 / _check_int(n_alternatives, "n_alternatives", 2)
    fit_lapse = isinstance(lapse, str)
    if fit_lapse:
        check_choice(lapse, ("fit",), "lapse")
        lapse_val = check_positive(max_lapse, "max_lapse")
    else:
        lapse_val = check_positive(lapse, "lapse", allow_zero=True)
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    n_bootstrap = _check_int(n_bootstrap, "n_bootstrap", 0)
    # start: value closest to halfway between guess and 1, slope spanning the tested range
    mid = (1 + guess) / 2
    start_thr = x[np.argmin(np.abs(k / n - mid))]
    span = np.ptp(x) or 1.0
    log_slope = math.log(4.0 / span if shape == "logistic" else 2.0)
    # two starting slopes: the likelihood is not convex
    thr, slope, lap, ll = _ml_fit(x, k, n, shape, guess, lapse_val, fit_lapse, start_thr,
                                  (log_slope - 1.0, log_slope + 1.0))
    fit = PsychometricFit(thr, slope, lap, guess, shape, ll)
    if n_bootstrap:
        rng = _rng(seed)
        p_fit = fit(x)
        boot = np.array([_ml_fit(x, rng.binomial(n.astype(int), p_fit).astype(float), n, shape, guess,
                                 lapse_val, fit_lapse, thr, (math.log(slope),))[:2]
                         for _ in range(n_bootstrap)])
        q = [(1 - ci) / 2 * 100, (1 + ci) / 2 * 100]
        fit.threshold_ci = tuple(np.percentile(boot[:, 0], q))
        fit.slope_ci = tuple(np.percentile(boot[:, 1], q))
        fit.bootstrap = boot
    return fit
