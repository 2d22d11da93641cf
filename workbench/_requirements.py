"""Requirements pinned from the installed versions, for a model that must load elsewhere.

A packaged model (``workbench.packaging.package_model``) and a tuning study's best model
(``workbench.tuning``) both log ``name==version`` for the libraries loading them needs:
the runtime every scikit-learn pyfunc needs, and the distribution of every module the
serialized model refers to (:func:`pickle_references` reads those from a cloudpickle).
The workbench itself is never pinned: a packaged model loads where it is not installed.
This sits on the foundation floor because tuning and packaging both pin, and tuning
comes before packaging.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from workbench._imports import require

__all__ = ["pickle_references", "pinned_requirements"]

_log = logging.getLogger(__name__)

# What a scikit-learn pyfunc needs at load time. Pinned from this environment, which takes
# ~0.1 s, instead of MLflow's requirement inference (~2.7 s: it re-imports the model).
_RUNTIME_DISTRIBUTIONS = ("mlflow", "scikit-learn", "pandas", "numpy", "scipy", "cloudpickle")
# A module whose distribution is named otherwise (the first one installed is pinned:
# XGBoost also ships as ``xgboost-cpu``). Other modules are looked up in the installed
# distributions' metadata.
_KNOWN_DISTRIBUTIONS = {
    "sklearn": ("scikit-learn",),
    "xgboost": ("xgboost", "xgboost-cpu"),
    "skops": ("skops",),
}
# Never a requirement of a model: it must load where the workbench is not installed (the
# ``workbench`` on the package index is another project).
_NEVER_PINNED = frozenset({"workbench", "__main__"})


def pinned_requirements(
    distributions: Iterable[str] = _RUNTIME_DISTRIBUTIONS,
    model: Any = None,
    *,
    modules: Iterable[str] = (),
) -> list[str]:
    """``name==version`` for each installed distribution (skipping absent ones).

    With ``model``, the distribution of every module its pickle refers to (XGBoost,
    LightGBM, CatBoost, a team's own installed package) is pinned too; ``modules`` names
    such top-level modules directly (``package_model`` passes those its serialization
    found). The standard library, modules no installed distribution provides (local
    code shipped with ``code_paths``) and the workbench are never pinned: a packaged
    model loads where the workbench is not installed.

    Example:
        >>> pinned_requirements(["numpy"])  # doctest: +SKIP
        ['numpy==2.1.3']
    """
    wanted: list[tuple[str, ...]] = [(d,) for d in dict.fromkeys(distributions)]
    needed = set(modules)
    if model is not None:
        needed |= {r.split(".", 1)[0] for r in pickle_references(model)}
    wanted += [d for m in sorted(needed) if (d := _distributions_of(m))]
    pins: dict[str, str] = {}
    for candidates in wanted:
        for dist in candidates:
            key = _canonical(dist)
            if key in pins:
                break
            try:
                pins[key] = f"{dist}=={importlib.metadata.version(dist)}"
                break
            except importlib.metadata.PackageNotFoundError:
                continue
        else:
            _log.debug("%s is not installed; not pinned", candidates[0])
    return list(pins.values())


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _distributions_of(module: str) -> tuple[str, ...]:
    """The installed distributions that provide top-level ``module`` (none for the
    standard library, the workbench and local modules)."""
    import sys

    if module in _NEVER_PINNED or module in sys.stdlib_module_names:
        return ()
    if module in _KNOWN_DISTRIBUTIONS:
        return _KNOWN_DISTRIBUTIONS[module]
    for candidate in dict.fromkeys((module, module.replace("_", "-"))):
        try:
            dist = importlib.metadata.distribution(candidate)
        except importlib.metadata.PackageNotFoundError:
            continue
        if module in _top_level(dist):
            return (str(dist.metadata["Name"]),)
    # another name (PyYAML for yaml): every distribution's files, read once (~1 s)
    return tuple(_all_top_levels().get(module, ()))


def _top_level(dist: importlib.metadata.Distribution) -> set[str]:
    listed = dist.read_text("top_level.txt")
    if listed:
        return set(listed.split())
    return {
        f.parts[0].removesuffix(".py")
        for f in dist.files or ()
        if f.parts and not f.parts[0].endswith((".dist-info", ".data"))
    }


@functools.cache
def _all_top_levels() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()


def pickle_references(model: Any) -> tuple[str, ...]:
    """``module.name`` of every global the cloudpickle of ``model`` refers to."""
    import pickletools

    cloudpickle = require("cloudpickle")
    strings = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"}
    strings |= {"SHORT_BINSTRING", "BINSTRING", "STRING"}
    found: set[str] = set()
    memo: dict[int, str] = {}
    memoized = 0
    last: list[str | None] = [None, None]  # the two values pushed most recently
    for op, arg, _ in pickletools.genops(cloudpickle.dumps(model)):
        name = op.name
        if name == "GLOBAL":  # "module name"
            found.add(str(arg).replace(" ", ".", 1))
            last = [last[1], None]
        elif name == "STACK_GLOBAL":  # module and name are the two values pushed before
            if last[0] is not None and last[1] is not None:
                found.add(f"{last[0]}.{last[1]}")
            last = [None, None]
        elif name in strings:
            last = [last[1], str(arg)]
        elif name == "MEMOIZE":  # memoizes the top of the stack without pushing
            if last[1] is not None:
                memo[memoized] = last[1]
            memoized += 1
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            if last[1] is not None:
                memo[int(str(arg))] = last[1]
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            last = [last[1], memo.get(int(str(arg)))]
        elif op.stack_after:  # anything else that pushes a value
            last = [last[1], None]
    return tuple(sorted(found))
