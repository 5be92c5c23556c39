# MicroPython side of tests/mp/rig_bridge.mjs: one firmware_py Rig on a BenchClock, persisting through
# firmware_py.store into the MicroPython filesystem. Bytes cross the JS boundary as hex text.

import binascii
import os

from firmware_py.auth import parse_key
from firmware_py.clock import BenchClock
from firmware_py.rig import Rig
from firmware_py.store import Store

STATE_PREFIX = "itb_state"

_rig: list[Rig] = []


def start(key_hex: str, rig_id: str, start_s: int, state_dir: str) -> str:
    # Returns the rig's repr (never the key).
    os.chdir(state_dir)
    rig = Rig(parse_key(key_hex), BenchClock(start_s), Store(STATE_PREFIX), rig_id)
    _rig.clear()
    _rig.append(rig)
    return repr(rig)


def feed_hex(data_hex: str) -> str:
    out = _rig[0].feed(binascii.unhexlify(data_hex))
    return binascii.hexlify(out).decode() if out else ""


def state_files() -> list[str]:
    return sorted([n for n in os.listdir() if n.startswith(STATE_PREFIX)])
