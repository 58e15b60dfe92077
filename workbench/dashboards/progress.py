"""Live progress and cancellation of a simulated experiment, through public APIs only.

:meth:`~workbench.psychophysics.experiments.Experiment.run` advances its staircases in
lock-step: every step of the procedure makes one call of the observer that decides the trials
of all active runs (``choose``, or ``judge``/``add_noise`` on the scoring path), right after
the experiment built the targets of that step (``make_target(values)``). :func:`run_tracked` wraps
both: the wrapped ``make_target`` records the tracked values of the step, the wrapped
observer counts the step (trials = number of active runs) and hands the values to a
:class:`StaircaseProgress`, which counts each run's reversals with
:func:`workbench.plots.reversal_indices` (the track's turns, as the track figure marks them)
and estimates the time left from the reversals the procedure needs. The wrapped observer
raises :class:`Cancelled` at its next call once ``should_stop()`` is true, which ends the run
between two model batches.

Trials and steps are exact. Which run stopped when the batch shrinks is not visible to an
observer (the engine has no progress hook), so :meth:`StaircaseProgress._continuing` infers
it from the up-down rule: per-run tracks are a reconstruction, exact in the tests for up to
six runs and occasionally swapped between runs with coinciding tracks beyond that; the page
therefore shows the total reversals over runs. When the run ends, the procedure's own
counts replace the reconstruction.

Experiments with frozen stimuli (``Experiment.frozen``) normally score each distinct value
once and never rebuild a target, so their steps would be invisible. :func:`run_tracked` therefore
runs them as non-frozen with the same single reference token (``reference_pool=1``) and a
per-value score cache in the wrapper: the same decisions, the same random numbers, every
step visible.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time

import numpy as np

# the observer calls that decide one step's trials, in the engine versions we know
STEP_CALLS = ("choose", "judge", "add_noise")


class Cancelled(Exception):
    """The user cancelled the experiment; raised inside the observer, between model batches."""


class StaircaseProgress:
    """Trials, reversals and time left of ``n_runs`` lock-step staircase runs.

    ``procedure``: the experiment's :class:`~workbench.psychophysics.procedures.Staircase`.
    :meth:`step` is called once per step with the tracked values of the active runs (or None
    when they could not be seen: then reversals stay unknown and the estimate uses trials).
    """

    def __init__(self, procedure, n_runs: int, clock=time.monotonic):
        self.procedure = procedure
        self.n_runs = int(n_runs)
        self.clock = clock
        steps = len(procedure.step_sizes)
        self.needed = procedure.reversals_per_step * (steps - 1) + procedure.n_final_reversals
        self.tracks: list[list[float]] = [[] for _ in range(self.n_runs)]
        self.active = list(range(self.n_runs))
        self.values_seen = True
        self.trials = 0
        self.steps = 0
        self.started = clock()
        self.first_step_at: float | None = None
        self.phase = "template"
        self.finished = False
        self.final_reversals: list[int] | None = None

    # ------------------------------------------------------------------ updates
    def step(self, values, n_active: int):
        now = self.clock()
        if self.first_step_at is None:
            self.first_step_at = now
        self.phase = "trials"
        n_active = int(n_active)
        if n_active < len(self.active):
            self.active = self._continuing(values, n_active)
        if values is None or len(values) != n_active:
            self.values_seen = False
        else:
            for run, value in zip(self.active, np.asarray(values, float)):
                self.tracks[run].append(float(value))
        self.trials += n_active
        self.steps += 1

    def finish(self, staircase=None):
        """The run ended; with its ``StaircaseResult`` the exact per-run tracks replace ours."""
        if staircase is not None:
            self.tracks = [list(map(float, v)) for v in staircase.values]
            self.trials = int(sum(len(v) for v in staircase.values))
            self.values_seen = True
            self.final_reversals = [len(r) for r in staircase.reversals]
        self.active = []
        self.finished = True
        self.phase = "done"

    def _continuing(self, values, n_active: int) -> list[int]:
        """Which runs are still active after some stopped.

        A run stops right after the response that made its last reversal, so its track shows
        one reversal fewer than the rule needs. Among the choices of stopped runs, the most
        plausible (that reversal count, a last response that could have reversed the track,
        at a bound) that leaves every remaining run's new value consistent with the up-down
        rule (one step of the current size, no reversal that would have ended the run, and
        with ``n_up = 1`` a step down only after ``n_down - 1`` repeats) is taken.
        """
        p = self.procedure
        active = self.active
        n_drop = len(active) - n_active
        lo, hi = p.bounds
        from workbench.plots import reversal_indices

        def repeats(track) -> int:
            """Trials at the last value since the track last moved, minus one."""
            n = 0
            while n + 1 < len(track) and track[-1 - n - 1] == track[-1]:
                n += 1
            return n

        def last_direction(track) -> int:
            for a, b in zip(track[-2::-1], track[::-1]):
                if b != a:
                    return 1 if b > a else -1
            return 0

        def done_score(run):
            track = self.tracks[run]
            if not track:
                return 0
            at_bound = track[-1] <= lo or track[-1] >= hi
            stuck = at_bound and repeats(track) + 1 >= p.max_bound_hits  # clamped steps end a run
            # a reversal now: down -> up after a wrong answer (always possible with n_up = 1),
            # up -> down only after n_down correct answers at this value
            direction = last_direction(track)
            could_reverse = direction == -1 or (direction == 1 and repeats(track) == p.n_down - 1)
            return 4 * (self.reversals(run) >= self.needed - 1) + 2 * could_reverse + at_bound + 3 * stuck

        def consistent(kept):
            if values is None or len(values) != len(kept):
                return True
            for run, new in zip(kept, np.asarray(values, float)):
                track = self.tracks[run]
                if not track:
                    continue
                last = track[-1]
                clamped = new in (lo, hi)
                # the step after a reversal already uses the next step size
                turns = len(reversal_indices(track + [float(new)])) if len(track) > 1 else 0
                if turns >= self.needed:  # that reversal would have ended the run
                    return False
                size = p.step_sizes[min(turns // p.reversals_per_step, len(p.step_sizes) - 1)]
                if not clamped and new != last and abs(abs(new - last) - size) > 1e-9:
                    return False
                if p.n_up == 1 and not clamped:
                    if new < last and repeats(track) != p.n_down - 1:
                        return False
                    if new == last and repeats(track) >= p.n_down - 1 and last not in (lo, hi):
                        return False
            return True

        choices = sorted(itertools.combinations(active, n_drop), key=lambda drop: -sum(map(done_score, drop)))
        for drop in choices[:2000]:
            kept = [r for r in active if r not in drop]
            if consistent(kept):
                return kept
        return active[:n_active]

    # ------------------------------------------------------------------ readings
    def reversals(self, run: int) -> int:
        """Reversals of run ``run`` so far (at the end: the procedure's own count)."""
        from workbench.plots import reversal_indices

        if self.final_reversals is not None:
            return self.final_reversals[run]
        track = self.tracks[run]
        return int(len(reversal_indices(track))) if len(track) > 2 else 0

    def _reversal_fraction(self) -> float:
        per_run = [
            1.0 if run not in self.active else min(1.0, self.reversals(run) / self.needed) for run in range(self.n_runs)
        ]
        return float(np.mean(per_run))

    def fraction(self) -> float:
        """Estimated fraction of the work done (0..1): reversals towards the procedure's
        stopping rule, finished runs complete; at least the fraction of the trial limit."""
        if self.finished:
            return 1.0
        by_trials = self.trials / (self.n_runs * self.procedure.max_trials)
        by_reversals = self._reversal_fraction() if self.values_seen else 0.0
        return float(min(1.0, max(by_reversals, by_trials)))

    def eta_s(self) -> float:
        """Seconds left (NaN until there is something to extrapolate from: a few reversals, or
        without visible values a share of the trial limit, then an upper bound)."""
        if self.finished:
            return 0.0
        f = self._reversal_fraction() if self.values_seen else self.fraction()
        if self.first_step_at is None or f < 0.05:
            return math.nan
        spent = self.clock() - self.first_step_at
        return spent * (1 - f) / f

    def snapshot(self) -> dict:
        """Plain numbers for the page (sent from the worker process)."""
        seen = self.values_seen
        return {
            "phase": self.phase,
            "trials": self.trials,
            "steps": self.steps,
            "n_runs": self.n_runs,
            "runs_active": len(self.active),
            "runs_done": self.n_runs - len(self.active),
            "reversals": [self.reversals(r) for r in range(self.n_runs)] if seen else None,
            "reversals_needed": self.needed,
            "fraction": round(self.fraction(), 4),
            "elapsed_s": round(self.clock() - self.started, 2),
            "eta_s": self.eta_s(),
        }


def describe(snapshot: dict) -> str:
    """One line for the page: trials done, reversals per run, estimated time left."""
    if snapshot.get("phase") == "template":
        return "Preparing the observer's template (the supra-threshold stimulus through the model)…"
    parts = [f"{snapshot['trials']} trials done"]
    rev = snapshot.get("reversals")
    if rev is not None:
        need = snapshot["reversals_needed"]
        done = sum(min(r, need) for r in rev)
        parts.append(
            f"reversals {done} of {need * len(rev)} ({len(rev)} run{'s' if len(rev) != 1 else ''} × {need} to finish)"
        )
    else:
        parts.append("reversals not visible for this observer")
    if snapshot["runs_done"]:
        parts.append(f"{snapshot['runs_done']} of {snapshot['n_runs']} runs finished")
    eta = snapshot.get("eta_s")
    parts.append(
        "estimating the time left…" if eta is None or not math.isfinite(eta) else f"about {format_duration(eta)} left"
    )
    return " · ".join(parts)


def format_duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest:02d} s"


