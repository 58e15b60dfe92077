"""Decision-layer operations on internal representations (any model).

A representation is either one tensor ``(B, ...)`` or a list of per-channel tensors
``(B, M_i, T)`` with a varying number of modulation filters ``M_i`` (Paulick2024, Dau1997).
``stack_representation`` turns both into a zero-padded ``(B, C, M, T)`` tensor plus a
``(C, M)`` validity mask, on which the metrics below act. These functions back the model's
decision methods (``roi_selection`` ... ``discrimination_task``) and the CASP observer in
``workbench.psychophysics.observer``.

References
----------
Dau, Puschel & Kohlrausch (1996b), J. Acoust. Soc. Am. 99, 3623-3631.
Dau, Kollmeier & Kohlrausch (1997), J. Acoust. Soc. Am. 102, 2892-2905.
Jepsen, Ewert & Dau (2008), J. Acoust. Soc. Am. 124, 422-438.
Paulick, Relano-Iborra & Dau (2024), Hear. Res.
"""

from __future__ import annotations

import torch

from workbench._validation import check_choice

METRICS = ("rms", "mean", "max", "l2")
CRITERIA = ("greater", "less")


def stack_representation(representation) -> tuple[torch.Tensor, torch.Tensor]:
    """Any model output in one layout: a zero-padded ``(B, C, M, T)`` tensor and its mask.

    Parameters
    ----------
    representation : Tensor or list of Tensor
        One tensor ``(B, T)``, ``(B, C, T)`` or ``(B, C, M, T)``, or a list of ``C`` tensors
        ``(B, M_i, T)`` (or ``(M_i, T)``) as the modulation filterbanks return.
        NaN entries (AMT's padding) count as absent.

    Returns
    -------
    values : Tensor
        ``(B, C, M, T)``, the input's units; absent entries are 0. A tensor without C or M
        axes gets them of size 1.
    mask : Tensor
        ``(C, M)`` bool, True where a filter is present.

    See Also
    --------
    workbench.models.base.AuditoryModel.representation : the same layout from a model's input.

    References
    ----------
    Dau, Kollmeier & Kohlrausch (1997), J. Acoust. Soc. Am. 102, 2892-2905 (a number of
    modulation filters that depends on the channel); AMT ``modfilterbank``.

    Examples
    --------
    >>> values, mask = stack_representation([torch.ones(1, 2, 5), torch.ones(1, 3, 5)])
    >>> values.shape, mask.tolist()
    (torch.Size([1, 2, 3, 5]), [[True, True, False], [True, True, True]])
    """
    if isinstance(representation, torch.Tensor):
        x = representation
        if x.dim() < 2 or x.dim() > 4:
            raise ValueError(
                f"representation tensor must be (B, T), (B, C, T) or (B, C, M, T), got shape {tuple(x.shape)}"
            )
        while x.dim() < 4:
            x = x.unsqueeze(1)
    elif isinstance(representation, (list, tuple)) and representation:
        parts = [r if r.dim() == 3 else r.unsqueeze(0) for r in representation]
        if any(p.dim() != 3 for p in parts) or len({(p.shape[0], p.shape[-1]) for p in parts}) != 1:
            raise ValueError("representation list entries must all be (B, M_i, T) with equal B and T")
        m_max = max(p.shape[1] for p in parts)
        x = parts[0].new_full((parts[0].shape[0], len(parts), m_max, parts[0].shape[-1]), float("nan"))
        for c, p in enumerate(parts):
            x[:, c, : p.shape[1]] = p
    else:
        raise TypeError(
            f"representation must be a tensor or a non-empty list of tensors, got {type(representation).__name__}"
        )
    mask = ~torch.isnan(x).all(dim=0).all(dim=-1)
    return torch.nan_to_num(x, nan=0.0), mask


