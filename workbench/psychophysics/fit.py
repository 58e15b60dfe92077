"""Fit model parameters to human psychophysical data by gradient.

The CASP observer's analytic decision (AMT ``paulick2024_decision``, see
:mod:`workbench.psychophysics.observer`) turns a model's internal representations into a
predicted percent correct that is differentiable in every model parameter:

    P(x; theta) = 1 - erfc((mue(x; theta) / sqrt(var) * s - o) / sqrt 2) / 2,
    mue = max(0, c_target - max(0, c_reference)) / fs_R

where ``c`` is the correlation of an interval's representation (minus the stored reference)
with the template, both rebuilt from the model at the current parameters (the template as
AMT builds it: supra-threshold target minus reference, normalised over all channels). The
region of interest is chosen once, at the starting parameters (a discrete choice).
Stimuli are frozen: deterministic experiments use their one stimulus per value; running-
noise experiments use ``n_tokens`` seeded noise tokens per value (common random numbers),
and P is averaged over them.

Data (one entry per experimental condition):

* :class:`BinomialData`: trial counts at stimulus values (method of constant stimuli);
  likelihood binomial.
* :class:`ThresholdData`: a measured threshold (e.g. a staircase's 70.7 % point) with its
  standard deviation; the model's threshold is the value where P reaches the procedure's
  convergence point (found by bracketing and regula falsi, differentiable by the
  implicit-function theorem); likelihood Gaussian.

:func:`fit` minimises the negative log-likelihood over chosen parameters
(:class:`FitParameter`: ``'noise_variance'`` or a learnable model parameter such as
``'adaptation.tau_s'`` (one element with ``index``) or ``'drnl.c'`` (the compression
exponent)) with ``torch.optim.LBFGS`` in an unconstrained space (a logistic map onto each
parameter's bounds), and returns the values with standard errors from the expected Fisher
information (or a parametric bootstrap). :func:`gradient_check` compares the autograd
gradient with central finite differences.

The model must be built with ``learnable=True`` (its parameters are ``nn.Parameter``) and,
for gradient checks, ``dtype=torch.float64``.

Example (a toy run; the notebook ``notebooks/fitting.ipynb`` fits Paulick2024 to human data)::

    model = Paulick2024(fs=16000, flow=800, fhigh=1250, n_channels=3, learnable=True, dtype=torch.float64)
    exp = intensity_discrimination(60.0, duration_s=0.1, total_s=0.15, fs=16000)
    data = [ThresholdData(exp, threshold=-6.0, sd=1.0)]
    result = fit(FitProblem(model, data, [FitParameter("noise_variance", 5.0, 500.0)]))
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.func import functional_call

from workbench._validation import check_choice, check_int, check_positive
from workbench.psychophysics.observer import (
    AFC_FIT,
    OptimalDetector,
    amt_mue,
    casp_template,
    centered,
    check_noise_variance,
    percent_correct_analytic,
)
from workbench.units import to_model_input


# --------------------------------------------------------------------------- data and parameters
@dataclass(frozen=True)
class FitParameter:
    """One scalar to fit: ``name`` is 'noise_variance' or a model parameter's name in
    ``model.named_parameters()``; ``index`` selects one element of a vector parameter (None:
    every element takes the value, e.g. ``'drnl.c'`` over channels). ``lower < upper`` bound
    it; ``init`` defaults to the model's current value (the mean of the elements)."""

    name: str
    lower: float
    upper: float
    index: int | None = None
    init: float | None = None
    log_scale: bool | None = None

    def __post_init__(self):
        if not (math.isfinite(self.lower) and math.isfinite(self.upper) and self.lower < self.upper):
            raise ValueError(f"{self.name}: bounds must be finite with lower < upper, got ({self.lower}, {self.upper})")
        if self.log_scale and self.lower <= 0:
            raise ValueError(f"{self.name}: log_scale needs lower > 0, got {self.lower}")

    @property
    def logarithmic(self) -> bool:
        """Whether the optimiser works on log(value) (default: positive bounds spanning a
        factor above 10, e.g. a variance)."""
        if self.log_scale is not None:
            return bool(self.log_scale)
        return self.lower > 0 and self.upper / self.lower > 10

    @property
    def label(self) -> str:
        return self.name if self.index is None else f"{self.name}[{self.index}]"


