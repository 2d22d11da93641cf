"""The workbench's floors (ARCH.md, issue 25), enforced on the source.

Lowest first; an import may only go down, or sideways within its own floor::

    foundation    workbench/_*.py: settings, errors, paths, imports, progress, storage,
                  tracking, metrics, requirement pinning, the registered-version seam
    data          workbench.data
    explore       workbench.explore (profiles the clean frame: data → explore → features)
    features      workbench.features
    datasets      workbench.datasets (demo data and its recipe: a contract, a feature view)
    tuning → packaging → serving → monitoring
    presentation  the kit (workbench.presentation, workbench._display), then each stage's
                  figures and widgets, in stage order: a stage's presentation may import
                  its own compute, any lower stage's, the kit and lower stages' figures
    top           the CLI, the demo, ``workbench init``, the notebook runner, the Jupyter
                  and Voilà glue

Imports are read from the source (AST) wherever they are (module level or inside a
function, ``require("…")``, ``importlib.import_module("…")``, ``__import__("…")``), except
under ``if TYPE_CHECKING:``. ``from workbench.x import name`` counts as an import of the
module that defines ``name`` (a subpackage's ``__init__`` only re-exports). A subpackage's
``__init__`` may re-export its own figures and widgets (``tests/presentation/
test_import_rule.py`` checks that it imports no display package itself); the package root
``workbench/__init__.py`` re-exports public names of several floors and is left out, and
what it defines itself (``__version__``) is foundation.

Three more rules: no cycle between floors; apps, notebooks and benchmarks import only
public names (listed in a public module's ``__all__``); a module over 600 lines says in
the first paragraph of its docstring why it is one job (a sentence with "one job").

Each allow-list below holds today's exceptions, each with the step of issue 25 that
removes it. A new exception fails, and so does an entry that no longer applies: the
lists only shrink.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.presentation.test_import_rule import PACKAGE, _module_name, imports, is_presentation

ROOT = PACKAGE.parent

#: The stages, in the order data flows through them.
STAGES = (
    "data",
    "explore",
    "features",
    "datasets",
    "tuning",
    "packaging",
    "serving",
    "monitoring",
)
#: The top floor: it may import anything, nothing imports it.
TOP = (
    "workbench.__main__",
    "workbench._cli",
    "workbench._demo",
    "workbench._init",
    "workbench._jupyter",
    "workbench._notebooks",
)
KIT = ("workbench.presentation", "workbench._display")
FOUNDATION, PRESENTATION, TOP_FLOOR = 0, len(STAGES) + 1, len(STAGES) + 2

# ------------------------------------------------------------------- today's exceptions

#: Imports that run up a floor today: (importer, imported module) → the step removing it.
ALLOWED_UPWARD: dict[tuple[str, str], str] = {}
#: Cycles between floors today (each made by an upward import above).
ALLOWED_CYCLES: dict[frozenset[str], str] = {}
#: Modules over 600 lines without a sentence on why they are one job, being split now.
ALLOWED_LONG: dict[str, str] = {}
#: Private modules that apps, notebooks and benchmarks import today: (file, module).
ALLOWED_PRIVATE = {
    ("apps/model_card.ipynb", "workbench._settings"): "packaging step: workbench.resolve_settings",
}  # fmt: skip

# ------------------------------------------------------------------------------ the scan


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def floor(module: str) -> tuple[int, int]:
    """Where ``module`` sits: (floor, stage) — stages order the presentation floor too."""
    if module.startswith(TOP):
        return TOP_FLOOR, 0
    if module.startswith(KIT):
        return PRESENTATION, 0
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in STAGES:
        stage = STAGES.index(parts[1]) + 1
        return (PRESENTATION, stage) if is_presentation(module) else (stage, 0)
    return FOUNDATION, 0


def floor_name(module: str) -> str:
    level, stage = floor(module)
    if level == PRESENTATION:
        return f"{STAGES[stage - 1]} presentation" if stage else "kit"
    return {FOUNDATION: "foundation", TOP_FLOOR: "top"}.get(level) or STAGES[level - 1]


def _reexports(init: Path, package: str) -> dict[str, str]:
    """What a package's ``__init__`` re-exports: name → the module it comes from (the
    package itself for what it defines)."""
    names: dict[str, str] = {}
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = node.module
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.FunctionDef | ast.ClassDef):
            targets = node.targets if isinstance(node, ast.Assign) else [node]
            for target in targets:
                name = getattr(target, "id", None) or getattr(target, "name", None)
                if name is None and isinstance(target, ast.AnnAssign):
                    name = getattr(target.target, "id", None)
                if name:
                    names[name] = package
    return names


def resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The workbench module a dotted import name reaches: the longest module prefix, and
    for a name a package re-exports, the module that defines it."""
    if name != "workbench" and not name.startswith("workbench."):
        return None
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        module = ".".join(parts[:i])
        if module in modules:
            path = modules[module]
            if path.name == "__init__.py" and i < len(parts):
                origin = _reexports(path, module).get(parts[i])
                if origin is not None and origin != module:
                    return resolve(f"{origin}.{parts[i]}", modules) or origin
            return module
    return None


