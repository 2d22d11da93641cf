"""Names that become part of a path: one check, so that no name given to an API reaches
outside the folder it is meant for (``../``, an absolute path, a separator)."""

from __future__ import annotations

from workbench._exceptions import ConfigurationError

__all__ = ["check_name"]

_SEPARATORS = ("/", "\\", "\0")


def check_name(value: object, what: str, *, also: str = "", hint: str = "") -> str:
    """``value`` when it can name one entry inside a folder and nothing outside it.

    Args:
        value: The name given (of an app, a registered model, ...).
        what: What it names, for the message (``"The app name"``).
        also: Further characters the name must not hold (``":"`` for MLflow model names).
        hint: A sentence appended to the message (what to pass instead).

    Returns:
        ``value``, unchanged.

    Raises:
        ConfigurationError: ``value`` is not a string, is empty, ``.`` or ``..``, or holds
            ``/``, ``\\``, a NUL character or one of ``also``; the message names the value
            and the rule.

    Example:
        >>> check_name("monitoring", "The app name")
        'monitoring'
    """
    forbidden = (*_SEPARATORS, *also)
    if (
        not isinstance(value, str)
        or value.strip() in ("", ".", "..")
        or any(c in value for c in forbidden)
    ):
        shown = ", ".join(repr(c) for c in forbidden)
        raise ConfigurationError(
            f"{what} must be one plain name: not empty, not '.' or '..', and without any of "
            f"{shown}, so that it cannot point outside its folder. Got {value!r} instead."
            + (f" {hint}" if hint else "")
        )
    return value
