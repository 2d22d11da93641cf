"""What makes a version of a feature view: hashes of its definition, its source rows and
the code of its custom functions.

A view version is named by :func:`version_fingerprint` of its definition (as
:meth:`FeatureView.definition` gives it, with the ``country`` setting) and of the content
of the rows its source gave. These hashes are kept in every registry written so far, so
they must not change: the same definition and rows always give the same fingerprint.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "definition_fingerprint",
    "frame_fingerprint",
    "function_fingerprint",
    "version_fingerprint",
]


def _canonical(definition: Mapping[str, Any]) -> str:
    return json.dumps(definition, sort_keys=True, default=str)


def definition_fingerprint(definition: Mapping[str, Any]) -> str:
    """The hash of a view's definition alone."""
    return hashlib.sha256(_canonical(definition).encode()).hexdigest()


def version_fingerprint(definition: Mapping[str, Any], content: str) -> str:
    """The hash naming a view version: its definition and its source rows' ``content``
    (a :func:`frame_fingerprint`)."""
    return hashlib.sha256(f"{_canonical(definition)}:{content}".encode()).hexdigest()


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """A hash of a frame's column names, dtypes and values (lists and dicts as text)."""
    import pandas as pd

    digest = hashlib.sha256()
    digest.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    hashed = pd.util.hash_pandas_object(frame.astype({c: str for c in _unhashable(frame)}))
    digest.update(hashed.to_numpy().tobytes())
    return digest.hexdigest()


def _unhashable(frame: pd.DataFrame) -> list[str]:
    return [
        c
        for c in frame.columns
        if frame[c].dtype == object and frame[c].map(lambda v: isinstance(v, list | dict)).any()
    ]


def function_fingerprint(func: Any, seen: set[int] | None = None) -> str:
    """A hash of what a function computes: code, constants, defaults, and the values of
    the names it closes over or reads from its module (functions hashed recursively)."""
    import types

    seen = seen if seen is not None else set()
    digest = hashlib.sha256()
    if id(func) in seen:
        return "recursive"
    seen.add(id(func))
    code = getattr(func, "__code__", None)
    if code is None:  # a callable object, a builtin
        digest.update(repr(func).encode())
        return digest.hexdigest()

    def add_code(c: types.CodeType) -> None:
        digest.update(c.co_code)
        digest.update(repr(c.co_names).encode())
        for const in c.co_consts:
            if isinstance(const, types.CodeType):
                add_code(const)
            else:
                digest.update(repr(const).encode())

    add_code(code)
    digest.update(repr(getattr(func, "__defaults__", None)).encode())
    digest.update(repr(getattr(func, "__kwdefaults__", None)).encode())
    try:
        names = inspect.getclosurevars(func)
    except (TypeError, ValueError):
        return digest.hexdigest()
    for scope in (names.nonlocals, names.globals):
        for name, value in sorted(scope.items()):
            digest.update(name.encode())
            if isinstance(value, types.ModuleType):
                digest.update(value.__name__.encode())
            elif callable(value) and hasattr(value, "__code__"):
                digest.update(function_fingerprint(value, seen).encode())
            else:
                digest.update(repr(value).encode())
    return digest.hexdigest()
