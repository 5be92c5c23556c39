"""`./dev adversary [N]`: run N (default 10 000) model-based adversary sequences against the rig.

Each sequence is a fresh rig (random configuration, patient and start time) driven by the hypothesis state
machine of `tests/adversary/machine.py` with correctly signed commands; the seven invariants of
`tests/adversary/model.py` are checked after every step. Prints the sequences and steps run, the commands
accepted and refused (by command and reason, and the rules named), every invariant break by kind with an
example, the findings that are not invariants, and the time taken. Exit status 0 when no invariant broke
and the model never disagreed with the rig, 1 otherwise. `--seed S` picks another deterministic run;
`--canary` switches the rig's envelope off (every decision allowed) to show the invariants can fail;
`--host-rig` also compares the host's decision with the rig's at every load (tests/adversary/differential.py)
and fails on any disagreement.
"""

from __future__ import annotations

import argparse
import sys

from tests.adversary.machine import run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="./dev adversary", description=(__doc__ or "").splitlines()[0])
    ap.add_argument("n", nargs="?", type=int, default=10_000, help="sequences to run (default 10000)")
    ap.add_argument("--seed", type=int, default=20_260_105, help="random seed (default 20260105)")
    ap.add_argument("--steps", type=int, default=30, help="most steps in a sequence (default 30)")
    ap.add_argument("--canary", action="store_true", help="switch the rig's envelope off (every COM, RF and "
                    "BOL decision allowed): the invariants must then break")
    ap.add_argument("--host-rig", action="store_true",
                    help="compare the host's decision (RigClient.decide) with the rig's at every load")
    args = ap.parse_args(argv)
    if args.n < 1:
        ap.error(f"N must be at least 1 (got {args.n})")
    tally = None
    if args.host_rig:
        from tests.adversary.differential import Agreement  # noqa: PLC0415

        tally = Agreement()
    if args.canary:
        from tests.adversary.canary import envelope_off  # noqa: PLC0415

        with envelope_off():
            stats = run(args.n, args.seed, steps=args.steps, progress=True, host_rig=tally)
    else:
        stats = run(args.n, args.seed, steps=args.steps, progress=True, host_rig=tally)
    print(stats.summary())
    bad = stats.total_breaks() + stats.errors
    if tally is not None:
        print(f"host = rig:                {tally.compared} loads compared: {tally.accepted} accepted by "
              f"both, {tally.refused} refused alike, {len(tally.disagreements)} disagreements; "
              f"{tally.not_decided} refused before the decision")
        for d in tally.disagreements[:5]:
            print("  " + d)
        bad += len(tally.disagreements)
    print("result:                    " + ("PASS" if bad == 0 else
                                           f"FAIL ({stats.total_breaks()} breaks, {stats.errors} errors)"))
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