@dataclass
class BinomialData:
    """Trial counts of one condition: ``n_correct`` of ``n_trials`` at each of ``values`` of
    the experiment's tracked variable."""

    experiment: object
    values: np.ndarray
    n_correct: np.ndarray
    n_trials: np.ndarray

    def __post_init__(self):
        self.values = np.asarray(self.values, float).reshape(-1)
        self.n_correct = np.asarray(self.n_correct, float).reshape(-1)
        self.n_trials = np.asarray(self.n_trials, float).reshape(-1)
        if not (self.values.size == self.n_correct.size == self.n_trials.size) or self.values.size < 1:
            raise ValueError("values, n_correct and n_trials must have the same length >= 1")
        if np.any(self.n_trials < 1) or np.any(self.n_correct < 0) or np.any(self.n_correct > self.n_trials):
            raise ValueError("need n_trials >= 1 and 0 <= n_correct <= n_trials")


@dataclass
class ThresholdData:
    """A measured threshold (in the experiment's tracked variable) with standard deviation
    ``sd`` (1: least squares). ``search``: (low, high) bracket for the model's threshold
    (default: the procedure's bounds)."""

    experiment: object
    threshold: float
    sd: float = 1.0
    search: tuple | None = None

    def __post_init__(self):
        self.threshold = float(self.threshold)
        self.sd = check_positive(self.sd, "sd")


@dataclass
class FitResult:
    """Fitted values (by :attr:`FitParameter.label`), standard errors, the negative
    log-likelihood before/after, and the optimiser's history."""

    values: dict
    std: dict
    initial: dict
    nll: float
    nll_initial: float
    n_evaluations: int
    elapsed_s: float
    history: list = field(default_factory=list)
    covariance: np.ndarray | None = None
    bootstrap: np.ndarray | None = None

    def table(self):
        import pandas as pd

        return pd.DataFrame(
            {
                "parameter": list(self.values),
                "initial": [self.initial[k] for k in self.values],
                "fitted": list(self.values.values()),
                "std": [self.std.get(k, math.nan) for k in self.values],
            }
        )


# --------------------------------------------------------------------------- the problem
class _Condition:
    """Frozen stimuli of one experimental condition and its ROI (chosen at the start)."""

    def __init__(self, problem, datum, index):
        exp = datum.experiment
        self.datum, self.experiment = datum, exp
        self.n_afc = exp.n_intervals
        check_choice(self.n_afc, AFC_FIT, "experiment.n_intervals (AMT's analytic rule)")
        self.n_tokens = 1 if exp.frozen else problem.n_tokens
        self.seed = problem.seed + 1009 * index
        gen = torch.Generator().manual_seed(self.seed)
        state = gen.get_state()
        self.supra = exp.make_target(np.full(self.n_tokens, float(exp.template_value)), gen)
        gen.set_state(state)
        self.reference = exp.make_reference(self.n_tokens, gen)  # paired with the supra tokens
        k = self.n_afc - 1
        self.masker = None if exp.frozen else exp.make_reference(self.n_tokens * k, gen)
        self.gen_state = gen.get_state()
        self.target_p = exp.procedure.target_p
        # ROI and the fc > 4 fm rule at the starting parameters, by the observer's own code
        detector = OptimalDetector(
            problem.model,
            noise_variance=40.0,
            center_per_band=problem.center_per_band,
            roi=problem.roi and problem.model.return_stages,
        )
        with torch.no_grad():
            detector.fit(self._pa(self.supra, problem), self._pa(self.reference, problem))
        self.channels, self.mask, self.n_bands = detector.channels.cpu(), detector.mask.cpu(), detector.n_bands
        self.fs = detector.fs

    @staticmethod
    def _pa(x, problem):
        return x.to(problem.dtype)

    def targets(self, values) -> torch.Tensor:
        """Target intervals: one per value (frozen) or the same ``n_tokens`` noise tokens at
        every value (common random numbers), value-major."""
        gen = torch.Generator()
        values = np.atleast_1d(np.asarray(values, float))
        if self.n_tokens == 1:
            gen.set_state(self.gen_state)
            return self.experiment.make_target(values, gen)
        parts = []
        for v in values:
            gen.set_state(self.gen_state)
            parts.append(self.experiment.make_target(np.full(self.n_tokens, v), gen))
        return torch.cat(parts)


