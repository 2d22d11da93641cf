"""A registered model version as the stages after packaging read it: one seam.

``package_model`` registers each version with tags that say what it is (its task, target
and input features) and where its artifacts lie in one folder of its run: the data
contract, the reference data, monitoring's reference profile, a classifier's reference
scores and the model card. Packaging writes those tags with :func:`version_tags`;
serving, monitoring, the card viewer and the demo read them with
:meth:`VersionArtifacts.of`. The tag and file names below are spelled nowhere else.

This module is on the foundation floor: it knows names and paths, not the records behind
them (a :class:`~workbench.data.Contract`, a reference profile, a model card), which each
reader loads with its own type.

Example:
    >>> version = VersionArtifacts.of("churn", alias="champion")  # doctest: +SKIP
    >>> version.version, version.task, version.features  # doctest: +SKIP
    (3, 'classification', ('tenure', 'plan', 'monthly_fee'))
    >>> Contract.load(version.contract_path)  # downloaded once, no progress bar  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench._exceptions import ModelError
from workbench._settings import Settings, get_settings

__all__ = [
    "CARD_FILES",
    "CONTRACT",
    "FEATURES",
    "FEATURE_VIEWS",
    "FILES",
    "MODEL_CARD",
    "REFERENCE",
    "REFERENCE_PROFILE",
    "REFERENCE_SCORES",
    "SERIALIZATION",
    "SERIALIZATION_REASON",
    "TAG_LIMIT",
    "TARGET",
    "TASK",
    "TUNING_STUDY",
    "VERIFIED",
    "VersionArtifacts",
    "artifact_folder",
    "score_column",
    "version_tags",
]

# ---------------------------------------------------------------- tag names
#: ``regression`` or ``classification``.
TASK = "task"
#: The column the model predicts ("" when packaged without one).
TARGET = "target"
#: The model's input columns, comma-separated, in order.
FEATURES = "features"
#: ``runs:/`` URIs of the version's artifacts.
CONTRACT = "contract"
REFERENCE = "reference"
REFERENCE_PROFILE = "reference_profile"
REFERENCE_SCORES = "reference_scores"
MODEL_CARD = "model_card"
#: What else packaging records: how the model is written and why, its check, its lineage.
SERIALIZATION = "serialization"
SERIALIZATION_REASON = "serialization_reason"
VERIFIED = "verified"
FEATURE_VIEWS = "feature_views"
TUNING_STUDY = "tuning_study"
#: The longest tag value written (MLflow refuses longer ones on some stores).
TAG_LIMIT = 5000

# ---------------------------------------------------------------- artifact files
_CONTRACT_FILE = "contract.yaml"
_REFERENCE_FILE = "reference.parquet"
_REFERENCE_PROFILE_FILE = "reference_profile.json"
_REFERENCE_SCORES_FILE = "reference_scores.parquet"
#: The model card: Markdown, HTML (what the tag points at) and its JSON record.
CARD_FILES = ("model_card.md", "model_card.html", "model_card.json")
#: The file name of each artifact tag in a version's folder.
FILES = {
    CONTRACT: _CONTRACT_FILE,
    REFERENCE: _REFERENCE_FILE,
    REFERENCE_PROFILE: _REFERENCE_PROFILE_FILE,
    REFERENCE_SCORES: _REFERENCE_SCORES_FILE,
    MODEL_CARD: CARD_FILES[1],
}

_PROGRESS_BAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
_DOWNLOADS = threading.Lock()


def score_column(label: Any) -> str:
    """The column of a class's probability, in the reference scores and the inference log."""
    return f"proba_{label}"


def artifact_folder(name: str, model_id: str) -> str:
    """The folder of the run that holds a version's artifacts (``packages/<name>/<id>``)."""
    return f"packages/{name}/{model_id}"


def version_tags(
    run_id: str,
    folder: str,
    *,
    task: str,
    target: str | None,
    features: Sequence[str],
    contract: bool,
    reference_scores: bool,
) -> dict[str, str]:
    """The tags that let :meth:`VersionArtifacts.of` read a version back: what it is, and
    where in ``folder`` of run ``run_id`` its artifacts lie (a contract and reference
    scores only where they were logged)."""
    base = f"runs:/{run_id}/{folder}"
    logged = [MODEL_CARD, REFERENCE, REFERENCE_PROFILE]
    logged += [CONTRACT] if contract else []
    logged += [REFERENCE_SCORES] if reference_scores else []
    return {
        TASK: task,
        TARGET: target or "",
        FEATURES: ",".join(features)[:TAG_LIMIT],
        **{tag: f"{base}/{FILES[tag]}" for tag in logged},
    }


@contextlib.contextmanager
def _no_progress_bar() -> Iterator[None]:
    """MLflow's download bar off (it would land on a dashboard's page or in a notebook)."""
    with _DOWNLOADS:
        saved = os.environ.get(_PROGRESS_BAR)
        os.environ[_PROGRESS_BAR] = "false"
        try:
            yield
        finally:
            if saved is None:
                os.environ.pop(_PROGRESS_BAR, None)
            else:
                os.environ[_PROGRESS_BAR] = saved


