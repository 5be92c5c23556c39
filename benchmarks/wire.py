"""Wire: bytes, round trips and time to stage, commit and read back a 13-step program at 115200 baud.

The rig is the firmware served by `host_tools.virtual_rig.VirtualRig` on a 127.0.0.1 TCP port; the host is
`host_tools.client.RigClient` over `host_tools.link.Link` (pyserial, `socket://`), exactly as `itb` uses
them. Between the two sits `benchmarks.pacing.PacedProxy`, which paces each direction like a UART at
115200 baud, 10 bits per byte (start, 8 data, stop), and counts bytes and frames independently of both
ends. After the session is set up (`connect` sends ID), the counters are reset and `RigClient.load` runs:
whatever the client sends for stage + commit + read-back (with the first fill on the commit) is measured.
Reference: the wire-time limit, total bytes (both directions) × 10 ÷ baud: the time the bytes alone need
on the line, with zero turnaround. Figure: measured wall time ÷ limit (target ≤ 1.3), in ≤ 4 round trips.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from benchmarks.common import Figure, Result, Size
from benchmarks.fixtures import program_13
from benchmarks.pacing import PacedProxy
from firmware_py import program as pg
from host_tools.client import Refill, RigClient
from host_tools.keys import RigKey
from host_tools.virtual_rig import VirtualRig

NAME = "wire"
TITLE = "Wire: stage + commit + read back a 13-step program at 115200 baud"
BAUD = 115_200
BITS_PER_BYTE = 10
TARGET_RATIO = 1.3
TARGET_ROUND_TRIPS = 4
FILL_NL = 20_000_000
REPEATS = {"full": 9, "quick": 3, "smoke": 1}


def one_load(prog_b: bytes, key: RigKey, conc: int, baud: int = BAUD) -> dict[str, Any]:
    """One fresh rig, one session, one measured load. Returns bytes, frames and the wall time.

    `baud` 0 means unpaced (the proxy still counts, but forwards at once).
    """
    with VirtualRig(transport="tcp", key=key) as rig:
        rig.start()
        upstream_port = int(rig.url.rsplit(":", 1)[1])
        proxy = PacedProxy(("127.0.0.1", upstream_port), baud or 10**12, BITS_PER_BYTE).start()
        try:
            client = RigClient.connect(f"socket://127.0.0.1:{proxy.port}", key)
            try:
                time.sleep(0.05)  # let the ID exchange leave the paced lines
                proxy.reset_counts()
                t0 = time.perf_counter()
                result = client.load(prog_b, Refill(FILL_NL, conc, 0))
                elapsed = time.perf_counter() - t0
                to_rig, to_host = proxy.to_rig, proxy.to_host
                link_sent, link_received = client.link.bytes_sent, client.link.bytes_received
            finally:
                client.close()
        finally:
            proxy.close()
    if result.readback != prog_b:
        raise RuntimeError("read-back differs from the program sent")
    return {
        "elapsed_s": elapsed,
        "bytes_to_rig": to_rig.bytes,
        "bytes_to_host": to_host.bytes,
        "frames_to_rig": to_rig.frames,
        "frames_to_host": to_host.frames,
        "link_bytes_sent_total": link_sent,
        "link_bytes_received_total": link_received,
        "new_prog": result.new_prog,
    }


def run(size: Size) -> Result:
    res = Result(NAME, TITLE, size)
    prog = program_13()
    prog_b = pg.encode(prog)
    key = RigKey(bytes(range(32)))
    runs = [one_load(prog_b, key, prog.conc_ng_per_ul) for _ in range(REPEATS[size])]
    shapes = {(r["bytes_to_rig"], r["bytes_to_host"], r["frames_to_rig"]) for r in runs}
    if len(shapes) != 1:
        raise RuntimeError(f"the load's bytes or frames varied between repeats: {sorted(shapes)}")
    unpaced = [one_load(prog_b, key, prog.conc_ng_per_ul, 0) for _ in range(REPEATS[size])]
    unpaced_s = statistics.median(float(r["elapsed_s"]) for r in unpaced)
    r0 = runs[0]
    total_bytes = int(r0["bytes_to_rig"]) + int(r0["bytes_to_host"])
    limit_s = total_bytes * BITS_PER_BYTE / BAUD
    elapsed = statistics.median(float(r["elapsed_s"]) for r in runs)
    round_trips = int(r0["frames_to_rig"])
    res.add(
        Figure(
            "time_vs_limit",
            "load time over the paced link",
            round(elapsed * 1000, 2),
            "ms",
            reference=round(limit_s * 1000, 2),
            reference_label="ms (bytes × 10 ÷ 115200)",
            ratio=elapsed / limit_s,
            ratio_label="time / wire limit",
            op="<=",
            target=TARGET_RATIO,
            target_on="ratio",
        )
    )
    res.add(
        Figure(
            "round_trips",
            "round trips (request frames)",
            round_trips,
            "",
            op="<=",
            target=TARGET_ROUND_TRIPS,
            note=f"replies: {r0['frames_to_host']}",
        )
    )
    res.add(
        Figure(
            "bytes",
            "bytes on the wire (both directions)",
            total_bytes,
            "B",
            reference=len(prog_b),
            reference_label="B (program encoding)",
            ratio_label="wire bytes / program bytes",
            note=f"host→rig {r0['bytes_to_rig']} B, rig→host {r0['bytes_to_host']} B",
        )
    )
    res.add(
        Figure(
            "unpaced",
            "the same load, unpaced",
            round(unpaced_s * 1000, 2),
            "ms",
            note="processing and hand-offs alone",
        )
    )
    res.details = {
        "baud": BAUD,
        "unpaced_ms_each": [round(float(r["elapsed_s"]) * 1000, 2) for r in unpaced],
        "bits_per_byte": BITS_PER_BYTE,
        "program_bytes": len(prog_b),
        "runs": runs,
        "elapsed_ms_each": [round(float(r["elapsed_s"]) * 1000, 2) for r in runs],
        "limit_ms": round(limit_s * 1000, 3),
    }
    res.method = (
        f"Median of {REPEATS[size]} loads, each on a fresh virtual rig (the same bytes every time, checked). "
        "Pacing: each direction is its own line; a chunk leaves the proxy when its last byte would have "
        "arrived at 115200 baud, 10 bits a byte. Bytes and round trips are counted by the proxy."
    )
    overhead_ms = (elapsed - limit_s) * 1000
    res.limits.append(
        f"The paced load takes {overhead_ms:.1f} ms more than its bytes need on the line, over {round_trips} "
        f"round trips ({overhead_ms / max(1, round_trips):.1f} ms each). The same load with no pacing takes "
        f"{unpaced_s * 1000:.1f} ms: the host's and the rig's processing (frame build and HMAC, the rig's "
        "decode, library checks and state save on COM, the client's read-back comparison) plus thread and "
        "socket hand-offs; with pacing that time is spent while the line is idle, turnaround between a "
        "request and its reply."
    )
    return res
