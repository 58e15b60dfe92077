"""Values in error messages, and a choice check that any value (an array, an object) passes
through cleanly.

Messages show numbers, strings and short lists of them as they are, and any other object by
its type name: never an object repr with its memory address, never a truncated tensor print.
(``workbench._validation.check_choice`` predates this; it compares with ``in``, which raises
for arrays. New code uses :func:`choice`.)
"""

from __future__ import annotations

_SIMPLE = (int, float, str, bytes, bool, type(None))


def show(value) -> str:
    """A short, address-free description of ``value`` for an error message."""
    if hasattr(value, "tolist") and not isinstance(value, type):
        try:
            value = value.tolist()  # numpy / torch scalars and arrays
        except Exception:  # noqa: BLE001 - e.g. a meta tensor: describe it by type below
            pass
    if isinstance(value, _SIMPLE) or isinstance(value, (list, tuple)) and all(isinstance(v, _SIMPLE) for v in value):
        text = repr(value)
    elif isinstance(value, (list, tuple)):
        text = f"a {type(value).__name__} of {len(value)} items"
    else:
        text = f"a {type(value).__name__}"
    return text if len(text) <= 80 else text[:77] + "..."


def choice(value, allowed, name: str) -> str:
    """``value`` if it is one of the strings ``allowed``, else ``ValueError`` naming ``name``."""
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {show(value)}")
    return value


def sndfile_reason(exc: Exception) -> str:
    """libsndfile's own sentence for a file it could not read, without the file object's repr
    or the path it was given (``soundfile.LibsndfileError.error_string``)."""
    reason = getattr(exc, "error_string", None) or str(exc)
    if reason.startswith("Error opening") and ": " in reason:
        reason = reason.rsplit(": ", 1)[-1]
    return reason if " at 0x" not in reason else "the file is damaged or in an unsupported format"
