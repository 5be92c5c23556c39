// Shared set-up for running itb code under the MicroPython WebAssembly port in node.
//
// loadItb() starts one interpreter and copies the core into its filesystem, preserving the package
// layout the code imports from:
//   /itb/firmware_py/*.py      (or *.mpy from a build dir made by tools/mpy_build.py)
//   /itb/tests/__init__.py, /itb/tests/core/*.py, /itb/tests/mp/*.py (MicroPython-side helpers)
// and puts /itb first on sys.path. Nothing is read from the host filesystem after that.
import fs from "node:fs";
import path from "node:path";
import url from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(url.fileURLToPath(import.meta.url)), "..", "..");
export const MP_DIR = "/itb";
const MP_MODULE = path.join(
  REPO_ROOT, "node_modules", "@micropython", "micropython-webassembly-pyscript", "micropython.mjs");

function copyDir(FS, hostDir, mpDir, suffixes) {
  FS.mkdirTree(mpDir);
  const names = fs.readdirSync(hostDir).sort();
  let n = 0;
  for (const name of names) {
    if (!suffixes.some((s) => name.endsWith(s))) continue;
    const full = path.join(hostDir, name);
    if (!fs.statSync(full).isFile()) continue;
    FS.writeFile(mpDir + "/" + name, fs.readFileSync(full));
    n += 1;
  }
  return n;
}

// options: root (repo root), mpyDir (dir of firmware_py/*.mpy; default: use the .py sources),
// coreDir (host dir copied as tests/core; default <root>/tests/core), heapsize (bytes), pystack (words),
// stdout / stderr (line callbacks).
export async function loadItb(options = {}) {
  const root = options.root || REPO_ROOT;
  if (!fs.existsSync(MP_MODULE)) {
    throw new Error("MicroPython WebAssembly port missing at " + MP_MODULE + " (run ./dev setup)");
  }
  const { loadMicroPython } = await import(url.pathToFileURL(MP_MODULE).href);
  const mp = await loadMicroPython({
    heapsize: options.heapsize || 8 * 1024 * 1024,
    pystack: options.pystack || 8192,
    linebuffer: true,
    stdout: options.stdout || ((line) => process.stdout.write(line + "\n")),
    stderr: options.stderr || ((line) => process.stderr.write(line + "\n")),
  });
  const FS = mp.FS;
  let nFirmware;
  if (options.mpyDir) {
    nFirmware = copyDir(FS, path.join(options.mpyDir, "firmware_py"), MP_DIR + "/firmware_py", [".mpy"]);
    if (nFirmware === 0) throw new Error("no .mpy files in " + path.join(options.mpyDir, "firmware_py"));
  } else {
    nFirmware = copyDir(FS, path.join(root, "firmware_py"), MP_DIR + "/firmware_py", [".py"]);
  }
  FS.mkdirTree(MP_DIR + "/tests");
  FS.writeFile(MP_DIR + "/tests/__init__.py", fs.readFileSync(path.join(root, "tests", "__init__.py")));
  copyDir(FS, options.coreDir || path.join(root, "tests", "core"), MP_DIR + "/tests/core", [".py"]);
  copyDir(FS, path.join(root, "tests", "mp"), MP_DIR + "/tests/mp", [".py"]);
  if (!fs.existsSync(path.join(root, "tests", "mp", "__init__.py"))) {
    FS.writeFile(MP_DIR + "/tests/mp/__init__.py", "");
  }
  mp.runPython("import sys\nsys.path.insert(0, '" + MP_DIR + "')\n");
  return { mp, FS, nFirmware };
}
