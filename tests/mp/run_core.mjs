// Run the core test suite (tests/core/test_*.py) under the MicroPython WebAssembly port.
//
//   node tests/mp/run_core.mjs [--mpy BUILD_DIR] [--core DIR] [--heap BYTES] [--call MODULE:FUNC | --exec CODE]
//
// One interpreter for the whole run. Prints an IMPL line (interpreter version, where firmware_py came
// from), an IMPORT line per firmware_py module, then the lines of tests/mp/mp_runner.py (PASS / FAIL /
// ERROR per test, then SUMMARY). Exits 0 only when every test passed and at least one ran.
//   --mpy BUILD_DIR  import firmware_py from BUILD_DIR/firmware_py/*.mpy (tools/mpy_build.py) instead of .py
//   --core DIR       the directory used as the tests.core package (default tests/core)
//   --call M:F       instead of the tests, import M and call F() (e.g. tests.core.casetable:run); exit 0
//                    when it returns without raising
//   --exec CODE      instead of the tests, run CODE (exit 0 when it does not raise)
import fs from "node:fs";
import path from "node:path";
import { loadItb, REPO_ROOT } from "./mpenv.mjs";

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error("missing value for " + a);
      return argv[++i];
    };
    if (a === "--mpy") opts.mpyDir = path.resolve(val());
    else if (a === "--core") opts.coreDir = path.resolve(val());
    else if (a === "--heap") opts.heapsize = parseInt(val(), 10);
    else if (a === "--call") opts.call = val();
    else if (a === "--exec") opts.exec = val();
    else throw new Error("unknown argument " + a);
  }
  return opts;
}

function pyStr(s) {
  return JSON.stringify(s); // a JSON string of ASCII module names is a valid Python literal
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const { mp } = await loadItb(opts);
  if (opts.exec) {
    mp.runPython(opts.exec);
    return 0;
  }
  if (opts.call) {
    const [mod, fn] = opts.call.split(":");
    mp.runPython("import " + mod + "\n" + mod + "." + fn + "()\n");
    return 0;
  }
  mp.runPython(
    "import sys, firmware_py\n" +
    "print('IMPL %s %s mpy=%d firmware=%s' % (sys.implementation.name, " +
    "'.'.join(str(v) for v in sys.implementation.version[:3]), sys.implementation._mpy, firmware_py.__file__))\n");
  const fwDir = opts.mpyDir ? path.join(opts.mpyDir, "firmware_py") : path.join(REPO_ROOT, "firmware_py");
  const ext = opts.mpyDir ? ".mpy" : ".py";
  const fwModules = fs.readdirSync(fwDir)
    .filter((n) => n.endsWith(ext) && n !== "__init__" + ext)
    .sort()
    .map((n) => "firmware_py." + n.slice(0, -ext.length));
  mp.runPython(
    "import tests.mp.mp_runner\n" +
    "tests.mp.mp_runner.import_all([" + fwModules.map(pyStr).join(", ") + "])\n");
  const coreDir = opts.coreDir || path.join(REPO_ROOT, "tests", "core");
  const modules = fs.readdirSync(coreDir)
    .filter((n) => n.startsWith("test_") && n.endsWith(".py"))
    .sort()
    .map((n) => "tests.core." + n.slice(0, -3));
  mp.runPython(
    "import tests.mp.mp_runner\n" +
    "_itb_ok = tests.mp.mp_runner.run([" + modules.map(pyStr).join(", ") + "])\n");
  const ok = mp.globals.get("_itb_ok") === true;
  return ok && modules.length > 0 ? 0 : 1;
}

main().then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write("run_core: " + (err && err.stack ? err.stack : err) + "\n"); process.exitCode = 2; },
);
