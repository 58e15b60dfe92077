"""Loudness-model stages shared by Glasberg2002 and Moore2016, one module per kind of stage.

0. :mod:`.ear`: :class:`OuterMiddleEarFIR` (:func:`fir_zero_phase`, :func:`loudness_ear_fir`),
   outer + middle ear as one zero-phase FIR (Moore et al. 2016 free-field filter, or designed
   from the ANSI S3.4-2007 tables);
1. :mod:`.spectrum`: :class:`MultiResolutionSpectrum`, six centred Hann windows (64 ... 2 ms
   at 32 kHz) each supplying one frequency band (Glasberg & Moore 2002, Table 1), intensities
   in (20 uPa)^2; :func:`relevance_mask` (components more than ``range_db`` below the frame's
   largest are dropped); :class:`ERBIntegration` (input level per ERB, diagnostic);
2. :mod:`.excitation`: :class:`RoexExcitation`, level-dependent rounded-exponential filters on
   a Cam grid (:func:`cam_grid`; Moore, Glasberg & Baer 1997; ANSI S3.4-2007);
3. :mod:`.specific`: :class:`SpecificLoudness` (ANSI S3.4-2007) and the sone <-> phon
   :class:`LoudnessLevelTable`;
4. :mod:`.temporal`: :class:`AttackRelease` AGCs and :class:`BinauralInhibition` (Moore et al.
   2016).

The Cam scale (``21.366 log10(4.368e-3 f + 1)``) is :func:`workbench.units.hz_to_cam`. Axes:
K frames, F spectral components, Z Cam bands (the model contract's letters).
"""

from workbench.stages.loudness.ear import (
                                                OuterMiddleEarFIR,
                                                ansi_tables,
                                                fir_zero_phase,
                                                loudness_ear_fir,
                                                warn_if_too_loud,
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
                                                erb_integration,
                                                multi_resolution_spectrum,
                                                relevance_mask,
)
from workbench.stages.loudness.temporal import AttackRelease, BinauralInhibition, alpha_from_tau, binaural_inhibition

__all__ = ["OuterMiddleEarFIR", "ansi_tables", "fir_zero_phase", "loudness_ear_fir", "warn_if_too_loud",
           "RoexExcitation", "cam_grid", "roex_excitation", "LoudnessLevelTable", "SpecificLoudness",
           "loudness_level_table", "specific_loudness", "ERBIntegration", "MultiResolutionSpectrum",
           "erb_integration", "multi_resolution_spectrum", "relevance_mask", "AttackRelease",
           "BinauralInhibition", "alpha_from_tau", "binaural_inhibition"]
