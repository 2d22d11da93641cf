"""Load a logged model in a fresh interpreter, predict its input example, time predictions.

A model that predicts in the process that trained it may still fail where it is served:
a transformer class importable only from the notebook's folder, a part of the workbench
itself, a signature that rejects the example. So the package is checked the way a
scoring server will load it, in a new Python process started outside the project folder,
without ``PYTHONPATH``, through ``mlflow.pyfunc.load_model``.

The workbench is not importable in that process: a packaged model must load where it is
not installed (``mlflow models serve``, a team's own image). The process runs this file
by its path (``python -P``: not as ``workbench.packaging._verifier``, and without its
folder on ``sys.path``), and its first act is to put a finder on ``sys.meta_path`` that
refuses ``workbench`` and its submodules. That hides an editable install (a ``.pth``
path to the checkout) and an installed wheel alike, at no cost, and leaves everything
else of the environment as it is. A separate virtual environment without the workbench
would check the same for the price of a second installation of MLflow and the model's
libraries; whether the pinned requirements install and suffice in an empty one is a
minutes-long check, done by ``benchmarks/model_packaging.py --fresh-venv`` instead.

Starting Python and importing MLflow, pandas and scikit-learn takes seconds, so one
spare verifier process is kept warm: it is started ahead of need (when a
``PackageButton`` is shown, or at the start of a ``package_model`` call, while the model
is being logged), used once, and replaced in the background. Each check therefore runs
in a process that has loaded no model before.

Run as ``python -P path/to/_verifier.py``: it reads one JSON request line on stdin and
writes JSON result lines on stdout: the check, then the cost measurement. It imports
nothing of the workbench, not even itself as a module.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["Verifier", "replace_spare", "spare_verifier", "warm_verifier"]

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class Verifier:
    """One fresh interpreter, importing the model-loading stack as soon as it starts.

    :meth:`send` hands it one request; :meth:`receive` returns its answers in turn: the
    check first, then (when asked for) the cost measurement, so the caller can go on
    while the measurement runs.
    """

    def __init__(self, threads: int = 1) -> None:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        # Prediction threads as the scoring server sets them (``workbench serve --threads``).
        env.update({v: str(threads) for v in _THREAD_VARS})
        self._cwd = tempfile.mkdtemp(prefix="workbench-verify-")
        self._stderr = (Path(self._cwd) / "stderr.txt").open("w+b")
        self.process = subprocess.Popen(
            # by path, not -m: the fresh process must not import the workbench (see above)
            [sys.executable, "-P", str(Path(__file__).resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=self._cwd,
            env=env,
            text=True,
        )
        self._answers: queue.Queue[str | None] = queue.Queue()
        self._ready = threading.Event()
        threading.Thread(target=self._read, name="workbench-verifier-reader", daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("{"):
                self._answers.put(line)
            elif line.strip() == "ready":
                self._ready.set()
        self._answers.put(None)

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until its imports are done (``False`` on timeout)."""
        return self._ready.wait(timeout)

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, request: dict[str, Any]) -> None:
        """Hand over the request; answers are read in the background."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.close()
        except OSError:  # it died before reading; receive() reports why
            pass

    def receive(self, timeout: float = 300.0) -> dict[str, Any]:
        """The next answer (``ok`` false with a ``reason`` if the process failed)."""
        try:
            line = self._answers.get(timeout=timeout)
        except queue.Empty:
            self.close()
            return {"ok": False, "reason": f"the fresh process did not answer in {timeout:.0f} s"}
        if line is None:
            self.process.wait(timeout=30)
            self._stderr.seek(0)
            tail = "\n".join(
                self._stderr.read().decode(errors="replace").strip().splitlines()[-15:]
            )
            return {
                "ok": False,
                "reason": f"the fresh process exited with code {self.process.returncode}: {tail}",
            }
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait()
        self._stderr.close()
        _remove(self._cwd)


def _remove(folder: str) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


_spare: Verifier | None = None
_lock = threading.Lock()


def spare_verifier(take: bool = False) -> Verifier | None:
    """Make sure a warm verifier is waiting; with ``take``, hand it over (and start another)."""
    global _spare
    with _lock:
        if _closing:
            return Verifier() if take else None
        if _spare is not None and not _spare.alive():
            _spare.close()
            _spare = None
        if _spare is None:
            _spare = Verifier()
        if not take:
            return None
        taken, _spare = _spare, None
    return taken


def warm_verifier(timeout: float = 120.0) -> bool:
    """Start the spare verifier if needed and wait until it is ready to check a model."""
    spare_verifier()
    spare = _spare
    return spare is not None and spare.wait_ready(timeout)


def _interactive() -> bool:
    """A notebook kernel or an interactive interpreter (where a next package is likely)."""
    return "ipykernel" in sys.modules or hasattr(sys, "ps1") or bool(sys.flags.interactive)


def replace_spare() -> None:
    """Start the next spare verifier in the background, in interactive sessions.

    A script or a ``workbench package`` command packages once and exits; a spare started
    there would only be killed at exit.
    """
    if _interactive() and not _closing:
        threading.Thread(target=spare_verifier, name="workbench-verifier", daemon=True).start()


_closing = False


@atexit.register
def _close_spare() -> None:
    global _closing
    with _lock:
        _closing = True
        if _spare is not None:
            _spare.close()


# ---------------------------------------------------------------- the fresh process


class HiddenPackages:
    """A ``sys.meta_path`` finder under which ``packages`` (and their submodules) are
    not installed: importing one raises ``ModuleNotFoundError`` naming it."""

    def __init__(self, *packages: str) -> None:
        self.packages = packages

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.split(".", 1)[0] in self.packages:
            raise ModuleNotFoundError(
                f"No module named {name!r} (the workbench is not installed where a packaged "
                f"model is served, so this check runs without it)",
                name=name,
            )
        return None

    def install(self) -> None:
        for name in [m for m in sys.modules if m.split(".", 1)[0] in self.packages]:
            del sys.modules[name]
        sys.meta_path.insert(0, self)


def _same(expected: list[Any], got: Any) -> tuple[bool, str]:
    import numpy as np
    import pandas as pd

    got_array = np.asarray(got.to_numpy() if isinstance(got, (pd.Series, pd.DataFrame)) else got)
    want = np.asarray(expected)
    if got_array.shape != want.shape:
        return False, f"predictions have shape {got_array.shape}, expected {want.shape}"
    if want.dtype.kind in "fiub" and got_array.dtype.kind in "fiub":
        same = bool(np.array_equal(want.astype(float), got_array.astype(float), equal_nan=True))
        if not same:
            diff = float(np.nanmax(np.abs(want.astype(float) - got_array.astype(float))))
            return False, f"predictions differ from the training process's by up to {diff:.3g}"
        return True, ""
    if got_array.tolist() != want.tolist():
        return False, (
            f"predictions {got_array.tolist()[:5]} differ from the training process's "
            f"{want.tolist()[:5]}"
        )
    return True, ""


def _timed(func: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        func()
        times.append(time.perf_counter() - began)
    times.sort()
    return times[len(times) // 2]


_ANSWERS: Any = None  # the real stdout; fd 1 goes to stderr, so a model's print() cannot
# pass for an answer


def _say(line: str) -> None:
    out = _ANSWERS or sys.stdout
    out.write(line + "\n")
    out.flush()


def _answer(result: dict[str, Any]) -> None:
    _say(json.dumps(result))


def _check(request: dict[str, Any]) -> dict[str, Any]:
    import mlflow
    import mlflow.pyfunc
    from mlflow.models import Model

    began = time.perf_counter()
    local = request["model_uri"]
    if "://" in local or local.startswith(("models:", "runs:")):
        mlflow.set_tracking_uri(request["tracking_uri"])
        mlflow.set_registry_uri(request["tracking_uri"])
        local = mlflow.artifacts.download_artifacts(local, dst_path=str(Path.cwd()))
    model = mlflow.pyfunc.load_model(local)
    load_seconds = time.perf_counter() - began
    example = Model.load(local).load_input_example(local)
    if example is None:
        return {"ok": False, "reason": "the logged model has no input example"}
    got = model.predict(example)
    same, why = _same(request["expected"], got)
    if not same:
        return {"ok": False, "reason": why}
    _answer({"ok": True, "load_seconds": load_seconds})
    result: dict[str, Any] = {"ok": True}
    if request.get("batch_json"):
        import pandas as pd
        from mlflow.pyfunc.scoring_server import infer_and_parse_data

        # The rows as a client sends them (JSON), parsed as the scoring protocol does.
        batch = infer_and_parse_data(
            json.loads(request["batch_json"]), model.metadata.get_input_schema()
        )
        if not isinstance(batch, pd.DataFrame):
            batch = pd.DataFrame(batch)
        measure_began = time.perf_counter()
        one = batch.head(1)
        model.predict(one)  # first call warms caches
        single = _timed(lambda: model.predict(one), request.get("single_repeat", 50))
        whole = _timed(lambda: model.predict(batch), request.get("batch_repeat", 5))
        result.update(
            single_row_ms=single * 1000,
            batch_rows=len(batch),
            batch_ms=whole * 1000,
            predictions_per_second=len(batch) / whole if whole > 0 else None,
            measure_seconds=time.perf_counter() - measure_began,
        )
    return result


def main() -> int:
    global _ANSWERS
    HiddenPackages("workbench").install()
    _ANSWERS = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    # Import what loading and predicting need while the parent is still logging.
    import mlflow.pyfunc
    import mlflow.pyfunc.scoring_server
    import mlflow.sklearn  # noqa: F401
    import pandas  # noqa: F401
    import sklearn.compose
    import sklearn.ensemble
    import sklearn.impute
    import sklearn.linear_model
    import sklearn.pipeline
    import sklearn.preprocessing  # noqa: F401
    import skops.io  # noqa: F401

    try:  # load_model checks the model's pins against what is installed: map that now
        from mlflow.utils.requirements_utils import _init_packages_to_modules_map

        _init_packages_to_modules_map()  # type: ignore[no-untyped-call]
    except Exception:  # a private helper; without it the check is only slower
        pass

    _say("ready")
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    try:
        result = _check(json.loads(line))
    except Exception as exc:
        result = {"ok": False, "reason": f"{type(exc).__name__}: {exc}"[:2000]}
    _answer(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
