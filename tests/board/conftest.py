"""Fixtures for the tests against real firmware images (tools/board_build.py, cached under ~/.cache/itb).

Images are built once per cache key; a fresh board for each test is a copy of one provisioned template
(QEMU: a flash image with the key, itb_rig.cfg and main.py written by mpremote; unix: a directory)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.board_scenario import KEY
from host_tools.board import EmulatedBoard, board_build

pytestmark = pytest.mark.board


def _image(kind: str) -> Path:
    # kind: "qemu", "unix" (the rig images) or "unix-test" (the unix port with the core tests frozen)
    bb = board_build()
    try:
        img = bb.build_qemu(bb.DEFAULT_QEMU_HEAP) if kind == "qemu" else bb.build_unix(kind)
    except bb.BoardBuildError as exc:
        pytest.fail(f"{kind} image: {exc}", pytrace=False)
    return Path(img.path)


@pytest.fixture(scope="session")
def unix_test_image() -> Path:
    return _image("unix-test")


@pytest.fixture(scope="session")
def unix_image() -> Path:
    return _image("unix")


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for kind in ("qemu", "unix"):
        d = tmp_path_factory.mktemp(f"template-{kind}")
        b = EmulatedBoard(kind, d, image=_image(kind))
        b.provision(KEY)
        out[kind] = d
    return out


def fresh_board(templates: dict[str, Path], kind: str, dest: Path, heap: int | None = None) -> EmulatedBoard:
    shutil.copytree(templates[kind], dest)
    image = _image(kind) if heap is None or kind == "unix" else None
    return EmulatedBoard(kind, dest, heap=heap, image=image)


@pytest.fixture(params=["qemu", "unix"])
def board(
    request: pytest.FixtureRequest, templates: dict[str, Path], tmp_path: Path
) -> Iterator[EmulatedBoard]:
    b = fresh_board(templates, str(request.param), tmp_path / "board")
    try:
        yield b
    finally:
        b.stop()
