"""The ``workbench`` command: ``init``, ``demo``, ``lab``, ``dashboard``, ``serve``,
``features``, ``package``, ``promote``.

One module per command group (``_projects``: init and demo; ``_lab``; ``_dashboard``;
``_notebooks``: run-notebooks; ``_serve``; ``_features``; ``_package``: package and
promote), each adding its subcommands to the parser that ``_main`` puts together; what
they share (the project a command works in) is in ``_common``. Imports stay inside the
subcommands so ``workbench --help`` answers at once.
"""

from workbench._cli._main import build_parser, main, overview

__all__ = ["build_parser", "main", "overview"]
