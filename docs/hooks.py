"""MkDocs hooks of the documentation site (mkdocs.yml names this file).

- ``reference/cli.md`` is written from the command's own argparse parser
  (``workbench._cli.build_parser()``), so it lists every subcommand with its options.
- ``tutorials/*.ipynb`` are the lifecycle notebooks as ``workbench run-notebooks``
  executed them (``make docs`` runs it into ``build/docs/notebooks``; the variable
  ``WORKBENCH_DOCS_NOTEBOOKS`` names another folder). Each is prepared for a static page
  by the presentation kit (``workbench.presentation.prepare_report``: widgets drawn from
  their saved state, plotly figures as HTML without plotly.js in them), and checked: one
  executed copy per notebook in ``notebooks/``, with the same code (not a stale copy) and
  no error output.
- ``benchmarks.md`` is ``benchmarks/README.md`` (what each script compares, and its
  targets) followed by each script's own docstring (how it measures, and its command).
- plotly.js comes from the installed plotly (``assets/plotly.min.js``) and is loaded by
  the tutorial pages only (``overrides/main.html``); the MathJax script that
  mkdocs-jupyter's template takes from a CDN is removed. Nothing on a page is fetched
  from outside the site.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "notebooks"
#: Where ``make docs`` has ``workbench run-notebooks`` put the executed notebooks.
DEFAULT_EXECUTED = ROOT / "build" / "docs" / "notebooks"
PLOTLYJS_URI = "assets/plotly.min.js"


# ----------------------------------------------------------------------------- the CLI
@contextlib.contextmanager
def _columns(width: int) -> Iterator[None]:
    """argparse wraps help to $COLUMNS: a fixed width makes the page the same everywhere."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommands of ``parser``, in the order ``--help`` lists them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def cli_reference() -> str:
    """The Markdown page of the ``workbench`` command, from its parser."""
    from workbench._cli import build_parser

    with _columns(96):
        parser = build_parser()
        commands = subcommands(parser)
        lines = [
            "# The `workbench` command",
            "",
            "This page is generated from the command's own parser when the site is built",
            "(`workbench._cli.build_parser()`); `workbench COMMAND --help` prints the same.",
            "In a checkout, run it as `.venv/bin/workbench` or after `source .venv/bin/activate`.",
            "",
            "| command | what it does |",
            "|---|---|",
        ]
        helps = {
            a.dest: a.help
            for action in parser._actions
            if isinstance(action, argparse._SubParsersAction)
            for a in action._choices_actions
        }
        for name in commands:
            lines.append(f"| [`workbench {name}`](#workbench-{name}) | {helps.get(name) or ''} |")
        lines += ["", "```text", parser.format_help().rstrip(), "```", ""]
        for name, sub in commands.items():
            lines += [
                f"## `workbench {name}` {{#workbench-{name}}}",
                "",
                "```text",
                sub.format_help().rstrip(),
                "```",
                "",
            ]
    return "\n".join(lines)


# ----------------------------------------------------------------------- the benchmarks
_COMMAND = re.compile(r"^ {4}(\.venv/bin/|bash |python )")


def _fence_commands(doc: str) -> str:
    """A docstring's indented command lines in a ``bash`` block: after a bullet list,
    Markdown would take the indented lines for more of the last item."""
    out: list[str] = []
    block: list[str] = []
    for line in [*doc.splitlines(), ""]:
        if _COMMAND.match(line) or (block and line.startswith(" " * 8)):  # or its next line
            block.append(line[4:])
            continue
        if block:
            out += ["", "```bash", *block, "```", ""]
            block = []
        out.append(line)
    return "\n".join(out).strip()


def benchmarks_page() -> str:
    """``benchmarks/README.md`` with each script's docstring (how it measures, the command)."""
    import ast

    folder = ROOT / "benchmarks"
    readme = (folder / "README.md").read_text(encoding="utf-8")
    lines = [re.sub(r"^# .*", "# Benchmarks", readme, count=1).rstrip(), ""]
    lines += [
        "## The scripts",
        "",
        "What each script measures and how to run it, from its own docstring. Run them from",
        "the checkout with its venv; sizes default to the issues' targets and take minutes.",
        "",
    ]
    for script in sorted(folder.glob("*.py")) + sorted(folder.glob("*.sh")):
        if script.name.startswith("_"):
            continue
        source = script.read_text(encoding="utf-8")
        if script.suffix == ".py":
            doc = ast.get_docstring(ast.parse(source)) or ""
        else:  # the comment block under the shebang
            comments = [ln for ln in source.splitlines()[1:] if ln.startswith("#")]
            doc = "\n".join(ln[2:] if ln.startswith("# ") else ln[1:] for ln in comments)
        lines += [f"### `benchmarks/{script.name}`", "", _fence_commands(doc.strip()), ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------ the tutorials
def _executed_dir() -> Path | None:
    """Where the executed notebooks are; ``None`` for a build without them
    (``WORKBENCH_DOCS_NOTEBOOKS=none``: the reference pages only, as tests/test_docs.py
    builds them)."""
    given = os.environ.get("WORKBENCH_DOCS_NOTEBOOKS")
    if given == "none":
        return None
    base = Path(given).resolve() if given else DEFAULT_EXECUTED
    # `workbench run-notebooks --out DIR` keeps the layout: DIR/notebooks/NAME.ipynb
    return base / "notebooks" if (base / "notebooks").is_dir() else base


def _code(cells: list[Any]) -> list[str]:
    return [
        c.source.strip()
        for c in cells
        if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])
    ]


