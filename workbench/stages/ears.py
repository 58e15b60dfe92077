"""Outer- and middle-ear filters (headphone, middle ear, loudness-model transfer functions)."""
