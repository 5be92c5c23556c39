"""Authentication of program-changing commands (session-bound HMAC-SHA256 + a rising counter) and secrecy of
the rig key.

Hazard: forged or replayed commands change or stop therapy. Forged frames (wrong key, one MAC digit changed
at every position, a MAC lifted from another frame, no MAC), replayed and reordered frames, and frames of
another session are refused and change nothing; read-only commands work without a MAC. The key never
appears (hex in either case, or raw) in any rig reply, the event log, the stored state, status JSON, CLI
output, or exception messages and reprs.

REQ: ITB-DIS-01
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from firmware_py import auth
from firmware_py import program as pg
from firmware_py import protocol as wire
from firmware_py.errors import ItbError
from host_tools import cli, keys
from host_tools.client import RigClient
from host_tools.errors import ItbError as HostError
from host_tools.keys import RigKey
from host_tools.virtual_rig import VirtualRig
from tests.fuzz import engine
from tests.safety import kit

ROOT = Path(__file__).resolve().parents[2]


def _secret_forms(key: bytes) -> list[bytes]:
    h = key.hex()
    return [h.encode(), h.upper().encode(), key, h[:32].encode(), h[32:].encode()]


def _assert_no_key(blob: bytes | str, key: bytes = kit.KEY, where: str = "") -> None:
    data = blob.encode("utf-8", "surrogateescape") if isinstance(blob, str) else blob
    for form in _secret_forms(key):
        assert form not in data, f"key material found in {where}"


def _sid(h: kit.Host) -> str:
    assert h.session is not None
    return h.session.sid


def _running() -> tuple[kit.Host, kit.MemFs]:
    rig, clock, fs = kit.make_rig()
    h = kit.first_fill(rig)
    clock.advance(2 * kit.DAY)
    return h, fs


def _nak(h: kit.Host, frame: bytes, code: str) -> None:
    h.rig.poll()  # bring rig time up to the bench clock first: only the frame's effect is compared
    before = kit.snap(h.rig)
    reps = kit.replies(h.rig.feed(frame))
    assert len(reps) == 1 and not reps[0].ok and reps[0].name == code, (reps, frame[:80])
    assert kit.snap(h.rig) == before


def test_forged_frames_are_refused() -> None:
    """Wrong key, no MAC, a MAC copied from another frame, a valid MAC over different content: NAK AUTH."""
    h, _fs = _running()
    new = pg.encode(kit.program13(550_000, phase="titration"))
    stg = ["0", new.decode()]
    seq = h.seq + 1
    sid = _sid(h)
    _nak(h, engine.mk(engine.signed_body(seq, "STG", stg, sid, kit.OTHER_KEY)), "AUTH")
    _nak(h, engine.mk(f"{seq} STG 0 {new.decode()}".encode()), "AUTH")
    other = engine.signed_body(seq, "ST", [], sid)
    _nak(h, engine.mk(f"{seq} STG 0 {new.decode()} ".encode() + other.split(b" ")[-1]), "AUTH")
    good = engine.signed_body(seq, "STP", ["CONFIRM", pg.short_id(h.rig.s.prog_b)], sid)
    _nak(h, engine.mk(good.replace(b"STP", b"BOL", 1)), "AUTH")
    _nak(h, engine.mk(good.replace(f"{seq} ".encode(), f"{seq + 1} ".encode(), 1)), "AUTH")


def test_every_single_mac_digit_change_is_refused() -> None:
    """32 positions x 15 other hex digits = 480 forged STP frames: each NAK AUTH, the pump keeps running."""
    h, _fs = _running()
    body = engine.signed_body(h.seq + 1, "STP", ["CONFIRM", pg.short_id(h.rig.s.prog_b)], _sid(h))
    n = 0
    for i in range(len(body) - 32, len(body)):
        for d in b"0123456789abcdef":
            if d != body[i]:
                _nak(h, engine.mk(body[:i] + bytes([d]) + body[i + 1 :]), "AUTH")
                n += 1
    assert n == 480 and h.rig.s.state == "running"
    assert kit.replies(h.rig.feed(engine.mk(body)))[0].ok  # the unmodified frame is the one that works


def test_replayed_and_reordered_frames_are_refused() -> None:
    """A processed frame sent again: NAK SEQ; an older counter after a newer one: NAK SEQ; a refused COM
    cannot be replayed later, when it would pass (its counter was consumed); nor in a later session."""
    h, _fs = _running()
    f1 = h.frame("ADV", ["60"])
    f2 = h.frame("ADV", ["60"])
    assert kit.replies(h.rig.feed(f2))[0].ok
    _nak(h, f2, "SEQ")
    _nak(h, f1, "SEQ")  # reordered: f1 has the lower SEQ
    r = kit.replies(h.rig.feed(h.frame("ADV", ["60"])))[0]
    assert r.ok
    # a COM refused now (too early: ITB-TIT-04) is not accepted when replayed after 24 h
    assert h.load(kit.program13(550_000, phase="titration")).ok
    new = pg.encode(kit.program13(600_000, phase="titration"))
    assert h.send("STG", ["0", new.decode()]).ok
    com = h.frame("COM", [str(len(new)), pg.checksum(new)[: wire.SHA_LEN]])
    first = kit.replies(h.rig.feed(com))[0]
    assert first.name == "TITRATION"
    h.rig.clock.advance(kit.DAY)
    _nak(h, com, "SEQ")
    h.open()
    _nak(h, com, "AUTH")


def test_read_only_commands_need_no_mac_and_cannot_burn_the_counter() -> None:
    """ID/ST/RB/LG/RJ/HIS without a MAC and with any SEQ answer; the session's counter is unchanged."""
    h, _fs = _running()
    last = h.rig.counter
    for cmd, args in (("ID", []), ("ST", []), ("RB", ["0"]), ("LG", ["0"]), ("RJ", []), ("HIS", [])):
        r = kit.replies(h.rig.feed(wire.request(wire.SEQ_MAX, cmd, args)))[0]
        assert r.ok and r.name == cmd
    assert h.rig.counter == last
    assert h.send("ADV", ["1"]).ok  # the next signed frame still works


