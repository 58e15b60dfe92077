"""Instantaneous compressions (broken stick, power law)."""
