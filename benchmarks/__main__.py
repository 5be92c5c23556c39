"""`python -m benchmarks [--write] [--quick | --smoke] [--only NAME ...]`: run the benchmarks, report them.

Without `--write` the reports go under build/benchmarks/ (untracked). With `--write`, a full run of every
benchmark writes the tracked `benchmarks/results.json` and `BENCHMARKS.md`; a `--quick`, `--smoke` or
`--only` run never does (its figures are partial or indicative): it writes under build/benchmarks/.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from benchmarks import MODULES, common, run_one
from benchmarks.common import ROOT, Size
from benchmarks.report import write_reports


def report_paths(tracked: bool, size: Size) -> tuple[Path, Path]:
    """The tracked reports for a full run with --write; else files under build/benchmarks/."""
    if tracked:
        return ROOT / "benchmarks" / "results.json", ROOT / "BENCHMARKS.md"
    out = ROOT / "build" / "benchmarks"
    return out / f"results-{size}.json", out / f"BENCHMARKS-{size}.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run the itb benchmarks; write a JSON results file and a readable BENCHMARKS.md.",
    )
    parser.add_argument("--quick", action="store_true", help="reduced sizes and repeats (figures indicative)")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes, as in the test suite (checks, not figures)"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=MODULES,
        metavar="NAME",
        help=f"run only NAME ({', '.join(MODULES)})",
    )
    parser.add_argument(
        "--write", action="store_true", help="a full run: write benchmarks/results.json and BENCHMARKS.md"
    )
    parser.add_argument("--json", type=Path, help="results file (default: see --write)")
    parser.add_argument("--md", type=Path, help="readable report (default: see --write)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name in MODULES:
            print(name)
        return 0
    if hasattr(os, "getloadavg"):
        common.LOAD_AT_START[:] = list(os.getloadavg())
    size: Size = "smoke" if args.smoke else "quick" if args.quick else "full"
    names: list[str] = args.only or list(MODULES)
    results = []
    for name in names:
        print(f"benchmarks: {name} ({size}) ...", file=sys.stderr, flush=True)
        r = run_one(name, size)
        results.append(r)
        status = (
            r.status
            if r.status != "ok"
            else ", ".join(
                f"{f.key}={'met' if f.met else 'MISSED' if f.met is False else 'info'}" for f in r.figures
            )
        )
        print(f"benchmarks: {name} done in {r.elapsed_s:.1f} s: {status}", file=sys.stderr, flush=True)
        if r.status != "ok":
            print(r.error, file=sys.stderr)
    json_path, md_path = report_paths(args.write and size == "full" and names == list(MODULES), size)
    json_path, md_path = args.json or json_path, args.md or md_path
    write_reports(results, size, names, json_path, md_path)
    print(f"benchmarks: wrote {json_path} and {md_path}", file=sys.stderr)
    return 0 if all(r.status == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
