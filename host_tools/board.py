"""Emulated boards: the rig as real MicroPython firmware (firmware_py frozen into the image), on a pty.

- ``EmulatedBoard("qemu", dir)``: QEMU MPS2-AN385 (Cortex-M3). The board's UART0 (its REPL stream) is a
  pty; its flash is ``dir/flash.img`` (littlefs2, reached by semihosting), so the rig's key, configuration,
  ``main.py`` and state survive killing the emulator and starting it again from the same image.
- ``EmulatedBoard("unix", dir)``: the 32-bit unix-port MicroPython; its file system is ``dir/fs/`` and its
  REPL stream (stdin/stdout) a pty.

``provision(key)`` puts ``itb_key.hex``, ``itb_rig.cfg`` and ``main.py`` on the board's file system, as a
bench engineer does on a Pico with mpremote (on QEMU it is mpremote, over the board's REPL, before the rig
runs).
``start()`` boots the board; ``main.py`` runs ``firmware_py.main.run()`` on the REPL stream, and ``url`` is
the pty every ``itb`` command takes as ``--port``. ``power_cut()`` kills the emulator (SIGKILL: nothing is
flushed or closed), ``start()`` again boots from the same flash. Heap readings the board writes on its
diagnostics channel (QEMU: the semihosting console; unix: stderr; never the rig's link) are in ``heap``.

Images come from ``tools/board_build.py`` (a source checkout), built once and cached.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType, TracebackType

from firmware_py.config import CONFIG_FILE as CFG_FILE
from firmware_py.config import Config, bench_config
from firmware_py.main import KEY_FILE
from host_tools.errors import CommError, UsageError
from host_tools.keys import RigKey

KINDS = ("qemu", "unix")
FLASH_BYTES = 1024 * 1024  # 256 blocks of 4 KiB (a Pico has 1.4 MiB of file system)
UNIX_DEFAULT_HEAP = 128 * 1024
BOOT_TIMEOUT_S = 20.0
_PTY_RE = re.compile(r"char device redirected to (/dev/pts/\d+)")
_HEAP_RE = re.compile(r"itb-heap t=(\d+) alloc=(-?\d+) free=(-?\d+) in=(\d+) oom=(\d+) err=(\d+)")
REPO_ROOT = Path(__file__).resolve().parent.parent


class BoardError(CommError):
    """The emulated board did not build, boot or answer (exit 3, like a link failure)."""


def board_build() -> ModuleType:
    """tools/board_build.py of this source checkout (the image builder)."""
    path = REPO_ROOT / "tools" / "board_build.py"
    if not path.is_file():
        raise UsageError("emulated boards need a source checkout of itb (tools/board_build.py is missing)")
    mod = sys.modules.get("tools.board_build")
    if mod is not None:
        return mod
    spec = importlib.util.spec_from_file_location("tools.board_build", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["tools.board_build"] = mod
    spec.loader.exec_module(mod)
    return mod


def main_py(kind: str, bench: bool = True, diag: bool = True) -> str:
    """The board's main.py: run the rig on the REPL stream (bench clock on emulated bench rigs)."""
    lines = ["# itb rig: runs at boot (written by host_tools.board)", "import firmware_py.main as rig_main"]
    sink = "None"
    if diag and kind == "qemu":
        lines.append("import itbboard")
        sink = "itbboard.diag"
    elif diag:
        lines.append("import sys")
        sink = "lambda t: sys.stderr.write(t + '\\n')"
    lines.append(f"rig_main.run(bench={bench}, diag={sink})")
    return "\n".join(lines) + "\n"


class HeapReading:
    """One diagnostics line: rig time, heap bytes allocated and free after a collection, bytes received,
    MemoryErrors and other errors the rig loop caught."""

    __slots__ = ("alloc", "errors", "free", "in_bytes", "oom", "t_s")

    def __init__(  # noqa: PLR0917 (the diagnostics line's fields, in its order)
        self, t_s: int, alloc: int, free: int, in_bytes: int, oom: int, errors: int
    ) -> None:
        self.t_s = t_s
        self.alloc = alloc
        self.free = free
        self.in_bytes = in_bytes
        self.oom = oom
        self.errors = errors

    def __repr__(self) -> str:
        return f"HeapReading(t={self.t_s}, alloc={self.alloc}, free={self.free}, oom={self.oom})"


