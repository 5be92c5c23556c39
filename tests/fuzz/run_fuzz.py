"""`./dev fuzz [N]`: feed N (default 200 000) generated frames into the rig's parser and command handler.

Prints the count of frames run, uncaught exceptions, state changes by invalid frames, the largest parser
buffer, event log, staging buffer and reply seen, and the time taken (see `tests/fuzz/engine.py`). Exit
status 0 when nothing was found, 1 otherwise. `--seed S` picks another deterministic run.
"""

from __future__ import annotations

import argparse
import sys

from tests.fuzz.engine import fuzz


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.fuzz.run_fuzz", description=__doc__.splitlines()[0])
    ap.add_argument("n", nargs="?", type=int, default=200_000, help="frames to run (default 200000)")
    ap.add_argument("--seed", type=int, default=20_260_105, help="random seed (default 20260105)")
    args = ap.parse_args(argv)
    if args.n < 1:
        ap.error(f"N must be at least 1 (got {args.n})")
    stats = fuzz(args.n, args.seed)
    print(stats.summary())
    bad = (stats.exceptions + stats.internal_naks + stats.invalid_changes + stats.bad_changes
           + stats.bad_replies)
    print("result:                      " + ("PASS" if bad == 0 else f"FAIL ({bad} findings)"))
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
