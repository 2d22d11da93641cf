"""A study in a background thread, so the kernel stays free while it runs."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from workbench._settings import get_settings
from workbench.tuning import _storages
from workbench.tuning._search_space import default_study_name
from workbench.tuning._study import TuningResult, tune

if TYPE_CHECKING:
    import optuna
    import pandas as pd

__all__ = ["TuningJob"]


class TuningJob:
    """A study running in a background thread: the kernel stays free (see ``TuningDashboard``)."""

    def __init__(self, frame: pd.DataFrame, target: str, **kwargs: Any):
        self.study_name = kwargs.setdefault("study_name", default_study_name())
        settings = kwargs.get("settings") or get_settings()
        self.storage = kwargs.setdefault("storage", settings.optuna_storage)
        self.n_trials = int(kwargs.get("n_trials", 20))
        kwargs.setdefault("progress", False)
        self.outcomes: list[dict[str, Any]] = []
        user = kwargs.pop("on_trial", None)

        def on_trial(outcome: dict[str, Any]) -> None:
            self.outcomes.append(outcome)
            if user is not None:
                user(outcome)

        self._future: Future[TuningResult] = Future()
        _storages.storage(self.storage)  # tables exist before any reader (a dashboard) looks

        def run() -> None:
            try:
                self._future.set_result(tune(frame, target, on_trial=on_trial, **kwargs))
            except BaseException as exc:
                self._future.set_exception(exc)

        self._thread = threading.Thread(target=run, name=f"tuning-{self.study_name}", daemon=True)
        self._thread.start()

    def done(self) -> bool:
        return self._future.done()

    def result(self, timeout: float | None = None) -> TuningResult:
        """Wait for the study and return its result (or raise its error)."""
        return self._future.result(timeout)

    def study(self) -> optuna.Study:
        import optuna

        return optuna.load_study(
            study_name=self.study_name, storage=_storages.storage(self.storage)
        )
