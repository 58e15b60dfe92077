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

from workbench._messages import choice as check_choice
from workbench._messages import show as _show

SHAPES = ("logistic", "weibull")


MAX_TRIALS = 100_000
"""Hard bound on the trials of one staircase run (``Staircase.max_trials``)."""
MAX_TOTAL_TRIALS = 10_000_000
"""Hard bound on the trials one procedure call simulates (runs x trials, values x trials)."""
MAX_STEPS = 64
"""Hard bound on the number of step sizes of a staircase."""
MAX_REVERSALS = 1000
"""Hard bound on ``n_final_reversals`` and ``reversals_per_step``."""


def _check_int(value, name: str, minimum: int, maximum: int | None = None) -> int:
    rng = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer {rng}, got {type(value).__name__}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an integer {rng}, got {value}")
    return int(value)


def _check_real(
    value,
    name: str,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
) -> float:
    """A real number (Python or numpy scalar) in [low, high] (open ends as flagged)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
    if (
        math.isnan(value)
        or (math.isinf(value) and not allow_inf)
        or (value <= low if low_open else value < low)
        or (value >= high if high_open else value > high)
    ):
        finite = "" if allow_inf else "finite, "
        raise ValueError(f"{name} must be {finite}in {lo}{low:g}, {high:g}{hi}, got {value}")
    return value


def _array(values, name: str) -> np.ndarray:
    """A 1-D float array of real numbers (no strings, objects or complex numbers)."""
    try:
        a = np.asarray(values)
    except Exception:  # noqa: BLE001 - re-raised naming the argument
        raise TypeError(f"{name} must be a sequence of numbers") from None
    if (
        a.dtype == object
        or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool)
        or np.issubdtype(a.dtype, np.complexfloating)
    ):
        raise TypeError(f"{name} must be a sequence of real numbers, got dtype {a.dtype}")
    return a.astype(float).reshape(-1)


def _responses(result, n: int) -> np.ndarray:
    """``respond``'s answer as a bool array of length ``n`` (True/1 = correct, False/0 = wrong)."""
    r = np.asarray(result)
    if r.dtype != bool:
        if r.dtype == object or not np.issubdtype(r.dtype, np.number) or r.size and not np.all((r == 0) | (r == 1)):
            raise TypeError(f"respond must return booleans (True = correct), one per value; got dtype {r.dtype}")
        r = r.astype(bool)
    r = r.reshape(-1)
    if r.shape != (n,):
        raise ValueError(f"respond must return one bool per value ({n}), got shape {np.shape(result)}")
    return r


def _rng(seed) -> np.random.Generator:
    """``seed``: None, an integer >= 0 or a ``numpy.random.Generator``."""
    if seed is None or isinstance(seed, np.random.Generator):
        return np.random.default_rng(seed) if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed must be None, an integer >= 0 or a numpy.random.Generator, got {_show(seed)}")
    return np.random.default_rng(int(seed))


def _sequence(value, name: str, what: str) -> tuple:
    """A 1-D sequence (list, tuple, 1-D array) as a tuple; anything else is a TypeError."""
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__") or getattr(value, "ndim", 1) != 1:
        raise TypeError(f"{name} must be {what}, got {_show(value)}")
    return tuple(v.item() if hasattr(v, "item") and getattr(v, "ndim", 1) == 0 else v for v in value)


# --------------------------------------------------------------------------- psychometric fn
def psychometric(
    x, threshold: float, slope: float, *, shape: str = "logistic", guess: float = 0.5, lapse: float = 0.0
) -> np.ndarray:
    """Probability correct ``guess + (1 - guess - lapse) * F(x)``.

    ``logistic``: F = 1 / (1 + exp(-slope (x - threshold))), x in any unit (often dB), F = 0.5
    at the threshold. ``weibull``: F = 1 - exp(-(x / threshold) ** slope) for x > 0 (linear
    units, e.g. modulation depth m), F = 1 - 1/e at the threshold.
    """
    threshold, slope, guess, lapse = _check_function(shape, threshold, slope, guess, lapse)
    x = _array(x, "x").reshape(np.shape(x))
    if np.isnan(x).any():
        raise ValueError("x must not contain NaN")
    if shape == "weibull" and np.any(x <= 0):
        raise ValueError("x must be > 0 for the Weibull psychometric function (use linear units)")
    return _psychometric(x, threshold, slope, shape, guess, lapse)


