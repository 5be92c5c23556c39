"""`itb example [NAME] [-o FILE]`: list the example prescriptions that ship with itb, or write one out as a
template to start a prescription from."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from host_tools import examples, outfile
from host_tools.errors import EXIT_OK, UsageError


def _cmd_example(args: argparse.Namespace) -> int:
    if args.name is None:
        rows = [{"name": n, "label": examples.label(n), "path": str(examples.path(n))}
                for n in examples.names()]
        if args.json:
            print(json.dumps({"examples": rows, "default": examples.DEFAULT}, indent=2))
            return EXIT_OK
        width = max(len(r["name"]) for r in rows)
        for r in rows:
            star = " (itb bench runs it when no file is given)" if r["name"] == examples.DEFAULT else ""
            print(f"{r['name']:<{width}}  {r['label']}{star}")
        return EXIT_OK
    if args.json:
        raise UsageError(
            "--json: lists the examples (give no NAME); an example itself is a TOML template: "
            "leave out --json",
            field="--json",
        )
    src = examples.path(args.name)
    target = args.output or outfile.STDOUT
    outfile.write("-o", target, src.read_bytes())
    if target != outfile.STDOUT:
        print(f"itb example: wrote {target} (from {src.name}); build it with: itb program build {target}",
              file=sys.stderr)
    return EXIT_OK


def register(sub: Any) -> None:
    """Add `itb example`."""
    p: argparse.ArgumentParser = sub.add_parser(
        "example",
        help="list the example prescriptions, or write one out as a template",
        description="With no NAME: list the example prescriptions that ship with itb. With NAME: write that "
        "prescription (TOML) to stdout, or to FILE with -o, as a template to edit. Not for clinical use.",
    )
    p.add_argument("name", nargs="?", metavar="NAME", help="an example's name (as listed), e.g. night-boost")
    p.add_argument("-o", "--output", metavar="FILE", help="write it to FILE (atomically; - is stdout)")
    p.add_argument("--json", action="store_true", help="with no NAME: the list as JSON (refused with a NAME)")
    p.set_defaults(func=_cmd_example)
