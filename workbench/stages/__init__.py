"""Processing stages shared by the models.

Every stage is a pure function plus a small ``nn.Module`` holding its parameters. Signals are
``(batch, channel, time)`` tensors unless a stage documents otherwise; time is the last axis.
"""