def _check_function(shape, threshold, slope, guess, lapse):
    """Parameters of a psychometric function: p stays in [guess, 1 - lapse] within [0, 1]."""
    check_choice(shape, SHAPES, "shape")
    threshold = _check_real(
        threshold, "threshold", low=0.0 if shape == "weibull" else -math.inf, low_open=shape == "weibull"
    )
    slope = _check_real(slope, "slope", low=0.0, low_open=True)
    guess = _check_real(guess, "guess", low=0.0, high=1.0, high_open=True)
    lapse = _check_real(lapse, "lapse (below 1 - guess)", low=0.0, high=1.0 - guess, high_open=True)
    return threshold, slope, guess, lapse


def _psychometric(x, threshold, slope, shape, guess, lapse):
    # unchecked: the fit calls this thousands of times with checked parameters
    if shape == "logistic":
        core = special.expit(slope * (x - threshold))
    else:
        with np.errstate(over="ignore"):
            core = -np.expm1(-((x / threshold) ** slope))
    return np.clip(guess + (1.0 - guess - lapse) * core, 0.0, 1.0)


def psychometric_inverse(
    p, threshold: float, slope: float, *, shape: str = "logistic", guess: float = 0.5, lapse: float = 0.0
) -> np.ndarray:
    """Value of the variable at which :func:`psychometric` equals ``p`` (guess < p < 1-lapse)."""
    threshold, slope, guess, lapse = _check_function(shape, threshold, slope, guess, lapse)
    p = _array(p, "p").reshape(np.shape(p))
    if not np.all((p > guess) & (p < 1.0 - lapse)):  # NaN fails this too
        raise ValueError(f"p must lie strictly between guess={guess} and 1-lapse={1 - lapse}")
    core = (p - guess) / (1.0 - guess - lapse)
    if shape == "logistic":
        return threshold + special.logit(core) / slope
    return threshold * (-np.log1p(-core)) ** (1.0 / slope)


def levitt_target(n_down: int, n_up: int = 1) -> float:
    """Percent-correct point a transformed up-down rule converges on (Levitt 1971), as fraction.

    ``n_down``, ``n_up``: integers >= 1 (consecutive correct / wrong answers per step).
    """
    n_down = _check_int(n_down, "n_down", 1, 100)
    n_up = _check_int(n_up, "n_up", 1, 100)
    return 0.5 ** (n_up / n_down)


class PsychometricObserver:
    """Simulated listener with a known psychometric function, for testing procedures.

    ``respond(values)`` returns a Bernoulli draw per value with probability
    :func:`psychometric` (guess = 1 / n_alternatives).
    """

    def __init__(
        self,
        threshold: float,
        slope: float,
        *,
        shape: str = "logistic",
        n_alternatives: int = 2,
        lapse: float = 0.0,
        seed=None,
    ):
        self.n_alternatives = _check_int(n_alternatives, "n_alternatives", 2, 100)
        self.shape = check_choice(shape, SHAPES, "shape")
        thr, slope, guess, lapse = _check_function(shape, threshold, slope, 1.0 / self.n_alternatives, lapse)
        self.params = dict(threshold=thr, slope=slope, shape=shape, guess=guess, lapse=lapse)
        self.rng = _rng(seed)

    def p_correct(self, values) -> np.ndarray:
        return psychometric(values, **self.params)

    def respond(self, values) -> np.ndarray:
        p = self.p_correct(values)
        return self.rng.random(np.shape(p)) < p

    __call__ = respond


# --------------------------------------------------------------------------- n-AFC trials
def afc_positions(n_trials: int, n_intervals: int, seed=None) -> np.ndarray:
    """Random target interval (0-based) for each of ``n_trials`` n-AFC trials, uniform, seedable."""
    _check_int(n_intervals, "n_intervals", 2, 100)
    _check_int(n_trials, "n_trials", 0, MAX_TOTAL_TRIALS)
    return _rng(seed).integers(0, n_intervals, size=n_trials)


