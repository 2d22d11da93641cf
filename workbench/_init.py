"""``workbench init NAME``: a new project shaped like Cookiecutter Data Science v2.

The project is rendered from the files under ``workbench/templates/project/`` and wired
to the workbench: ``[tool.workbench]`` settings in its ``pyproject.toml``, feature views
in ``<package>/features.py``, a data contract in ``contracts/``, starter notebooks with a
``parameters`` cell, tests, a Makefile (``make demo``, ``make test``) and a CI workflow that
executes the notebooks with papermill. A small sample export is generated into
``data/raw/`` (no download), by the new project's own ``<package>/dataset.py``, so
``make data`` writes the same file again.

Template files are plain text with ``{{ key }}`` placeholders (only the keys of
:class:`ProjectNames` and the workbench's source are replaced; anything else, such as a
GitHub Actions ``${{ ... }}`` expression, is left as written). In template paths
``PACKAGE`` stands for the package folder, a ``dot-`` prefix for a leading dot, and a
trailing ``.tmpl`` (which keeps the templates away from ruff, mypy and pytest) is dropped.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import json
import keyword
import os
import re
import runpy
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlparse

from workbench._exceptions import ConfigurationError
from workbench._jupyter._apps import packaged_apps_dir

__all__ = [
    "DISTRIBUTION",
    "ProjectNames",
    "WorkbenchSource",
    "init_project",
    "project_names",
    "workbench_source",
]

#: The workbench's distribution name (``pip install mlops-workbench``; the import package is
#: ``workbench``). The package index's ``workbench`` is an unrelated project.
DISTRIBUTION = "mlops-workbench"

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates" / "project"

#: Folders of the Cookiecutter Data Science layout that start empty (each gets a .gitkeep).
EMPTY_FOLDERS = (
    "data/raw",
    "data/interim",
    "data/processed",
    "data/external",
    "models",
    "references",
    "reports/figures",
)

_NAME = re.compile(r"[A-Za-z](?:[A-Za-z0-9 ._-]{0,62}[A-Za-z0-9])?")
_NAME_RULE = (
    "start with a letter, end with a letter or digit, hold only letters, digits, spaces, "
    "'.', '-' and '_', and be at most 64 characters long"
)
_PACKAGE = re.compile(r"[a-z_][a-z0-9_]*")
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_SKIPPED = ("__pycache__", ".DS_Store", ".ipynb_checkpoints")


@dataclasses.dataclass(frozen=True)
class ProjectNames:
    """The names a project is known by.

    Attributes:
        name: The folder's name, as given (``My Project``).
        package: The Python package (``my_project``).
        distribution: The distribution on ``pip`` and in MLflow (``my-project``).
    """

    name: str
    package: str
    distribution: str


def project_names(name: str, package: str | None = None) -> ProjectNames:
    """Check a project name and derive its package and distribution names.

    Args:
        name: The project's folder name.
        package: The Python package name (default: ``name`` in lower case, every run of
            other characters than letters and digits turned into ``_``).

    Returns:
        The :class:`ProjectNames`.

    Raises:
        ConfigurationError: The name cannot name a folder portably, or the package name is
            not a lower-case Python identifier, is a keyword, or would shadow a module that
            is already importable (the standard library, the workbench, its dependencies).

    Example:
        >>> project_names("My Project")
        ProjectNames(name='My Project', package='my_project', distribution='my-project')
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        hint = (
            " Give the folder to create it in separately (`parent`), or the whole path on "
            "the command line."
            if isinstance(name, str) and ("/" in name or os.sep in name)
            else ""
        )
        raise ConfigurationError(
            f"The project name must {_NAME_RULE}: it names the project's folder and its "
            f"Python package. Got {name!r} instead.{hint}"
        )
    slug = re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")
    chosen = slug if package is None else package
    where = (
        f"The package name {chosen!r} (derived from the project name {name!r})"
        if package is None
        else f"The package name {chosen!r}"
    )
    fix = "Pass another package name (--package)."
    if not _PACKAGE.fullmatch(chosen):
        raise ConfigurationError(
            f"{where} must be a lower-case Python identifier: a letter or '_', then letters, "
            f"digits or '_'. {fix}"
        )
    if keyword.iskeyword(chosen):
        raise ConfigurationError(f"{where} is a Python keyword and cannot be imported. {fix}")
    if chosen in sys.stdlib_module_names or chosen == "workbench" or _importable(chosen):
        raise ConfigurationError(
            f"{where} would shadow the module {chosen!r} that is already importable here "
            f"(the standard library, the workbench or one of its dependencies). {fix}"
        )
    return ProjectNames(name=name, package=chosen, distribution=slug.replace("_", "-"))


