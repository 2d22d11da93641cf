"""Jupyter pieces of the workbench: the Voilà template (``voila/templates/workbench``,
found through ``JUPYTER_PATH``) and the Voilà server of ``workbench dashboard``
(:mod:`workbench._jupyter._voila`)."""