def arrange_intervals(target, references, positions):
    """Place each trial's target among its references.

    target ``(n_trials, T)``, references ``(n_trials, n_intervals - 1, T)`` (numpy or torch),
    positions ``(n_trials,)`` 0-based -> ``(n_trials, n_intervals, T)``: row ``i`` holds the
    references in order with the target inserted at ``positions[i]``.
    """
    import torch

    from workbench._validation import check_signal

    target = check_signal(target, "target", min_samples=1, max_dims=2)
    references = check_signal(references, "references", min_samples=1, max_dims=3).to(
        dtype=target.dtype, device=target.device
    )
    if (
        references.dim() != 3
        or target.dim() != 2
        or references.shape[0] != target.shape[0]
        or references.shape[2] != target.shape[1]
    ):
        raise ValueError(
            "target must be (n_trials, T) and references (n_trials, n_intervals-1, T); "
            f"got {tuple(target.shape)} and {tuple(references.shape)}"
        )
    n_trials, n_ref, _ = references.shape
    positions = np.asarray(positions)
    if (
        positions.shape != (n_trials,)
        or not np.issubdtype(positions.dtype, np.integer)
        or (positions.size and ((positions < 0) | (positions > n_ref)).any())
    ):
        raise ValueError(
            f"positions must be ({n_trials},) integers in [0, {n_ref}], got "
            f"shape {positions.shape}, dtype {positions.dtype}"
        )
    pos = torch.as_tensor(positions, device=target.device).long()
    out = torch.empty((n_trials, n_ref + 1, target.shape[1]), dtype=target.dtype, device=target.device)
    slot = torch.arange(n_ref + 1, device=target.device)[None, :]
    is_target = slot == pos[:, None]
    # reference k goes to slot k when k < position, else to slot k + 1
    ref_slot = (
        torch.arange(n_ref, device=target.device)[None, :]
        + (torch.arange(n_ref, device=target.device)[None, :] >= pos[:, None]).long()
    )
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
    max_trials: safety stop (status 'max_trials', threshold from the reversals so far); at
        most :data:`MAX_TRIALS`. Every run therefore ends after ``max_trials`` trials at the
        latest, and its reversals are bounded by its trials.

    Every argument is checked on construction (``ValueError``/``TypeError`` naming it and its
    allowed range): steps are finite and > 0 (at most :data:`MAX_STEPS` of them), counts are
    integers in their ranges, ``bounds`` is ``(lower, upper)``.
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
        start = _check_real(self.start_value, "start_value")
        object.__setattr__(self, "start_value", start)
        _check_int(self.n_down, "n_down", 1, 100)
        _check_int(self.n_up, "n_up", 1, 100)
        steps = _sequence(
            self.step_sizes, "step_sizes", "a sequence of finite steps > 0, e.g. (4.0, 2.0, 1.0) or (2.0,)"
        )
        if not 1 <= len(steps) <= MAX_STEPS:
            raise ValueError(f"step_sizes must hold 1 to {MAX_STEPS} steps, got {len(steps)}")
        steps = tuple(_check_real(v, f"step_sizes[{i}]", low=0.0, low_open=True) for i, v in enumerate(steps))
        object.__setattr__(self, "step_sizes", steps)
        _check_int(self.reversals_per_step, "reversals_per_step", 1, MAX_REVERSALS)
        _check_int(self.n_final_reversals, "n_final_reversals", 1, MAX_REVERSALS)
        if self.n_threshold_reversals is not None:
            k = _check_int(self.n_threshold_reversals, "n_threshold_reversals", 1, MAX_REVERSALS)
            if k > self.n_final_reversals:
                raise ValueError(f"n_threshold_reversals ({k}) must be <= n_final_reversals ({self.n_final_reversals})")
        check_choice(self.statistic, ("mean", "median"), "statistic")
        bounds = _sequence(self.bounds, "bounds", "(lower, upper), two numbers (inf allowed)")
        if len(bounds) != 2:
            raise ValueError(f"bounds must be (lower, upper), two numbers (inf allowed), got {_show(bounds)}")
        lo = _check_real(bounds[0], "bounds[0] (lower)", allow_inf=True)
        hi = _check_real(bounds[1], "bounds[1] (upper)", allow_inf=True)
        if not lo < hi or not lo <= start <= hi:
            raise ValueError(
                f"bounds must satisfy lower < upper with start_value inside, got bounds={(lo, hi)}, start_value={start}"
            )
        object.__setattr__(self, "bounds", (lo, hi))
        _check_int(self.max_trials, "max_trials", 1, MAX_TRIALS)
        _check_int(self.max_bound_hits, "max_bound_hits", 1, MAX_TRIALS)

    @property
    def target_p(self) -> float:
        return levitt_target(self.n_down, self.n_up)

    @classmethod
    def from_amt(
        cls, *, rule=(2, 1), expvarstart, expvarstepstart=8.0, expvarsteprule=(0.5, 2), stepmin=(1.0, 8), **kwargs
    ) -> Staircase:
        """Build from AMT ``emuexp`` 'expinit' values (intnum belongs to the experiment).

        rule: (n_down, n_up); expvarstart: start value; expvarstepstart: first step (> 0);
        expvarsteprule: (factor in (0, 1), reversals per step); stepmin: (smallest step, > 0
        and <= expvarstepstart; reversals at it before stopping). At most :data:`MAX_STEPS`
        step sizes result. The threshold statistic ('median' unless given) is taken over all
        reversals at the smallest step, as AMT does (``n_threshold_reversals=None``).
        """
        pairs = {"rule": rule, "expvarsteprule": expvarsteprule, "stepmin": stepmin}
        for name, pair in pairs.items():
            pairs[name] = _sequence(pair, name, "a pair of numbers")
            if len(pairs[name]) != 2:
                raise ValueError(f"{name} must be a pair of numbers, got {_show(pair)}")
        rule, expvarsteprule, stepmin = pairs["rule"], pairs["expvarsteprule"], pairs["stepmin"]
        factor = _check_real(expvarsteprule[0], "expvarsteprule[0]", low=0.0, high=1.0, low_open=True, high_open=True)
        first = _check_real(expvarstepstart, "expvarstepstart", low=0.0, low_open=True)
        smallest = _check_real(stepmin[0], "stepmin[0] (at most expvarstepstart)", low=0.0, high=first, low_open=True)
        steps, step = [], first
        while step > smallest * (1 + 1e-9) and len(steps) < MAX_STEPS:
            steps.append(step)
            step *= factor
        steps.append(smallest)
        if len(steps) > MAX_STEPS:
            raise ValueError(
                f"expvarstepstart={first:g} shrinking by {factor:g} down to stepmin[0]={smallest:g} "
                f"makes more than {MAX_STEPS} step sizes (the most allowed)"
            )
        return cls(
            start_value=_check_real(expvarstart, "expvarstart"),
            n_down=_check_int(rule[0], "rule[0] (n_down)", 1, 100),
            n_up=_check_int(rule[1], "rule[1] (n_up)", 1, 100),
            step_sizes=tuple(steps),
            reversals_per_step=_check_int(expvarsteprule[1], "expvarsteprule[1]", 1, MAX_REVERSALS),
            n_final_reversals=_check_int(stepmin[1], "stepmin[1]", 1, MAX_REVERSALS),
            statistic=kwargs.pop("statistic", "median"),
            n_threshold_reversals=kwargs.pop("n_threshold_reversals", None),
            **kwargs,
        )

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
        return dict(
            threshold_mean=float(t.mean()) if t.size else math.nan,
            threshold_sd=float(t.std(ddof=1)) if t.size > 1 else math.nan,
            n_runs=len(self.thresholds),
            n_converged=int(ok.sum()),
            mean_trials=float(self.n_trials.mean()),
        )


