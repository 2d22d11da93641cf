"""Packaging a fitted pipeline as an MLflow model in the registry, with an alias."""

from __future__ import annotations

from workbench.packaging._register import PackagedModel, package_model, pinned_requirements

__all__ = ["PackagedModel", "package_model", "pinned_requirements"]
