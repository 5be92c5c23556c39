"""Build MicroPython firmware images with firmware_py frozen in: a 32-bit unix-port binary and a QEMU
MPS2-AN385 (Cortex-M3) image. Cached: a build runs only when its inputs change.

Usage: ``python -m tools.board_build [unix|unix-test|qemu|all] [--heap BYTES ...] [--json]``
(``./dev images``).

- The MicroPython v1.27.0 source comes from ``$ITB_MICROPYTHON_SRC`` (a source tree or a ``.tar.xz`` of one),
  else ``shared/micropython/micropython-1.27.0-src.tar.xz`` in the nearest parent folder that has it
  (``../shared/`` beside a clone), else a ``git clone`` of the tag (needs network).
- Toolchains are Debian packages (``gcc-multilib``; ``gcc-arm-none-eabi``, ``libnewlib-arm-none-eabi``;
  ``qemu-system-arm`` to run): a missing one is a ``ToolchainMissingError`` that names them.
- The cache is ``$ITB_BOARD_CACHE`` or ``~/.cache/itb/board``. An image's key is the SHA-256 of everything
  that goes into it: the source archive, the board files under ``tools/board/``, every ``firmware_py/*.py``,
  the manifest text, the make arguments and the compiler's version line. Images live in
  ``<cache>/images/<kind>-<key16>[-heap<N>]/`` with a ``build.json`` (sizes, build seconds).
- What is frozen (the manifest): every module of the ``firmware_py`` package (the rig imports all of them,
  ``dosing`` lazily) and, on QEMU, the board's ``_boot.py``; nothing from ``host_tools`` or ``tests``.
- ``unix-test`` is a separate test image, never a rig: the same unix port with ``firmware_py`` and the core
  tests frozen (``tests/core/*.py``, the MicroPython-side runner ``tests/mp/mp_runner.py`` and the RFC 2104
  ``tests/mp/hmac2104.py`` that stands in for the ``hmac`` the port lacks), so the core
  suite runs from frozen bytecode on the port (``tests/board/test_core_frozen.py``). Both unix images are
  linked from one object tree (``<cache>/work/unix-objs-<key16>``, kept): a new frozen content only
  re-freezes and re-links.
- The QEMU image is the stock qemu port plus a user C module (``tools/board/qemu/cmod/itbboard``): a flash
  file system (littlefs2 on a host file reached by semihosting), ``os.urandom`` and ``time.time`` from the
  host, ``_boot.py`` then ``main.py`` at boot; and one patch to the port (``QEMU_PATCHES``): a 0x03 byte read
  from the UART while code runs raises KeyboardInterrupt, as on rp2 and esp32 (whose REPL is the USB serial),
  so ``micropython.kbd_intr(-1)`` matters here as it does there. The heap is ``MICROPY_HEAP_SIZE``; images
  of other heap sizes re-compile only ``main.c``.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BOARD_DIR = REPO_ROOT / "tools" / "board"
QEMU_DIR = BOARD_DIR / "qemu"
MP_VERSION = "1.27.0"
MP_TAG = "v" + MP_VERSION
MP_GIT_URL = "https://github.com/micropython/micropython"
ARCHIVE_NAME = f"micropython-{MP_VERSION}-src.tar.xz"
DEFAULT_QEMU_HEAP = 143_360  # the qemu port's own default MICROPY_HEAP_SIZE
DEBIAN_UNIX = ("gcc-multilib",)
DEBIAN_QEMU = ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "qemu-system-arm")
DEBIAN_ALL = DEBIAN_UNIX + DEBIAN_QEMU
UNIX_MAKE_ARGS = (
    "VARIANT=standard",
    "MICROPY_FORCE_32BIT=1",
    "MICROPY_PY_BTREE=0",
    "MICROPY_PY_SSL=0",
    "MICROPY_PY_FFI=0",
)
QEMU_MAKE_ARGS = ("BOARD=MPS2_AN385", "MICROPY_VFS_LFS2=1")

# (file in the source tree, text that must be there, replacement). Applied once per extracted tree.
_RX_OLD = """        int c = uart_rx_chr();
        if (c >= 0) {
            return c;
        }
"""
_RX_NEW = """        int c = uart_rx_chr();
        if (c >= 0 && c == mp_interrupt_char) {
            // itb: as on rp2/esp32 (REPL on USB serial), Ctrl-C in the stream interrupts running code
            mp_sched_keyboard_interrupt();
            mp_handle_pending(true);
            continue;
        }
        if (c >= 0) {
            return c;
        }
