"""Type-check firmware_py against the MicroPython stubs, so CPython-only APIs fail before run time.

Usage: ``python tools/check_mpy_stubs.py [PATH ...]`` (default: firmware_py). Exit 0 when clean, 1 with
mypy's (and the import check's) messages on errors, 2 when the stubs are not installed.

How the stubs are used (micropython-stubs docs: MicroPython's stdlib must replace CPython's, which mypy
only allows through ``--custom-typeshed-dir``): a temporary typeshed is assembled from

- ``micropython-stdlib-stubs`` (site-packages ``stdlib/`` and ``stubs/``): typeshed's stdlib reduced to what
  MicroPython has, the modules mypy itself needs (builtins, typing, ...), and ``_mpy_shed``;
- ``micropython-rp2-stubs`` (the port the board runs: ``hashlib``, ``time``, ``binascii``, ``machine``, ...),
  taken file by file from its RECORD and checked against the RECORD hashes (another port's stub package
  installed on top would silently change them);
- a few corrections, each verified against the real interpreter in tests/test_mpy_stubs.py: methods and
  functions the stubs still carry but MicroPython 1.27 lacks are removed (``str.ljust``, ``str.removeprefix``,
  ``int.bit_length``, ``os.replace``, ...), and ``NotImplemented``, which MicroPython has, is added back.

mypy then runs ``--strict`` with that typeshed and no site-packages, minus two checks that only reflect how
loosely the stubs are annotated (``no-any-return``, unused ``type: ignore``); the main mypy run keeps them.

An import check runs next to mypy: a run-time import in firmware_py must be another firmware_py module or
a module MicroPython has. ``typing``, ``abc``, ``enum`` and the like have stubs (mypy needs them) but no
MicroPython module, so they are allowed only under ``if TYPE_CHECKING:`` or in a ``try`` that handles
ImportError.
"""

import ast
import base64
import csv
import hashlib
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PORT_STUBS = "micropython_rp2_stubs"

# Names the stubs declare that MicroPython 1.27 does not have (checked with hasattr under the real
# interpreter by tests/test_mpy_stubs.py). Key: (stub file relative to stdlib/, class name or "").
MISSING_ON_MICROPYTHON: dict[tuple[str, str], tuple[str, ...]] = {
    ("builtins.pyi", "str"): (
        "capitalize", "casefold", "expandtabs", "format_map", "isalnum", "isascii", "isdecimal",
        "isidentifier", "isnumeric", "isprintable", "istitle", "ljust", "maketrans", "removeprefix",
        "removesuffix", "rjust", "swapcase", "title", "translate", "zfill",
    ),
    ("builtins.pyi", "bytes"): (
        "capitalize", "expandtabs", "isalnum", "isascii", "istitle", "ljust", "maketrans", "removeprefix",
        "removesuffix", "rjust", "swapcase", "title", "translate", "zfill",
    ),
    ("builtins.pyi", "int"): ("as_integer_ratio", "bit_count", "bit_length", "conjugate"),
    ("os/__init__.pyi", ""): (
        "fsync", "getenv", "makedirs", "removedirs", "renames", "replace", "scandir", "system", "walk",
    ),
}
# Added to builtins.pyi: MicroPython has NotImplemented; micropython-stdlib-stubs comments it out.
BUILTINS_ADDITIONS = "\nNotImplemented: _NotImplementedType\n"

# Modules that exist on CPython (and have stubs here) but not as MicroPython modules: type-checking only.
TYPING_ONLY = {"typing", "typing_extensions", "abc", "enum", "_typeshed", "__future__", "collections.abc"}
# Run-time modules MicroPython has besides the port's stubbed ones (builtin or frozen on every port).
MICROPYTHON_BUILTIN = {"sys", "os", "io", "json", "re", "struct", "collections", "array", "errno", "gc",
                       "micropython", "math", "asyncio", "builtins"}


class StubsMissingError(Exception):
    """The MicroPython stub packages are not installed (or were overwritten)."""


def site_packages() -> Path:
    return Path(sysconfig.get_paths()["purelib"])


def _record_files(site: Path, dist_prefix: str) -> list[tuple[str, str]]:
    infos = sorted(site.glob(dist_prefix + "-*.dist-info"))
    if not infos:
        raise StubsMissingError(f"{dist_prefix.replace('_', '-')} is not installed in {site} (./dev setup)")
    rows = []
    with (infos[-1] / "RECORD").open(newline="") as fh:
        for row in csv.reader(fh):
            if row and row[0].endswith(".pyi") and len(row) > 1 and row[1]:
                rows.append((row[0], row[1]))
    return rows


def _verify(path: Path, digest: str) -> None:
    algo, _, expected = digest.partition("=")
    actual = base64.urlsafe_b64encode(hashlib.new(algo, path.read_bytes()).digest()).rstrip(b"=").decode()
    if actual != expected:
        raise StubsMissingError(
            f"{path} does not match the {PORT_STUBS} RECORD (overwritten by another port's stubs?); "
            f"reinstall: pip install --force-reinstall --no-deps micropython-rp2-stubs"
        )


def _remove_defs(path: Path, class_name: str, names: tuple[str, ...]) -> None:
    # Delete every definition (all overloads, decorators included) of the given names, at module level
    # (class_name "") or inside the named class.
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    body: list[ast.stmt] = tree.body
    if class_name:
        classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name]
        if not classes:
            raise StubsMissingError(f"class {class_name} not found in {path}")
        body = classes[0].body
    drop: set[int] = set()
    for node in body:
        if isinstance(node, ast.FunctionDef) and node.name in names:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            drop.update(range(first, (node.end_lineno or node.lineno) + 1))
    lines = text.splitlines(keepends=True)
    path.write_text("".join(ln for i, ln in enumerate(lines, 1) if i not in drop), encoding="utf-8")