class EmulatedBoard:
    """One emulated board in ``directory`` (its flash or file system persists there). Context manager."""

    def __init__(
        self,
        kind: str,
        directory: str | os.PathLike[str],
        *,
        heap: int | None = None,
        image: Path | None = None,
    ) -> None:
        if kind not in KINDS:
            raise UsageError(f"board must be one of {', '.join(KINDS)} (got {kind!r})")
        self.kind = kind
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.heap = heap
        self._image = image
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.output: list[str] = []  # the emulator's console lines (boot messages, diagnostics)
        self.heap_readings: list[HeapReading] = []
        self._reader: threading.Thread | None = None
        self._master = -1
        self._slave = -1
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"EmulatedBoard({self.kind}, {self.url or 'not running'})"

    def __enter__(self) -> EmulatedBoard:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- image and file system ----------------------------------------------------------------------------

    @property
    def image(self) -> Path:
        if self._image is None:
            bb = board_build()
            try:
                if self.kind == "qemu":
                    img = bb.build_qemu(self.heap or bb.DEFAULT_QEMU_HEAP)
                else:
                    img = bb.build_unix()
            except bb.BoardBuildError as exc:
                raise BoardError(str(exc)) from None
            self._image = Path(img.path)
        return self._image

    @property
    def flash(self) -> Path:
        return self.dir / "flash.img"

    @property
    def fs(self) -> Path:
        return self.dir / "fs"

    def provisioned(self) -> bool:
        if self.kind == "unix":
            return (self.fs / KEY_FILE).is_file() and (self.fs / "main.py").is_file()
        return self.flash.is_file() and self.flash.stat().st_size == FLASH_BYTES and self._flag().is_file()

    def _flag(self) -> Path:
        return self.dir / "provisioned"

    def provision(
        self, key: RigKey, config: Config | None = None, *, main: str | None = None, bench: bool = True
    ) -> None:
        """A blank board given the key, itb_rig.cfg and main.py (which starts the rig at every boot)."""
        files = {
            KEY_FILE: key.secret().hex() + "\n",
            CFG_FILE: (config or bench_config(self.kind)).text(),
            "main.py": main if main is not None else main_py(self.kind, bench=bench),
        }
        self.stop()
        if self.kind == "unix":
            if self.fs.exists():
                shutil.rmtree(self.fs)
            self.fs.mkdir(parents=True)
            for name, text in files.items():
                path = self.fs / name
                path.write_text(text)
                if name == KEY_FILE:
                    path.chmod(0o600)
            return
        self._flag().unlink(missing_ok=True)
        self.flash.write_bytes(b"\xff" * FLASH_BYTES)
        self.start(wait_rig=False)
        try:
            write_files(self.url, files)
        finally:
            self.stop()
        self._flag().write_text("key, itb_rig.cfg, main.py\n")

    def replace_main(self, text: str) -> None:
        """Put another main.py on a provisioned board (tests: a deliberately broken variant)."""
        if self.kind == "unix":
            (self.fs / "main.py").write_text(text)
            return
        self.start(wait_rig=False, boot_main=False)
        try:
            write_files(self.url, {"main.py": text})
        finally:
            self.stop()

    # -- life cycle ---------------------------------------------------------------------------------------

    def start(self, *, wait_rig: bool = True, boot_main: bool = True) -> EmulatedBoard:
        """Boot the board. wait_rig: return once the rig answers ID on the pty. boot_main=False (QEMU):
        boot with the file system but skip main.py (the semihosting command line says so)."""
        if self.proc is not None:
            raise UsageError("the board is already running")
        self.output = []
        readings = len(self.heap_readings)  # before the board can write its first one
        if self.kind == "qemu":
            if not self.flash.is_file():
                raise UsageError(f"{self.flash}: no flash image; provision the board first")
            args = "itb,flash=" + str(self.flash.resolve())
            if not boot_main:
                args += ",nomain=1"
            cmd = [
                board_build().qemu_binary(), "-machine", "mps2-an385", "-nographic", "-monitor", "null",
                "-semihosting-config", "enable=on,target=native," + ",".join("arg=" + a for a in
                                                                             args.split(",")),
                "-serial", "pty", "-kernel", str(self.image),
            ]  # fmt: skip
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
        else:
            if not self.fs.is_dir():
                raise UsageError(f"{self.fs}: no file system; provision the board first")
            import tty  # noqa: PLC0415 (POSIX only)

            self._master, self._slave = os.openpty()
            tty.setraw(self._slave)
            tty.setraw(self._master)
            self.url = os.ttyname(self._slave)
            heap = self.heap or UNIX_DEFAULT_HEAP
            self.proc = subprocess.Popen(
                [str(self.image), "-X", f"heapsize={heap}", "main.py"],
                cwd=self.fs,
                stdin=self._master,
                stdout=self._master,
                stderr=subprocess.PIPE,
                env={"PATH": os.environ.get("PATH", ""), "MICROPYPATH": ".frozen"},
            )
        self._reader = threading.Thread(target=self._read_output, name="itb-board-output", daemon=True)
        self._reader.start()
        if self.kind == "qemu":
            m = self._wait_output("char device redirected to", BOOT_TIMEOUT_S)
            found = _PTY_RE.search(m)
            if found is None:
                raise BoardError(f"qemu did not report its pty: {m!r}")
            self.url = found.group(1)
        if wait_rig:
            self.wait_rig(since=readings)
        return self

    def _read_output(self) -> None:
        proc = self.proc
        if proc is None:
            return
        stream = proc.stdout if self.kind == "qemu" else proc.stderr
        assert stream is not None
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self._lock:
                self.output.append(line)
                m = _HEAP_RE.search(line)
                if m is not None:
                    self.heap_readings.append(HeapReading(*(int(x) for x in m.groups())))

    def _wait_output(self, text: str, timeout_s: float) -> str:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            with self._lock:
                for line in self.output:
                    if text in line:
                        return line
            if self.proc is not None and self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise BoardError(f"{self.kind} board: no {text!r} within {timeout_s} s; output: {self.output[-10:]}")

    def wait_rig(self, timeout_s: float = BOOT_TIMEOUT_S, since: int | None = None) -> None:
        """Until the rig runs: its first diagnostics line (main.run writes one as its loop starts), then an
        ID answered on the pty (read-only; no key needed). ``since``: the number of heap readings before the
        boot (start() passes it; counted here, a fast boot's first line may already be in)."""
        from host_tools.client import RigClient  # noqa: PLC0415

        end = time.monotonic() + timeout_s
        n = len(self.heap_readings) if since is None else since
        while time.monotonic() < end and len(self.heap_readings) == n:
            if self.proc is None or self.proc.poll() is not None:
                raise BoardError(f"{self.kind} board exited during boot; output: {self.output[-10:]}")
            time.sleep(0.02)
        try:
            with RigClient.connect(self.url, None, timeout_s=max(1.0, end - time.monotonic()), retries=0):
                return
        except CommError as exc:
            raise BoardError(
                f"{self.kind} board: the rig did not answer ({exc}); output: {self.output[-10:]}"
            ) from None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def power_cut(self) -> None:
        """Kill the emulator at once (SIGKILL): what is on the flash stays, nothing else."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        """Stop the emulator (a power-off: SIGTERM, then SIGKILL)."""
        self._end(signal.SIGTERM)

    def _end(self, sig: int) -> None:
        proc = self.proc
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(sig)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            for s in (proc.stdout, proc.stderr):
                if s is not None:
                    with contextlib.suppress(OSError):
                        s.close()
        if self._reader is not None:
            self._reader.join(timeout=2)
        for fd in (self._master, self._slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = -1
        self.proc = None
        self._reader = None


def write_files(url: str, files: dict[str, str]) -> None:
    """Write text files to a MicroPython board's file system over its REPL (mpremote's raw REPL)."""
    from mpremote.transport_serial import SerialTransport  # noqa: PLC0415

    t = SerialTransport(url, baudrate=115_200)
    try:
        t.enter_raw_repl(soft_reset=False)
        for name, text in files.items():
            t.fs_writefile(name, text.encode())
        t.exit_raw_repl()
    finally:
        t.close()