def edges() -> dict[tuple[str, str], int]:
    """Every import between two workbench modules: (importer, imported) → first line."""
    modules = _modules()
    found: dict[tuple[str, str], int] = {}
    for module, path in modules.items():
        if module == "workbench":  # the package root re-exports every floor's public names
            continue
        anchor = f"{module}.__init__" if path.name == "__init__.py" else module
        names = imports(path.read_text(encoding="utf-8"), anchor)
        named = {(line, name.rsplit(".", 1)[0]) for line, name in names}
        for line, name in names:
            if (line, name) in named:  # ``from B import x`` also lists B itself: x counts
                continue
            target = resolve(name, modules)
            if target is None or target == module:
                continue
            if target == "workbench":  # what the root defines itself: __version__
                continue
            if path.name == "__init__.py" and target.startswith(f"{module}."):
                continue  # a subpackage re-exports its own modules, figures and widgets too
            found.setdefault((module, target), line)
    return found


def upward() -> dict[tuple[str, str], int]:
    return {pair: line for pair, line in edges().items() if floor(pair[1]) > floor(pair[0])}


def floor_cycles() -> set[frozenset[str]]:
    """The sets of floors that import each other round (strongly connected, > 1 floor)."""
    graph: dict[str, set[str]] = {}
    for a, b in edges():
        fa, fb = floor_name(a), floor_name(b)
        graph.setdefault(fa, set())
        graph.setdefault(fb, set())
        if fa != fb:
            graph[fa].add(fb)

    def reach(start: str) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            for nxt in graph[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    reached = {node: reach(node) for node in graph}
    return {
        frozenset(n for n in graph if node in reached[n] and n in reached[node])
        for node in graph
        if len([n for n in graph if node in reached[n] and n in reached[node]]) > 1
    }


# ----------------------------------------------------------------------------- the rules


def test_no_import_runs_up_a_floor() -> None:
    new = {pair: line for pair, line in upward().items() if pair not in ALLOWED_UPWARD}
    assert new == {}, "\n".join(
        f"{a} (line {line}, {floor_name(a)}) imports {b} ({floor_name(b)}): an import may "
        "only go down or sideways; move the code, or pass what it needs in from above"
        for (a, b), line in sorted(new.items())
    )


def test_the_upward_allow_list_holds_only_current_violations() -> None:
    stale = set(ALLOWED_UPWARD) - set(upward())
    assert stale == set(), f"cleared, remove from ALLOWED_UPWARD: {sorted(stale)}"


def test_no_cycle_between_floors() -> None:
    cycles = floor_cycles()
    new = sorted(sorted(cycle) for cycle in cycles - set(ALLOWED_CYCLES))
    assert new == [], f"floors that import each other round: {new}"
    stale = set(ALLOWED_CYCLES) - cycles
    assert stale == set(), f"cleared, remove from ALLOWED_CYCLES: {stale}"


def test_every_module_sits_on_a_floor_as_the_architecture_says() -> None:
    modules = set(_modules())
    expected = {
        "workbench._settings": "foundation",
        "workbench._metrics": "foundation",
        "workbench._exceptions": "foundation",
        "workbench.data._validate": "data",
        "workbench.explore._profile": "explore",
        "workbench.explore._records": "explore",
        "workbench.features._store": "features",
        "workbench.datasets._recipe": "datasets",
        "workbench.serving._app": "serving",
        "workbench.monitoring._drift": "monitoring",
        "workbench._display": "kit",
        "workbench.presentation._tables": "kit",
        "workbench.data._figures": "data presentation",
        "workbench.explore._widgets": "explore presentation",
        "workbench.monitoring._figures": "monitoring presentation",
        "workbench._cli": "top",
        "workbench._jupyter._voila": "top",
    }
    assert set(expected) <= modules
    assert {m: floor_name(m) for m in expected} == expected
    # the stages order the presentation floor too: the kit, then data's, …, monitoring's
    assert floor("workbench.presentation") < floor("workbench.data._figures")
    assert floor("workbench.data._widgets") < floor("workbench.monitoring._widgets")
    assert floor("workbench.monitoring._drift") < floor("workbench.data._figures")


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("workbench.data.Contract", "workbench.data._contract"),  # a re-export: its origin
        ("workbench.data.QualityReport", "workbench.data._widgets"),
        ("workbench.monitoring.ReferenceProfile", "workbench.monitoring._profile"),
        ("workbench.explore._figures.profile_html", "workbench.explore._figures"),
        ("workbench.serving", "workbench.serving"),
        ("workbench.get_settings", "workbench._settings"),
        ("workbench.__version__", "workbench"),
        ("pandas.DataFrame", None),
    ],
)
def test_an_import_counts_for_the_module_that_defines_the_name(
    name: str, module: str | None
) -> None:
    assert resolve(name, _modules()) == module


