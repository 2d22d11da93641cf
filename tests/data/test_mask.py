from __future__ import annotations

import hashlib
import hmac
import logging
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench import ConfigurationError
from workbench._secrets import pseudonym_key
from workbench.data import ColumnContract, Contract, mask_frame, mask_value, validate
from workbench.data._mask import MASK_PREFIX, PSEUDONYM_BITS
from workbench.explore import profile

KEY = b"0123456789abcdef0123456789abcdef-test"


def test_masks_are_stable_distinct_and_hide_the_value() -> None:
    a, b = mask_value("Mario Rossi"), mask_value("Anna Bianchi")
    assert a == mask_value("Mario Rossi") and a != b
    assert "Mario" not in a and a.startswith("•••")
    assert mask_value("x", salt="s1") != mask_value("x", salt="s2")


def test_missing_values_stay_missing() -> None:
    assert mask_value(None) is None and np.isnan(mask_value(float("nan")))
    assert mask_value(pd.NA) is pd.NA


def test_mask_frame_masks_only_the_named_columns() -> None:
    frame = pd.DataFrame({"name": ["Anna", None], "age": [3, 4]})
    out = mask_frame(frame, ["name", "not-there"])
    assert out["age"].tolist() == [3, 4] and out["name"].iloc[0].startswith("•••")
    assert pd.isna(out["name"].iloc[1]) and frame["name"].iloc[0] == "Anna"


def test_the_pseudonym_is_an_hmac_sha256_of_64_bits() -> None:
    """Checked against the standard library's HMAC, computed here from the definition."""
    for value, salt in [("Mario Rossi", ""), (1987, ""), ("è ü ß", "s"), (3.5, "col")]:
        expected = hmac.new(KEY, f"{salt}\x00{value}".encode(), hashlib.sha256).hexdigest()
        got = mask_value(value, salt=salt, key=KEY)
        assert got == MASK_PREFIX + expected[: PSEUDONYM_BITS // 4]
        assert len(got) - len(MASK_PREFIX) == 16  # 64 bits, in hexadecimal digits


def test_without_a_key_one_is_made_once_in_the_private_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The conftest points the settings at tmp_path: the key goes to its .workbench/."""
    with caplog.at_level(logging.WARNING, logger="workbench._secrets"):
        first = mask_value("Mario Rossi")
        again = mask_value("Mario Rossi")
    path = tmp_path / ".workbench" / "secrets" / "pseudonym.key"
    assert first == again and path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    said = [r.getMessage() for r in caplog.records if "pseudonym key" in r.getMessage()]
    assert len(said) == 1 and str(path) in said[0]  # said once, naming the file
    assert first == mask_value("Mario Rossi", key=path.read_bytes().strip())
    # the environment's key wins over the stored one, and gives other pseudonyms
    monkeypatch.setenv("WORKBENCH_PSEUDONYM_KEY", KEY.decode())
    assert mask_value("Mario Rossi") == mask_value("Mario Rossi", key=KEY) != first
    # a Kubernetes Secret mounted as a file
    monkeypatch.delenv("WORKBENCH_PSEUDONYM_KEY")
    (tmp_path / "mounted").write_text("k" * 40 + "\n")
    monkeypatch.setenv("WORKBENCH_PSEUDONYM_KEY_FILE", str(tmp_path / "mounted"))
    assert pseudonym_key() == b"k" * 40


def test_a_bad_key_is_refused_without_showing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_PSEUDONYM_KEY", "short-secret")
    with pytest.raises(ConfigurationError, match="at least 32 characters") as refused:
        mask_value("x")
    assert "short-secret" not in str(refused.value)
    monkeypatch.setenv("WORKBENCH_PSEUDONYM_KEY_FILE", str(tmp_path / "nope"))
    monkeypatch.delenv("WORKBENCH_PSEUDONYM_KEY")
    with pytest.raises(ConfigurationError, match="WORKBENCH_PSEUDONYM_KEY_FILE names"):
        mask_value("x")
    # a key in pyproject.toml, which is committed, is refused with what to do instead
    monkeypatch.delenv("WORKBENCH_PSEUDONYM_KEY_FILE")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\n[tool.workbench]\n'
        'pseudonym_key = "committed-by-mistake-0123456789"\n'
    )
    workbench.reset_settings()
    with pytest.raises(ConfigurationError, match="holds 'pseudonym_key', a secret") as refused:
        mask_value("x")
    assert "WORKBENCH_PSEUDONYM_KEY" in str(refused.value)
    assert "committed-by-mistake" not in str(refused.value)


def test_one_value_has_one_pseudonym_in_every_display(tmp_path: Path) -> None:
    """Quarantine, failures, profile and mask_value agree under the project's key (the
    inference log: tests/serving/test_server.py, from another process)."""
    contract = Contract(
        (ColumnContract("email", "str", pii=True), ColumnContract("n", "int")),
        no_duplicate_rows=False,
    )
    frame = pd.DataFrame({"email": ["anna@example.org"] * 3, "n": ["1", "x", "2"]})
    result = validate(frame, contract, quarantine_dir=tmp_path / "q")
    expected = mask_value("anna@example.org")
    assert result.quarantine["email"].tolist() == [expected]
    shown = profile(frame, contract=contract, progress=False).column("email").top
    assert shown[0][0] == expected
