"""Loudness-model stages: multi-resolution spectrum, excitation, specific loudness, AGCs."""
