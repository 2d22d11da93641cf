"""Keywords renamed for one word per idea: the old name still works, with a warning.

The event-time column is ``time_column`` everywhere in the workbench; the features
stage called it ``time=`` (trailing windows) and ``timestamp=`` (feature views, the time
column of a training set's rows). :func:`renamed_keywords` lets a caller keep the old
keyword for now: it is passed on under the new name with a ``DeprecationWarning`` that
names the new one.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar, cast

__all__ = ["renamed_keywords"]

F = TypeVar("F", bound=Callable[..., Any])


def renamed_keywords(**new_names: str) -> Callable[[F], F]:
    """Accept each old keyword (``old="new"``) as the new one, with a DeprecationWarning.

    Decorates a function, or a class (its ``__init__``: put it above ``@dataclass``).

    Example:
        >>> @renamed_keywords(time="time_column")
        ... def when(*, time_column: str) -> str:
        ...     return time_column
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     when(time="day")
        'day'
    """

    def decorate(func: F) -> F:
        if isinstance(func, type):
            func.__init__ = decorate(func.__init__)  # type: ignore[misc]
            return func
        name = getattr(func, "__qualname__", "").removesuffix(".__init__")

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in new_names.items():
                if old not in kwargs:
                    continue
                if new in kwargs:
                    raise TypeError(
                        f"{name}() got both {new}= and its old name {old}=; pass {new}= only."
                    )
                warnings.warn(
                    f"{name}(): the {old}= keyword is renamed {new}=; {old}= will be removed.",
                    DeprecationWarning,
                    stacklevel=2,
                )
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return cast(F, wrapper)

    return decorate
