// An update from headquarters, as a branch laptop gets it (issue 13.2): the older .deb built from
// this tree is installed, its store made and enrolled at a real `sila-hq` (the installed `sila`),
// the newer .deb (the next patch version, built by .ci/test.d/60-package.sh from the same release
// build) is signed with the run's throw-away key and published at HQ; the installed app, signed
// in, learns of it at its next sync, fetches and checks it, refuses to install it while an intake
// is open, installs it when the person agrees, and starts again as the new version, with the same
// people and the same enrolment (it syncs on without enrolling again). Then a package damaged on
// its way is refused, deleted and reported, in Arabic and at HQ. Runs as root (apt, dpkg).
//   SILA_DEB_NEXT=…/Sila_0.1.1_amd64.deb SILA_UPDATE_SIGNING_KEY=…/sila-update.key node --test tests/package/update.test.mjs
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");
const TARGET = process.env.CARGO_TARGET_DIR ?? join(ROOT, "target");
const SHOTS = join(ROOT, "target/package-e2e");
const PKG = "sila";
const APP = "/usr/bin/sila-desktop";
const CLI = "/usr/bin/sila";
const TAURI = join(ROOT, "ui/node_modules/.bin/tauri");
const ADMIN = { user: "admin", password: "sila-pass-1234" };
const BRANCH = "الأفلاج";
const PEOPLE = 25;

const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...opts });
const apt = (...args) => run("apt-get", ["-y", "-q", ...args], { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
const installedVersion = () => {
  try {
    return run("dpkg-query", ["-W", "-f=${db:Status-Status} ${Version}", PKG]).trim().replace(/^installed /, "");
  } catch {
    return null;
  }
};
/** The version field of a .deb. */
const debVersion = (deb) => run("dpkg-deb", ["--field", deb, "Version"]).trim();

function theDeb(dir) {
  const debs = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".deb")) : [];
  if (debs.length !== 1) throw new Error(`expected one .deb in ${dir} (run: bash .ci/test.d/60-package.sh), found ${debs.length}`);
  return join(dir, debs[0]);
}

/** Wait until `f()` is truthy; returns it. */
async function until(what, f, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Processes running `exe` (by their command line), with their arguments. */
function processesOf(exe) {
  const out = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const args = readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").filter(Boolean);
      if (args[0] === exe && !readFileSync(`/proc/${p}/stat`, "utf8").includes(") Z ")) out.push({ pid: Number(p), args });
    } catch {}
  }
  return out;
}

// The harness (imported below, once) drives whichever binary this names: the installed one.
process.env.SILA_DESKTOP_APP = APP;

const oldDeb = process.env.SILA_DEB ? resolve(process.env.SILA_DEB) : theDeb(join(TARGET, "package/release/bundle/deb"));
const newDeb = process.env.SILA_DEB_NEXT && resolve(process.env.SILA_DEB_NEXT);
const signingKey = process.env.SILA_UPDATE_SIGNING_KEY && resolve(process.env.SILA_UPDATE_SIGNING_KEY);
const dataDir = mkdtempSync(join(tmpdir(), "sila-upd-"));
const hqDir = mkdtempSync(join(tmpdir(), "sila-upd-hq-"));
const exportDir = mkdtempSync(join(tmpdir(), "sila-upd-exports-"));
const work = mkdtempSync(join(tmpdir(), "sila-upd-work-"));
let h;
let hq;
let relaunched;

before(() => {
  assert.equal(process.getuid(), 0, "this test installs packages: run it as root");
  assert.ok(newDeb && existsSync(newDeb), "SILA_DEB_NEXT names the newer .deb (bash .ci/test.d/60-package.sh makes it)");
  assert.ok(signingKey && existsSync(signingKey), "SILA_UPDATE_SIGNING_KEY names the run's private update key");
  if (installedVersion()) apt("purge", PKG);
});

after(async () => {
  await h?.stop();
  hq?.stop();
  if (relaunched) try { process.kill(relaunched, "SIGKILL"); } catch {}
  if (installedVersion()) apt("purge", PKG);
  for (const d of [dataDir, hqDir, exportDir, work]) rmSync(d, { recursive: true, force: true });
});

/** Sign a package with the run's key, as a release manager does (`tauri signer sign`). */
function sign(file) {
  run(TAURI, ["signer", "sign", "-f", signingKey, "-p", "", file]);
  return `${file}.sig`;
}

