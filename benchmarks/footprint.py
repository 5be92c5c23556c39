"""Footprint on MicroPython's WebAssembly port (1.27, in node), .mpy loaded into RAM: the second row.

The first row is the board-footprint section (the frozen Cortex-M3 image, `benchmarks/board_footprint.py`).
Here: heap after loading, peak, .mpy size, on a port that grows its heap and keeps bytecode on the heap.

firmware_py is compiled to .mpy by `tools/mpy_build.py` (what a board stores) and copied into the
interpreter's file system. A small harness script then, in one interpreter:
1. records the heap of the empty interpreter (`gc.collect(); gc.mem_alloc()` before anything of the
   benchmark is loaded; the node runner does this) and of the harness itself;
2. imports the rig firmware (`firmware_py.rig`, which imports what it needs) and the bench clock and the
   store from the .mpy files;
3. builds a `Rig` (bench clock, a `Store` on the interpreter's file system, as a board would have);
4. feeds the rig, frame by frame, the host's signed frames that stage and commit the 13-step program with
   its first fill (made on CPython by the same `firmware_py.protocol` code, read from a file one line at a
   time, as bytes arriving on a UART would be);
5. `gc.collect()` and reads `gc.mem_alloc()`: the heap in use with the program loaded.
Each step (the import, the rig construction, each frame) runs in its own `runPython` call: this port
collects garbage only at the top level, between calls (`gc.collect()` inside a call only asks for a
collection when the call returns), so every reading of the heap in use is taken at the start of a call,
after the previous call asked for a collection.
Peak method: the collector is disabled during each step and `gc.mem_alloc()` is read right after it.
With no collection during a step nothing is freed, so that reading is the live heap at the step's start
plus everything the step allocated: an upper bound of the true peak within the step (no intermediate
sample is needed, and none can be missed). The peak figure is the largest such reading over all steps.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import KIB, Figure, Result, Size, run_micropython
from benchmarks.delivery_sim import load_frames
from benchmarks.fixtures import program_13
from firmware_py import program as pg
from tools import mpy_build

NAME = "footprint"
TITLE = "Footprint, second row: WebAssembly port, .mpy in RAM: heap with a 13-step program loaded, peak, size"
TARGET_HEAP_KIB = 24
TARGET_PEAK_KIB = 32
TARGET_MPY_KIB = 32
KEY = bytes(range(32))
T0_S = 1_780_000_000
FILL_NL = 20_000_000

_BUILD: list[tuple[dict[str, bytes], list[tuple[str, int]], str]] = []


def _build() -> tuple[dict[str, bytes], list[tuple[str, int]], str]:
    if not _BUILD:
        with tempfile.TemporaryDirectory(prefix="itb-bench-mpy-") as tmp:
            modules = mpy_build.build(Path(tmp))
            files = {f"lib/firmware_py/{m.mpy_path.name}": m.mpy_path.read_bytes() for m in modules}
            sizes = sorted(((m.name, m.size) for m in modules), key=lambda x: -x[1])
        _BUILD.append((files, sizes, mpy_build.mpy_cross_version()))
    return _BUILD[0]


def mpy_files() -> dict[str, bytes]:
    """firmware_py compiled to .mpy, as {"lib/firmware_py/<module>.mpy": bytes} for `run_micropython`."""
    return dict(_build()[0])


STEP = "#--step--\n"
HARNESS_HEAD = """\
import gc, json
empty = __bench_empty_heap
peaks = []
gc.collect()
#--step--
harness = gc.mem_alloc()
gc.disable()
import firmware_py.rig
from firmware_py.clock import BenchClock
from firmware_py.store import Store
peaks.append(('import', gc.mem_alloc()))
gc.enable(); gc.collect()
#--step--
after_import = gc.mem_alloc()
gc.disable()
rig = firmware_py.rig.Rig(bytes(range(32)), BenchClock(%(t0)d), Store('itb_state'), None, lambda n: bytes(n))
peaks.append(('rig', gc.mem_alloc()))
gc.enable(); gc.collect()
#--step--
after_rig = gc.mem_alloc()
f = open('/bench/frames.txt', 'rb')
replies = []
starts = []
gc.collect()
"""
HARNESS_FRAME = """\
#--step--
starts.append(gc.mem_alloc())
gc.disable()
line = f.readline()
out = rig.feed(line)
peaks.append(('frame%(n)d ' + line[line.index(b' ') + 1 : line.index(b' ') + 4].decode(), gc.mem_alloc()))
gc.enable()
replies.append(out[:40])
line = None
out = None
gc.collect()
"""
HARNESS_TAIL = """\
#--step--
f.close()
f = None
gc.collect()
#--step--
loaded = gc.mem_alloc()
import sys
mods = [m for m in sys.modules if m.startswith('firmware_py.')]
st = rig.status()
print('RESULT', json.dumps({'empty': empty, 'harness': harness, 'after_import': after_import,
    'after_rig': after_rig, 'loaded': loaded, 'peaks': peaks, 'replies': [r.decode() for r in replies],
    'state': st.state, 'prog': st.prog, 'modules': mods, 'starts': starts}))
