"""A newcomer's first hour, from the wheel: build it, install it in a fresh environment
outside the checkout, `workbench init` a project, its `make demo` and `make test`, serve the
model it trained and open `workbench dashboard` in Chromium.

Installing the wheel's dependencies would take minutes; the fresh environment reuses this
one's instead (a ``.pth`` line naming its site-packages, whose own ``.pth`` files, such as
an editable workbench's, are not processed; its ``share/jupyter`` linked, where the
dependencies' Jupyter files live) and installs the wheel itself with ``--no-deps``. Nothing
is fetched: pip is told there is no index.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.test_init import assert_names_no_machine_path
from workbench.serving._process import free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def _env(**more: str) -> dict[str, str]:
    """The newcomer's shell: none of this checkout's PYTHONPATH or the developer's
    WORKBENCH_*/MLFLOW_* settings; no package index; one BLAS thread (a shared machine)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "PYTHONPATH" and not k.startswith(("WORKBENCH_", "MLFLOW_"))
    }
    env.update(OMP_NUM_THREADS="1", PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0", **more)
    return env


def _run(command: list[str], cwd: Path, timeout: float = 600) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)}:\n{output[-4000:]}"
    return output


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    _run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"),
            *("--quiet", "--wheel-dir", str(dist), str(REPO)),
        ],
        cwd=dist,
    )
    (built,) = dist.glob("*.whl")
    return built


def test_the_wheel_is_ours_and_carries_the_apps(wheel: Path) -> None:
    assert wheel.name.startswith("mlops_workbench-")  # not the index's "workbench"
    names = zipfile.ZipFile(wheel).namelist()
    apps = sorted(p.name for p in (REPO / "apps").glob("*.ipynb"))
    assert sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("workbench/_apps/")) == apps
    assert "workbench/templates/project/Makefile" in names
    assert "workbench/_jupyter/voila/templates/workbench/index.html.j2" in names
    metadata = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith(".dist-info/METADATA"))
    )
    assert b"\nName: mlops-workbench\n" in metadata


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment outside the checkout, the wheel installed in it."""
    root = tmp_path_factory.mktemp("newcomer") / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(root)], cwd=root.parent)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(root), "platbase": str(root)}))
    (site / "_reused.pth").write_text(sysconfig.get_path("purelib") + "\n")
    (root / "share").mkdir(exist_ok=True)
    (root / "share" / "jupyter").symlink_to(Path(sys.prefix) / "share" / "jupyter")
    _run([str(root / "bin" / "python"), "-m", "pip", "install", "--no-deps", str(wheel)], root)
    where = _run(
        [str(root / "bin" / "python"), "-c", "import workbench; print(workbench.__file__)"],
        cwd=root.parent,
    )
    assert Path(where.strip()).is_relative_to(site), where  # the wheel's, not the checkout's
    return root


@pytest.fixture
def served(venv: Path, project: Path) -> Iterator[str]:
    """`workbench serve` of the project's champion, from the wheel; its URL."""
    port = free_port()
    server = subprocess.Popen(
        [str(venv / "bin" / "workbench"), "serve", "models:/churn@champion", "--port", str(port)],
        cwd=project,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert server.stdout is not None
    try:
        first = server.stdout.readline()  # nothing before it: a clean start
        assert first.startswith("serving churn version 1 (@champion) at "), first
        yield first.split()[-1]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)


@pytest.fixture(scope="module")
def project(venv: Path) -> Path:
    """`workbench init churn` in a folder outside the checkout, then its make demo."""
    work = venv.parent
    out = _run([str(venv / "bin" / "workbench"), "init", "churn"], cwd=work)
    root = work / "churn"
    assert "make demo WORKBENCH=" in out  # where this machine's wheel is: said, not written
    assert_names_no_machine_path(root, str(work), str(REPO), sys.prefix)
    assert sorted(p.stem for p in (root / "apps").glob("*.ipynb")) == sorted(
        p.stem for p in (REPO / "apps").glob("*.ipynb")
    )
    # the environment the workbench is in, as a newcomer who installed it would say
    demo = _run(["make", "demo", f"VENV={venv}"], cwd=root, timeout=900)
    assert "2 of 2 notebooks ran" in demo, demo
    return root


def test_the_new_project_demo_trains_and_registers_its_model(project: Path) -> None:
    assert (project / "reports" / "profile.html").is_file()
    executed = project / ".workbench/build/notebooks/notebooks/02_train_and_package.ipynb"
    assert "churn version 1 is @champion" in executed.read_text()


def test_the_new_project_make_test_passes(project: Path, venv: Path) -> None:
    out = _run(["make", "test", f"VENV={venv}"], cwd=project)
    assert " passed" in out and "failed" not in out and "skipped" not in out, out


def test_the_dashboard_opens_in_the_new_project(
    project: Path, venv: Path, served: str, artifacts_dir: Path
) -> None:
    from playwright import sync_api

    from tests.apps.test_dashboard_browser import _launch

    # some traffic for the monitoring app: the last days of the sample, as features
    body = _run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "from churn import dataset, modeling\n"
            "labels = dataset.load_raw(quarantine_dir=False).valid.tail(60)\n"
            "rows = modeling.training_set(modeling.feature_store(), labels)\n"
            "print(rows[list(modeling.FEATURES)].to_json(orient='split', index=False))",
        ],
        cwd=project,
    ).strip()
    answer = httpx.post(
        f"{served}/invocations",
        content='{"dataframe_split": ' + body + "}",
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    time.sleep(2)  # the inference log is flushed every second

    port = free_port()
    dashboard = subprocess.Popen(
        [str(venv / "bin" / "workbench"), "dashboard", "--port", str(port)],
        cwd=project,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert dashboard.stdout is not None
        for line in dashboard.stdout:
            lines.append(line)
            if line.startswith("ready at"):
                break
        assert lines and lines[-1].startswith("ready at"), "".join(lines)
        assert lines[0] == f"dashboard {project / 'apps' / 'monitoring.ipynb'}\n"
        console: list[str] = []
        with sync_api.sync_playwright() as p:
            browser = _launch(p)
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.on(
                "console",
                lambda m: (
                    console.append(f"{m.type}: {m.text}")
                    if m.type in ("error", "warning")
                    else None
                ),
            )
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            page.goto(lines[-1].split()[-1], timeout=120_000)
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=120_000)
            page.screenshot(path=str(artifacts_dir / "newcomer-monitoring.png"), full_page=True)
            text = page.inner_text("body")
            browser.close()
        assert "There was an error" not in text, text[:2000]
        assert console == []
        assert [
            line
            for line in lines
            if not line.startswith(("dashboard ", "serving at ", "ready at "))
        ] == []
    finally:
        dashboard.send_signal(signal.SIGTERM)
        dashboard.wait(60)