def prepare_tutorial(source: Path, executed_dir: Path, folder: Path) -> Path:
    """The executed copy of ``source``, checked and made ready for a static page."""
    import nbformat

    from workbench.presentation import prepare_report

    executed = executed_dir / source.name
    rerun = "make docs runs them (workbench run-notebooks --only 'notebooks/*')"
    if not executed.exists():
        raise PluginError(
            f"No executed copy of notebooks/{source.name} in {executed_dir}: {rerun}."
        )
    node = nbformat.read(str(executed), as_version=4)
    if _code(node.cells) != _code(nbformat.read(str(source), as_version=4).cells):
        raise PluginError(
            f"{executed} is not an execution of notebooks/{source.name} as it is now (its code "
            f"differs): delete it and {rerun}."
        )
    errors = [
        f"{o.get('ename')}: {o.get('evalue')}"
        for c in node.cells
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    if errors:
        raise PluginError(f"{executed} holds an error output: {errors[0]}")
    prepared, _ = prepare_report(node)
    for cell in prepared.cells:  # papermill's own metadata and the injected cell say nothing
        cell.metadata.pop("papermill", None)
    prepared.cells = [
        c for c in prepared.cells if "injected-parameters" not in c.metadata.get("tags", [])
    ]
    target = folder / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(prepared, str(target))
    return target


def placeholder_tutorial(source: Path, folder: Path) -> Path:
    """A page in place of ``source`` for a build without the executed notebooks."""
    import nbformat

    title = next(
        (
            line.lstrip("# ").strip()
            for cell in nbformat.read(str(source), as_version=4).cells
            if cell.cell_type == "markdown"
            for line in cell.source.splitlines()
            if line.startswith("# ")
        ),
        source.stem,
    )
    node = nbformat.v4.new_notebook()
    node.cells = [
        nbformat.v4.new_markdown_cell(
            f"# {title}\n\nThis build of the site left the executed tutorials out "
            f"(`WORKBENCH_DOCS_NOTEBOOKS=none`); `make docs` puts them in. The notebook is "
            f"`notebooks/{source.name}`."
        )
    ]
    target = folder / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(node, str(target))
    return target


# ---------------------------------------------------------------------------- the hooks
@event_priority(100)  # before mkdocs-jupyter's on_files, which must see the notebooks
def on_files(files: Files, config: Any) -> Files:
    files.append(File.generated(config, "reference/cli.md", content=cli_reference()))
    files.append(File.generated(config, "benchmarks.md", content=benchmarks_page()))
    executed_dir = _executed_dir()
    site = Path(config["site_dir"])
    # the pages' notebooks, beside the site; mkdocs-jupyter takes files matching its
    # `include` pattern (tutorials/*.ipynb) by their path on disk
    folder = site.with_name(site.name + "-notebooks") / "tutorials"
    for source in sorted(SOURCES.glob("*.ipynb")):
        prepared = (
            placeholder_tutorial(source, folder)
            if executed_dir is None
            else prepare_tutorial(source, executed_dir, folder)
        )
        # a File with a src_dir, not File.generated: mkdocs-jupyter's wrapper of it reads
        # abs_src_path through the wrapped file's src_dir
        files.append(
            File(
                f"tutorials/{prepared.name}",
                src_dir=str(folder.parent),
                dest_dir=config["site_dir"],
                use_directory_urls=config["use_directory_urls"],
            )
        )
    import plotly

    plotlyjs = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    files.append(File.generated(config, PLOTLYJS_URI, abs_src_path=str(plotlyjs)))
    return files


#: What mkdocs-jupyter's template (nbconvert's lab template) puts on every notebook page
#: and would fetch from a CDN: MathJax, and a loader of mermaid.js for mermaid diagrams.
#: The tutorials hold neither formulas nor diagrams, and the site fetches nothing from outside.
_CDN_SCRIPTS = (
    re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S),
    re.compile(r"<script type=\"module\">(?:(?!</script>).)*?jp-Mermaid.*?</script>", re.S),
)


def on_post_page(output: str, page: Any, config: Any) -> str:
    for pattern in _CDN_SCRIPTS:
        output = pattern.sub("", output)
    return output
