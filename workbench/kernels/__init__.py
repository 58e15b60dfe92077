"""Compiled sequential recursions with their backward passes.

One file per recursion family (``iir``: linear IIR filtering; ``adaptation``: adaptation
loops; ``ihc``: Paulick2024 IHC membrane; ``agc``: loudness AGCs). Each exposes a
differentiable function that runs a numba kernel on CPU tensors and a device-resident torch
path elsewhere (CUDA), with a hand-written backward pass. Import from the submodule.
"""
