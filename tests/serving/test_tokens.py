"""Named tokens of the scoring server: made, listed and revoked by the command, kept as
SHA-256 digests in a private file, and recognised by the server's check."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest

from workbench._cli import main
from workbench._exceptions import ConfigurationError
from workbench.serving._tokens import SHARED, Callers, TokenStore


def test_the_token_commands_keep_only_a_digest_in_a_private_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n')
    project = ["--project-dir", str(tmp_path)]
    assert main(["serve", "add-token", "alice", *project]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert len(token) >= 43  # 256 random bits, URL-safe
    store = TokenStore(tmp_path / ".workbench")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    text = store.path.read_text()
    assert token not in text
    assert (
        json.loads(text)["tokens"]["alice"]["sha256"] == hashlib.sha256(token.encode()).hexdigest()
    )
    assert main(["serve", "add-token", "bob", *project]) == 0
    bob = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["serve", "tokens", *project]) == 0
    assert capsys.readouterr().out.split() == ["alice", "bob"]

    callers = Callers("a-shared-token", home=tmp_path / ".workbench")
    assert callers.required and callers.names() == [SHARED, "alice", "bob"]
    assert callers.identify(token.encode()) == "alice" and callers.identify(bob.encode()) == "bob"
    assert callers.identify(b"a-shared-token") == SHARED
    assert callers.identify(token[:-1].encode()) is None and callers.identify(b"") is None

    assert main(["serve", "revoke-token", "bob", *project]) == 0
    assert "revoked 'bob'" in capsys.readouterr().out
    assert Callers(None, home=tmp_path / ".workbench").identify(bob.encode()) is None
    assert main(["serve", "revoke-token", "bob", *project]) == 1  # not there any more
    for bad in ("../x", "shared", "", "a b"):
        assert main(["serve", "add-token", bad, *project]) == 2
        assert "A caller's name must be" in capsys.readouterr().err


def test_tokens_come_from_the_environment_and_damage_is_refused(tmp_path: Path) -> None:
    assert not Callers(None, home=tmp_path).required  # nothing configured: open
    digest = hashlib.sha256(b"tok-carol").hexdigest()
    given = json.dumps({"tokens": {"carol": {"sha256": digest}}})
    callers = Callers(None, environ={"WORKBENCH_SERVE_TOKENS": given})
    assert callers.required and callers.identify(b"tok-carol") == "carol"
    mounted = tmp_path / "tokens.json"
    mounted.write_text(given)
    from_file = Callers(None, environ={"WORKBENCH_SERVE_TOKENS_FILE": str(mounted)})
    assert from_file.identify(b"tok-carol") == "carol"
    for damaged in ("{", '{"tokens": []}', '{"tokens": {"x": {"sha256": "12"}}}'):
        mounted.write_text(damaged)
        with pytest.raises(ConfigurationError, match="damaged") as caught:
            Callers(None, environ={"WORKBENCH_SERVE_TOKENS_FILE": str(mounted)})
        assert "tok-carol" not in str(caught.value)
