"""Start and stop tests/mp/rig_bridge.mjs: the rig firmware under MicroPython, served on 127.0.0.1.

``with start_bridge(key_hex) as bridge: url = bridge.url`` gives a pyserial URL
(``socket://127.0.0.1:<port>``). The key goes to the node process through its environment only.
"""

import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.mp.host import MP_DIR, REPO_ROOT, node_binary

RIG_BRIDGE = MP_DIR / "rig_bridge.mjs"
START_TIMEOUT_S = 30.0


class Bridge:
    """A running bridge: its port, pyserial URL, and (after it stopped) everything it wrote to stderr."""

    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc = proc
        self.port = port
        self.url = f"socket://127.0.0.1:{port}"
        self.stderr = ""


@contextmanager
def start_bridge(
    key_hex: str,
    *,
    state_dir: Path | None = None,
    rig_id: str = "mp0",
    start_s: int = 0,
    mpy_dir: Path | None = None,
) -> Iterator[Bridge]:
    """Run the rig under MicroPython until the block ends; RuntimeError if it does not come up."""
    args = [node_binary(), str(RIG_BRIDGE), "--port", "0", "--rig-id", rig_id, "--start-s", str(start_s)]
    if state_dir is not None:
        args += ["--state-dir", str(state_dir)]
    if mpy_dir is not None:
        args += ["--mpy", str(mpy_dir)]
    env = dict(os.environ, ITB_RIG_KEY=key_hex)
    proc = subprocess.Popen(
        args, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    err_chunks: list[str] = []
    err_stream, out_stream = proc.stderr, proc.stdout
    if err_stream is None or out_stream is None:  # pragma: no cover -- both are PIPE above
        raise RuntimeError("rig_bridge pipes missing")
    err_reader = threading.Thread(target=lambda: err_chunks.append(err_stream.read()), daemon=True)
    err_reader.start()
    line: list[str] = []
    out_reader = threading.Thread(target=lambda: line.append(out_stream.readline()), daemon=True)
    out_reader.start()
    out_reader.join(START_TIMEOUT_S)
    try:
        if not line or not line[0].startswith("LISTENING "):
            proc.kill()
            proc.wait(10)
            err_reader.join(5)
            raise RuntimeError(f"rig_bridge did not start (exit {proc.returncode}): {''.join(err_chunks)}")
        bridge = Bridge(proc, int(line[0].split()[1]))
        yield bridge
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        err_reader.join(5)
        out_stream.close()
        err_stream.close()
        if line and line[0].startswith("LISTENING "):
            bridge.stderr = "".join(err_chunks)
