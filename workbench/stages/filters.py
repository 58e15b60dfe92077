"""Filter design (Butterworth by bilinear transform, first-order sections) in torch, differentiable in the cutoff."""