def test_key_never_leaves_the_rig_in_replies_log_or_state() -> None:
    """Every reply of a session touching every command and error path, the event log (also: no MACs) and
    the stored state files: no key bytes, hex or raw."""
    h, fs = _running()
    out = b""
    pb = pg.encode(kit.program13(550_000, phase="titration"))
    cmds: list[tuple[str, list[str]]] = [
        ("ID", []), ("ST", []), ("RB", []), ("LG", []), ("STG", ["0", pb.decode()]),
        ("COM", [str(len(pb)), pg.checksum(pb)[: wire.SHA_LEN]]), ("RF", [str(kit.RES_NL), "2000", "0"]),
        ("ADV", ["60"]), ("RJ", []), ("HIS", []), ("SES", []),
        ("BOL", ["1", "60"]), ("STP", ["CONFIRM", "0" * 16]),
    ]  # fmt: skip
    frames = [h.frame(c, a) for c, a in cmds]
    frames += [engine.mk(engine.signed_body(1, "ADV", ["1"], _sid(h), kit.OTHER_KEY)), b">garbage*0000\n"]
    for f in frames:
        out += h.rig.feed(f)
    out += h.rig.feed(h.frame("LG", ["0"]))
    _assert_no_key(out, where="rig replies")
    log_text = ";".join(h.rig.s.log)
    _assert_no_key(log_text, where="event log")
    for f in frames:
        mac = f.rsplit(b"@", 1)[-1][:32]
        if len(mac) == 32:
            assert mac not in out and mac.decode() not in log_text  # MACs are never echoed or logged
    for name, data in fs.files.items():
        _assert_no_key(data, where=name)
    _assert_no_key(repr(h.rig) + repr(h.auth) + repr(RigKey(kit.KEY)) + str(RigKey(kit.KEY)), where="repr")