def _importable(module: str) -> bool:
    """Whether ``module`` is a real module on ``sys.path`` (a bare folder does not count)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin is not None


def init_project(
    name: str, parent: str | os.PathLike[str] = ".", *, package: str | None = None
) -> Path:
    """Create the project ``parent/name`` from the workbench's project template.

    The folder may exist if it is empty; a non-empty one is refused and nothing is
    written. If anything fails half-way, what was written is removed again.

    Args:
        name: The project's folder name; the package and distribution names derive from
            it (see :func:`project_names`).
        parent: The folder to create the project in (created when missing).
        package: The Python package name, instead of the derived one.

    Returns:
        The project's folder (absolute).

    Raises:
        ConfigurationError: The name is unusable, or the folder exists and is not empty
            (or is a file); the message names the folder and what it holds.

    Example:
        >>> import tempfile
        >>> root = init_project("Energy Forecast", tempfile.mkdtemp())  # doctest: +SKIP
        >>> sorted(p.name for p in (root / "data").iterdir())  # doctest: +SKIP
        ['external', 'interim', 'processed', 'raw']
    """
    names = project_names(name, package)
    target = (Path(parent).expanduser() / name).resolve()
    if target.exists() and not target.is_dir():
        raise ConfigurationError(
            f"Cannot create the project folder {target}: a file of that name exists. "
            f"Choose another name or folder."
        )
    existed = target.is_dir()
    if existed:
        held = sorted(p.name for p in target.iterdir())
        if held:
            shown = ", ".join(held[:8]) + (f" and {len(held) - 8} more" if len(held) > 8 else "")
            raise ConfigurationError(
                f"The folder {target} is not empty (it holds {shown}); `workbench init` only "
                f"writes into a new or empty folder, so nothing was written. Choose another "
                f"name, or empty the folder first."
            )
    context = _context(names)
    try:
        target.mkdir(parents=True, exist_ok=True)
        _render(TEMPLATE_DIR, target, context, names.package)
        # The dashboards, the project's own to edit: `workbench dashboard` prefers them.
        shutil.copytree(
            packaged_apps_dir(), target / "apps", ignore=shutil.ignore_patterns(*_SKIPPED)
        )
        for folder in EMPTY_FOLDERS:
            (target / folder).mkdir(parents=True, exist_ok=True)
            (target / folder / ".gitkeep").touch()
        # The project's own generator writes the sample, so `make data` makes the same file.
        writer = runpy.run_path(str(target / names.package / "dataset.py"))["write_sample_data"]
        writer(target)
    except BaseException:
        if existed:
            for child in target.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        else:
            shutil.rmtree(target, ignore_errors=True)
        raise
    return target


def _context(names: ProjectNames) -> dict[str, str]:
    from workbench import __version__

    source = workbench_source(__version__)
    major, minor = [*__version__.split("."), "0"][:2]
    return {
        "name": names.name,
        "package": names.package,
        "distribution": names.distribution,
        "workbench_version": __version__,
        "workbench_distribution": DISTRIBUTION,
        # Compatible releases of the workbench's own distribution name.
        "workbench_dependency": f"{DISTRIBUTION}~={major}.{minor}.0",
        "workbench_requirement": source.portable,
        "ci_workbench_requirement": (
            f"${{{{ vars.WORKBENCH_REQUIREMENT || '{source.portable}' }}}}"
            if source.portable
            else "${{ vars.WORKBENCH_REQUIREMENT }}"
        ),
    }


@dataclasses.dataclass(frozen=True)
class WorkbenchSource:
    """Where pip gets this workbench again.

    Attributes:
        portable: A requirement that means the same on any machine (a VCS or archive URL,
            or ``mlops-workbench==VERSION`` from a package index); ``""`` when this
            workbench came from a file or folder of this machine.
        local: That file or folder (``""`` otherwise): said on the command line, never
            written into a project, which must not carry paths of the machine that made it.
    """

    portable: str
    local: str


def workbench_source(version: str) -> WorkbenchSource:
    """Where pip gets this workbench again, read from the installed distribution's
    ``direct_url.json`` (PEP 610); none means it came from a package index.
    """
    index = WorkbenchSource(f"{DISTRIBUTION}=={version}", "")
    try:
        raw = importlib.metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree: unknown
        return index
    if not raw:
        return index
    try:
        info = json.loads(raw)
    except json.JSONDecodeError:
        return index
    url = str(info.get("url", ""))
    vcs = info.get("vcs_info")
    if isinstance(vcs, Mapping) and url:
        commit = vcs.get("commit_id") or vcs.get("requested_revision")
        requirement = f"{vcs.get('vcs', 'git')}+{url}" + (f"@{commit}" if commit else "")
        return WorkbenchSource(requirement, "")
    if url.startswith("file://"):
        return WorkbenchSource("", unquote(urlparse(url).path))
    return WorkbenchSource(url, "") if url else index


def _render(source: Path, target: Path, context: Mapping[str, str], package: str) -> None:
    def replace(match: re.Match[str]) -> str:
        return context.get(match.group(1), match.group(0))

    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if any(part in _SKIPPED for part in relative.parts) or path.suffix == ".pyc":
            continue
        parts = [package if part == "PACKAGE" else part for part in relative.parts]
        parts = ["." + part[4:] if part.startswith("dot-") else part for part in parts]
        parts[-1] = parts[-1].removesuffix(".tmpl")
        destination = target.joinpath(*parts)
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        text = path.read_text(encoding="utf-8")
        destination.write_text(_PLACEHOLDER.sub(replace, text), encoding="utf-8")