def test_the_scan_sees_an_upward_import_in_a_function_and_in_require() -> None:
    source = (
        "def f():\n    from workbench.serving import read_inference_log\n"
        "x = require('workbench.monitoring._figures', feature='f')\n"
    )
    found = [resolve(n, _modules()) for _, n in imports(source, "workbench.data._x")]
    assert found == [
        "workbench.serving",  # the ``from`` base, which edges() leaves out for the name
        "workbench.serving._log",
        "workbench.monitoring._figures",
    ]
    assert all(floor(m) > floor("workbench.data._load") for m in found if m)


# --------------------------------------------------------------------- one job per module

LIMIT = 600
ONE_JOB = re.compile(r"[^.]*\bone job\b[^.]*\.", re.IGNORECASE)


def _says_why_one_job(path: Path) -> bool:
    """Whether the first paragraph of the module's docstring has a sentence of at least
    eight words saying it is one job."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    first = doc.split("\n\n", 1)[0]
    return any(len(s.split()) >= 8 for s in ONE_JOB.findall(first.replace("\n", " ")))


def _long_modules() -> dict[str, int]:
    return {
        path.relative_to(ROOT).as_posix(): n
        for path in sorted(PACKAGE.rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > LIMIT
        and not _says_why_one_job(path)
    }


def test_no_module_is_over_600_lines_without_saying_why_it_is_one_job() -> None:
    new = {path: n for path, n in _long_modules().items() if path not in ALLOWED_LONG}
    assert new == {}, "\n".join(
        f"{path}: {n} lines: split it, or say in the first paragraph of its docstring why "
        "it is one job (a sentence with 'one job')"
        for path, n in sorted(new.items())
    )


def test_the_long_module_allow_list_holds_only_current_offenders() -> None:
    stale = set(ALLOWED_LONG) - set(_long_modules())
    assert stale == set(), f"split or explained, remove from ALLOWED_LONG: {sorted(stale)}"


def test_a_long_module_is_explained_only_by_a_sentence_on_its_one_job(tmp_path: Path) -> None:
    said = tmp_path / "said.py"
    said.write_text('"""Passes. It is one job: each pass reads what the one before kept."""\n')
    bare = tmp_path / "bare.py"
    bare.write_text('"""Passes.\n\nIt is one job: each pass reads what the one before kept."""\n')
    short = tmp_path / "short.py"
    short.write_text('"""Passes. One job."""\n')
    assert _says_why_one_job(said)
    assert not _says_why_one_job(bare)  # not in the first paragraph
    assert not _says_why_one_job(short)  # no reason given
    assert _says_why_one_job(PACKAGE / "explore" / "_stats.py")


# ------------------------------------------------ apps, notebooks, benchmarks: public names


def _code(path: Path) -> str:
    """The Python in ``path``: a script, a notebook's code cells (magics dropped) or the
    ``python`` lines of a shell script (its ``import``/``from`` lines)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        cells = [
            "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in json.loads(text)["cells"]
            if c["cell_type"] == "code"
        ]
        lines = "\n".join(cells).splitlines()
        return "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))
    if path.suffix == ".sh":
        return "\n".join(
            line.strip()
            for line in text.splitlines()
            if re.match(r"\s*(from|import)\s+workbench\b", line)
        )
    return text


