"""The documentation: the site builds strict, documents every public name and every
subcommand, fetches nothing from outside, and the README and the stage pages say what works.

The site is built once here without the executed tutorials (``WORKBENCH_DOCS_NOTEBOOKS=none``:
placeholder pages, seconds instead of minutes); ``make docs`` builds it with them.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path

import httpx
import pytest

from workbench._cli import build_parser

REPO = Path(__file__).resolve().parents[1]
#: Every stage (and the package root): each name of its ``__all__`` must be in the API pages.
MODULES = (
    "workbench",
    "workbench.data",
    "workbench.explore",
    "workbench.features",
    "workbench.datasets",
    "workbench.tuning",
    "workbench.packaging",
    "workbench.serving",
    "workbench.monitoring",
    "workbench.presentation",
)
#: Stage pages whose example the test runs (fast: no MLflow, no cluster); the others'
#: examples (tuning, packaging, serving) are checked to compile and use public names only.
RUN_EXAMPLES = ("data", "explore", "features", "monitoring")


def _mkdocs() -> list[str]:
    return [sys.executable, "-m", "mkdocs"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built with ``--strict`` (a warning — a broken link, a missing
    reference, a docstring that does not match its signature — fails the build)."""
    out = tmp_path_factory.mktemp("docs") / "site"
    env = {**os.environ, "WORKBENCH_DOCS_NOTEBOOKS": "none", "NO_MKDOCS_2_WARNING": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [*_mkdocs(), "build", "--strict", "--site-dir", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return out


def _inventory(path: Path) -> set[str]:
    """The object names of a Sphinx inventory (``objects.inv``, version 2)."""
    raw = path.read_bytes()
    header_end = 0
    for _ in range(4):  # four header lines, then the zlib stream
        header_end = raw.index(b"\n", header_end) + 1
    assert raw.startswith(b"# Sphinx inventory version 2")
    lines = zlib.decompress(raw[header_end:]).decode().splitlines()
    return {line.split(" ", 1)[0] for line in lines if line}


def test_api_reference_documents_every_public_name_of_every_stage(site: Path) -> None:
    documented = _inventory(site / "objects.inv")
    missing = [
        f"{module}.{name}"
        for module in MODULES
        for name in importlib.import_module(module).__all__
        if f"{module}.{name}" not in documented
    ]
    assert missing == [], f"not in the API reference (docs/reference/api/): {missing}"


def _subcommands() -> list[str]:
    import argparse

    parser = build_parser()
    return [
        name
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    ]


def test_cli_reference_lists_every_subcommand_with_its_help(site: Path) -> None:
    page = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    names = _subcommands()
    assert {"init", "demo", "serve", "dashboard", "run-notebooks"} <= set(names)
    for name in names:
        assert f'id="workbench-{name}"' in page, name  # its own section, with an anchor
        assert f"usage: workbench {name}" in page, name  # and its --help


def test_the_site_loads_nothing_from_outside(site: Path) -> None:
    """No web font, CDN script or stylesheet: the site opens offline, like the reports."""
    external = re.compile(
        r"""<(?:script|img|iframe|source)\b[^>]*\bsrc=["']?(?:https?:)?//"""
        r"""|<link\b[^>]*\bhref=["']?(?:https?:)?//"""
        r"""|@import\s+(?:url\()?["']?(?:https?:)?//"""
        r"""|\bimport\(\s*["'](?:https?:)?//""",
        re.I,
    )
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 20
    found = {
        str(page.relative_to(site)): match.group(0)
        for page in pages
        for match in [external.search(page.read_text(encoding="utf-8"))]
        if match
    }
    assert found == {}
    for css in site.rglob("*.css"):
        assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", css.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- the README
README = (REPO / "README.md").read_text(encoding="utf-8")


def _bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, re.S)


def test_readme_commands_are_real_subcommands_run_from_the_venv() -> None:
    names = set(_subcommands())
    assert "## A five-minute tour" in README
    tour = README.split("## A five-minute tour", 1)[1].split("\n## ", 1)[0]
    assert "source .venv/bin/activate" in tour  # else `workbench` is not on PATH
    commands = "\n".join(_bash_blocks(README))
    used = re.findall(r"(?m)^\s*(?:\.venv/bin/)?workbench ([a-z][a-z-]*)", commands)
    assert used, "the README shows no workbench command"
    assert set(used) <= names, set(used) - names
    assert "make demo" in README and "make test" in README
    image = re.search(r"!\[[^\]]*\]\(([^)]+\.png)\)", README)
    assert image and (REPO / image.group(1)).stat().st_size < 300_000


def test_readme_request_for_the_demo_model_gets_predictions(demo_project) -> None:  # type: ignore[no-untyped-def]
    """The tour's curl body, sent to a scoring server of the demo's model: a prediction
    per row (the body must be the model's inputs, as it is now)."""
    from workbench.serving import ScoringServer

    curls = [block for block in _bash_blocks(README) if "curl" in block and "/invocations" in block]
    assert curls, "the README shows no request for the demo model"
    body = json.loads(re.search(r"-d '(.*?)'", curls[0], re.S).group(1))  # type: ignore[union-attr]
    rows = body["dataframe_records"]
    log = demo_project.settings.home / "readme-log"
    with ScoringServer(
        demo_project.model.model_uri, log_dir=log, project_dir=demo_project.settings.project_dir
    ) as server:
        answer = httpx.post(server.url + "/invocations", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert len(predictions) == len(rows)
    assert all(isinstance(p, float) and p > 0 for p in predictions)


# ---------------------------------------------------------------------- the stage pages
def _examples() -> dict[str, str]:
    found = {}
    for page in sorted((REPO / "docs" / "stages").glob("*.md")):
        blocks = re.findall(r'```python title="example.py"\n(.*?)```', page.read_text(), re.S)
        if blocks:
            found[page.stem] = blocks[0]
    return found


def test_every_stage_page_has_an_example_on_public_names_only() -> None:
    examples = _examples()
    stages = {"data", "explore", "features", "tuning", "packaging", "serving", "monitoring"}
    assert set(examples) >= stages, stages - set(examples)
    for page, code in examples.items():
        for node in ast.walk(ast.parse(code, filename=f"docs/stages/{page}.md")):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("workbench"):
                module = importlib.import_module(node.module)  # type: ignore[arg-type]
                public = set(getattr(module, "__all__", ()))
                assert not any(part.startswith("_") for part in node.module.split(".")), (  # type: ignore[union-attr]
                    page,
                    node.module,
                )
                for alias in node.names:
                    assert alias.name in public, f"{page}: {node.module}.{alias.name} is not public"


@pytest.mark.parametrize("page", RUN_EXAMPLES)
def test_stage_example_runs(page: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(_examples()[page])
    env = {**os.environ, "WORKBENCH_PROJECT_DIR": str(tmp_path)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip()  # each example prints what it found
