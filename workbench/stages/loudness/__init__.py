"""Loudness-model stages shared by Glasberg2002 and Moore2016, one module per kind: the
outer + middle ear FIR (:mod:`.ear`), the multi-resolution spectrum with its relevance mask
and ERB integration (:mod:`.spectrum`), roex excitation patterns on a Cam grid
(:mod:`.excitation`), ANSI S3.4-2007 specific loudness and the sone <-> phon table
(:mod:`.specific`), attack/release AGCs and binaural inhibition (:mod:`.temporal`).

Axes (the model contract's letters): K frames, F spectral components, Z Cam bands; the Cam
scale is :func:`workbench.units.hz_to_cam`.
"""

from workbench.stages.loudness.ear import (
    OuterMiddleEarFIR,
    ansi_tables,
    fir_zero_phase,
    loudness_ear_fir,
)
from workbench.stages.loudness.excitation import RoexExcitation, cam_grid, roex_excitation
from workbench.stages.loudness.specific import (
    LoudnessLevelTable,
    SpecificLoudness,
    loudness_level_table,
    specific_loudness,
)
from workbench.stages.loudness.spectrum import (
    ERBIntegration,
    MultiResolutionSpectrum,
    check_relevance,
    erb_integration,
    multi_resolution_spectrum,
    relevance_mask,
)
from workbench.stages.loudness.temporal import AttackRelease, BinauralInhibition, alpha_from_tau, binaural_inhibition

__all__ = [
    "OuterMiddleEarFIR",
    "ansi_tables",
    "fir_zero_phase",
    "loudness_ear_fir",
    "RoexExcitation",
    "cam_grid",
    "roex_excitation",
    "LoudnessLevelTable",
    "SpecificLoudness",
    "loudness_level_table",
    "specific_loudness",
    "ERBIntegration",
    "MultiResolutionSpectrum",
    "erb_integration",
    "multi_resolution_spectrum",
    "relevance_mask",
    "check_relevance",
    "AttackRelease",
    "BinauralInhibition",
    "alpha_from_tau",
    "binaural_inhibition",
]
