"""Resampling as AMT/MATLAB do it (polyphase Kaiser FIR; FFT)."""
