"""Who a dashboard kernel's page belongs to (workbench._visitors): the server's records,
read back the way a kernel reads them, and every reason nobody is named."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path

import pytest

from workbench._visitors import (
    ENV_FOLDER,
    ENV_LOGIN,
    current_visitor,
    forget_visit,
    record_visit,
)


def _env(folder: Path, login: str = "users") -> dict[str, str]:
    return {ENV_FOLDER: str(folder), ENV_LOGIN: login}


def test_a_recorded_visit_names_the_user_until_it_is_forgotten(tmp_path: Path) -> None:
    kernel = str(uuid.uuid4())
    record_visit(tmp_path, kernel, "ws-1", "alice")
    found = tmp_path / f"{kernel}.json"
    assert stat.S_IMODE(found.stat().st_mode) == 0o600  # readable by this account only
    assert current_visitor(_env(tmp_path), kernel).user == "alice"
    # another kernel's page is not alice's
    other = current_visitor(_env(tmp_path), str(uuid.uuid4()))
    assert other.user is None and "not signed in" in other.reason
    forget_visit(tmp_path, kernel, "ws-1")
    assert not found.exists()
    gone = current_visitor(_env(tmp_path), kernel)
    assert gone.user is None and "sign in again" in gone.reason


def test_two_people_on_one_page_name_nobody(tmp_path: Path) -> None:
    kernel = str(uuid.uuid4())
    record_visit(tmp_path, kernel, "ws-1", "alice")
    record_visit(tmp_path, kernel, "ws-2", "alice")  # a second tab of hers is fine
    assert current_visitor(_env(tmp_path), kernel).user == "alice"
    record_visit(tmp_path, kernel, "ws-3", "bob")
    both = current_visitor(_env(tmp_path), kernel)
    assert both.user is None and "alice, bob" in both.reason
    forget_visit(tmp_path, kernel, "ws-3")
    assert current_visitor(_env(tmp_path), kernel).user == "alice"


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({}, "not served by `workbench dashboard`"),
        ({ENV_LOGIN: "none"}, "has no login"),
        ({ENV_LOGIN: "token"}, "shared token"),
    ],
)
def test_without_a_named_login_nobody_is_named(
    tmp_path: Path, env: dict[str, str], words: str
) -> None:
    kernel = str(uuid.uuid4())
    record_visit(tmp_path, kernel, "ws-1", "token")
    environ = {ENV_FOLDER: str(tmp_path), **env} if env else {}
    found = current_visitor(environ, kernel)
    assert found.user is None and words in found.reason


def test_single_sign_on_names_the_proxy_user(tmp_path: Path) -> None:
    kernel = str(uuid.uuid4())
    record_visit(tmp_path, kernel, "ws-1", "anna@example.org")
    assert current_visitor(_env(tmp_path, "proxy"), kernel).user == "anna@example.org"


def test_a_kernel_id_is_a_uuid_never_a_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="UUID"):
        record_visit(tmp_path, "../../etc/passwd", "ws-1", "alice")
