"""The Challenger tab's Promote button in a real `workbench dashboard`, in headless Chromium.

One project: ``tiny`` v1 (a constant 1.0) is @champion, v2 (a constant 2.0) @challenger,
served with ``--shadow challenger`` into two logs: in one the actuals are near 2 (the
challenger better), in the other near 1 (the challenger worse). Three dashboards of the
monitoring app: with per-user passwords on the first log (alice signs in and promotes),
without a login on the first log (the button is disabled, saying why), with passwords on
the second log (disabled: the challenger is worse, with both scores). The registry's
@champion is checked after the click, and the version's ``promoted_by`` tag.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from playwright import sync_api

from workbench._jupyter._access import UserStore
from workbench.serving import ScoringServer
from workbench.serving._process import free_port

from ..serving.conftest import own_settings

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "alice's long password"
APPS = Path(__file__).resolve().parents[2] / "apps"


@dataclass
class Dashboard:
    url: str
    process: subprocess.Popen[bytes]
    output: Path


def _package(project: Path, constant: float, alias: str) -> None:
    from sklearn.dummy import DummyRegressor

    from workbench import mlflow_for, resolve_settings
    from workbench.packaging import package_model

    frame = pd.DataFrame({"x": np.arange(30.0), "region": ["a", "b", "c"] * 10})
    frame["y"] = frame["x"]
    model = DummyRegressor(strategy="constant", constant=constant).fit(
        frame[["x", "region"]], frame["y"]
    )
    settings = resolve_settings(project)
    packaged = package_model(
        model, frame, "tiny", target="y", measure_cost=False, progress=False, settings=settings
    )
    client = mlflow_for(settings).MlflowClient()
    client.set_registered_model_alias("tiny", alias, str(packaged.version))


def _traffic(project: Path, better: Path, worse: Path) -> None:
    """20 requests of two rows to @champion, shadowed by @challenger, logged in ``better``;
    the same log copied to ``worse``; actuals near 2 in ``better``, near 1 in ``worse``."""
    from workbench.serving import log_actuals

    server = ScoringServer(
        "models:/tiny@champion",
        log_dir=better,
        project_dir=project,
        args=["--shadow", "challenger"],
        startup_timeout=600,  # a loaded machine
    )
    server.start()
    try:
        body = {"dataframe_split": {"columns": ["x", "region"], "data": [[1.0, "a"], [2.0, "b"]]}}
        with httpx.Client(base_url=server.url, timeout=120) as client:
            ids = [
                client.post("/invocations", json=body).headers["X-Request-ID"] for _ in range(20)
            ]
    finally:
        server.stop()
    assert list((better / "shadow").glob("segment-*.parquet")), "the shadow logged nothing"
    shutil.copytree(better, worse)
    for folder, truth in ((better, 2.0), (worse, 1.0)):
        log_actuals(
            folder,
            [rid for rid in ids for _ in (0, 1)],
            [truth + 0.1 * ((i + row) % 3) for i in range(len(ids)) for row in (0, 1)],
            rows=[row for _ in ids for row in (0, 1)],
        )


def _start(project: Path, log_dir: Path, env: dict[str, str] | None = None) -> Dashboard:
    port = free_port()
    output = project / f"dashboard-{port}.out"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_", "MLFLOW_"))}
    environment = {
        **clean,
        "WORKBENCH_PROJECT_DIR": str(project),
        "WORKBENCH_MODEL_NAME": "tiny",
        "WORKBENCH_INFERENCE_LOG_DIR": str(log_dir),
        **(env or {}),
    }
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "workbench", "dashboard", "monitoring", "--port", str(port)],
            env=environment,
            cwd=project,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Dashboard(f"http://127.0.0.1:{port}", process, output)


def _wait(board: Dashboard) -> None:
    deadline = time.monotonic() + 600
    while "ready at" not in board.output.read_text():
        if board.process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{board.url} did not get ready:\n{board.output.read_text()[-3000:]}")
        time.sleep(0.5)


def _stop(board: Dashboard) -> None:
    if board.process.poll() is None:
        board.process.terminate()
        try:
            board.process.wait(30)
        except subprocess.TimeoutExpired:
            board.process.kill()
            board.process.wait()


@dataclass
class Setup:
    project: Path
    signed: Dashboard  # passwords, the challenger better
    open: Dashboard  # no login, the challenger better
    worse: Dashboard  # passwords, the challenger worse


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("promote")
    project = root / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "p"\n')
    shutil.copytree(APPS, project / "apps")  # this checkout's app, not an installed one
    with own_settings():
        _package(project, 1.0, "champion")
        _package(project, 2.0, "challenger")
        _traffic(project, root / "better", root / "worse")
    # no login: another project folder (no users) on the same registry
    bare = root / "bare"
    bare.mkdir()
    (bare / "pyproject.toml").write_text('[project]\nname = "bare"\n')
    shutil.copytree(APPS, bare / "apps")
    registry = {"WORKBENCH_TRACKING_URI": f"sqlite:///{project / '.workbench' / 'mlflow.db'}"}
    open_board = _start(bare, root / "better", env=registry)
    UserStore(project / ".workbench" / "secrets" / "dashboard-users.json").add("alice", PASSWORD)
    worse = _start(project, root / "worse")
    signed = _start(project, root / "better")
    boards = [signed, open_board, worse]
    try:
        for board in boards:
            _wait(board)
        yield Setup(project, signed, open_board, worse)
    finally:
        for board in boards:
            _stop(board)


def _page(browser: sync_api.Browser, board: Dashboard, width: int, *, login: bool) -> sync_api.Page:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(board.url + "/", timeout=180_000)
    if login:
        page.fill("#name", "alice")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
    page.locator(".lm-TabBar-tab", has_text="Challenger").first.click(timeout=180_000)
    return page


def _champion(project: Path) -> tuple[str, dict[str, str]]:
    from workbench import mlflow_for, resolve_settings

    with own_settings():
        client = mlflow_for(resolve_settings(project)).MlflowClient()
        version = client.get_model_version_by_alias("tiny", "champion")
    return str(version.version), dict(version.tags)


def test_without_a_login_the_button_is_disabled_and_says_why(
    setup: Setup, artifacts_dir: Path
) -> None:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = _page(browser, setup.open, 1280, login=False)
        button = page.get_by_role("button", name="Promote v2")
        button.wait_for(timeout=60_000)
        page.wait_for_selector("text=This dashboard has no login", timeout=30_000)
        assert button.is_disabled()
        page.screenshot(path=str(artifacts_dir / "promote-no-login-1280.png"), full_page=True)
        browser.close()
    assert _champion(setup.project)[0] == "1"


def test_a_worse_challenger_is_refused_with_its_scores_on_the_page(
    setup: Setup, artifacts_dir: Path
) -> None:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = _page(browser, setup.worse, 1280, login=True)
        reason = page.locator(".wb-promote-reason")
        reason.wait_for(timeout=60_000)
        assert "The challenger is worse: its MAE is" in reason.inner_text()
        assert "@champion stays with v1" in reason.inner_text()
        time.sleep(2)  # alice is signed in: still disabled
        assert page.get_by_role("button", name="Promote v2").is_disabled()
        page.screenshot(path=str(artifacts_dir / "promote-worse-1280.png"), full_page=True)
        browser.close()
    assert _champion(setup.project)[0] == "1"


def test_a_signed_in_user_confirms_and_champion_moves(setup: Setup, artifacts_dir: Path) -> None:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        narrow = _page(browser, setup.signed, 800, login=True)
        narrow.wait_for_selector("text=Signed in as", timeout=60_000)
        narrow.screenshot(path=str(artifacts_dir / "promote-signed-in-800.png"), full_page=True)
        narrow.close()
        page = _page(browser, setup.signed, 1280, login=True)
        page.wait_for_selector("text=Signed in as", timeout=60_000)  # the preheated page learns
        assert "alice" in page.locator(".wb-promote-reason").inner_text()
        button = page.get_by_role("button", name="Promote v2")
        assert button.is_enabled()
        button.click()
        confirm = page.get_by_role("button", name="Yes, move @champion to v2")
        confirm.wait_for(timeout=30_000)
        assert _champion(setup.project)[0] == "1"  # nothing moves before the confirmation
        page.screenshot(path=str(artifacts_dir / "promote-confirm-1280.png"), full_page=True)
        confirm.click()
        done = page.locator(".wb-promote-outcome")
        done.wait_for(timeout=120_000)
        assert "v2 is @champion, promoted by alice" in done.inner_text()
        page.screenshot(path=str(artifacts_dir / "promote-done-1280.png"), full_page=True)
        browser.close()
    version, tags = _champion(setup.project)
    assert version == "2"
    assert tags["promoted_by"] == "alice" and tags["promoted_over"] == "1"
    assert "mae" in tags["promotion"]
