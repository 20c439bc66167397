// The Linux package as a branch laptop gets it: the .deb built from this tree (by
// packaging/build.sh, which .ci/test.d/60-package.sh runs first) is installed with apt, its menu
// entry and icons are checked where the desktop looks for them, the INSTALLED program is started
// under Xvfb and driven through first run and sign-in with WebDriver, the installed command line
// reads the store the app made, and `apt remove` leaves none of the package's files behind.
// Runs as root (apt). Screenshots and the menu entry's text land in target/package-e2e/.
//   SILA_DEB=path/to/Sila_….deb node --test tests/package/
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");
const TARGET = process.env.CARGO_TARGET_DIR ?? join(ROOT, "target");
const SHOTS = join(ROOT, "target/package-e2e");
const PKG = "sila";
const APP = "/usr/bin/sila-desktop";
const CLI = "/usr/bin/sila";
const DESKTOP = "/usr/share/applications/Sila.desktop";
const ICON_SIZES = ["32x32", "128x128", "256x256"];
const ADMIN = { user: "admin", password: "sila-pass-1234", name: "نورة العتيبي" };

function findDeb() {
  if (process.env.SILA_DEB) return resolve(process.env.SILA_DEB);
  const dir = join(TARGET, "package/release/bundle/deb");
  const debs = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".deb")) : [];
  if (debs.length !== 1) throw new Error(`expected one .deb in ${dir} (run: bash packaging/build.sh deb), found ${debs.length}`);
  return join(dir, debs[0]);
}

const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...opts });
const installed = () => {
  try {
    return run("dpkg-query", ["-W", "-f=${db:Status-Status}", PKG]).trim() === "installed";
  } catch {
    return false;
  }
};
const apt = (...args) => run("apt-get", ["-y", "-q", ...args], { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });

const deb = findDeb();
const dataDir = mkdtempSync(join(tmpdir(), "sila-pkg-"));
const exportDir = mkdtempSync(join(tmpdir(), "sila-pkg-exports-"));
let files = [];
let h;
let wd;

before(() => {
  assert.equal(process.getuid(), 0, "this test installs a package: run it as root");
  mkdirSync(SHOTS, { recursive: true });
  // A run that died half-way leaves the package installed; start from none.
  if (installed()) apt("purge", PKG);
});

after(async () => {
  await h?.stop();
  if (installed()) apt("purge", PKG);
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(exportDir, { recursive: true, force: true });
});