"""


def harness_script(n_frames: int, t0_s: int) -> str:
    """The MicroPython script: steps separated by "#--step--" lines, each run by its own runPython call."""
    return (
        HARNESS_HEAD % {"t0": t0_s}
        + "".join(HARNESS_FRAME % {"n": i} for i in range(n_frames))
        + HARNESS_TAIL
    )


def import_order() -> tuple[str, ...]:
    """firmware_py's modules, each after the ones it imports (for the per-module breakdown)."""
    deps = {m.stem: _imports(m) for m in sorted(mpy_build.SOURCE_DIR.glob("*.py")) if m.stem != "__init__"}
    order: list[str] = []
    while len(order) < len(deps):
        ready = [n for n, d in deps.items() if n not in order and d <= {*order, n}]
        order.append(ready[0] if ready else min(n for n in deps if n not in order))  # a cycle: any next
    return tuple(order)


def _imports(path: Path) -> set[str]:
    text = path.read_text()
    names = set(re.findall(r"^from firmware_py\.(\w+) import", text, re.M))
    for line in re.findall(r"^from firmware_py import ([\w, ]+)", text, re.M):
        names |= {n.split(" as ")[0].strip() for n in line.split(",")}
    return names


def import_breakdown(files: dict[str, bytes]) -> dict[str, int]:
    """Heap bytes each firmware_py module adds when imported (in dependency order), each step collected."""
    parts = ["import gc, json\nsizes = []\ngc.collect()\n"]
    for name in import_order():
        parts.append(
            f"#--step--\na = gc.mem_alloc()\nimport firmware_py.{name}\n"
            f"gc.collect()\n#--step--\nsizes.append(('{name}', gc.mem_alloc() - a))\ngc.collect()\n"
        )
    parts.append("#--step--\nprint('RESULT', json.dumps({'sizes': sizes}))\n")
    r = run_micropython(files, "".join(parts), heap_kib=1024)
    return {str(a): int(b) for a, b in r["sizes"]}


# The parts of a COM, each measured alone (same bound method) after the firmware is imported and the program
# staged: what the peak of the COM step is made of.
COM_PARTS = (
    ("decode", "p = pg.decode(prog_b)"),
    ("validate", "program_checks.validate(p)"),
    (
        "envelope decision",
        "envelope.decide(r.s.hist, r.s.running_program(), envelope.Commit(p), r.config, r.s.t_s)",
    ),
    ("state copy", "c = r.s.copy()"),
    ("state encode + save", "r.store.save(r.s.pairs())"),
)