class FitProblem:
    """Model, data and parameters of a fit; :meth:`predict` and :meth:`nll` are
    differentiable in the parameter values.

    ``noise_variance``: the analytic rule's variance when it is not fitted (number or
    'paulick2024'/'jepsen2008'); ``center_per_band``: Paulick2024's per-band mean removal;
    ``roi``: AMT's ROI (needs ``model.return_stages``; else all channels); ``n_tokens``:
    noise tokens per value for running-noise experiments; ``grid``: points of the threshold
    search's first bracket.
    """

    def __init__(
        self,
        model,
        data,
        parameters,
        *,
        noise_variance="paulick2024",
        center_per_band: bool = True,
        roi: bool = True,
        n_tokens: int = 8,
        seed: int = 0,
        grid: int = 9,
    ):
        self.model = model.eval()
        self.data = list(data)
        if not self.data:
            raise ValueError("data must hold at least one BinomialData or ThresholdData")
        for d in self.data:
            if not isinstance(d, (BinomialData, ThresholdData)):
                raise TypeError(f"data entries must be BinomialData or ThresholdData, got {type(d).__name__}")
        self.parameters = list(parameters)
        if not self.parameters:
            raise ValueError("parameters must name at least one FitParameter")
        self.noise_variance = check_noise_variance(noise_variance)
        self.center_per_band, self.roi = bool(center_per_band), bool(roi)
        self.n_tokens, self.seed = check_int(n_tokens, "n_tokens", 1), int(seed)
        self.grid = check_int(grid, "grid", 3)
        named = dict(model.named_parameters())
        self.dtype = next(iter(named.values())).dtype if named else torch.float64
        self.device = next(iter(named.values())).device if named else torch.device("cpu")
        self.defaults = {}
        for p in self.parameters:
            if not isinstance(p, FitParameter):
                raise TypeError(f"parameters must be FitParameter, got {type(p).__name__}")
            if p.name == "noise_variance":
                value = self.noise_variance
            elif p.name in named:
                tensor = named[p.name].detach()
                if p.index is not None and not 0 <= p.index < tensor.numel():
                    raise ValueError(f"{p.label}: index out of range for a parameter of {tensor.numel()} elements")
                value = float(tensor.flatten()[p.index] if p.index is not None else tensor.mean())
                self.defaults[p.name] = tensor.clone()
            else:
                raise ValueError(
                    f"unknown parameter {p.name!r}: use 'noise_variance' or one of "
                    f"{sorted(named)} (build the model with learnable=True)"
                )
            init = value if p.init is None else float(p.init)
            if not p.lower < init < p.upper:
                raise ValueError(
                    f"{p.label}: initial value {init:g} must lie strictly inside ({p.lower:g}, {p.upper:g})"
                )
        self.conditions = [_Condition(self, d, i) for i, d in enumerate(self.data)]
        self.n_evaluations = 0

    # ------------------------------------------------------------ parameter vector
    def initial(self) -> torch.Tensor:
        """Starting values (float64 vector in the order of ``parameters``)."""
        named = dict(self.model.named_parameters())
        out = []
        for p in self.parameters:
            if p.init is not None:
                out.append(float(p.init))
            elif p.name == "noise_variance":
                out.append(self.noise_variance)
            else:
                t = named[p.name].detach()
                out.append(float(t.flatten()[p.index] if p.index is not None else t.mean()))
        return torch.tensor(out, dtype=torch.float64)

    def overrides(self, theta: torch.Tensor) -> tuple[dict, torch.Tensor]:
        """What the parameter vector ``theta`` (order of ``parameters``) sets: the model
        parameters it changes (name -> tensor, for :func:`torch.func.functional_call`) and the
        noise variance; the ``overrides, variance`` that :meth:`percent_correct` takes."""
        overrides, variance = {}, torch.tensor(self.noise_variance, dtype=torch.float64)
        for p, value in zip(self.parameters, theta):
            if p.name == "noise_variance":
                variance = value
                continue
            base = overrides.get(p.name, self.defaults[p.name].to(self.device))
            v = value.to(base.dtype).to(base.device)
            if p.index is None:
                base = v.expand_as(base)
            else:
                hit = torch.arange(base.numel(), device=base.device).reshape(base.shape) == p.index
                base = torch.where(hit, v, base)
            overrides[p.name] = base
        return overrides, variance

    def _representation(self, audio_pa, overrides):
        x = to_model_input(audio_pa.to(self.dtype).to(self.device), self.model)
        out = functional_call(self.model, overrides, (x,))
        if getattr(self.model, "return_stages", False):
            out = out[0]
        return self.model.to_representation(out)

    # ------------------------------------------------------------ predictions
    def _condition_state(self, cond, overrides):
        """Template (centred) and stored reference of one condition at ``overrides``."""
        audio = torch.cat([cond.supra, cond.reference])
        rep, mask = self._representation(audio, overrides)
        n = cond.n_tokens
        target, ref = rep[:n].mean(0), rep[n:].mean(0)
        full = casp_template(target, ref, mask, cond.fs)
        ch = cond.channels.to(full.device)
        sel_mask = cond.mask.to(full.device)
        t = full[ch, : cond.n_bands] * sel_mask[..., None].to(full.dtype)
        if self.center_per_band:
            t = centered(t, sel_mask)
        return t, ref[ch, : cond.n_bands]

    def _dv(self, cond, audio, template, reference, overrides):
        rep, _ = self._representation(audio, overrides)
        rep = rep[:, cond.channels.to(rep.device), : cond.n_bands]
        return ((rep - reference) * template).sum((1, 2, 3)) / cond.fs

    def percent_correct(self, cond, values, overrides, variance, state=None) -> torch.Tensor:
        """AMT's analytic P at ``values`` for one condition (averaged over noise tokens)."""
        template, reference = state or self._condition_state(cond, overrides)
        audio = cond.targets(values)
        if cond.masker is not None:
            audio = torch.cat([audio, cond.masker])
        dv = self._dv(cond, audio, template, reference, overrides)
        n_val = len(np.atleast_1d(values))
        if cond.masker is None:
            mue = amt_mue(dv, torch.zeros_like(dv))
        else:  # token k: its target interval against its n_afc - 1 reference intervals
            dv_t = dv[: n_val * cond.n_tokens].reshape(n_val, cond.n_tokens)
            dv_m = dv[n_val * cond.n_tokens :].reshape(cond.n_tokens, cond.n_afc - 1).amax(1)
            mue = (dv_t - dv_m.clamp_min(0)).clamp_min(0)
        p = percent_correct_analytic(mue.to(torch.float64), cond.n_afc, variance)
        return p if cond.masker is None else p.mean(1)

    def threshold(self, cond, overrides, variance) -> torch.Tensor:
        """Model threshold of one condition: the value x* where P reaches the procedure's
        convergence point. Found without gradients (grid bracket, then the Illinois variant
        of regula falsi to ``1e-7`` in P); returned as ``x* - (P(x*) - p) / P'(x*)`` with the
        slope held fixed, whose gradient is the implicit-function one, ``-dP/dtheta / P'``."""
        exp, datum = cond.experiment, cond.datum
        lo, hi = datum.search or exp.procedure.bounds
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(f"{exp.name}: give ThresholdData(search=(low, high)) for an unbounded procedure")
        goal = cond.target_p
        with torch.no_grad():
            frozen_overrides = {k: v.detach() for k, v in overrides.items()}
            var0 = variance.detach()
            state0 = self._condition_state(cond, frozen_overrides)
            xs = np.linspace(lo, hi, self.grid)
            p = self.percent_correct(cond, xs, frozen_overrides, var0, state0).cpu().numpy() - goal
            above = p >= 0
            if not above.any() or above[0]:
                # below (above) the convergence point over the whole search range: the bound
                return torch.tensor(hi if not above.any() else lo, dtype=torch.float64) + 0 * variance
            k = int(np.argmax(above))
            xa, xb, fa, fb = float(xs[k - 1]), float(xs[k]), float(p[k - 1]), float(p[k])
            side = 0
            for _ in range(60):
                x = xb - fb * (xb - xa) / (fb - fa)
                fx = float(self.percent_correct(cond, np.array([x]), frozen_overrides, var0, state0)[0]) - goal
                if abs(fx) < 1e-10 or xb - xa < 1e-9:
                    break
                if fx > 0:
                    xb, fb = x, fx
                    if side == 1:
                        fa /= 2
                    side = 1
                else:
                    xa, fa = x, fx
                    if side == -1:
                        fb /= 2
                    side = -1
            h = max(1e-4, 1e-3 * (hi - lo) / self.grid)
            pp = self.percent_correct(cond, np.array([x - h, x + h]), frozen_overrides, var0, state0)
            slope = float(pp[1] - pp[0]) / (2 * h)
        if not slope > 0:
            raise ValueError(f"{exp.name}: P does not rise with the tracked variable near {x:g}")
        state = self._condition_state(cond, overrides)
        pm = self.percent_correct(cond, np.array([x]), overrides, variance, state)[0]
        return x - (pm - goal) / slope

    def predict(self, theta: torch.Tensor) -> list[torch.Tensor]:
        """Per datum: predicted P at its values (BinomialData) or threshold (ThresholdData)."""
        overrides, variance = self.overrides(theta)
        self.n_evaluations += 1
        out = []
        for cond in self.conditions:
            if isinstance(cond.datum, BinomialData):
                out.append(self.percent_correct(cond, cond.datum.values, overrides, variance))
            else:
                out.append(self.threshold(cond, overrides, variance).reshape(()))
        return out

    def nll(self, theta: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of all data (binomial and Gaussian terms, constants dropped)."""
        total = torch.zeros((), dtype=torch.float64)
        for cond, pred in zip(self.conditions, self.predict(theta)):
            d = cond.datum
            if isinstance(d, BinomialData):
                p = pred.clamp(1e-9, 1 - 1e-9)
                k, n = torch.as_tensor(d.n_correct), torch.as_tensor(d.n_trials)
                total = total - (k * torch.log(p) + (n - k) * torch.log1p(-p)).sum()
            else:
                total = total + 0.5 * ((pred - d.threshold) / d.sd) ** 2
        return total

    # ------------------------------------------------------------ bounds
    def to_unbounded(self, theta: torch.Tensor) -> torch.Tensor:
        """Parameter values -> the optimiser's unbounded coordinates: logit of the position
        between the bounds (of log values for logarithmic parameters)."""
        lo, hi, log = self._bounds()
        t = torch.where(log, torch.log(theta.clamp_min(1e-300)), theta)
        z = ((t - lo) / (hi - lo)).clamp(1e-12, 1 - 1e-12)
        return torch.log(z) - torch.log1p(-z)

    def from_unbounded(self, u: torch.Tensor) -> torch.Tensor:
        lo, hi, log = self._bounds()
        t = lo + (hi - lo) * torch.sigmoid(u)
        return torch.where(log, torch.exp(t), t)

    def _bounds(self):
        log = torch.tensor([p.logarithmic for p in self.parameters])
        lo = torch.tensor(
            [math.log(p.lower) if p.logarithmic else p.lower for p in self.parameters], dtype=torch.float64
        )
        hi = torch.tensor(
            [math.log(p.upper) if p.logarithmic else p.upper for p in self.parameters], dtype=torch.float64
        )
        return lo, hi, log


# --------------------------------------------------------------------------- fitting
def fisher_information(problem: FitProblem, theta: torch.Tensor) -> np.ndarray:
    """Expected Fisher information of the data at ``theta`` (parameter space): binomial
    ``sum n / (P (1 - P)) grad P grad P^T``, thresholds ``sum grad x grad x^T / sd^2``."""
    theta = theta.detach().clone().requires_grad_(True)
    info = torch.zeros(len(theta), len(theta), dtype=torch.float64)
    preds = problem.predict(theta)
    outputs = []
    for cond, pred in zip(problem.conditions, preds):
        d = cond.datum
        if isinstance(d, BinomialData):
            for j in range(len(d.values)):
                p = pred[j].clamp(1e-9, 1 - 1e-9)
                outputs.append((pred[j], float(d.n_trials[j]) / float((p * (1 - p)).detach())))
        else:
            outputs.append((pred, 1.0 / d.sd**2))
    for i, (out, weight) in enumerate(outputs):
        (g,) = torch.autograd.grad(out, theta, retain_graph=i < len(outputs) - 1, allow_unused=True)
        g = torch.zeros_like(theta) if g is None else g
        info += weight * torch.outer(g, g)
    return info.detach().numpy()


def fit(
    problem: FitProblem,
    *,
    max_iter: int = 40,
    tolerance: float = 1e-7,
    uncertainty: str = "fisher",
    n_bootstrap: int = 20,
    seed: int = 0,
    verbose: bool = False,
) -> FitResult:
    """Maximum-likelihood fit of ``problem``'s parameters with ``torch.optim.LBFGS`` (strong
    Wolfe line search) in the unbounded space; ``uncertainty``: 'fisher' (standard errors
    from the expected information, inverted), 'bootstrap' (parametric: ``n_bootstrap``
    refits to data simulated from the fit; binomial data only) or 'none'."""
    check_choice(uncertainty, ("fisher", "bootstrap", "none"), "uncertainty")
    start = time.perf_counter()
    theta0 = problem.initial()
    u = problem.to_unbounded(theta0).clone().requires_grad_(True)
    opt = torch.optim.LBFGS(
        [u],
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=tolerance,
        tolerance_change=tolerance * 1e-2,
        line_search_fn="strong_wolfe",
    )
    history = []

    def closure():
        opt.zero_grad()
        loss = problem.nll(problem.from_unbounded(u))
        loss.backward()
        history.append((problem.from_unbounded(u.detach()).numpy().tolist(), float(loss.detach())))
        if verbose:
            print(f"nll {float(loss):.6g} at {history[-1][0]}")
        return loss

    with torch.no_grad():
        nll0 = float(problem.nll(theta0))
    opt.step(closure)
    theta = problem.from_unbounded(u.detach())
    with torch.no_grad():
        nll1 = float(problem.nll(theta))
    labels = [p.label for p in problem.parameters]
    values = dict(zip(labels, theta.numpy().tolist()))
    std, cov, boot = {}, None, None
    if uncertainty == "fisher":
        info = fisher_information(problem, theta)
        try:
            cov = np.linalg.inv(info)
            std = dict(zip(labels, np.sqrt(np.clip(np.diag(cov), 0, None)).tolist()))
        except np.linalg.LinAlgError:
            std = dict.fromkeys(labels, math.inf)
    elif uncertainty == "bootstrap":
        boot = _bootstrap(problem, theta, n_bootstrap, seed, max_iter, tolerance)
        std = dict(zip(labels, boot.std(0, ddof=1).tolist()))
    return FitResult(
        values,
        std,
        dict(zip(labels, theta0.numpy().tolist())),
        nll1,
        nll0,
        problem.n_evaluations,
        time.perf_counter() - start,
        history,
        cov,
        boot,
    )


def _bootstrap(problem, theta, n_bootstrap, seed, max_iter, tolerance):
    if not all(isinstance(c.datum, BinomialData) for c in problem.conditions):
        raise ValueError("uncertainty='bootstrap' simulates trial counts: binomial data only")
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        p_fit = [p.numpy() for p in problem.predict(theta)]
    originals = [c.datum.n_correct for c in problem.conditions]
    fits = []
    try:
        for _ in range(check_int(n_bootstrap, "n_bootstrap", 2)):
            for c, p in zip(problem.conditions, p_fit):
                c.datum.n_correct = rng.binomial(c.datum.n_trials.astype(int), p).astype(float)
            fits.append(list(fit(problem, max_iter=max_iter, tolerance=tolerance, uncertainty="none").values.values()))
    finally:
        for c, k in zip(problem.conditions, originals):
            c.datum.n_correct = k
    return np.asarray(fits)


def gradient_check(problem: FitProblem, theta=None, *, relative_step: float = 1e-5, output: str = "nll") -> dict:
    """Autograd vs central finite differences of the NLL (``output='nll'``) or of the summed
    predictions (``'prediction'``) at ``theta`` (default: the start), in parameter space.
    Returns ``{'autograd', 'finite_difference', 'relative_error'}`` (numpy arrays)."""
    check_choice(output, ("nll", "prediction"), "output")
    theta = (problem.initial() if theta is None else torch.as_tensor(theta, dtype=torch.float64)).detach()

    def f(t):
        if output == "nll":
            return problem.nll(t)
        return sum(p.sum() for p in problem.predict(t))

    t = theta.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(t), t)
    fd = torch.zeros_like(theta)
    with torch.no_grad():
        for i in range(len(theta)):
            h = relative_step * max(abs(float(theta[i])), 1e-8)
            e = torch.zeros_like(theta)
            e[i] = h
            fd[i] = (f(theta + e) - f(theta - e)) / (2 * h)
    rel = (grad - fd).abs() / torch.maximum(grad.abs(), fd.abs()).clamp_min(1e-300)
    return {"autograd": grad.numpy(), "finite_difference": fd.numpy(), "relative_error": rel.numpy()}


def simulate_counts(problem: FitProblem, theta, n_trials: int, seed: int = 0) -> list[BinomialData]:
    """Binomial trial counts drawn from the model's predicted P at ``theta`` for every
    BinomialData condition of ``problem`` (same values), ``n_trials`` per value: synthetic
    data for parameter-recovery checks."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        preds = problem.predict(torch.as_tensor(theta, dtype=torch.float64))
    out = []
    for cond, p in zip(problem.conditions, preds):
        if not isinstance(cond.datum, BinomialData):
            raise ValueError("simulate_counts needs BinomialData conditions (their values)")
        n = np.full(len(cond.datum.values), int(n_trials))
        out.append(BinomialData(cond.experiment, cond.datum.values, rng.binomial(n, p.numpy()), n))
    return out


