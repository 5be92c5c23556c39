"""Write firmware_py/package.json, mip's package file: one ["firmware_py/<m>.py", "<m>.py"] entry per firmware
module and the one version of itb (firmware_py.__version__). `python -m tools.mip_package [--check]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from firmware_py import __version__

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "firmware_py" / "package.json"


def text() -> str:
    """The package file as it must be."""
    urls = [[f"firmware_py/{p.name}", p.name] for p in sorted((ROOT / "firmware_py").glob("*.py"))]
    return json.dumps({"urls": urls, "version": __version__, "deps": []}, indent=2) + "\n"


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        ok = PKG.read_text(encoding="utf-8") == text()
        print("firmware_py/package.json is current" if ok else "firmware_py/package.json is stale: "
              "python -m tools.mip_package")
        return 0 if ok else 1
    PKG.write_text(text(), encoding="utf-8")
    print(f"wrote {PKG.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