def build_typeshed(dest: Path) -> Path:
    """Assemble the MicroPython typeshed under ``dest``; returns the typeshed directory."""
    site = site_packages()
    if not (site / "stdlib" / "VERSIONS").is_file():
        raise StubsMissingError(f"micropython-stdlib-stubs is not installed in {site} (./dev setup)")
    ts = dest / "typeshed"
    stdlib = ts / "stdlib"
    shutil.copytree(site / "stdlib", stdlib)
    if (site / "stubs").is_dir():
        shutil.copytree(site / "stubs", ts / "stubs")
    shutil.copytree(site / "_mpy_shed", stdlib / "_mpy_shed")
    added = {"_mpy_shed"}
    for rel, digest in _record_files(site, PORT_STUBS):
        src = site / rel
        _verify(src, digest)
        target = stdlib / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)  # the port's module replaces the generic stdlib stub
        added.add(rel.split("/")[0].removesuffix(".pyi"))
    for (rel, cls), names in MISSING_ON_MICROPYTHON.items():
        _remove_defs(stdlib / rel, cls, names)
    with (stdlib / "builtins.pyi").open("a", encoding="utf-8") as fh:
        fh.write(BUILTINS_ADDITIONS)
    versions = stdlib / "VERSIONS"
    listed = {ln.split(":")[0].strip() for ln in versions.read_text().splitlines() if ":" in ln}
    with versions.open("a", encoding="utf-8") as fh:
        for mod in sorted(added - listed):
            fh.write(f"{mod}: 3.0-\n")
    return ts


def port_modules() -> set[str]:
    """Top-level modules of the port stubs (what ``import x`` may name on the board)."""
    return {rel.split("/")[0].removesuffix(".pyi") for rel, _ in _record_files(site_packages(), PORT_STUBS)}


def _is_type_checking_guard(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _handles_import_error(node: ast.Try) -> bool:
    for h in node.handlers:
        names = h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]
        if any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError") for n in names):
            return True
    return False


def check_imports(files: list[Path], allowed: set[str]) -> list[str]:
    """Run-time imports that MicroPython cannot satisfy, as ``file:line: message`` strings."""
    errors: list[str] = []

    def visit(stmts: list[ast.stmt], guarded: bool, path: Path) -> None:
        for node in stmts:
            if isinstance(node, ast.If):
                visit(node.body, guarded or _is_type_checking_guard(node), path)
                visit(node.orelse, guarded, path)
            elif isinstance(node, ast.Try):
                visit(node.body, guarded or _handles_import_error(node), path)
                for h in node.handlers:
                    visit(h.body, guarded, path)
                visit(node.orelse, guarded, path)
                visit(node.finalbody, guarded, path)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.With, ast.For, ast.While)):
                visit(node.body, guarded, path)
            elif isinstance(node, (ast.Import, ast.ImportFrom)) and not guarded:
                if isinstance(node, ast.ImportFrom):
                    mods = [("." * node.level) + (node.module or "")]
                else:
                    mods = [a.name for a in node.names]
                for mod in mods:
                    top = mod.split(".")[0]
                    if mod.startswith(".") or top == "firmware_py":
                        continue
                    if mod in TYPING_ONLY or top in TYPING_ONLY or top not in allowed:
                        errors.append(
                            f"{path}:{node.lineno}: error: run-time import of {mod!r}, which MicroPython "
                            "does not have (import it under `if TYPE_CHECKING:` or in try/except ImportError)"
                        )

    for path in files:
        visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body, False, path)
    return errors


def python_files(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        out.extend(sorted(p.rglob("*.py")) if p.is_dir() else [p])
    return out


def run_mypy(paths: list[Path], typeshed: Path, work: Path) -> subprocess.CompletedProcess[str]:
    config = work / "mypy.ini"
    config.write_text(
        "[mypy]\nstrict = True\npython_version = 3.11\nwarn_unused_ignores = False\n"
        "disable_error_code = no-any-return\n",
        encoding="utf-8",
    )
    cmd = [
        sys.executable, "-m", "mypy",
        "--config-file", str(config),
        "--custom-typeshed-dir", str(typeshed),
        "--no-site-packages",
        "--cache-dir", str(work / "cache"),
        "--show-error-codes",
        *[str(p) for p in paths],
    ]
    return subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, check=False)


def check(paths: list[Path]) -> tuple[bool, str]:
    """Check ``paths`` (files or directories); returns (clean, report text)."""
    with tempfile.TemporaryDirectory(prefix="itb-mpy-stubs-") as tmp:
        work = Path(tmp)
        typeshed = build_typeshed(work)
        allowed = port_modules() | MICROPYTHON_BUILTIN
        import_errors = check_imports(python_files(paths), allowed)
        proc = run_mypy(paths, typeshed, work)
    report = proc.stdout + proc.stderr
    if import_errors:
        report += "\n".join(import_errors) + "\n"
    return proc.returncode == 0 and not import_errors, report


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    paths = [Path(a) for a in args] or [REPO_ROOT / "firmware_py"]
    try:
        ok, report = check(paths)
    except StubsMissingError as exc:
        print(f"check_mpy_stubs: {exc}", file=sys.stderr)
        return 2
    if not ok:
        where = " ".join(map(str, paths))
        print(f"check_mpy_stubs: {where} does not type-check against the MicroPython stubs:")
        print(report, end="")
        return 1
    print("check_mpy_stubs: " + (report.strip().splitlines() or ["ok"])[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
