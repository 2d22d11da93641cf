"""``python -m workbench`` is the ``workbench`` command."""

from workbench._cli import main

raise SystemExit(main())
