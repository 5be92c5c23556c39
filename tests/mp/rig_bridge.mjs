// The rig firmware (firmware_py.rig.Rig) running under MicroPython in node, its serial byte stream served
// on a 127.0.0.1 TCP port (pyserial: socket://127.0.0.1:<port>).
//
//   ITB_RIG_KEY=<hex> node tests/mp/rig_bridge.mjs [--port 0] [--key-file F] [--rig-id ID] [--start-s N]
//                                                   [--state-dir DIR] [--mpy BUILD_DIR]
//
// Prints "LISTENING <port>" on stdout once it accepts connections (port 0 = ephemeral). The key comes from
// ITB_RIG_KEY or --key-file (hex) and is never printed. One client at a time, and a new connection takes over
// from the old one, as a new cable would (the rig's link is reset: no partial frame, no session carries
// over); bytes received go to rig.feed and the reply bytes go back. This port has no os.urandom: fresh
// random bytes from node's crypto go in with every chunk and are the rig's random source. The rig's state lives in the MicroPython filesystem
// (/state, via firmware_py.store); with --state-dir the state files are loaded from and mirrored to a host
// directory after every exchange, so a restarted bridge resumes the same rig. Stops on SIGTERM / SIGINT.
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { loadItb } from "./mpenv.mjs";

const MP_STATE = "/state";

function parseArgs(argv) {
  const opts = { port: 0, rigId: "mp0", startS: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error("missing value for " + a);
      return argv[++i];
    };
    if (a === "--port") opts.port = parseInt(val(), 10);
    else if (a === "--key-file") opts.keyFile = val();
    else if (a === "--rig-id") opts.rigId = val();
    else if (a === "--start-s") opts.startS = parseInt(val(), 10);
    else if (a === "--state-dir") opts.stateDir = path.resolve(val());
    else if (a === "--mpy") opts.mpyDir = path.resolve(val());
    else throw new Error("unknown argument " + a);
  }
  return opts;
}

function readKey(opts) {
  const text = opts.keyFile ? fs.readFileSync(opts.keyFile, "utf8") : process.env.ITB_RIG_KEY;
  if (!text || !text.trim()) throw new Error("no rig key: set ITB_RIG_KEY or pass --key-file");
  return text.trim();
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const keyHex = readKey(opts);
  // Anything the firmware prints goes to stderr: stdout carries only the LISTENING line.
  const log = (line) => process.stderr.write(line + "\n");
  const { mp, FS } = await loadItb({ mpyDir: opts.mpyDir, stdout: log, stderr: log });
  FS.mkdirTree(MP_STATE);
  const mirrored = new Map();
  if (opts.stateDir) {
    fs.mkdirSync(opts.stateDir, { recursive: true });
    for (const name of fs.readdirSync(opts.stateDir)) {
      if (name.startsWith("itb_state")) {
        const data = fs.readFileSync(path.join(opts.stateDir, name));
        FS.writeFile(MP_STATE + "/" + name, data);
        mirrored.set(name, Buffer.from(data).toString("hex"));
      }
    }
  }
  const host = mp.pyimport("tests.mp.rig_host");
  log("rig_bridge: " + host.start(keyHex, opts.rigId, opts.startS, MP_STATE));

  const mirror = () => {
    if (!opts.stateDir) return;
    const names = new Set(FS.readdir(MP_STATE).filter((n) => n.startsWith("itb_state")));
    for (const name of names) {
      const hex = Buffer.from(FS.readFile(MP_STATE + "/" + name)).toString("hex");
      if (mirrored.get(name) !== hex) {
        const tmp = path.join(opts.stateDir, name + ".mirror");
        fs.writeFileSync(tmp, Buffer.from(hex, "hex"));
        fs.renameSync(tmp, path.join(opts.stateDir, name));
        mirrored.set(name, hex);
      }
    }
    for (const name of [...mirrored.keys()]) {
      if (!names.has(name)) {
        fs.rmSync(path.join(opts.stateDir, name), { force: true });
        mirrored.delete(name);
      }
    }
  };
  mirror();

  let active = null;
  const server = net.createServer((sock) => {
    if (active) active.destroy(); // a new cable takes over
    active = sock;
    host.link_reset();
    sock.setNoDelay(true);
    sock.on("data", (chunk) => {
      if (active !== sock) return;
      let reply = "";
      try {
        reply = host.feed_hex(Buffer.from(chunk).toString("hex"), crypto.randomBytes(32).toString("hex"));
      } catch (err) {
        log("rig_bridge: feed raised: " + err); // Rig.feed never raises; this is a defect to report
      }
      mirror();
      if (reply) sock.write(Buffer.from(reply, "hex"));
    });
    const done = () => {
      if (active === sock) active = null;
    };
    sock.on("close", done);
    sock.on("error", done);
  });
  server.listen(opts.port, "127.0.0.1", () => {
    process.stdout.write("LISTENING " + server.address().port + "\n");
  });
  const stop = () => {
    try { mirror(); } finally { process.exit(0); }
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err) => {
  process.stderr.write("rig_bridge: " + (err && err.message ? err.message : err) + "\n");
  process.exit(2);
});
