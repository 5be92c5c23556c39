// Run one benchmark script under the MicroPython WebAssembly port.
// usage: node mp_run.mjs <micropython.mjs> <dir> <heap_bytes>
// Copies <dir> (recursively) into the interpreter's file system at /bench, puts /bench/lib first on
// sys.path, and runs /bench/main_bench.py. The script prints its results itself (a `RESULT <json>` line).
import fs from "fs";
import path from "path";
import { pathToFileURL } from "url";

const [mpModule, dir, heapText] = process.argv.slice(2);
const { loadMicroPython } = await import(pathToFileURL(mpModule).href);
const mp = await loadMicroPython({
  heapsize: parseInt(heapText, 10),
  pystack: 8192,
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});

function copyTree(src, dst) {
  try { mp.FS.mkdir(dst); } catch (e) { /* exists */ }
  for (const name of fs.readdirSync(src)) {
    const s = path.join(src, name);
    const d = dst + "/" + name;
    if (fs.statSync(s).isDirectory()) copyTree(s, d);
    else mp.FS.writeFile(d, fs.readFileSync(s));
  }
}
copyTree(dir, "/bench");

// This port collects garbage only at the top level, between runPython calls (gc.collect() inside a call
// just asks for a collection when the call returns), so every measurement point is a call boundary: the
// script is split into steps at lines "#--step--", each run by its own runPython call. The empty-interpreter
// baseline is read first, in a call of its own, after a collection.
mp.runPython("import gc\ngc.collect()\n");
mp.runPython("__bench_empty_heap = gc.mem_alloc()\n");
const script = fs.readFileSync(path.join(dir, "main_bench.py"), "utf8");
try {
  mp.runPython("import sys\nsys.path.insert(0, '/bench/lib')\nsys.path.insert(0, '/bench')\nimport os\nos.chdir('/bench')\n");
  for (const step of script.split(/^#--step--$/m)) {
    mp.runPython(step);
  }
} catch (e) {
  process.stderr.write(String(e) + "\n");
  process.exit(1);
}