def test_key_errors_never_show_the_key(tmp_path: Path) -> None:
    """Bad keys and key files: the error names the file and the problem, never the content."""
    texts: list[str] = []
    for bad in (kit.KEY[:15], "not bytes"):
        with pytest.raises(ItbError) as e1:
            auth.Auth(bad)  # type: ignore[arg-type]
        texts.append(str(e1.value))
    almost = kit.KEY.hex()[:-1] + "g"  # a key with one typo
    with pytest.raises(ItbError) as e2:
        auth.parse_key(almost)
    texts.append(str(e2.value))
    kf = tmp_path / "k.hex"
    kf.write_text(kit.KEY.hex() + "\n")
    kf.chmod(0o644)
    with pytest.raises(HostError) as e3:
        keys.load_key_file(kf)
    texts.append(str(e3.value))
    kf.chmod(0o600)
    kf.write_text(almost + "\n")
    with pytest.raises(HostError) as e4:
        keys.load_key_file(kf)
    texts.append(str(e4.value))
    with pytest.raises(TypeError):
        __import__("pickle").dumps(RigKey(kit.KEY))
    for t in texts:
        _assert_no_key(t, where=t)
        assert kit.KEY.hex()[:-1] not in t


def _cli(argv: list[str], stdin: str = "") -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue() + err.getvalue()


def test_key_never_printed_by_cli_or_status_json(tmp_path: Path) -> None:
    """A virtual rig on 127.0.0.1 with a known key: `itb status --json`, `itb load --yes`, `itb readback`,
    `itb log`, a load with the wrong key (AUTH) and the client's status JSON: no key in any output."""
    kf = tmp_path / "rig.key"
    kf.write_text(kit.KEY.hex() + "\n")
    kf.chmod(0o600)
    wrong = tmp_path / "wrong.key"
    wrong.write_text(kit.OTHER_KEY.hex() + "\n")
    wrong.chmod(0o600)
    prog = ROOT / "host_tools" / "examples" / "night-boost.toml"
    with VirtualRig(transport="tcp", key=RigKey(kit.KEY)) as vr:
        url = vr.url
        outputs = []
        for argv in (["status", "--port", url, "--json"], ["status", "--port", url],
                     ["load", str(prog), "--port", url, "--key-file", str(wrong), "--yes", "--fill"],
                     ["load", str(prog), "--port", url, "--key-file", str(kf), "--yes", "--fill"],
                     ["readback", "--port", url], ["log", "--port", url],
                     ["status", "--port", url, "--key-file", str(kf), "--json"]):  # fmt: skip
            code, text = _cli(argv)
            outputs.append((argv[0], code, text))
        assert outputs[2][1] == 1 and "AUTH" in outputs[2][2], outputs[2]
        assert outputs[3][1] == 0, outputs[3]
        with RigClient.connect(url, RigKey(kit.KEY)) as c:
            info = c.info.to_json() if c.info else {}
            outputs.append(("json", 0, json.dumps(c.status().to_json()) + json.dumps(info)))
            outputs.append(("repr", 0, repr(c)))
    for name, _code, text in outputs:
        _assert_no_key(text, where=name)


def test_cli_subprocess_output_has_no_key(tmp_path: Path) -> None:
    """The real `itb` process (its stderr includes argparse and traceback-free error paths)."""
    kf = tmp_path / "rig.key"
    kf.write_text(kit.KEY.hex() + "\n")
    kf.chmod(0o600)
    with VirtualRig(transport="tcp", key=RigKey(kit.KEY)) as vr:
        env = {**os.environ, "ITB_RIG_KEY_FILE": str(kf)}
        p = subprocess.run([sys.executable, "-m", "host_tools.cli", "status", "--port", vr.url, "--json"],
                           capture_output=True, env=env, cwd=ROOT, timeout=60, check=False)  # fmt: skip
    assert p.returncode == 0, p.stderr
    _assert_no_key(p.stdout + p.stderr, where="itb status")
