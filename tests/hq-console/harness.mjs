// What the HQ console's browser tests need: the real binaries (`sila-hq`, `sila`), a real HQ
// SQLite file in a temp folder, `sila-hq serve` on a free port (port 0, read from its first
// line), branch stores made and synced by the real `sila` client, and Debian's Chromium driven
// by playwright-core (no browser download). Every wait has a deadline; nothing sleeps and hopes.
import { spawn, execFile } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

export const ROOT = resolve(import.meta.dirname, "../..");
const TARGET = process.env.CARGO_TARGET_DIR ? resolve(ROOT, process.env.CARGO_TARGET_DIR) : join(ROOT, "target");
export const BIN = {
  hq: join(TARGET, "debug", "sila-hq"),
  sila: join(TARGET, "debug", "sila"),
};
export const SHOTS = join(ROOT, "target", "hq-e2e");
export const USER = "admin";
export const PASSWORD = "hq-password-123";

export function binariesPresent() {
  return existsSync(BIN.hq) && existsSync(BIN.sila);
}

/** Run a command to its end; resolves with stdout, rejects with the exit code and stderr. */
export function run(cmd, args, env = {}, timeoutMs = 120_000) {
  return new Promise((ok, fail) => {
    execFile(cmd, args, { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) fail(new Error(`${cmd} ${args[0] ?? ""}… failed (${err.code}): ${stderr.slice(0, 2000)}`));
      else ok(stdout);
    });
  });
}

export class Hq {
  static async start() {
    const hq = new Hq();
    hq.dir = mkdtempSync(join(tmpdir(), "sila-hq-e2e-"));
    hq.db = join(hq.dir, "hq.db");
    await run(BIN.hq, ["--db", hq.db, "add-staff", "--role", "admin,reviewer,committee", "--display-name", "نورة العتيبي"], {
      SILA_USER: USER,
      SILA_PASSWORD: PASSWORD,
    });
    hq.proc = spawn(BIN.hq, ["--db", hq.db, "serve", "--listen", "127.0.0.1:0"], {
      env: { ...process.env, SILA_LOG: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    hq.stderr = "";
    hq.proc.stderr.on("data", (d) => (hq.stderr += d));
    hq.url = await new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`sila-hq did not start: ${hq.stderr}`)), 30_000);
      const lines = createInterface({ input: hq.proc.stdout });
      lines.on("line", (l) => {
        const m = l.match(/listening on (http:\/\/\S+)/);
        if (m) {
          clearTimeout(timer);
          ok(m[1]);
        }
      });
      hq.proc.on("exit", (c) => fail(new Error(`sila-hq exited (${c}): ${hq.stderr}`)));
    });
    return hq;
  }

  cli(args, env = {}) {
    return run(BIN.hq, ["--db", this.db, ...args], env);
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null) {
      const done = new Promise((ok) => this.proc.on("exit", ok));
      this.proc.kill("SIGTERM");
      await Promise.race([done, new Promise((ok) => setTimeout(ok, 10_000))]);
      if (this.proc.exitCode === null) this.proc.kill("SIGKILL");
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A branch store made by the real `sila` client, enrolled at HQ. */
export class Branch {
  static async create(hq, name, { demo = 0, sheet = null } = {}) {
    const b = new Branch();
    b.name = name;
    b.dir = join(hq.dir, `branch-${Math.random().toString(16).slice(2)}`);
    mkdirSync(b.dir);
    b.env = { SILA_USER: "manager", SILA_PASSWORD: "branch-password-1", SILA_DATA_DIR: b.dir };
    await run(BIN.sila, ["init", "--branch", name], b.env);
    if (demo > 0) await run(BIN.sila, ["demo-data", "--beneficiaries", String(demo)], b.env, 300_000);
    if (sheet) {
      const path = join(b.dir, "people.csv");
      writeFileSync(path, sheet);
      await run(BIN.sila, ["import", path, "--json"], b.env);
    }
    const code = (await hq.cli(["enroll-code", "--branch", name])).trim();
    await run(BIN.sila, ["enroll", "--hq", hq.url, "--code", code], b.env);
    return b;
  }

  async sync() {
    return JSON.parse(await run(BIN.sila, ["sync", "--json"], this.env, 300_000));
  }

  sila(args) {
    return run(BIN.sila, args, this.env);
  }
}

export async function browser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** A valid Saudi national ID (citizen, starts with 1) from nine digits, Luhn check digit. */
export function nationalId(nine) {
  const d = String(nine).padStart(9, "0").slice(0, 9);
  const body = "1" + d.slice(1);
  let sum = 0;
  for (let i = 0; i < 9; i++) {
    let x = Number(body[i]);
    if (i % 2 === 0) {
      x *= 2;
      if (x > 9) x -= 9;
    }
    sum += x;
  }
  return body + String((10 - (sum % 10)) % 10);
}

export function shotsDir() {
  mkdirSync(SHOTS, { recursive: true });
  return SHOTS;
}
