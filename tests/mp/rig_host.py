# MicroPython side of tests/mp/rig_bridge.mjs: one firmware_py Rig on a BenchClock, persisting through
# firmware_py.store into the MicroPython filesystem. Bytes cross the JS boundary as hex text. The
# WebAssembly port has no os.urandom: the bridge hands in fresh random bytes from node's crypto with every
# chunk, and the rig draws its session challenges from them (SHA-256 of the pool and a counter).

import binascii
import hashlib
import os

from firmware_py.auth import parse_key
from firmware_py.clock import BenchClock
from firmware_py.config import bench_config
from firmware_py.rig import Rig
from firmware_py.store import Store

STATE_PREFIX = "itb_state"

_rig: list[Rig] = []
_pool = [b"", 0]


def _random(n: int) -> bytes:
    _pool[1] += 1  # type: ignore[operator]
    return hashlib.sha256(_pool[0] + str(_pool[1]).encode()).digest()[:n]  # type: ignore[operator]


def start(key_hex: str, rig_id: str, start_s: int, state_dir: str) -> str:
    # Returns the rig's repr (never the key).
    os.chdir(state_dir)
    rig = Rig(parse_key(key_hex), BenchClock(start_s), Store(STATE_PREFIX), bench_config(rig_id), _random)
    _rig.clear()
    _rig.append(rig)
    return repr(rig)


def link_reset() -> None:
    _rig[0].link_reset()


def feed_hex(data_hex: str, entropy_hex: str) -> str:
    _pool[0] = binascii.unhexlify(entropy_hex)
    out = _rig[0].feed(binascii.unhexlify(data_hex))
    return binascii.hexlify(out).decode() if out else ""


def state_files() -> list[str]:
    return sorted([n for n in os.listdir() if n.startswith(STATE_PREFIX)])
