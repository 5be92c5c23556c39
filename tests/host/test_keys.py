"""Per-rig HMAC keys: files with mode 0600, the key never shown (repr, errors, CLI output)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from host_tools import keys
from host_tools.errors import UsageError


def test_create_key_file_mode_0600_and_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "rig.key"
    key = keys.create_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert len(text.strip()) == 2 * keys.KEY_BYTES
    assert keys.load_key_file(path) == key
    with pytest.raises(UsageError, match="already exists"):
        keys.create_key_file(path)  # never overwrite a provisioned key


def test_load_or_create_reads_existing(tmp_path: Path) -> None:
    path = tmp_path / "k.hex"
    k1, created1 = keys.load_or_create_key_file(path)
    k2, created2 = keys.load_or_create_key_file(path)
    assert (created1, created2) == (True, False) and k1 == k2


def test_group_readable_key_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.hex"
    keys.create_key_file(path)
    os.chmod(path, 0o640)
    with pytest.raises(UsageError, match="chmod 600"):
        keys.load_key_file(path)


@pytest.mark.parametrize("content", ["abc", "zz" * 32, "00" * 8, "00" * 65])
def test_bad_key_file_error_never_echoes_content(tmp_path: Path, content: str) -> None:
    path = tmp_path / "k.hex"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, content.encode())
    os.close(fd)
    with pytest.raises(UsageError) as exc:
        keys.load_key_file(path)
    assert content not in str(exc.value)
    assert str(path) in str(exc.value)


def test_key_hidden_in_repr_str_and_pickle() -> None:
    key = keys.generate_key()
    secret = key.secret().hex()
    for text in (repr(key), str(key), f"{key}", repr([key])):
        assert secret not in text and "hidden" in text
    assert "hidden" in repr(key.auth())
    with pytest.raises(TypeError):
        import pickle  # noqa: PLC0415

        pickle.dumps(key)


def test_key_file_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(keys.KEY_FILE_ENV, "/x/env.key")
    assert keys.key_file_from(None) == "/x/env.key"
    assert keys.key_file_from("/y/arg.key") == "/y/arg.key"
    monkeypatch.delenv(keys.KEY_FILE_ENV)
    assert keys.key_file_from(None) is None
