"""Reference harness: load MATLAB AMT outputs (run under Octave) and compare stage by stage.

The reference files ship with the repository in ``tests/data/amt-reference/`` (how they were
made: the README there). ``$WORKBENCH_AMT_REFERENCE`` may name another folder holding files
of the same names. A missing file fails the test that needs it: the reference tests run in
every clone. Arrays are time-major in the files (time x channel [x modulation]); some are
stored strided (``full[::stride]``), see ``meta['npz_conversion']['time_strides']``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "tests" / "data" / "amt-reference"


def reference_dir() -> Path:
    """``$WORKBENCH_AMT_REFERENCE`` when set, else the files shipped in the repository."""
    env = os.environ.get("WORKBENCH_AMT_REFERENCE")
    return Path(env) if env else SHIPPED


class Reference:
    """One model's reference file: ``ref[key]`` arrays, ``ref.meta``, ``ref.stride(key)``."""

    def __init__(self, path: Path):
        self.path = path
        self._z = np.load(path, allow_pickle=False)
        self.meta = json.loads(str(self._z["meta_json"])) if "meta_json" in self._z else {}
        self._strides = self.meta.get("npz_conversion", {}).get("time_strides", {})

    def __getitem__(self, key: str) -> np.ndarray:
        return self._z[key]

    def __contains__(self, key: str) -> bool:
        return key in self._z.files

    @property
    def keys(self) -> list[str]:
        return list(self._z.files)

    @property
    def stimuli(self) -> list[str]:
        """Stimulus names: prefixes of ``<stim>__insig`` keys."""
        return sorted(k.split("__")[0] for k in self._z.files if k.endswith("__insig"))

    def stride(self, key: str) -> int:
        """Time stride of a stored array (1 when stored at full resolution)."""
        s = self._strides.get(key, 1)
        if isinstance(s, dict):
            s = s.get("stride", 1)
        return int(s)


def load_reference(model: str) -> Reference:
    path = reference_dir() / f"{model}.npz"
    if not path.exists():
        where = "$WORKBENCH_AMT_REFERENCE" if os.environ.get("WORKBENCH_AMT_REFERENCE") else "the repository"
        pytest.fail(
            f"AMT reference file missing: {path} (folder from {where}; the repository ships "
            f"{SHIPPED.relative_to(REPO)})"
        )
    return Reference(path)


def rel_error(ours, ref) -> float:
    """||ours - ref|| / ||ref|| over finite reference entries (NaN marks absent channels)."""
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if ours.shape != ref.shape:
        raise AssertionError(f"shape mismatch: ours {ours.shape} vs AMT {ref.shape}")
    mask = np.isfinite(ref)
    den = np.linalg.norm(ref[mask])
    num = np.linalg.norm(ours[mask] - ref[mask])
    return float(num / den) if den > 0 else float(num)


def compare_stages(
    results: dict[str, tuple[np.ndarray, np.ndarray]], tolerances: dict[str, float], label: str = ""
) -> dict[str, float]:
    """Compare {stage: (ours, amt)} and assert each error <= its tolerance.

    On failure the message lists the relative error of every stage, so one run shows where a
    discrepancy enters the chain.
    """
    errors = {name: rel_error(ours, ref) for name, (ours, ref) in results.items()}
    report = ", ".join(f"{k}: {v:.2e} (tol {tolerances[k]:.0e})" for k, v in errors.items())
    failed = [k for k, v in errors.items() if not v <= tolerances[k]]
    assert not failed, f"{label} stages over tolerance {failed}; relative errors: {report}"
    return errors