def _as_list(x: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
    return [x[:, c, mask[c]] for c in range(x.shape[1])]


def _check_range(window, lower, upper, name: str, unit: str):
    if window is None:
        return None
    if not isinstance(window, (tuple, list)) or len(window) != 2:
        raise TypeError(f"{name} must be a (start, end) pair, got {window!r}")
    start, end = window
    if not (lower <= start < end <= upper):
        raise ValueError(f"{name} must satisfy {lower:g} <= start < end <= {upper:g} {unit}, got {window!r}")
    return start, end


def roi_selection(
    representation, fs: float, time_window=None, channel_range=None, modulation_range=None
) -> list[torch.Tensor]:
    """Region of interest of a representation: a time window and ranges of channels and
    modulation filters.

    Parameters
    ----------
    representation : Tensor or list of Tensor
        One tensor ``(B, T)``, ``(B, C, T)`` or ``(B, C, M, T)``, or a list of ``C`` tensors
        ``(B, M_i, T)`` (or ``(M_i, T)``) as the modulation filterbanks return.
    fs : float, Hz
        Sampling rate of the T axis.
    time_window : (float, float), s, optional
        ``(start, end)``, ``0 <= start < end <= T / fs``; samples ``int(start fs)`` to
        ``int(end fs)`` (excluded).
    channel_range, modulation_range : (int, int), optional
        Index ranges ``(start, end)`` as Python slices (``end`` excluded) over C and M.

    Returns
    -------
    list of Tensor
        One ``(B, M_i', T')`` tensor per selected channel (its present filters only), the
        input's units.

    References
    ----------
    Jepsen et al. (2008), the part of the internal representation the CASP decision uses;
    Paulick et al. (2024).

    Examples
    --------
    >>> roi = roi_selection(torch.ones(1, 3, 2, 100), 100.0, time_window=(0.2, 0.5), channel_range=(1, 3))
    >>> [r.shape for r in roi]
    [torch.Size([1, 2, 30]), torch.Size([1, 2, 30])]
    """
    x, mask = stack_representation(representation)
    n_time, n_chan, n_mod = x.shape[-1], x.shape[1], x.shape[2]
    t = _check_range(time_window, 0.0, n_time / fs, "time_window", "s")
    c = _check_range(channel_range, 0, n_chan, "channel_range", "(channel indices)")
    m = _check_range(modulation_range, 0, n_mod, "modulation_range", "(modulation filter indices)")
    t0, t1 = (int(t[0] * fs), int(t[1] * fs)) if t else (0, n_time)
    c0, c1 = c or (0, n_chan)
    m0, m1 = m or (0, n_mod)
    return _as_list(x[:, c0:c1, m0:m1, t0:t1], mask[c0:c1, m0:m1])


def _weights(mask: torch.Tensor, channel_weights, modulation_weights, like: torch.Tensor) -> torch.Tensor:
    weights = mask.to(like.dtype)
    for w, axis, name in ((channel_weights, 0, "channel_weights"), (modulation_weights, 1, "modulation_weights")):
        if w is None:
            continue
        w = torch.as_tensor(w, dtype=like.dtype, device=like.device)
        if w.dim() != 1 or w.numel() != mask.shape[axis]:
            raise ValueError(f"{name} must be a 1-D tensor of length {mask.shape[axis]}, got shape {tuple(w.shape)}")
        if not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
            raise ValueError(f"{name} must be finite and >= 0")
        weights = weights * (w[:, None] if axis == 0 else w[None, :])
    return weights


def decision_variable(
    representation, metric: str = "rms", channel_weights=None, modulation_weights=None
) -> torch.Tensor:
    """One number per batch item from a representation: a weighted rms, mean, max or l2 norm.

    With weights ``w[c, m] = channel_weights[c] modulation_weights[m]`` over present entries:
    'rms' ``sqrt(sum w mean_t x^2 / sum w)``; 'mean' ``sum w mean_t x / sum w``; 'max' the
    largest ``w x`` where ``w > 0``; 'l2' ``sqrt(sum w sum_t x^2)``.

    Parameters
    ----------
    representation : Tensor or list of Tensor
        One tensor ``(B, T)``, ``(B, C, T)`` or ``(B, C, M, T)``, or a list of ``C`` tensors
        ``(B, M_i, T)`` (or ``(M_i, T)``) as the modulation filterbanks return.
    metric : {'rms', 'mean', 'max', 'l2'}
    channel_weights : Tensor, optional
        ``(C,)``, finite and >= 0 (default all 1).
    modulation_weights : Tensor, optional
        ``(M,)``, finite and >= 0 (default all 1).

    Returns
    -------
    Tensor
        ``(B,)``, the representation's units.

    References
    ----------
    Jepsen et al. (2008) and Paulick et al. (2024), the CASP decision stage.

    Examples
    --------
    >>> decision_variable(torch.full((2, 3, 10), 2.0))
    tensor([2., 2.])
    """
    check_choice(metric, METRICS, "metric")
    x, mask = stack_representation(representation)
    w = _weights(mask, channel_weights, modulation_weights, x)
    total = w.sum().clamp_min(torch.finfo(x.dtype).tiny)
    if metric == "rms":
        return torch.sqrt((w * x.pow(2).mean(-1)).sum((1, 2)) / total)
    if metric == "mean":
        return (w * x.mean(-1)).sum((1, 2)) / total
    if metric == "l2":
        return torch.sqrt((w * x.pow(2).sum(-1)).sum((1, 2)))
    weighted = torch.where((w > 0)[..., None], w[..., None] * x, torch.full_like(x, -torch.inf))
    return weighted.flatten(1).amax(1)


def template_correlation(representation, template, normalize: bool = True) -> torch.Tensor:
    """Correlation of a representation with a template of the same layout.

    Parameters
    ----------
    representation : Tensor or list of Tensor
        One tensor ``(B, T)``, ``(B, C, T)`` or ``(B, C, M, T)``, or a list of ``C`` tensors
        ``(B, M_i, T)`` (or ``(M_i, T)``) as the modulation filterbanks return.
    template : Tensor or list of Tensor
        Same layout as ``representation``, with batch 1 (shared) or B.
    normalize : bool
        True: Pearson coefficient over the entries present in both; False: the plain inner
        product.

    Returns
    -------
    Tensor
        ``(B,)``: dimensionless in [-1, 1] when ``normalize``, else in the product of the two
        units.

    References
    ----------
    Dau et al. (1996b), the optimal detector's correlation with a template; Jepsen et al.
    (2008).

    Examples
    --------
    >>> x = torch.arange(6.0).reshape(1, 1, 6)
    >>> template_correlation(x, 2 * x + 1)
    tensor([1.])
    """
    x, mask = stack_representation(representation)
    t, t_mask = stack_representation(template)
    if t.shape[1:] != x.shape[1:] or t.shape[0] not in (1, x.shape[0]):
        raise ValueError(f"template layout {tuple(t.shape)} does not match representation {tuple(x.shape)}")
    valid = (mask & t_mask)[..., None].to(x.dtype)
    if normalize:
        count = valid.sum() * x.shape[-1]
        x = x - (x * valid).sum((1, 2, 3), keepdim=True) / count
        t = t - (t * valid).sum((1, 2, 3), keepdim=True) / count
    inner = (x * t * valid).sum((1, 2, 3))
    if not normalize:
        return inner
    norm = torch.sqrt((x.pow(2) * valid).sum((1, 2, 3)) * (t.pow(2) * valid).sum((1, 2, 3)))
    return inner / norm.clamp_min(torch.finfo(x.dtype).tiny)


def make_decision(decision_var: torch.Tensor, threshold: float = 0.0, criterion: str = "greater") -> torch.Tensor:
    """Yes/no decision per batch item: the decision variable against a threshold.

    Parameters
    ----------
    decision_var : Tensor
        ``(B,)`` (:func:`decision_variable`, :func:`template_correlation`).
    threshold : float
        In the decision variable's units.
    criterion : {'greater', 'less'}
        'greater': True where ``decision_var > threshold``; 'less': where it is below.

    Returns
    -------
    Tensor
        ``(B,)`` bool.

    References
    ----------
    Jepsen et al. (2008); Paulick et al. (2024).

    Examples
    --------
    >>> make_decision(torch.tensor([0.2, -0.1]))
    tensor([ True, False])
    """
    check_choice(criterion, CRITERIA, "criterion")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or threshold != threshold:
        raise TypeError(f"threshold must be a real number, got {threshold!r}")
    return decision_var > threshold if criterion == "greater" else decision_var < threshold