describe("the Linux package", { concurrency: false }, () => {
  it("declares what it needs: every shared library the binaries load comes from a package it depends on", () => {
    const control = run("dpkg-deb", ["--field", deb, "Package", "Depends"]);
    assert.match(control, /^Package: sila$/m);
    const depends = /^Depends: (.*)$/m.exec(control)?.[1] ?? "";
    const declared = new Set(depends.split(",").map((d) => d.trim().split(/[\s(]/)[0]).filter(Boolean));
    // What Debian's own tool computes from the binaries' dynamic sections (as a Debian package's
    // ${shlibs:Depends} would be), on the package's binaries unpacked to a temp folder.
    const unpacked = mkdtempSync(join(tmpdir(), "sila-pkg-unpacked-"));
    try {
      run("dpkg-deb", ["-x", deb, unpacked]);
      for (const bin of ["usr/bin/sila-desktop", "usr/bin/sila"]) assert.ok(existsSync(join(unpacked, bin)), `${bin} is in the package`);
      // dpkg-shlibdeps reads the package's name from a source package's control file.
      mkdirSync(join(unpacked, "debian"));
      writeFileSync(join(unpacked, "debian/control"), "Source: sila\n\nPackage: sila\nArchitecture: any\n");
      const shlibs = run("dpkg-shlibdeps", ["-O", "-e", "usr/bin/sila-desktop", "-e", "usr/bin/sila"], { cwd: unpacked });
      const needed = /shlibs:Depends=(.*)/.exec(shlibs)?.[1].split(",").map((d) => d.trim().split(/[\s(]/)[0]) ?? [];
      assert.ok(needed.length > 0, `dpkg-shlibdeps found no library: ${shlibs}`);
      // Each is named directly (Debian policy), not left to arrive as a dependency of WebKitGTK.
      const missing = needed.filter((p) => !declared.has(p));
      assert.deepEqual(missing, [], `Depends (${depends}) lacks packages whose libraries the binaries load`);
    } finally {
      rmSync(unpacked, { recursive: true, force: true });
    }
  });

  it("installs with apt, with its dependencies", () => {
    apt("install", deb);
    assert.ok(installed(), "dpkg says the package is installed");
    files = run("dpkg-query", ["-L", PKG]).split("\n").filter((f) => f && existsSync(f) && !statSync(f).isDirectory());
    for (const f of [APP, CLI, DESKTOP]) assert.ok(files.includes(f), `the package installs ${f}`);
    for (const f of [APP, CLI]) assert.ok(statSync(f).mode & 0o111, `${f} is executable`);
  });

  it("puts Sila in the desktop menu under its Arabic name, with its icon", () => {
    const entry = readFileSync(DESKTOP, "utf8");
    copyFileSync(DESKTOP, join(SHOTS, "Sila.desktop"));
    const field = (k) => new RegExp(`^${k.replace(/[[\]]/g, "\\$&")}=(.*)$`, "m").exec(entry)?.[1];
    assert.equal(field("Type"), "Application");
    assert.equal(field("Name"), "Sila");
    assert.equal(field("Name[ar]"), "صلة");
    assert.match(field("Categories") ?? "", /(^|;)Office;/);
    assert.equal(field("Terminal"), "false");
    // The menu runs Exec through the PATH; the icon is looked up by name in the hicolor theme.
    assert.equal(field("Exec"), "sila-desktop");
    assert.equal(field("Icon"), "sila-desktop");
    for (const size of ICON_SIZES) {
      const icon = `/usr/share/icons/hicolor/${size}/apps/sila-desktop.png`;
      assert.ok(files.includes(icon), `the package installs ${icon}`);
      assert.equal(readFileSync(icon).subarray(1, 4).toString(), "PNG");
    }
    // The freedesktop.org validator (desktop-file-utils) accepts the entry as it is installed.
    run("desktop-file-validate", [DESKTOP]);
  });

  it("the installed app runs: first run, sign-out, sign-in, home (WebDriver under Xvfb)", async () => {
    // The harness drives whichever binary SILA_DESKTOP_APP names: here the installed one.
    process.env.SILA_DESKTOP_APP = APP;
    const { Harness } = await import("../desktop/harness.mjs");
    h = new Harness();
    await h.start(exportDir);
    wd = await h.launch(dataDir);
    await wd.waitFor("[data-testid=first-run]");
    assert.equal(await wd.exec("return document.documentElement.dir"), "rtl");
    await wd.screenshot(join(SHOTS, "00-installed-first-run.png"));
    await wd.type("#branch", "الأفلاج");
    await wd.type("#display_name", ADMIN.name);
    await wd.type("#username", ADMIN.user);
    await wd.type("#password", ADMIN.password);
    await wd.type("#again", ADMIN.password);
    await wd.click("[data-testid=create]");
    await wd.waitFor("[data-testid=home]", 30000);
    await wd.click("[data-testid=sign-out]");
    await wd.waitFor("[data-testid=sign-in]");
    await wd.type("#username", ADMIN.user);
    await wd.type("#password", ADMIN.password);
    await wd.click("[data-testid=sign-in-button]");
    await wd.waitFor("[data-testid=home]", 30000);
    await wd.screenshot(join(SHOTS, "01-installed-home.png"));
    assert.ok(h.appPid(), "the app under test is the installed binary");
    await h.stop();
    h = null;
  });

  it("the installed command line opens the store the installed app made", () => {
    const env = { ...process.env, SILA_USER: ADMIN.user, SILA_PASSWORD: ADMIN.password };
    const stats = JSON.parse(run(CLI, ["--data-dir", dataDir, "stats", "--json"], { env }));
    assert.equal(stats.beneficiaries, 0);
    assert.equal(stats.cases, 0);
    assert.deepEqual(JSON.parse(run(CLI, ["check-id", "1000000008", "--json"])).valid, true);
  });

  it("apt remove leaves none of its files: no binary, no menu entry, no icon", () => {
    assert.ok(files.length > 0);
    apt("remove", PKG);
    assert.ok(!installed(), "dpkg says the package is gone");
    const left = files.filter((f) => existsSync(f));
    assert.deepEqual(left, [], "files the package installed are still there");
  });
});
