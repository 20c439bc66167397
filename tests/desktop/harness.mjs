// Starts what the end-to-end tests need and stops it again: Xvfb (a display), tauri-driver (which
// runs WebKitWebDriver, which runs the app), and finds the app's process so a test can kill it.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { deflateSync } from "node:zlib";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { WebDriver } from "./webdriver.mjs";

export const ROOT = resolve(import.meta.dirname, "../..");
// Cargo builds where CARGO_TARGET_DIR says, when it says.
const TARGET = process.env.CARGO_TARGET_DIR ?? join(ROOT, "target");
export const APP = process.env.SILA_DESKTOP_APP ?? join(TARGET, "debug/sila-desktop");
export const SHOTS = process.env.SILA_SCREENSHOTS ?? join(ROOT, "target/desktop-e2e");
export const HQ_BIN = process.env.SILA_HQ_BIN ?? join(TARGET, "debug/sila-hq");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(what, f, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await f().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** `n` distinct TCP ports free on 127.0.0.1 right now (held open together, so all differ). */
async function freePorts(n) {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise((ok, fail) => {
    const s = createServer();
    s.on("error", fail);
    s.listen(0, "127.0.0.1", () => ok(s));
  })));
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  return ports;
}

export class Harness {
  constructor() {
    this.procs = [];
  }

  /** `exportDir`: where the app writes exports and refused-row reports. */
  async start(exportDir) {
    this.exportDir = exportDir;
    if (!existsSync(APP)) throw new Error(`the app is not built: ${APP} (run: npm run build in ui/, then cargo build -p sila-desktop)`);
    mkdirSync(SHOTS, { recursive: true });
    // Xvfb picks a free display itself and says which (-displayfd): two harnesses started at
    // once (two app instances in one test, or test files run side by side) never share one.
    const xvfb = spawn("Xvfb", ["-displayfd", "3", "-screen", "0", "1366x768x24", "-nolisten", "tcp"], { stdio: ["ignore", "ignore", "ignore", "pipe"] });
    this.procs.push(xvfb);
    this.display = await new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error("Xvfb did not start")), 10000);
      let buf = "";
      xvfb.stdio[3].on("data", (d) => {
        buf += d;
        if (buf.includes("\n")) { clearTimeout(timer); ok(`:${buf.trim()}`); }
      });
      xvfb.on("exit", () => fail(new Error("Xvfb exited")));
    });
    // Two ports the system says are free (tauri-driver's and WebKitWebDriver's), not guessed ones.
    [this.port, this.nativePort] = await freePorts(2);
    const driver = spawn(
      "tauri-driver",
      ["--port", String(this.port), "--native-port", String(this.nativePort), "--native-driver", "/usr/bin/WebKitWebDriver"],
      {
        // No WEBKIT_DISABLE_COMPOSITING_MODE here: without compositing, WebKitWebDriver's screenshot
        // waits for a presentation update that an idle page never makes, so a screenshot of a page
        // that had finished drawing timed out (every second one, as each stuck request was later
        // released by the next one's repaint).
        // WebKit's mock camera stands in for a real one; exports land in a folder the test reads.
        env: { ...process.env, DISPLAY: this.display, SILA_IDLE_LOCK_SECONDS: "3600", SILA_MOCK_CAMERA: "1", SILA_EXPORT_DIR: this.exportDir },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    driver.stderr.on("data", () => {});
    this.procs.push(driver);
    this.driver = driver;
    await waitUntil("tauri-driver", async () => (await fetch(`http://127.0.0.1:${this.port}/status`)).ok, 20000);
    this.wd = new WebDriver(`http://127.0.0.1:${this.port}`);
  }

  /** Start the app on `dataDir` and wait for its window. */
  async launch(dataDir) {
    await this.wd.start({ "tauri:options": { application: APP, args: ["--data-dir", dataDir] } });
    await this.wd.waitFor("#root > *", 30000);
    return this.wd;
  }

  /** The app's process: the descendant of tauri-driver running the app binary. */
  appPid() {
    const parent = new Map();
    for (const p of readdirSync("/proc")) {
      if (!/^\d+$/.test(p)) continue;
      try {
        const stat = readFileSync(`/proc/${p}/stat`, "utf8");
        parent.set(Number(p), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
      } catch {}
    }
    const descends = (pid) => {
      for (let q = pid, i = 0; q > 1 && i < 50; q = parent.get(q), i++) if (q === this.driver.pid) return true;
      return false;
    };
    for (const pid of parent.keys()) {
      if (!descends(pid)) continue;
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0];
        if (resolve(cmd) === resolve(APP)) return pid;
      } catch {}
    }
    return null;
  }

  /** Kill the app as a power cut would (SIGKILL), and wait until it is gone. */
  async killApp() {
    const pid = this.appPid();
    if (!pid) throw new Error("app process not found");
    process.kill(pid, "SIGKILL");
    await waitUntil("the app to die", async () => !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z "), 10000);
    // WebKitWebDriver keeps one session at a time: give the dead app's session up.
    await this.wd.quit();
  }

  async stop() {
    await this.wd?.quit();
    for (const p of this.procs.reverse()) {
      try { p.kill("SIGTERM"); } catch {}
    }
    await sleep(300);
    for (const p of this.procs) {
      try { if (p.exitCode === null) p.kill("SIGKILL"); } catch {}
    }
  }
}

