"""The feature store: definitions as code, point-in-time training sets, online serving.

Declare :class:`Entity`, :class:`Source` and :class:`FeatureView` objects (with
:class:`Calendar`, :class:`Lag`, :class:`Window` or :class:`Custom` transformations) in
the project's ``features.py``; :class:`FeatureStore` registers a version of each,
materializes it to Parquet, builds point-in-time correct training sets, and serves the
latest values from SQLite. A registered version reads as a typed :class:`ViewVersion`.

The modules, lowest first (each imports only those above it):

- ``_times``, ``_sql``, ``_renamed``: how times are held, SQL quoting, renamed keywords.
- ``_fingerprints``: the hashes that name a version (definition, source rows, code).
- ``_calendar``, ``_windows``: calendar and trailing-window computations on a frame.
- ``_sources``: where a view's rows come from, and reading them.
- ``_transformations``: the steps adding features (calendar, lag, window, custom).
- ``_definitions``: entities and feature views; ``features.py`` loaded.
- ``_keys``: entity keys: type check, missing keys, buckets by key.
- ``_engine``: a view's rows computed from its source rows (here or on a cluster).
- ``_records``, ``_registry``: typed registry records, and the locked JSON file.
- ``_references``: ``view@version:feature`` parsed and resolved to versions.
- ``_offline``: monthly Parquet partitions and point-in-time joins (DuckDB, Dask).
- ``_online``: the SQLite online store: tables loaded and read as of a time.
- ``_store``: :class:`FeatureStore`, which ties them together.
"""

from __future__ import annotations

from workbench.features._calendar import add_calendar_features
from workbench.features._definitions import Entity, FeatureView, load_definitions
from workbench.features._records import ViewVersion
from workbench.features._sources import Source
from workbench.features._store import FeatureStore, OnlineFeatures
from workbench.features._transformations import Calendar, Custom, Lag, Transformation, Window
from workbench.features._windows import add_trailing, add_trailing_mean

__all__ = [
    "Calendar",
    "Custom",
    "Entity",
    "FeatureStore",
    "FeatureView",
    "Lag",
    "OnlineFeatures",
    "Source",
    "Transformation",
    "ViewVersion",
    "Window",
    "add_calendar_features",
    "add_trailing",
    "add_trailing_mean",
    "load_definitions",
]