def com_parts(files: dict[str, bytes], prog_b: bytes) -> dict[str, int]:
    """Bytes each part of a commit allocates (upper bound, no collection during the part)."""
    head = (
        "import gc, json\nimport firmware_py.rig as rig\n"
        "from firmware_py import program as pg, envelope, program_checks\n"
        "from firmware_py.clock import BenchClock\nfrom firmware_py.store import Store\n"
        "prog_b = open('/bench/prog.bin', 'rb').read()\n"
        f"r = rig.Rig(bytes(range(32)), BenchClock({T0_S}), Store('itb_state'), None, lambda n: bytes(n))\n"
        "p = pg.decode(prog_b)\nout = []\ngc.collect()\n"
    )
    parts = []
    for label, code in COM_PARTS:
        body = code if code.startswith(("c =", "p =")) else "_ = " + code
        parts.append(
            f"#--step--\na = gc.mem_alloc()\ngc.disable()\n{body}\n"
            f"out.append(('{label}', gc.mem_alloc() - a))\ngc.enable()\n_ = None\ngc.collect()\n"
        )
    tail = "#--step--\nprint('RESULT', json.dumps({'parts': out}))\n"
    files = dict(files)
    files["prog.bin"] = prog_b
    res = run_micropython(files, head + "".join(parts) + tail, heap_kib=1024)
    return {str(a): int(b) for a, b in res["parts"]}


