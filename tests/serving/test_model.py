"""What :class:`ServedModel` refuses before anything loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench import resolve_settings
from workbench._exceptions import ServingError
from workbench.serving._model import ServedModel


@pytest.mark.parametrize(
    ("uri", "options", "says"),
    [
        ("models:/m/3", {"shadow": "challenger"}, "another alias of the served model"),
        ("runs:/abc/model", {"shadow": "challenger"}, "another alias of the served model"),
        ("models:/m@champion", {"shadow": "c", "inference_log": False}, "only logged"),
        ("/tmp/model", {}, "registry or run URI"),
        ("models:/../m@champion", {}, "without '..'"),
    ],
)
def test_a_served_model_is_refused_before_it_loads(
    uri: str, options: dict[str, object], says: str, tmp_path: Path
) -> None:
    settings = resolve_settings(tmp_path)
    with pytest.raises(ServingError, match=says):
        ServedModel(uri, log_dir=str(tmp_path / "log"), settings=settings, **options)  # type: ignore[arg-type]
    assert not (tmp_path / "log").exists()  # nothing made
