"""Feature references (``view:feature``, ``view@version:feature``, ``view:*``): parsed,
and resolved against the registry to the view versions and features they name.

Training sets (:meth:`FeatureStore.get_historical_features`) resolve a reference without
a version to the view's current version; online reads to the version loaded online.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from workbench._exceptions import ConfigurationError

if TYPE_CHECKING:
    from workbench.features._records import ViewVersion
    from workbench.features._registry import Registry

__all__ = ["Reference", "parse", "pick", "resolve"]


@dataclasses.dataclass(frozen=True)
class Reference:
    """A parsed reference: the view, its version (None: not pinned), the feature or ``*``."""

    view: str
    version: int | None
    feature: str


def parse(reference: str) -> Reference:
    """The parts of ``view:feature``, ``view@version:feature`` or ``view:*``.

    Raises:
        ConfigurationError: The reference has another form.
    """
    view, sep, feature = reference.partition(":")
    if not sep or not view or not feature:
        raise ConfigurationError(
            f"A feature reference is 'view:feature', 'view@version:feature' or 'view:*'. "
            f"Got {reference!r}."
        )
    name, at, number = view.partition("@")
    if at and not number.isdigit():
        raise ConfigurationError(f"The version in {reference!r} must be a number.")
    return Reference(name, int(number) if at else None, feature)


def pick(ref: Reference, record: ViewVersion) -> list[str]:
    """The features a reference names in a registered version (``*``: all of them)."""
    names = list(record.definition.feature_names)
    if ref.feature == "*":
        return names
    if ref.feature not in names:
        raise ConfigurationError(
            f"The feature view {ref.view!r} version {record.version} has no feature "
            f"{ref.feature!r}. Features: {names}."
        )
    return [ref.feature]


def resolve(
    references: Sequence[str], registry: Registry, *, online: bool = False
) -> dict[tuple[str, int], tuple[ViewVersion, list[str]]]:
    """(view, version) → its record and the features asked of it, in request order.

    Args:
        references: Feature references.
        registry: Where the versions are registered.
        online: Resolve to the versions in the online store (a reference without a
            version: the one loaded online).

    Raises:
        ConfigurationError: A view, version or feature is unknown, or (``online``) not
            in the online store.
    """
    chosen: dict[tuple[str, int], tuple[ViewVersion, list[str]]] = {}
    for reference in references:
        ref = parse(reference)
        number = ref.version
        if online:
            number = ref.version or registry.online_version(ref.view)
            if number is None:
                raise ConfigurationError(
                    f"The feature view {ref.view!r} is not in the online store. Run "
                    f"FeatureStore.materialize_online({ref.view!r}) first."
                )
        record = registry.version(ref.view, number)
        if online and not record.online:
            raise ConfigurationError(
                f"Version {record.version} of {ref.view!r} is not in the online store."
            )
        _, names = chosen.setdefault((ref.view, record.version), (record, []))
        names.extend(n for n in pick(ref, record) if n not in names)
    return chosen