def _consumers() -> Iterator[Path]:
    for folder, patterns in (
        ("apps", ("*.ipynb",)),
        ("notebooks", ("*.ipynb",)),
        ("benchmarks", ("*.py", "*.sh")),
    ):
        for pattern in patterns:
            yield from sorted((ROOT / folder).glob(pattern))


def _public(module: str, modules: dict[str, Path]) -> set[str]:
    """The names in a public module's ``__all__``."""
    for node in ast.parse(modules[module].read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            getattr(t, "id", None) == "__all__" for t in node.targets
        ):
            assert isinstance(node.value, ast.List | ast.Tuple), module
            return {ast.literal_eval(e) for e in node.value.elts}
    return set()


def private_imports() -> dict[tuple[str, str], list[str]]:
    """(file, module) → what it imports that is not public: a private module, or a name
    that is not in its public module's ``__all__``."""
    modules = _modules()
    found: dict[tuple[str, str], list[str]] = {}
    for path in _consumers():
        names = imports(_code(path), "consumer")
        bases = {(line, name.rsplit(".", 1)[0]) for line, name in names}
        for line, name in names:
            if not (name == "workbench" or name.startswith("workbench.")):
                continue
            if (line, name) in bases:
                continue
            parts = name.split(".")
            private = next((i for i, p in enumerate(parts) if p.startswith("_")), None)
            if private is not None and parts[private] != "__version__":
                module = ".".join(parts[: private + 1])
            elif name in modules:
                continue  # a public module: workbench.data
            else:
                module, attribute = name.rsplit(".", 1)
                if module not in modules or attribute in _public(module, modules):
                    continue
            key = (path.relative_to(ROOT).as_posix(), module)
            found.setdefault(key, []).append(f"line {line}: {name}")
    return found


def test_apps_notebooks_and_benchmarks_import_only_public_names() -> None:
    new = {k: v for k, v in private_imports().items() if k not in ALLOWED_PRIVATE}
    assert new == {}, "\n".join(
        f"{path} imports {', '.join(what)}: give it a public name (in an __all__) and use that"
        for (path, _), what in sorted(new.items())
    )


def test_the_private_import_allow_list_holds_only_current_ones() -> None:
    stale = set(ALLOWED_PRIVATE) - set(private_imports())
    assert stale == set(), f"switched, remove from ALLOWED_PRIVATE: {sorted(stale)}"


def test_the_public_name_scan_reads_notebooks_and_shell_scripts() -> None:
    consumers = {p.relative_to(ROOT).as_posix() for p in _consumers()}
    assert {"apps/explore.ipynb", "notebooks/01_explore_and_validate.ipynb",
            "benchmarks/profile.py", "benchmarks/gpu_check.sh"} <= consumers  # fmt: skip
    assert "from workbench.explore import" in _code(ROOT / "apps" / "explore.ipynb")
