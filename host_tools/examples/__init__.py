"""The example prescriptions that ship with itb: `itb example` lists them or writes one out as a template, and
`itb bench` with no file runs `DEFAULT`. Each is a TOML prescription (docs/cli.md, "Prescriptions")."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from host_tools.errors import UsageError

DEFAULT = "night-boost"  # the main job: the labeling's night-time +20 %, on a fresh rig
SUFFIX = ".toml"


def names() -> list[str]:
    """The example names, sorted (file names without `.toml`)."""
    here = resources.files(__package__)
    return sorted(p.name[: -len(SUFFIX)] for p in here.iterdir() if p.name.endswith(SUFFIX))


def path(name: str = DEFAULT) -> Path:
    """The installed file of example `name` (with or without `.toml`); UsageError for an unknown one."""
    stem = name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name
    if stem not in names():
        raise UsageError(f"example: '{name}' is not an example (one of: {', '.join(names())})")
    return Path(str(resources.files(__package__) / (stem + SUFFIX)))


def label(name: str) -> str:
    """The example's `label` (its one-line description), or "" when it has none."""
    return str(tomllib.loads(path(name).read_text(encoding="utf-8")).get("label", ""))