def run(size: Size) -> Result:
    res = Result(NAME, TITLE, size)
    files, sizes, cross_version = _build()
    total_mpy = sum(s for _, s in sizes)
    prog_b = pg.encode(program_13())
    frames = load_frames(prog_b, f"rf={FILL_NL},{program_13().conc_ng_per_ul},0", 1, KEY)
    files = dict(files)
    files["frames.txt"] = b"".join(frames)
    r: dict[str, Any] = run_micropython(files, harness_script(len(frames), T0_S), heap_kib=1024)
    for reply in r["replies"]:
        if " ACK " not in reply:
            raise RuntimeError(f"the rig refused a load frame: {reply}")
    if r["state"] != "running" or r["prog"] != pg.short_id(prog_b):
        raise RuntimeError(f"the rig did not run the loaded program: {r['state']} {r['prog']}")
    empty, harness, loaded = int(r["empty"]), int(r["harness"]), int(r["loaded"])
    peaks: list[tuple[str, int]] = [(str(a), int(b)) for a, b in r["peaks"]]
    peak_step, peak = max(peaks, key=lambda p: p[1])
    frame_peak = max(b for a, b in peaks if a.startswith("frame"))
    frames_n = len(frames)
    res.add(
        Figure(
            "heap_loaded",
            "heap in use, rig imported + 13-step program loaded",
            round(loaded / KIB, 2),
            "KiB",
            reference=TARGET_HEAP_KIB,
            reference_label="KiB (budget)",
            ratio_label="heap / budget",
            op="<=",
            target=TARGET_HEAP_KIB,
            note=f"gross: includes the empty interpreter ({empty} B) and the harness; net of the empty "
            f"interpreter {(loaded - empty) / KIB:.2f} KiB, of the harness "
            f"{(loaded - harness) / KIB:.2f} KiB",
        )
    )
    res.add(
        Figure(
            "heap_peak",
            "peak heap during the load (upper bound)",
            round(peak / KIB, 2),
            "KiB",
            reference=TARGET_PEAK_KIB,
            reference_label="KiB (budget)",
            ratio_label="peak / budget",
            op="<=",
            target=TARGET_PEAK_KIB,
            note=f"gross, at step '{peak_step}'; largest frame step {frame_peak / KIB:.2f} KiB",
        )
    )
    res.add(
        Figure(
            "mpy_total",
            f"firmware_py .mpy total ({len(sizes)} modules)",
            round(total_mpy / KIB, 2),
            "KiB",
            reference=TARGET_MPY_KIB,
            reference_label="KiB (budget)",
            ratio_label="size / budget",
            op="<=",
            target=TARGET_MPY_KIB,
            note=f"{total_mpy} bytes",
        )
    )
    res.add(Figure("heap_empty", "empty interpreter heap (baseline)", empty, "B", note="not subtracted"))
    res.details = {
        "bytes": {
            "empty_interpreter": empty,
            "harness_loaded": harness,
            "after_import": int(r["after_import"]),
            "after_rig_built": int(r["after_rig"]),
            "program_loaded": loaded,
        },
        "net_of_empty_kib": round((loaded - empty) / KIB, 3),
        "firmware_only_kib": round((loaded - harness) / KIB, 3),
        "step_peaks_bytes": dict(peaks),
        "frames": frames_n,
        "frame_bytes": len(files["frames.txt"]),
        "program_bytes": len(prog_b),
        "mpy_sizes": dict(sizes),
        "mpy_cross": cross_version,
    }
    res.method = (
        "The heap figures are gross: they include the empty interpreter's own heap "
        f"({empty} B, measured first, in the same interpreter) and the harness script (its compiled code "
        f"and globals, {harness - empty} B); they do not subtract either. Net figures are in the notes. "
        "Peak: an upper bound, read right after each step with the collector disabled during the step "
        "(see below). .mpy size: every module of firmware_py compiled by tools/mpy_build.py "
        "with its default options (bytecode, no native code), sizes as written to disk.\n\n"
        + (__doc__ or "").split("\n\n", 1)[1]
    )
    top = ", ".join(f"{n.split('.')[-1]} {s / KIB:.1f}" for n, s in sizes[:4])
    per_module = import_breakdown(files)
    res.details["import_heap_bytes_by_module"] = per_module
    in_use = {str(m).split(".")[-1] for m in r["modules"]}
    res.details["modules_imported_by_the_load"] = sorted(in_use)
    heavy = sorted(((n, b) for n, b in per_module.items() if n in in_use), key=lambda kv: -kv[1])[:4]
    not_loaded = sorted(set(per_module) - in_use)
    heavy_text = ", ".join(f"{n} {b / KIB:.1f}" for n, b in heavy)
    imp = int(r["after_import"]) - harness
    prog_part = loaded - int(r["after_rig"])
    res.limits.append(
        f"After the load, {imp / KIB:.1f} KiB of the heap is the imported firmware (module objects, function "
        f"and class objects, constant tables: .mpy bytecode lives on the heap in this port), "
        f"{(int(r['after_rig']) - int(r['after_import'])) / KIB:.1f} KiB the Rig (state, log, parser, "
        f"HMAC pads) and {prog_part / KIB:.1f} KiB the loaded program (decoded Program, Schedule tables, "
        f"its {len(prog_b)}-byte encoding). The peak is at '{peak_step}'. Largest .mpy (KiB): {top}."
    )
    res.limits.append(
        f"Heap taken by importing each module the load uses (KiB, largest first): {heavy_text}"
        + (f" ({', '.join(not_loaded)} not imported by the load). " if not_loaded else ". ")
        + ("The budget is missed by the code itself, not by data. " if loaded > TARGET_HEAP_KIB * KIB else "")
        + "Loading .mpy from a file system copies bytecode, constant tables and "
        "qstrs into the heap, on a board as in this port. A board can keep bytecode in flash instead by "
        "freezing firmware_py into its firmware image (or, on ports that have it, a ROMFS partition), "
        "leaving mostly module dicts and objects on the heap; this port cannot freeze modules without "
        "being rebuilt, so that figure is not measured here."
    )
    peak_extra = peak - loaded
    parts = com_parts(files, prog_b)
    res.details["com_parts_alloc_bytes"] = parts
    com_alloc = peaks[-1][1] - int(r["starts"][-1])
    parts_text = ", ".join(f"{n} {b / KIB:.1f}" for n, b in sorted(parts.items(), key=lambda kv: -kv[1]))
    res.limits.append(
        f"The peak is {peak_extra / KIB:.1f} KiB above the loaded heap, transient allocations of the step "
        f"'{peak_step}' (for COM: the program decode, validation, the library checks on each day total, the "
        "state copy and its save through the store), measured as an upper bound. Measured alone, the "
        f"parts of a commit allocate (KiB): {parts_text}; together {sum(parts.values()) / KIB:.1f} of the "
        f"{com_alloc / KIB:.1f} KiB the whole COM frame allocates (the rest, not broken down: frame parse, "
        "MAC and checksum, commit bookkeeping and log, the reply)."
    )
    return res