@dataclasses.dataclass(frozen=True)
class VersionArtifacts:
    """A registered version: what it is, and its artifacts (downloaded when first asked).

    Attributes:
        name: The registered model.
        version: Its version number.
        aliases: The aliases that point at it now.
        run_id: The run its model and artifacts were logged under.
        task: ``regression`` or ``classification`` (``regression`` for a version the
            workbench did not package, as promotion and the dashboard assume).
        target: The column it predicts (``None`` if packaged without one).
        tags: Every tag of the version.

    The ``*_uri`` properties are the artifacts' ``runs:/`` URIs (``None`` where the
    version has none); the ``*_path`` properties download them, once per object, with
    no progress bar, and give the local file.
    """

    name: str
    version: int
    aliases: tuple[str, ...]
    run_id: str | None
    task: str
    target: str | None
    tags: Mapping[str, str]
    settings: Settings = dataclasses.field(repr=False, compare=False)

    @classmethod
    def of(
        cls,
        name: str,
        version: int | str | None = None,
        *,
        alias: str = "champion",
        settings: Settings | None = None,
    ) -> VersionArtifacts:
        """Version ``version`` of ``name``, or the one ``alias`` points at.

        Raises:
            ModelError: The registry has no such model, version or alias (the message
                names it and says what MLflow answered).
        """
        from workbench._tracking import mlflow_for

        s = settings or get_settings()
        mlflow = mlflow_for(s)
        client = mlflow.MlflowClient()
        which = f"{name}@{alias}" if version is None else f"{name} version {version}"
        try:
            mv = (
                client.get_model_version_by_alias(name, alias)
                if version is None
                else client.get_model_version(name, str(version))
            )
        except mlflow.exceptions.MlflowException as exc:
            raise ModelError(f"No registered version {which}: {exc.message}") from exc
        tags = dict(mv.tags)
        return cls(
            name=name,
            version=int(mv.version),
            aliases=tuple(getattr(mv, "aliases", ()) or ()),
            run_id=mv.run_id,
            task=tags.get(TASK, "regression"),
            target=tags.get(TARGET) or None,
            tags=tags,
            settings=s,
        )

    @property
    def packaged(self) -> bool:
        """Whether the workbench packaged it (it has a model card)."""
        return MODEL_CARD in self.tags

    @functools.cached_property
    def features(self) -> tuple[str, ...]:
        """The input columns in order (from the card when the tag was cut at
        ``TAG_LIMIT`` characters)."""
        listed = self.tags.get(FEATURES, "")
        if len(listed) >= TAG_LIMIT and self.model_card_path is not None:
            import json

            card = json.loads(self.model_card_path.read_text(encoding="utf-8"))
            return tuple(str(row["name"]) for row in card["features"])
        return tuple(listed.split(",")) if listed else ()

    # ------------------------------------------------------------ where they lie
    @property
    def contract_uri(self) -> str | None:
        return self.tags.get(CONTRACT) or None

    @property
    def reference_uri(self) -> str | None:
        return self.tags.get(REFERENCE) or None

    @property
    def reference_profile_uri(self) -> str | None:
        return self.tags.get(REFERENCE_PROFILE) or None

    @property
    def reference_scores_uri(self) -> str | None:
        return self.tags.get(REFERENCE_SCORES) or None

    @property
    def model_card_uri(self) -> str | None:
        """The card's HTML page (its JSON record and Markdown lie beside it)."""
        return self.tags.get(MODEL_CARD) or None

    # ------------------------------------------------------------ local copies
    @functools.cached_property
    def contract_path(self) -> Path | None:
        """The data contract (YAML)."""
        return self._download(self.contract_uri)

    @functools.cached_property
    def reference_path(self) -> Path | None:
        """The reference data (Parquet), personal columns left out."""
        return self._download(self.reference_uri)

    @functools.cached_property
    def reference_profile_path(self) -> Path | None:
        """Monitoring's reference profile (JSON)."""
        return self._download(self.reference_profile_uri)

    @functools.cached_property
    def reference_scores_path(self) -> Path | None:
        """A classifier's class probabilities and labels on held-out rows (Parquet)."""
        return self._download(self.reference_scores_uri)

    @functools.cached_property
    def model_card_path(self) -> Path | None:
        """The model card's record (JSON, what ``ModelCard(**json)`` takes)."""
        uri = self.model_card_uri
        return self._download(uri.rsplit("/", 1)[0] + "/" + CARD_FILES[2] if uri else None)

    def _download(self, uri: str | None) -> Path | None:
        if uri is None:
            return None
        from workbench._tracking import mlflow_for

        mlflow = mlflow_for(self.settings)
        with _no_progress_bar():
            return Path(mlflow.artifacts.download_artifacts(uri))
