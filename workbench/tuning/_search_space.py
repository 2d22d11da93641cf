"""A study's name and search space: unique by default, and the same when it resumes.

Optuna refuses a categorical parameter whose choices change within a study, so a study
resumed with other families fails every trial ("CategoricalDistribution does not
support dynamic value space"); changed ranges silently mix two searches. The space a
study was created with is kept in its storage (``workbench:search_space``) and a resume
with another is refused before any trial runs, with both spaces in the message.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import TYPE_CHECKING, Any

from workbench._exceptions import ConfigurationError
from workbench.tuning import _optuna

if TYPE_CHECKING:
    from workbench.tuning._objective import TuningSpec
    from workbench.tuning._spaces import Family

__all__ = ["check_search_space", "default_study_name", "search_space"]

SPACE_ATTR = "workbench:search_space"


def default_study_name() -> str:
    """``study-<UTC time>-<random>``: two studies started in the same second differ."""
    return f"study-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


class _Recorder:
    """Stands in for a trial to read a family's search space: every suggestion records
    its distribution and returns the low end (one branch of a conditional space)."""

    def __init__(self) -> None:
        self.space: dict[str, Any] = {}

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        self.space[name] = ["float", low, high, step, log]
        return low

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        self.space[name] = ["int", low, high, step, log]
        return low

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        self.space[name] = ["categorical", [_plain(c) for c in choices]]
        return choices[0]


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) or value is None else repr(value)


def _family_space(family: Family) -> dict[str, Any] | None:
    """A family's parameters and ranges (``None`` when its ``suggest`` needs a real trial)."""
    recorder = _Recorder()
    try:
        family.suggest(recorder)
    except Exception:
        return None
    space: dict[str, Any] = json.loads(json.dumps(recorder.space))  # as the storage returns it
    return space


def search_space(spec: TuningSpec) -> dict[str, Any]:
    """The space a study of ``spec`` searches, as JSON: its families in order, each with
    its parameters' ranges; ``{"objective": "custom"}`` for a custom objective."""
    if spec.objective is not None:
        return {"objective": "custom"}
    return {"families": {name: _family_space(f) for name, f in spec.families.items()}}


def _describe(space: dict[str, Any]) -> str:
    if "families" not in space:
        return "a custom objective"
    parts = []
    for name, params in space["families"].items():
        if params is None:
            parts.append(name)
            continue
        ranges = []
        for param, spec in params.items():
            short = param.removeprefix(f"{name}.")
            if spec[0] == "categorical":
                ranges.append(f"{short} in {spec[1]}")
            else:
                ranges.append(
                    f"{short} {spec[0]} [{spec[1]}, {spec[2]}]{' log' if spec[4] else ''}"
                )
        parts.append(f"{name}({', '.join(ranges)})")
    return "; ".join(parts)


def _families_of_trials(study: Any) -> list[str] | None:
    """The family choices a study made without a recorded space (before there was one)."""
    for trial in study.get_trials(deepcopy=False):
        distribution = trial.distributions.get("family")
        if distribution is not None:
            return [str(c) for c in distribution.choices]
    return None


def check_search_space(study: Any, storage: Any, spec: TuningSpec) -> TuningSpec:
    """Record the space of a new study; refuse to resume one with another space.

    A study resumed with the same families in another order keeps its own order (Optuna
    compares a categorical's choices in order), so the returned spec may differ from
    ``spec`` in that only. A study from before spaces were recorded is checked by the
    family choices of its trials.

    Raises:
        ConfigurationError: The study searches another space; the message gives both.
    """
    import dataclasses

    study_id = _optuna.study_id(study)
    wanted = search_space(spec)
    stored = storage.get_study_system_attrs(study_id).get(SPACE_ATTR)
    recorded = stored is not None
    if stored is None:
        families = _families_of_trials(study)
        if families is None:
            storage.set_study_system_attr(study_id, SPACE_ATTR, wanted)
            return spec
        stored = {"families": dict.fromkeys(families)}  # ranges unknown: names only
    same = stored.keys() == wanted.keys()
    if same and "families" in wanted:
        old, new = stored["families"], wanted["families"]
        same = set(old) == set(new) and all(
            old[n] is None or new[n] is None or old[n] == new[n] for n in old
        )
        if same and list(old) != list(new):  # the study's order of the choices
            spec = dataclasses.replace(spec, families={n: spec.families[n] for n in old})
    if not same:
        raise ConfigurationError(
            f"The study {study.study_name!r} searches another space than this call asks "
            f"for, and Optuna cannot mix the two in one study. The study's space: "
            f"{_describe(stored)}. This call's: {_describe(wanted)}. Resume it with its "
            f"own families and ranges, or give a new study_name."
        )
    if not recorded:
        storage.set_study_system_attr(study_id, SPACE_ATTR, search_space(spec))
    return spec