# --------------------------------------------------------------------------- wrappers
class _Recorder:
    """The wrapped ``make_target``: remembers the values and the audio of its last call."""

    def __init__(self, make_target):
        self.make_target = make_target
        self.values = None
        self.output = None

    def __call__(self, values, generator):
        out = self.make_target(values, generator)
        self.values, self.output = np.asarray(values, float).copy(), out
        return out


class TrackedObserver:
    """Observer proxy: counts steps into ``progress``, stops on ``should_stop()``.

    Every attribute the engine asks for is the wrapped observer's (so the engine takes the
    same path it would take with the observer itself); the step calls and ``score`` are
    intercepted (``score`` only where the observer has one). ``frozen_cache``: score each
    distinct target value once (frozen stimuli).
    """

    def __init__(
        self,
        observer,
        progress: StaircaseProgress,
        recorder: _Recorder,
        should_stop=None,
        report=None,
        frozen_cache: bool = False,
    ):
        self._observer = observer
        self._progress = progress
        self._recorder = recorder
        self._should_stop = should_stop
        self._report = report
        self._scores: dict | None = {} if frozen_cache else None

    def __getattr__(self, name):
        attr = getattr(self._observer, name)
        if name in STEP_CALLS and callable(attr):

            def step(first, *args, **kwargs):
                self._check()
                self._count(len(first))
                return attr(first, *args, **kwargs)

            return step
        if name == "score" and callable(attr):
            return self._score
        if name == "prepare" and callable(attr):

            def prepare(*args, **kwargs):
                self._check()
                out = attr(*args, **kwargs)
                self._recorder.values = None
                return out

            return prepare
        return attr

    def _score(self, audio):
        import torch

        self._check()
        recorded = self._recorder
        if self._scores is None or audio is not recorded.output or recorded.values is None:
            return self._observer.score(audio)
        keys = [round(float(v), 9) for v in recorded.values]
        todo = sorted({k for k in keys if k not in self._scores})
        if todo:
            rows = [keys.index(k) for k in todo]
            self._scores.update(zip(todo, self._observer.score(audio[rows]).tolist()))
        return torch.tensor([self._scores[k] for k in keys], dtype=torch.float64)

    def _check(self):
        if self._should_stop is not None and self._should_stop():
            raise Cancelled()

    def _count(self, n_active: int):
        values = self._recorder.values
        self._recorder.values = None  # each step's values are used once
        self._progress.step(values, n_active)
        if self._report is not None:
            self._report(self._progress)


