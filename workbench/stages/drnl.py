"""Dual-resonance nonlinear (DRNL) filterbank (Lopez-Poveda & Meddis 2001; Paulick2024)."""