"""
QEMU_PATCHES: tuple[tuple[str, str, str], ...] = (
    ("ports/qemu/mphalport.c", '#include "py/mphal.h"\n', '#include "py/mphal.h"\n#include "py/runtime.h"\n'),
    ("ports/qemu/mphalport.c", _RX_OLD, _RX_NEW),
)


class BoardBuildError(Exception):
    """A build step failed; the message says which and ends with the tail of its output."""


class ToolchainMissingError(BoardBuildError):
    """A compiler or emulator is not installed; the message names the Debian packages that provide it."""


class Image:
    """A built firmware image: ``kind`` ("unix" or "qemu"), the executable or ELF ``path``, its ``heap``
    (bytes; the unix port's is set at run time with ``-X heapsize``), and ``info`` from build.json."""

    def __init__(self, kind: str, path: Path, heap: int | None, info: dict[str, object]) -> None:
        self.kind = kind
        self.path = path
        self.heap = heap
        self.info = info

    def __repr__(self) -> str:
        return f"Image({self.kind}, {self.path}, heap={self.heap})"


def cache_root() -> Path:
    env = os.environ.get("ITB_BOARD_CACHE")
    root = Path(env) if env else Path.home() / ".cache" / "itb" / "board"
    root.mkdir(parents=True, exist_ok=True)
    return root


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    # One build at a time per cache (parallel test sessions share it).
    with open(root / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _run(cmd: list[str], what: str, cwd: Path | None = None, log: Path | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    out = proc.stdout + proc.stderr
    if log is not None:
        log.write_text(out)
    if proc.returncode != 0:
        tail = "\n".join(out.strip().splitlines()[-25:])
        raise BoardBuildError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return out


# -- toolchains ---------------------------------------------------------------------------------------------


def _missing(packages: tuple[str, ...], what: str) -> ToolchainMissingError:
    return ToolchainMissingError(
        f"{what} is not installed. On Debian/Ubuntu: apt-get install {' '.join(packages)} "
        f"(all board images: apt-get install {' '.join(DEBIAN_ALL)})"
    )


def check_toolchain(kind: str) -> str:
    """The compiler's version line for ``kind``; ToolchainMissingError (naming Debian packages) if none."""
    if kind == "unix":
        if shutil.which("gcc") is None or shutil.which("make") is None:
            raise _missing(("build-essential", *DEBIAN_UNIX), "gcc/make")
        probe = subprocess.run(
            ["gcc", "-m32", "-x", "c", "-o", os.devnull, "-"],
            input="#include <stdio.h>\nint main(void){return 0;}\n",
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode != 0:
            raise _missing(DEBIAN_UNIX, "32-bit gcc support (gcc -m32)")
        cc = "gcc"
    elif kind == "qemu":
        if shutil.which("arm-none-eabi-gcc") is None:
            raise _missing(DEBIAN_QEMU[:2], "the arm-none-eabi cross compiler")
        libc = subprocess.run(
            ["arm-none-eabi-gcc", "-mthumb", "-mcpu=cortex-m3", "-print-file-name=libc.a"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if not os.path.isabs(libc):
            raise _missing(DEBIAN_QEMU[1:2], "newlib for arm-none-eabi")
        cc = "arm-none-eabi-gcc"
    else:
        raise ValueError(f"kind must be unix or qemu (got {kind!r})")
    return subprocess.run([cc, "--version"], capture_output=True, text=True, check=True).stdout.splitlines()[
        0
    ]


def qemu_binary() -> str:
    """Path of qemu-system-arm; ToolchainMissingError when it is not installed."""
    path = shutil.which("qemu-system-arm")
    if path is None:
        raise _missing(DEBIAN_QEMU[2:], "qemu-system-arm")
    return path


# -- source -------------------------------------------------------------------------------------------------


def find_source() -> tuple[Path | None, str]:
    """(archive or tree, its identity): $ITB_MICROPYTHON_SRC, else shared/micropython/ in a parent folder,
    else (None, tag) meaning a git clone."""
    env = os.environ.get("ITB_MICROPYTHON_SRC")
    if env:
        p = Path(env)
        if p.is_file():
            return p, _file_sha(p)
        if (p / "py" / "mpconfig.h").is_file():
            return p, "tree:" + str(p.resolve())
        raise BoardBuildError(f"ITB_MICROPYTHON_SRC={env}: neither a .tar.xz nor a MicroPython source tree")
    for parent in [REPO_ROOT, *REPO_ROOT.parents]:
        cand = parent / "shared" / "micropython" / ARCHIVE_NAME
        if cand.is_file():
            return cand, _file_sha(cand)
    return None, "git:" + MP_TAG


def _file_sha(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _patches_id() -> str:
    return hashlib.sha256(repr(QEMU_PATCHES).encode()).hexdigest()[:12]


def source_tree() -> Path:
    """An extracted, patched MicroPython tree with mpy-cross built (cached under the cache root)."""
    src, ident = find_source()
    root = cache_root()
    tree = root / "src" / (hashlib.sha256(ident.encode()).hexdigest()[:16] + "-" + _patches_id())
    done = tree / ".itb-ready"
    if done.is_file():
        return tree
    with _locked(root):
        if done.is_file():
            return tree
        if tree.exists():
            shutil.rmtree(tree)
        tmp = tree.with_name(tree.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        if src is None:
            if shutil.which("git") is None:
                raise BoardBuildError("no MicroPython source: set ITB_MICROPYTHON_SRC, or install git")
            _run(["git", "clone", "--depth", "1", "--branch", MP_TAG, MP_GIT_URL, str(tmp)], "git clone")
        elif src.is_file():
            tmp.mkdir(parents=True)
            with tarfile.open(src) as tf:
                tf.extractall(tmp, filter="data")
            inner = [d for d in tmp.iterdir() if d.is_dir()]
            if len(inner) == 1 and (inner[0] / "py").is_dir():
                staging = tmp.with_name(tmp.name + "2")
                inner[0].rename(staging)
                tmp.rmdir()
                staging.rename(tmp)
        else:
            shutil.copytree(src, tmp, symlinks=True)
        if not (tmp / "py" / "mpconfig.h").is_file():
            raise BoardBuildError(f"{src or MP_GIT_URL}: not a MicroPython source tree")
        for rel, old, new in QEMU_PATCHES:
            f = tmp / rel
            text = f.read_text()
            if old not in text:
                raise BoardBuildError(f"patch for {rel} does not apply to this source (MicroPython {MP_TAG})")
            f.write_text(text.replace(old, new, 1))
        # The frozen-manifest step only checks that micropython-lib exists (no package of it is frozen).
        mlib = tmp / "lib" / "micropython-lib"
        mlib.mkdir(parents=True, exist_ok=True)
        (mlib / "README.md").touch()
        _run(
            ["make", "-C", "mpy-cross", f"-j{_jobs()}"], "mpy-cross build", cwd=tmp, log=tmp / "mpy-cross.log"
        )
        tmp.rename(tree)
        done.write_text(ident + "\n")
    return tree


def _jobs() -> int:
    return max(1, min(2, os.cpu_count() or 1))


# -- manifests and keys -------------------------------------------------------------------------------------


def firmware_modules() -> list[str]:
    """The frozen firmware modules: every firmware_py/*.py (dotted names)."""
    return sorted("firmware_py." + p.stem for p in (REPO_ROOT / "firmware_py").glob("*.py"))


def test_files() -> list[Path]:
    """What the unix-test image freezes besides firmware_py: the core tests (every tests/core/*.py, with
    their fixtures) and the MicroPython-side runner, with the package files that make them importable."""
    tests = REPO_ROOT / "tests"
    files = [tests / "__init__.py", *sorted((tests / "core").glob("*.py"))]
    return files + [tests / "mp" / n for n in ("__init__.py", "mp_runner.py", "hmac2104.py")]


def manifest_text(kind: str) -> str:
    what = "the rig firmware and the core tests (a test image)" if kind == "unix-test" else "the rig firmware"
    lines = [
        f"# Generated by tools/board_build.py: {what}, nothing host-only.",
        f"package('firmware_py', base_path={str(REPO_ROOT)!r})",
    ]
    if kind == "qemu":
        lines.append(f"module('_boot.py', base_path={str(QEMU_DIR)!r})")
    if kind == "unix-test":
        rel = [p.relative_to(REPO_ROOT / "tests").as_posix() for p in test_files()]
        lines.append(f"package('tests', files={rel!r}, base_path={str(REPO_ROOT)!r})")
    return "\n".join(lines) + "\n"


def _inputs_hash(kind: str, extra: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    h.update(find_source()[1].encode())
    h.update(_patches_id().encode())
    h.update(manifest_text(kind).encode())
    h.update(repr(extra).encode())
    h.update(check_toolchain("qemu" if kind == "qemu" else "unix").encode())
    files = sorted((REPO_ROOT / "firmware_py").glob("*.py"))
    if kind == "qemu":
        files += sorted(p for p in QEMU_DIR.rglob("*") if p.is_file())
    if kind == "unix-test":
        files += test_files()
    for f in files:
        h.update(str(f.relative_to(REPO_ROOT)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _size(tool: str, obj: Path) -> dict[str, int]:
    out = _run([tool, str(obj)], "size").splitlines()
    text, data, bss = (int(x) for x in out[1].split()[:3])
    return {"text": text, "data": data, "bss": bss}


def _frozen_mpy_sizes(build: Path) -> dict[str, int]:
    d = build / "frozen_mpy"
    return {str(p.relative_to(d)): p.stat().st_size for p in sorted(d.rglob("*.mpy"))}


def _image_info(kind: str, build: Path, exe: Path, seconds: float, heap: int | None) -> dict[str, object]:
    size_tool = "arm-none-eabi-size" if kind == "qemu" else "size"
    mpy = _frozen_mpy_sizes(build)
    return {
        "kind": kind,
        "micropython": MP_VERSION,
        "heap": heap,
        "build_s": round(seconds, 1),
        "image": _size(size_tool, exe),
        "frozen_content": _size(size_tool, build / "frozen_content.o"),
        "frozen_mpy_bytes": mpy,
        "frozen_mpy_total": sum(mpy.values()),
        "modules": firmware_modules(),
    }


def _finish(img_dir: Path, exe_src: Path, exe_name: str, info: dict[str, object]) -> Path:
    tmp = img_dir.with_name(img_dir.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    shutil.copy2(exe_src, tmp / exe_name)
    (tmp / "build.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    if img_dir.exists():
        shutil.rmtree(img_dir)
    tmp.rename(img_dir)
    _prune(img_dir)
    return img_dir / exe_name


KEEP_IMAGES = 24  # per kind: the cache keeps the newest images (a heap sweep builds about a dozen)


def _prune(newest: Path) -> None:
    # Images of the same kind beyond the newest KEEP_IMAGES, by modification time, are removed.
    kind = newest.name.split("-")[0] + "-" + ("test-" if newest.name.startswith("unix-test-") else "")
    same = [d for d in newest.parent.iterdir() if d.is_dir() and d.name.startswith(kind)
            and not d.name.endswith(".tmp") and (kind != "unix-" or not d.name.startswith("unix-test-"))]
    same.sort(key=lambda d: d.stat().st_mtime, reverse=True)
    for old in same[KEEP_IMAGES:]:
        shutil.rmtree(old, ignore_errors=True)


def _cached(img_dir: Path, exe_name: str, kind: str, heap: int | None) -> Image | None:
    exe = img_dir / exe_name
    meta = img_dir / "build.json"
    if exe.is_file() and meta.is_file():
        return Image(kind, exe, heap, json.loads(meta.read_text()))
    return None


def _unix_objects() -> Path:
    """The object tree both unix images are linked from: it depends on the source, the make arguments and
    the compiler, not on what is frozen (kept between builds)."""
    h = hashlib.sha256()
    for part in (find_source()[1], _patches_id(), repr(UNIX_MAKE_ARGS), check_toolchain("unix")):
        h.update(part.encode() + b"\0")
    return cache_root() / "work" / f"unix-objs-{h.hexdigest()[:16]}"


def build_unix(kind: str = "unix") -> Image:
    """The 32-bit unix-port MicroPython with firmware_py frozen (cached); ``kind="unix-test"``: the test
    image, with the core tests frozen too (never a rig)."""
    if kind not in ("unix", "unix-test"):
        raise ValueError(f"kind must be unix or unix-test (got {kind!r})")
    key = _inputs_hash(kind, UNIX_MAKE_ARGS)
    root = cache_root()
    img_dir = root / "images" / f"{kind}-{key}"
    hit = _cached(img_dir, "micropython", kind, None)
    if hit is not None:
        return hit
    tree = source_tree()
    with _locked(root):
        hit = _cached(img_dir, "micropython", kind, None)
        if hit is not None:
            return hit
        build = _unix_objects()
        manifest = root / "work" / f"{kind}-{key}.manifest.py"
        build.mkdir(parents=True, exist_ok=True)
        manifest.write_text(manifest_text(kind))
        # What the last image froze goes; everything else is reused.
        shutil.rmtree(build / "frozen_mpy", ignore_errors=True)
        for stale in (build / "frozen_content.c", build / "micropython"):
            stale.unlink(missing_ok=True)
        t0 = time.monotonic()
        cmd = ["make", "-C", "ports/unix", f"-j{_jobs()}", *UNIX_MAKE_ARGS]
        cmd += [f"BUILD={build}", f"FROZEN_MANIFEST={manifest}"]
        _run(cmd, f"{kind}-port build", cwd=tree, log=manifest.with_suffix("").with_suffix(".log"))
        info = _image_info(kind, build, build / "micropython", time.monotonic() - t0, None)
        exe = _finish(img_dir, build / "micropython", "micropython", info)
        return Image(kind, exe, None, info)


def build_unix_test() -> Image:
    """The unix-port test image: firmware_py and the core tests frozen (cached)."""
    return build_unix("unix-test")


def build_qemu(heap: int = DEFAULT_QEMU_HEAP) -> Image:
    """The QEMU MPS2-AN385 image with firmware_py frozen and a fixed heap of ``heap`` bytes (cached)."""
    if heap <= 0 or heap % 4:
        raise ValueError(f"heap must be a positive multiple of 4 bytes (got {heap})")
    key = _inputs_hash("qemu", QEMU_MAKE_ARGS)
    root = cache_root()
    img_dir = root / "images" / f"qemu-{key}-heap{heap}"
    hit = _cached(img_dir, "firmware.elf", "qemu", heap)
    if hit is not None:
        return hit
    tree = source_tree()
    with _locked(root):
        hit = _cached(img_dir, "firmware.elf", "qemu", heap)
        if hit is not None:
            return hit
        # One object tree per key; only main.c (the heap array) depends on the heap size.
        build = root / "work" / f"qemu-{key}"
        manifest = build.with_suffix(".manifest.py")
        build.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text(manifest_text("qemu"))
        for stale in (build / "main.o", build / "firmware.elf"):
            stale.unlink(missing_ok=True)
        t0 = time.monotonic()
        cmd = ["make", "-C", "ports/qemu", f"-j{_jobs()}", *QEMU_MAKE_ARGS]
        cmd += [
            f"BUILD={build}",
            f"FROZEN_MANIFEST={manifest}",
            f"USER_C_MODULES={QEMU_DIR / 'cmod'}",
            f"MICROPY_HEAP_SIZE={heap}",
        ]
        _run(cmd, "qemu-port build", cwd=tree, log=build.with_suffix(".log"))
        info = _image_info("qemu", build, build / "firmware.elf", time.monotonic() - t0, heap)
        exe = _finish(img_dir, build / "firmware.elf", "firmware.elf", info)
        return Image("qemu", exe, heap, info)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("kind", nargs="?", default="all", choices=("unix", "unix-test", "qemu", "all"))
    parser.add_argument("--heap", type=int, action="append", help="QEMU heap bytes (repeatable)")
    parser.add_argument("--json", action="store_true", help="print build.json of each image")
    args = parser.parse_args(argv)
    try:
        images = []
        if args.kind in ("unix", "all"):
            images.append(build_unix())
        if args.kind in ("unix-test", "all"):
            images.append(build_unix_test())
        if args.kind in ("qemu", "all"):
            images += [build_qemu(h) for h in (args.heap or [DEFAULT_QEMU_HEAP])]
    except BoardBuildError as exc:
        print(f"board_build: {exc}", file=sys.stderr)
        return 1
    for img in images:
        if args.json:
            print(json.dumps(img.info, indent=2, sort_keys=True))
        else:
            fz = img.info["frozen_content"]
            assert isinstance(fz, dict)
            print(
                f"{img.kind:9} {img.path}  heap={img.heap or 'run-time'}  frozen .mpy "
                f"{img.info['frozen_mpy_total']} B, frozen content text+data {fz['text'] + fz['data']} B, "
                f"built in {img.info['build_s']} s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