def run_tracked(experiment, observer, *, n_runs: int, seed: int, should_stop=None, report=None, **run_kwargs):
    """Run ``experiment`` with ``observer`` (as ``experiment.run`` would), with live progress.

    ``report(progress)`` is called after every step (throttle it yourself); ``should_stop()``
    is polled before every model batch, :class:`Cancelled` ends the run. Returns
    ``(ExperimentResult, StaircaseProgress)``.
    """
    progress = StaircaseProgress(experiment.procedure, n_runs)
    recorder = _Recorder(experiment.make_target)
    frozen = bool(getattr(experiment, "frozen", False)) and callable(getattr(observer, "score", None))
    changes = {"make_target": recorder}
    if frozen:
        changes["frozen"] = False
        run_kwargs.setdefault("reference_pool", 1)
        run_kwargs.setdefault("n_template", 1)
    tracked_experiment = dataclasses.replace(experiment, **changes)
    proxy = TrackedObserver(observer, progress, recorder, should_stop, report, frozen_cache=frozen)
    if report is not None:
        report(progress)
    result = tracked_experiment.run(proxy, n_runs=n_runs, seed=seed, **run_kwargs)
    result.experiment = experiment  # the caller's experiment, not our wrapped copy
    progress.finish(result.staircase)
    if report is not None:
        report(progress)
    return result, progress