/**
 * The real HQ server (`sila-hq serve`) on 127.0.0.1, port 0, with its own database in `dir`; and
 * its command line for enrolment codes and stats, as an HQ administrator would use it.
 */
export async function startHq(dir) {
  if (!existsSync(HQ_BIN)) throw new Error(`sila-hq is not built: ${HQ_BIN} (cargo build -p sila-hq)`);
  const db = join(dir, "hq.db");
  const proc = spawn(HQ_BIN, ["--db", db, "serve", "--listen", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "ignore"] });
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error("sila-hq did not start")), 20000);
    let buf = "";
    proc.stdout.on("data", (d) => {
      buf += d;
      const m = /listening on (http:\/\/[\d.:]+)/.exec(buf);
      if (m) { clearTimeout(timer); ok(m[1]); }
    });
    proc.on("exit", () => fail(new Error("sila-hq exited")));
  });
  const cli = (...args) => execFileSync(HQ_BIN, ["--db", db, ...args], { encoding: "utf8" }).trim();
  /**
   * A person at HQ signed in to the console: a new account (`sila-hq add-staff`) and its session,
   * calling the console's JSON API as its pages do (the session cookie, the CSRF token on changes).
   */
  const consoleAs = async (user, password, displayName, roles) => {
    execFileSync(HQ_BIN, ["--db", db, "add-staff", "--role", roles, "--display-name", displayName], {
      env: { ...process.env, SILA_USER: user, SILA_PASSWORD: password },
    });
    const r = await fetch(`${url}/console/api/sign-in`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: user, password }),
    });
    if (!r.ok) throw new Error(`console sign-in: ${r.status}`);
    const cookie = r.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
    const { csrf } = await r.json();
    const call = async (method, path, body) => {
      const res = await fetch(`${url}/console/api${path}`, {
        method,
        headers: { Cookie: cookie, "X-CSRF-Token": csrf, ...(body ? { "Content-Type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const json = await res.json().catch(() => null);
      if (!res.ok) throw new Error(`console ${method} ${path}: ${res.status} ${json?.code ?? ""}`);
      return json;
    };
    return { get: (path) => call("GET", path), post: (path, body) => call("POST", path, body ?? {}) };
  };
  return {
    url,
    code: (branch) => cli("enroll-code", "--branch", branch),
    /** The committee's decision, as `sila-hq decide` takes it at headquarters. */
    decide: (caseId, transition, note) => cli("decide", "--case", caseId, "--transition", transition, "--note", note),
    stats: () => JSON.parse(cli("stats", "--json")),
    consoleAs,
    stop: () => { try { proc.kill("SIGTERM"); } catch {} },
  };
}

/** A small PNG (a grey "scan" with a dark band) made here, so tests need no fixture files. */
export function makePng(width, height, seed) {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 3 + 1)] = 0;
    for (let x = 0; x < width; x++) {
      const band = y > height * 0.4 && y < height * 0.55 && x > width * 0.1 && x < width * 0.9;
      const v = band ? 40 : 225 - ((x * seed + y) % 20);
      const o = y * (width * 3 + 1) + 1 + x * 3;
      raw[o] = v; raw[o + 1] = v; raw[o + 2] = band ? 90 : v;
    }
  }
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4); c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0); ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; ihdr[9] = 2; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** A minimal one-page PDF. */
export function makePdf() {
  return Buffer.from(
    "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n" +
      "3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
  );
}

export function writeFixture(dir, name, bytes) {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}
