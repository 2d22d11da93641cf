"""The REST scoring service: MLflow's scoring protocol, every prediction logged."""

from __future__ import annotations

from workbench.serving._actuals import join_actuals, log_actuals, read_actuals
from workbench.serving._app import check_model_uri, create_app
from workbench.serving._journal import read_lost
from workbench.serving._log import (
    LOG_COLUMNS,
    InferenceLogWriter,
    LogFolder,
    LoggedRequest,
    read_errors,
    read_inference_log,
    write_segment,
)
from workbench.serving._process import ScoringServer, free_port

__all__ = [
    "LOG_COLUMNS",
    "InferenceLogWriter",
    "LogFolder",
    "LoggedRequest",
    "ScoringServer",
    "check_model_uri",
    "create_app",
    "free_port",
    "join_actuals",
    "log_actuals",
    "read_actuals",
    "read_errors",
    "read_inference_log",
    "read_lost",
    "write_segment",
]
