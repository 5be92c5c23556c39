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

// The empty-interpreter baseline, measured before anything of the benchmark is loaded.
mp.runPython("import gc\ngc.collect()\n__bench_empty_heap = gc.mem_alloc()\n");
const script = fs.readFileSync(path.join(dir, "main_bench.py"), "utf8");
try {
  mp.runPython("import sys\nsys.path.insert(0, '/bench/lib')\nsys.path.insert(0, '/bench')\nimport os\nos.chdir('/bench')\n");
  mp.runPython(script);
} catch (e) {
  process.stderr.write(String(e) + "\n");
  process.exit(1);
}