describe("an update from headquarters", { concurrency: false }, () => {
  const oldVersion = debVersion(oldDeb);
  const newVersion = debVersion(newDeb);
  const hqCli = (...args) => run(process.env.SILA_HQ_BIN ?? join(TARGET, "debug/sila-hq"), ["--db", join(hqDir, "hq.db"), ...args]);
  let deviceId;
  let wd;

  it("the older package is installed, its store made and enrolled at a real HQ", async () => {
    assert.notEqual(oldVersion, newVersion);
    apt("install", oldDeb);
    assert.equal(installedVersion(), oldVersion);
    // HQ checks releases against the run's public key.
    process.env.SILA_HQ_UPDATE_KEY = `${signingKey}.pub`;
    const { startHq } = await import("../desktop/harness.mjs");
    hq = await startHq(hqDir);
    const env = { ...process.env, SILA_USER: ADMIN.user, SILA_PASSWORD: ADMIN.password };
    run(CLI, ["--data-dir", dataDir, "init", "--branch", BRANCH, "--display-name", "نورة العتيبي"], { env });
    run(CLI, ["--data-dir", dataDir, "demo-data", "--beneficiaries", String(PEOPLE)], { env });
    run(CLI, ["--data-dir", dataDir, "enroll", "--hq", hq.url, "--code", hq.code(BRANCH)], { env });
    run(CLI, ["--data-dir", dataDir, "sync"], { env });
    const devices = JSON.parse(hqCli("devices", "--json"));
    assert.equal(devices.length, 1);
    deviceId = devices[0].device_id;
    assert.equal(hq.stats().beneficiaries, PEOPLE);
  });

  it("HQ refuses a release that is not signed with its key", () => {
    const tampered = join(work, "tampered.deb");
    const bytes = readFileSync(newDeb);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(tampered, bytes);
    assert.throws(
      () => hqCli("publish-release", "--version", newVersion, "--file", tampered, "--signature", sign(newDeb)),
      (e) => /update_bad_signature/.test(String(e.stderr)),
    );
    assert.equal(JSON.parse(hqCli("releases", "--json")).length, 0);
  });

  it("the installed app, signed in, learns of the newer release at its next sync and fetches it", async () => {
    const started = Date.now();
    const out = hqCli("publish-release", "--version", newVersion, "--file", newDeb, "--signature", sign(newDeb));
    assert.match(out, new RegExp(`^${newVersion.replace(/\./g, "\\.")}\\t\\d+\\t[0-9a-f]{64}$`, "m"));
    const { Harness } = await import("../desktop/harness.mjs");
    h = new Harness();
    await h.start(exportDir);
    wd = await h.launch(dataDir);
    await wd.waitFor("[data-testid=sign-in]");
    await wd.type("#username", ADMIN.user);
    await wd.type("#password", ADMIN.password);
    await wd.click("[data-testid=sign-in-button]");
    await wd.waitFor("[data-testid=home]", 30000);
    assert.match(await wd.text("[data-testid=app-version]"), new RegExp(oldVersion.replace(/\./g, "\\.")));
    await wd.waitFor("[data-testid=update-banner], [data-testid=update-refused]", 120000).catch(async (e) => {
      await wd.screenshot(join(SHOTS, "10-update-not-offered.png"));
      throw new Error(`${e.message}; HQ's devices: ${hqCli("devices", "--json")}`);
    });
    await wd.screenshot(join(SHOTS, "10-update-available.png"));
    assert.equal((await wd.findAll("[data-testid=update-refused]")).length, 0, "the package is not refused");
    const size = readFileSync(newDeb).length;
    console.log(`# release ${newVersion}: ${size} bytes published, offered and fetched over the sync link in ${((Date.now() - started) / 1000).toFixed(1)} s (publish, app start and sign-in included)`);
    assert.equal(await wd.exec("return document.querySelector('[data-testid=update-banner]').dataset.version"), newVersion);
    assert.match(await wd.text("[data-testid=update-banner]"), /تحديث متاح/);
    // HQ shows which version the device runs.
    const d = JSON.parse(hqCli("devices", "--json"))[0];
    assert.equal(d.app_version, oldVersion);
  });

  it("it is not installed while an intake is open: the banner says why", async () => {
    await wd.click("[data-testid=nav-wizard]");
    await wd.click("[data-testid=update-install]");
    assert.match(await wd.text("[data-testid=update-busy]"), /استمارة مفتوحة/);
    await wd.screenshot(join(SHOTS, "11-update-blocked-by-intake.png"));
    assert.equal(installedVersion(), oldVersion, "nothing was installed");
    await wd.click("[data-testid=nav-home]");
    await wd.waitFor("[data-testid=home]");
  });

  it("the person agrees: it installs, and the app starts again as the new version", async () => {
    await wd.click("[data-testid=update-install]");
    await wd.waitFor("[data-testid=update-confirm]");
    await wd.screenshot(join(SHOTS, "12-update-confirm.png"));
    const before = processesOf(APP).map((p) => p.pid);
    await wd.click("[data-testid=update-confirm-yes]");
    await until("dpkg to hold the new version", () => installedVersion() === newVersion, 120000);
    // The new program, started by the old one with the same data folder, once the old one ended.
    const next = await until("the new version's process", () => {
      const alive = new Set(processesOf(APP).map((p) => p.pid));
      if (before.some((p) => alive.has(p))) return null;
      return processesOf(APP).find((p) => p.args.includes("--after-update") && p.args.includes(dataDir));
    }, 60000);
    relaunched = next.pid;
    assert.equal(readlinkSync(`/proc/${next.pid}/exe`), APP, "it runs the installed (new) file");
    // Hand the window back to WebDriver: end the relaunched app and start the new one under it.
    await wd.quit();
    process.kill(next.pid, "SIGTERM");
    await until("the relaunched app to end", () => !existsSync(`/proc/${next.pid}`) || readFileSync(`/proc/${next.pid}/stat`, "utf8").includes(") Z "), 20000);
    relaunched = null;
    wd = await h.launch(dataDir);
    await wd.waitFor("[data-testid=sign-in]");
    await wd.type("#username", ADMIN.user);
    await wd.type("#password", ADMIN.password);
    await wd.click("[data-testid=sign-in-button]");
    await wd.waitFor("[data-testid=home]", 30000);
    assert.match(await wd.text("[data-testid=app-version]"), new RegExp(newVersion.replace(/\./g, "\\.")));
    // Same enrolment: no enrolment form, and HQ hears from the same device, now on the new version.
    assert.equal((await wd.findAll("[data-testid=enroll-form]")).length, 0);
    await until("HQ to see the new version", () => {
      const ds = JSON.parse(hqCli("devices", "--json"));
      return ds.length === 1 && ds[0].device_id === deviceId && ds[0].app_version === newVersion;
    }, 60000);
    await wd.waitFor("[data-testid=sync-area][data-state=online]", 60000);
    assert.equal((await wd.findAll("[data-testid=update-banner]")).length, 0, "nothing newer is offered");
    await wd.screenshot(join(SHOTS, "13-updated-home.png"));
  });

  it("a package damaged on its way is refused, deleted and reported, in Arabic and at HQ", async () => {
    // A later release, published properly, whose bytes then change in HQ's store.
    const later = newVersion.replace(/\d+$/, (p) => String(Number(p) + 1));
    const copy = join(work, "later.deb");
    execFileSync("cp", [oldDeb, copy]);
    hqCli("publish-release", "--version", later, "--file", copy, "--signature", sign(copy));
    execFileSync("python3", ["-c", `import sqlite3,sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE release_chunks SET bytes = zeroblob(length(bytes)) WHERE n = 3 AND sha256 = (SELECT sha256 FROM releases WHERE version = ?)", (sys.argv[2],))
c.commit()`, join(hqDir, "hq.db"), later]);
    await wd.click("[data-testid=sync-now]");
    await wd.waitFor("[data-testid=update-refused]", 120000);
    const refused = await wd.text("[data-testid=update-refused]");
    assert.match(refused, /رُفض تحديث/);
    assert.match(refused, /توقيعه غير صحيح/);
    await wd.screenshot(join(SHOTS, "14-update-refused.png"));
    const left = readdirSync(join(dataDir, "updates"));
    assert.deepEqual(left, [], "nothing of the refused package is kept");
    const d = JSON.parse(hqCli("devices", "--json"))[0];
    assert.equal(d.update_version, later);
    assert.equal(d.update_outcome, "update_bad_signature");
    assert.equal(installedVersion(), newVersion);
  });

  it("the store came through whole: the same people, as the command line reads them", async () => {
    await h.stop();
    h = null;
    const env = { ...process.env, SILA_USER: ADMIN.user, SILA_PASSWORD: ADMIN.password };
    const stats = JSON.parse(run(CLI, ["--data-dir", dataDir, "stats", "--json"], { env }));
    assert.equal(stats.beneficiaries, PEOPLE);
    assert.equal(stats.pending_changes, 0);
    assert.equal(hq.stats().beneficiaries, PEOPLE);
  });
});
