"""The REST scoring service: MLflow's scoring protocol, every prediction logged."""

from __future__ import annotations

from workbench.serving._actuals import join_actuals, log_actuals, read_actuals
from workbench.serving._app import create_app
from workbench.serving._journal import read_lost
from workbench.serving._log import (
    LOG_COLUMNS,
    InferenceLogWriter,
    LogFolder,
    read_errors,
    read_inference_log,
)
from workbench.serving._process import ScoringServer

__all__ = [
    "LOG_COLUMNS",
    "InferenceLogWriter",
    "LogFolder",
    "ScoringServer",
    "create_app",
    "join_actuals",
    "log_actuals",
    "read_actuals",
    "read_errors",
    "read_inference_log",
    "read_lost",
]
