"""Simulated psychophysics: observers, adaptive procedures, experiments and human data."""
