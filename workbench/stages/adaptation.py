"""Adaptation loops (Dau et al. 1996/1997, AMT adaptloop) and simple high-pass adaptation."""
