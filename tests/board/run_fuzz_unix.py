"""`./dev board-fuzz [N]`: N (default 50 000) fuzz frames through the rig on the unix-port rig image.

The engine of tests/fuzz/engine.py drives the frozen rig on the port (tests/board/remote_rig.py); its oracle
judges every frame on CPython; then the same seed runs on CPython in-process and every reply byte and count
must be the same. Prints the engine's summary; exit status 0 when nothing was found, 1 otherwise.
`--seed S` picks another deterministic run. The suite runs a 6 000-frame slice
(tests/board/test_fuzz_unix.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tests.board.remote_rig import BoardFuzzer, RigServer, reference_run, summary_counts
from tools.board_build import BoardBuildError, build_unix


def main(argv: list[str] | None = None) -> int:
    doc = (__doc__ or "").splitlines()[0]
    ap = argparse.ArgumentParser(prog="python -m tests.board.run_fuzz_unix", description=doc)
    ap.add_argument("n", nargs="?", type=int, default=50_000, help="frames to run (default 50000)")
    ap.add_argument("--seed", type=int, default=20_260_105, help="random seed (default 20260105)")
    args = ap.parse_args(argv)
    if args.n < 1:
        ap.error(f"N must be at least 1 (got {args.n})")
    try:
        image = Path(build_unix().path)
    except BoardBuildError as exc:
        print(f"board-fuzz: {exc}", file=sys.stderr)
        return 1
    with RigServer(image) as server:
        fz = BoardFuzzer(server, args.seed)
        stats = fz.run(args.n)
        requests = server.requests
    print(f"rig:                         unix-port image {image} (firmware_py frozen)")
    print(stats.summary())
    print(f"requests to the port:        {requests}")
    print(f"refusals (NAK):              {sum(stats.naks.values())}")
    ref, digest = reference_run(args.seed, args.n)
    same = digest == fz.digest.hexdigest() and summary_counts(ref) == summary_counts(stats)
    print("same replies as CPython:     " + ("yes, byte for byte" if same else "NO"))
    bad = (stats.exceptions + stats.internal_naks + stats.invalid_changes + stats.bad_changes
           + stats.bad_replies + (not same))  # fmt: skip
    print("result:                      " + ("PASS" if bad == 0 else f"FAIL ({bad} findings)"))
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