def rms_error(problem: FitProblem, theta) -> float:
    """RMS of model-minus-human thresholds over the ThresholdData conditions at ``theta``."""
    with torch.no_grad():
        preds = problem.predict(torch.as_tensor(theta, dtype=torch.float64))
    diffs = [
        float(p) - c.datum.threshold for c, p in zip(problem.conditions, preds) if isinstance(c.datum, ThresholdData)
    ]
    if not diffs:
        raise ValueError("rms_error needs ThresholdData conditions")
    return float(np.sqrt(np.mean(np.square(diffs))))


def analytic_threshold(
    model,
    experiment,
    *,
    noise_variance="paulick2024",
    center_per_band: bool = True,
    roi: bool = True,
    n_tokens: int = 8,
    seed: int = 0,
    search=None,
) -> float:
    """The threshold AMT's deterministic procedure converges on, without a staircase: the
    value of ``experiment``'s tracked variable where the analytic percent correct reaches
    the procedure's convergence point (for a frozen experiment the staircase with
    ``decision='amt'`` oscillates around it within half its final step).

    >>> import torch
    >>> from workbench import Paulick2024
    >>> from workbench.psychophysics.experiments import intensity_discrimination
    >>> model = Paulick2024(fs=16000, flow=800, fhigh=1250, n_channels=3, return_stages=True)
    >>> exp = intensity_discrimination(60.0, duration_s=0.1, total_s=0.15, fs=16000)
    >>> round(analytic_threshold(model, exp, search=(-20.0, 10.0)), 1)  # Weber fraction, dB
    1.1
    """
    datum = ThresholdData(experiment, 0.0, search=search)
    problem = FitProblem(
        model,
        [datum],
        [FitParameter("noise_variance", 1e-6, 1e9)],
        noise_variance=noise_variance,
        center_per_band=center_per_band,
        roi=roi,
        n_tokens=n_tokens,
        seed=seed,
    )
    with torch.no_grad():
        return float(problem.predict(problem.initial())[0])