def run_staircase(procedure: Staircase, respond, n_runs: int = 1) -> StaircaseResult:
    """Advance ``n_runs`` staircases together; see :class:`Staircase`."""
    p = procedure
    if not isinstance(p, Staircase):
        raise TypeError(f"procedure must be a Staircase, got {type(p).__name__}")
    n = _check_int(n_runs, "n_runs", 1, MAX_TOTAL_TRIALS // p.max_trials)
    if not callable(respond):
        raise TypeError(f"respond must be callable (values -> bool array), got {type(respond).__name__}")
    steps = np.asarray(p.step_sizes)
    last_step = len(steps) - 1
    lo, hi = p.bounds
    value = np.full(n, float(p.start_value))
    n_right = np.zeros(n, int)
    n_wrong = np.zeros(n, int)
    direction = np.zeros(n, int)  # last move: -1 down, +1 up, 0 none yet
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
        ok = _responses(respond(v.copy()), idx.size)
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
    thresholds = np.array(
        [stat(r[-k:]) if s in ("converged", "max_trials") and r else math.nan for r, s in zip(final_revs, status)]
    )
    bad = [s for s in status if s != "converged"]
    if bad:
        kinds = {s: bad.count(s) for s in set(bad)}
        warnings.warn(
            f"{len(bad)} of {n} staircase runs did not converge: {kinds}. 'upper_bound': "
            f"the observer failed at the largest allowed value {hi:g} (threshold NaN); "
            f"'lower_bound': perfect at the smallest allowed value {lo:g} (threshold NaN); "
            f"'max_trials': stopped after {p.max_trials} trials.",
            RuntimeWarning,
            stacklevel=2,
        )
    return StaircaseResult(
        thresholds,
        status,
        [np.asarray(x) for x in values],
        [np.asarray(x) for x in correct_hist],
        [np.asarray(x) for x in reversals],
        p,
    )


# --------------------------------------------------------------------------- constant stimuli
def constant_stimuli(values, n_trials: int, respond, *, seed=None, batch_size: int | None = None) -> dict:
    """Method of constant stimuli: ``n_trials`` trials at each value, presented in random order.

    ``respond(values) -> bool array`` is called in chunks of ``batch_size`` trials (default:
    all at once). Returns ``{'values', 'n_correct', 'n_trials'}`` arrays, one entry per value.
    """
    values = _array(values, "values")
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError("values must be a non-empty array of finite numbers")
    if values.size > MAX_TOTAL_TRIALS:
        raise ValueError(f"values may hold at most {MAX_TOTAL_TRIALS} entries, got {values.size}")
    n_trials = _check_int(n_trials, "n_trials", 1, MAX_TOTAL_TRIALS // values.size)
    if not callable(respond):
        raise TypeError(f"respond must be callable (values -> bool array), got {type(respond).__name__}")
    size = None if batch_size is None else _check_int(batch_size, "batch_size", 1)
    order = _rng(seed).permutation(np.repeat(np.arange(values.size), n_trials))
    size = order.size if size is None else size
    correct = np.concatenate(
        [_responses(respond(values[order[s : s + size]]), order[s : s + size].size) for s in range(0, order.size, size)]
    )
    n_correct = np.bincount(order, weights=correct, minlength=values.size).astype(int)
    return dict(values=values, n_correct=n_correct, n_trials=np.full(values.size, n_trials))


# --------------------------------------------------------------------------- ML fit
@dataclass
class PsychometricFit:
    """Maximum-likelihood fit; ``threshold`` is the psychometric function's location parameter
    (logistic: F = 0.5; Weibull: F = 1 - 1/e); CIs are parametric-bootstrap percentiles.

    ``reliable`` is False, and ``issues`` says why, when the data cannot pin the function down:
    no psychometric transition in the data (a constant proportion fits as well: all correct,
    all at chance), a threshold outside the tested range, or a degenerate bootstrap CI (zero
    width, or wider than the tested range). :func:`fit_psychometric` then also warns.
    """

    threshold: float
    slope: float
    lapse: float
    guess: float
    shape: str
    log_likelihood: float
    threshold_ci: tuple = (math.nan, math.nan)
    slope_ci: tuple = (math.nan, math.nan)
    bootstrap: np.ndarray | None = field(default=None, repr=False)
    reliable: bool = True
    issues: tuple = ()

    def __call__(self, x) -> np.ndarray:
        return psychometric(x, self.threshold, self.slope, shape=self.shape, guess=self.guess, lapse=self.lapse)

    def value_at(self, p: float) -> float:
        """Value of the variable at which the fitted function gives ``p`` correct."""
        return float(
            psychometric_inverse(p, self.threshold, self.slope, shape=self.shape, guess=self.guess, lapse=self.lapse)
        )


def _ml_fit(x, k, n, shape, guess, lapse_max, fit_lapse, start, log_slopes, log_slope_center=0.0):
    # unconstrained parameters: threshold (log threshold for Weibull), log slope, logit lapse;
    # Nelder-Mead needs no gradients and is fast for three parameters
    def unpack(theta):
        thr = theta[0] if shape == "logistic" else math.exp(theta[0])
        lapse = lapse_max * special.expit(theta[2]) if fit_lapse else lapse_max
        return thr, math.exp(theta[1]), lapse

    thr0 = start if shape == "logistic" else math.log(start)

    def nll(theta):
        # slopes beyond e^+-30 times the data's scale and Weibull thresholds beyond e^+-50 times
        # the start are no fit
        if abs(theta[1] - log_slope_center) > 30 or (shape == "weibull" and abs(theta[0] - thr0) > 50):
            return np.inf
        thr, slope, lapse = unpack(theta)
        pc = np.clip(_psychometric(x, thr, slope, shape, guess, lapse), 1e-12, 1 - 1e-12)
        return -np.sum(k * np.log(pc) + (n - k) * np.log1p(-pc))

    best = None
    for log_slope in log_slopes:
        theta0 = [thr0, log_slope] + ([-2.0] if fit_lapse else [])
        res = optimize.minimize(nll, theta0, method="Nelder-Mead", options=dict(xatol=1e-5, fatol=1e-7, maxiter=2000))
        if best is None or res.fun < best.fun:
            best = res
    thr, slope, lapse = unpack(best.x)
    return thr, slope, lapse, -best.fun


def fit_psychometric(
    values,
    n_correct,
    n_trials,
    *,
    shape: str = "logistic",
    n_alternatives: int = 2,
    lapse: float | str = "fit",
    max_lapse: float = 0.06,
    n_bootstrap: int = 200,
    ci: float = 0.95,
    seed=None,
) -> PsychometricFit:
    """Maximum-likelihood fit of :func:`psychometric` to binomial data.

    values, n_correct, n_trials: one entry per stimulus value (e.g. from
    :func:`constant_stimuli`). Guess rate = 1 / n_alternatives. ``lapse='fit'`` estimates the
    lapse rate in [0, max_lapse] (Wichmann & Hill 2001); a number fixes it. Confidence
    intervals: parametric bootstrap with ``n_bootstrap`` simulated data sets (0 = none).
    """
    x = _array(values, "values")
    k = _array(n_correct, "n_correct")
    n = _array(n_trials, "n_trials")
    if not (x.size == k.size == n.size) or x.size < 2:
        raise ValueError(
            f"values, n_correct and n_trials must have the same length >= 2, got {x.size}, {k.size}, {n.size}"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError("values must be finite numbers")
    if not np.all(np.isfinite(n)) or np.any(n < 1) or np.any(n != np.round(n)) or np.any(n > 1e9):
        raise ValueError("n_trials must hold whole numbers in [1, 1e9] (trials per value)")
    if not np.all(np.isfinite(k)) or np.any(k != np.round(k)) or np.any(k < 0) or np.any(k > n):
        raise ValueError("n_correct must hold whole numbers with 0 <= n_correct <= n_trials (no NaN)")
    check_choice(shape, SHAPES, "shape")
    if shape == "weibull" and np.any(x <= 0):
        raise ValueError("values must be > 0 for a Weibull fit (linear units, e.g. modulation depth m)")
    guess = 1.0 / _check_int(n_alternatives, "n_alternatives", 2, 100)
    fit_lapse = isinstance(lapse, str)
    if fit_lapse:
        check_choice(lapse, ("fit",), "lapse")
        lapse_val = _check_real(
            max_lapse,
            "max_lapse (below 1 - 1/n_alternatives)",
            low=0.0,
            high=1.0 - guess,
            low_open=True,
            high_open=True,
        )
    else:
        lapse_val = _check_real(lapse, "lapse (below 1 - 1/n_alternatives)", low=0.0, high=1.0 - guess, high_open=True)
    ci = _check_real(ci, "ci", low=0.0, high=1.0, low_open=True, high_open=True)
    n_bootstrap = _check_int(n_bootstrap, "n_bootstrap", 0, 10_000)
    # start: value closest to halfway between guess and 1, slope spanning the tested range
    mid = (1 + guess) / 2
    start_thr = x[np.argmin(np.abs(k / n - mid))]
    span = np.ptp(x) or 1.0
    log_slope = math.log(4.0 / span if shape == "logistic" else 2.0)
    # two starting slopes: the likelihood is not convex
    thr, slope, lap, ll = _ml_fit(
        x, k, n, shape, guess, lapse_val, fit_lapse, start_thr, (log_slope - 1.0, log_slope + 1.0), log_slope
    )
    if not all(math.isfinite(v) for v in (thr, slope, lap, ll)):
        raise ValueError(
            f"values spanning [{x.min():.4g}, {x.max():.4g}] with these counts cannot be fitted; "
            "check the values' units and range"
        )
    fit = PsychometricFit(float(thr), float(slope), float(lap), guess, shape, float(ll))
    if n_bootstrap:
        rng = _rng(seed)
        p_fit = _psychometric(x, thr, slope, shape, guess, lap)
        boot = np.array(
            [
                _ml_fit(
                    x,
                    rng.binomial(n.astype(np.int64), p_fit).astype(float),
                    n,
                    shape,
                    guess,
                    lapse_val,
                    fit_lapse,
                    thr,
                    (math.log(slope),),
                    log_slope,
                )[:2]
                for _ in range(n_bootstrap)
            ]
        )
        q = [(1 - ci) / 2 * 100, (1 + ci) / 2 * 100]
        fit.threshold_ci = tuple(float(v) for v in np.percentile(boot[:, 0], q))
        fit.slope_ci = tuple(float(v) for v in np.percentile(boot[:, 1], q))
        fit.bootstrap = boot
    fit.issues = _fit_issues(fit, x, k, n)
    fit.reliable = not fit.issues
    if fit.issues:
        warnings.warn("psychometric fit is unreliable: " + "; ".join(fit.issues), RuntimeWarning, stacklevel=2)
    return fit


def _fit_issues(fit: PsychometricFit, x, k, n) -> tuple:
    """Why a fit cannot be trusted (empty: no reason found); see :class:`PsychometricFit`."""
    issues = []
    # likelihood-ratio test against a constant proportion correct (chi2, 1 df, 5 %)
    p_flat = np.clip(k.sum() / n.sum(), 1e-12, 1 - 1e-12)
    ll_flat = float(np.sum(k * np.log(p_flat) + (n - k) * np.log1p(-p_flat)))
    if 2 * (fit.log_likelihood - ll_flat) < 3.84:
        what = (
            "all trials correct"
            if np.all(k == n)
            else "proportion correct does not rise with the value"
            if np.all(k / n <= fit.guess + 1e-12)
            else "a constant proportion correct fits as well"
        )
        issues.append(f"no psychometric transition in the data ({what})")
    lo, hi = float(x.min()), float(x.max())
    if not lo <= fit.threshold <= hi:
        issues.append(f"threshold {fit.threshold:.4g} lies outside the tested range [{lo:.4g}, {hi:.4g}]")
    if fit.bootstrap is not None:
        c_lo, c_hi = fit.threshold_ci
        if c_hi - c_lo <= 0:
            issues.append("the bootstrap threshold CI has zero width (every resampled data set fits the same)")
        elif c_hi - c_lo > (hi - lo):
            issues.append(f"the threshold CI [{c_lo:.4g}, {c_hi:.4g}] is wider than the tested range")
    return tuple(issues)
