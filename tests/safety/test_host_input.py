"""Host-side input: malformed prescriptions and program files never reach a rig and never leave a file.

Every bad file (non-UTF-8, over the size cap, binary, empty, truncated, wrong types, unknown or duplicate
keys, tampered checksums) given to `itb program build -o OUT` and to `itb load --port socket://...` gets a
one-line `itb: ...` error and exit 2 (exit 1 for a failed checksum verification); no output file appears,
and the recording 127.0.0.1 server behind --port sees no connection and no byte.

REQ: ITB-RNG-01 (a prescription never reaches the rig unchecked)
"""

from __future__ import annotations

import io
import json
import socket
import threading
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from host_tools import cli

ROOT = Path(__file__).resolve().parents[2]
CONSTANT = ROOT / "host_tools" / "examples" / "constant.toml"
EXAMPLE = CONSTANT.read_text()


class Recorder:
    """A 127.0.0.1 TCP server that accepts connections and records every byte (it never answers)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(0.1)
        self.url = f"socket://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        self.data = b""
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.settimeout(0.1)
            with conn:
                while not self._stop.is_set():
                    try:
                        chunk = conn.recv(4096)
                    except OSError:
                        continue
                    if not chunk:
                        break
                    self.data += chunk

    def close(self) -> None:
        self._stop.set()
        self._t.join(timeout=2)
        self.sock.close()


@pytest.fixture(scope="module")
def recorder() -> object:
    r = Recorder()
    yield r
    r.close()


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def _bad_prescriptions() -> dict[str, bytes]:
    ex = EXAMPLE.encode()
    cut_below = ex.index(b"base =")  # truncations before the last required field
    cases = {
        "non-utf8": ex.replace(b"baclofen", b"bacl\xf6fen"),
        "utf16": EXAMPLE.encode("utf-16"),
        "binary": bytes(range(256)) * 4,
        "empty": b"",
        "huge": ex + b"#" + b"x" * (64 * 1024),
        "duplicate-key": ex.replace(b'age = 41', b'age = 41\nage = 42'),
        "duplicate-table": ex + b'\n[dose]\nbase = "3000 mcg/day"\n',
        "wrong-type-age": ex.replace(b"age = 41", b'age = "41"'),
        "wrong-type-dose": ex.replace(b'base = "300 mcg/day"', b"base = 300"),
        "unknown-key": ex.replace(b"age = 41", b"age = 41\nweight = 70"),
        "missing-table": ex.replace(b"[patient]", b"[patientx]"),
        "unit-per-hour-ambiguous": ex.replace(b'"300 mcg/day"', b'"300"'),
        "negative": ex.replace(b'"300 mcg/day"', b'"-300 mcg/day"'),
        "nan": ex.replace(b'"300 mcg/day"', b'"nan mcg/day"'),
        "nul-bytes": ex.replace(b"\n", b"\n\x00", 1),
    }
    for n in range(0, cut_below, 41):
        cases[f"truncated-{n}"] = ex[:n]
    return cases


def _one_line_error(err: str) -> None:
    lines = [x for x in err.splitlines() if x.strip() and not x.startswith("itb: no --port")]
    assert len(lines) == 1 and lines[0].startswith(("itb:", "itb ")), err
    assert "Traceback" not in err


def test_bad_prescriptions_build_nothing(tmp_path: Path) -> None:
    """`itb program build BAD.toml -o OUT.json`: exit 2, one line, OUT.json not written, no temp file left."""
    n = 0
    for name, data in _bad_prescriptions().items():
        src = tmp_path / f"{name}.toml"
        src.write_bytes(data)
        out = tmp_path / "out" / f"{name}.json"
        out.parent.mkdir(exist_ok=True)
        code, stdout, err = _cli(["program", "build", str(src), "-o", str(out)])
        assert code == 2, (name, code, err)
        _one_line_error(err)
        assert stdout == "" and not out.exists(), name
        assert list(out.parent.iterdir()) == [], name
        n += 1
    assert n > 20


def test_bad_inputs_never_touch_the_rig(tmp_path: Path, recorder: Recorder) -> None:
    """`itb load BAD --port socket://127.0.0.1:P --key-file K --yes`: exit 2 (1 for a tampered checksum),
    one line, and the server behind --port sees no connection and no byte."""
    key = tmp_path / "k.hex"
    key.write_text("ab" * 32 + "\n")
    key.chmod(0o600)
    good = tmp_path / "good.json"
    code, _o, err = _cli(["program", "build", str(CONSTANT), "-o", str(good)])
    assert code == 0, err
    doc = json.loads(good.read_text())
    text = good.read_text()
    files: dict[str, tuple[bytes, int]] = {
        f"{k}.toml": (v, 2) for k, v in _bad_prescriptions().items()
    }
    tampered = dict(doc, encoding=doc["encoding"].replace("base=300000", "base=3000000"))
    files.update({
        "not-json.json": (b"{not json", 2),
        "non-utf8.json": (text.encode().replace(b"constant", b"const\xe4nt"), 2),
        "array.json": (b"[1, 2, 3]", 2),
        "huge.json": (b'{"format": "' + b"x" * (1024 * 1024 + 10) + b'"}', 2),
        "wrong-type.json": (json.dumps(dict(doc, encoding=5)).encode(), 2),
        "no-format.json": (json.dumps({k: v for k, v in doc.items() if k != "format"}).encode(), 2),
        "tampered.json": (json.dumps(tampered).encode(), 1),
        "wrong-suffix.txt": (text.encode(), 2),
    })  # fmt: skip
    before = (recorder.connections, len(recorder.data))
    for name, (data, want) in files.items():
        src = tmp_path / name
        src.write_bytes(data)
        code, stdout, err = _cli(["load", str(src), "--port", recorder.url, "--key-file", str(key), "--yes"])
        assert code == want, (name, code, err)
        _one_line_error(err)
        assert stdout == "", name
    assert (recorder.connections, len(recorder.data)) == before, "a bad file reached the rig's port"


@pytest.mark.parametrize("where", ["first", "last"])
def test_program_json_duplicate_keys_are_refused(tmp_path: Path, recorder: Recorder, where: str) -> None:
    """A program file with a key twice ("encoding" of another program first or last): what a person reads
    and what the tool loads could differ, so it must be refused (exit 2) before any byte goes to the rig."""
    good = tmp_path / "good.json"
    code, _o, err = _cli(["program", "build", str(CONSTANT), "-o", str(good)])
    assert code == 0, err
    text = good.read_text()
    other = '"encoding": "ITB1;drug=baclofen;conc=1000;forged",'
    dup = text.replace("{", "{" + other, 1) if where == "first" else text.replace(
        '"encoding"', '"label": "dup", "encoding"', 1)  # fmt: skip
    assert dup != text
    src = tmp_path / "dup.json"
    src.write_text(dup)
    key = tmp_path / "k.hex"
    key.write_text("ab" * 32 + "\n")
    key.chmod(0o600)
    before = (recorder.connections, len(recorder.data))
    argv = ["load", str(src), "--port", recorder.url, "--key-file", str(key), "--yes", "--timeout", "0.2",
            "--retries", "0"]  # fmt: skip
    code, _o, err = _cli(argv)
    assert code == 2, (code, err)
    _one_line_error(err)
    assert (recorder.connections, len(recorder.data)) == before
