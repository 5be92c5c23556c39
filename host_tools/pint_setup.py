"""pint set up the host tools' way: imported without numpy, one definition cache per pint installation, and
the one cached exact registry (``quantities`` reads people's text with it)."""

from __future__ import annotations

import hashlib
import os
from fractions import Fraction
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import TypeAlias

    import pint

    UnitRegistry: TypeAlias = pint.UnitRegistry[Any]
else:
    UnitRegistry = Any

__all__ = ["cache_folder", "import_pint", "new_registry", "registry"]

_REGISTRY: list[Any] = []


def registry() -> UnitRegistry:
    """The one pint UnitRegistry of the host tools (exact Fraction arithmetic), built once and cached."""
    if _REGISTRY:
        return _REGISTRY[0]  # type: ignore[no-any-return]
    reg: UnitRegistry = new_registry(Fraction)
    _REGISTRY.append(reg)
    return reg


def cache_folder(pint_dir: str) -> str | None:
    """pint's on-disk definition cache for the pint installed in `pint_dir`: `ITB_PINT_CACHE` (empty: none),
    else one folder per pint installation under the user's cache. pint's cache records the absolute paths
    of the definition files it parsed; one folder shared by several environments points into whichever
    wrote it first, and fails once that one is gone (pint issue #1572)."""
    env = os.environ.get("ITB_PINT_CACHE")
    if env is not None:
        return env or None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    key = hashlib.sha256(os.path.realpath(pint_dir).encode()).hexdigest()[:16]
    return os.path.join(base, "itb", "pint", key)


def new_registry(non_int_type: type = float) -> UnitRegistry:
    """A pint UnitRegistry set up as the host tools set it up (pint without numpy, the per-installation
    definition cache); one that cannot use its cache is built without it."""
    pint = import_pint()
    reg: UnitRegistry
    try:
        reg = pint.UnitRegistry(cache_folder=cache_folder(os.path.dirname(pint.__file__)),
                                non_int_type=non_int_type)
    except OSError:  # an unwritable or stale cache folder must not stop a calculation
        reg = pint.UnitRegistry(non_int_type=non_int_type)
    return reg


def import_pint() -> Any:
    # pint imports numpy when it can, a third of its import time; the host tools give pint exact scalars
    # only, so a calculation imports pint without it unless numpy is loaded already or ITB_PINT_NUMPY=1.
    import sys  # noqa: PLC0415

    if "pint" in sys.modules or "numpy" in sys.modules or os.environ.get("ITB_PINT_NUMPY") == "1":
        import pint  # noqa: PLC0415

        return pint
    sys.modules["numpy"] = None  # type: ignore[assignment]  # makes `import numpy` raise ImportError
    try:
        import pint  # noqa: PLC0415
    finally:
        del sys.modules["numpy"]
    return pint
