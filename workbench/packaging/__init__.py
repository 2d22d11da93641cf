"""Packaging: a fitted pipeline → a verified MLflow model version with a model card.

``package_model`` (or one click on a ``PackageButton`` in a notebook, or ``workbench
package`` in a shell) logs the pipeline with a serialization chosen on purpose, a
signature that keeps nullable columns usable, an input example and pinned requirements;
checks it in a fresh process; measures its cost; registers a version with a model card,
the reference data and the data contract. ``promote`` moves ``champion`` to a
``challenger`` that is not worse on a holdout; ``retrain`` refits the champion's pipeline
on the feature store's data up to a date and packages it as the next ``challenger``.
"""

from __future__ import annotations

from workbench._requirements import pinned_requirements
from workbench.packaging._card import ModelCard, card_of
from workbench.packaging._promote import Promotion, conform, promote
from workbench.packaging._register import PackagedModel, package_model
from workbench.packaging._retrain import Retraining, retrain
from workbench.packaging._signature import Serialization, choose_serialization, infer_signature
from workbench.packaging._verifier import warm_verifier
from workbench.packaging._widgets import CardViewer, PackageButton

__all__ = [
    "CardViewer",
    "ModelCard",
    "PackageButton",
    "PackagedModel",
    "Promotion",
    "Retraining",
    "Serialization",
    "card_of",
    "choose_serialization",
    "conform",
    "infer_signature",
    "package_model",
    "pinned_requirements",
    "promote",
    "retrain",
    "warm_verifier",
]
