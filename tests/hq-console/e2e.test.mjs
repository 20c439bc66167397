// The HQ console end to end: a real `sila-hq serve` on a free port with a real SQLite file, two
// branches made and synced by the real `sila` client, and Debian's Chromium driven through the
// console. Screenshots go to target/hq-e2e/.
//
//   1. sign-in (a wrong password first: an Arabic error) → duplicates → side by side → merge → undo
//   2. a committee decision in the console that, after `sila sync`, is in the branch's store
//   3. dashboards (Arabic, then English), exports, administration
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Branch, Hq, PASSWORD, USER, binariesPresent, browser, nationalId, shotsDir } from "./harness.mjs";

assert.ok(binariesPresent(), "build first: cargo build -p sila-hq -p sila-cli");

let hq, afl, marwan, chrome, page;
const shots = shotsDir();
const shot = (name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
const SAME_ID = nationalId(123456789);
let rejected = null; // { number, reasons }: the case the committee test rejects, appealed after

const FIXTURES = join(import.meta.dirname, "../fixtures/update");

before(async () => {
  // Releases are checked against the test update key (tests/fixtures/update).
  process.env.SILA_HQ_UPDATE_KEY = join(FIXTURES, "test-key.pub");
  hq = await Hq.start();
  // The same person registered at two branches: same national ID, the name spelled differently
  // (hamza, "عبدالله" joined), another city.
  const sheetA = "الاسم الكامل,رقم الهوية,الجوال,تاريخ الميلاد,المدينة\n" + `أحمد عبد الله محمد القحطاني,${SAME_ID},0551234567,1980-03-15,الأفلاج\n`;
  const sheetB = "الاسم الكامل,رقم الهوية,الجوال,تاريخ الميلاد,المدينة\n" + `احمد عبدالله محمد القحطاني,${SAME_ID},0551234567,1980-03-15,ليلى\n`;
  afl = await Branch.create(hq, "الأفلاج", { demo: 40, sheet: sheetA });
  marwan = await Branch.create(hq, "مروان", { sheet: sheetB });
  const a = await afl.sync();
  const m = await marwan.sync();
  assert.equal(a.pending, 0, "the first branch pushed everything");
  assert.equal(m.pending, 0, "the second branch pushed everything");
  chrome = await browser();
  const ctx = await chrome.newContext({ viewport: { width: 1366, height: 900 }, locale: "ar-SA" });
  page = await ctx.newPage();
  page.setDefaultTimeout(20_000);
});

after(async () => {
  await chrome?.close();
  await hq?.stop();
});

test("the console is Arabic, right to left, and refuses a wrong password with an Arabic error", async () => {
  await page.goto(`${hq.url}/console/`);
  assert.equal(await page.getAttribute("html", "lang"), "ar");
  assert.equal(await page.getAttribute("html", "dir"), "rtl");
  await page.fill("#username", USER);
  await page.fill("#password", "not-the-password");
  await page.click('[data-testid="signin-submit"]');
  const err = page.locator('[data-testid="error-box"]');
  await err.waitFor();
  assert.equal(await err.getAttribute("data-code"), "wrong_credentials");
  assert.match(await err.innerText(), /كلمة المرور غير صحيحة/);
  await shot("01-signin-error");
  await page.fill("#password", PASSWORD);
  await page.click('[data-testid="signin-submit"]');
  await page.locator('[data-testid="who"]').waitFor();
  assert.match(await page.locator('[data-testid="who"]').innerText(), /نورة العتيبي/);
  // The session cookie is HttpOnly: the page cannot read it.
  assert.equal(await page.evaluate(() => document.cookie), "");
});

test("duplicates: the two files side by side, merge choosing a value, then undo", async () => {
  await page.click('[data-testid="nav-duplicates"]');
  const pairs = page.locator('[data-testid="pairs"] tbody tr');
  await pairs.first().waitFor();
  const before = await pairs.count();
  assert.ok(before >= 1, "the same national ID at two branches is a candidate");
  const row = pairs.filter({ hasText: "مروان" }).first();
  assert.match(await row.innerText(), /مؤكد/, "the same national ID is certain");
  await shot("10-duplicates-queue");
  await row.locator('[data-testid="compare"]').click();
  await page.locator('[data-testid="compare-view"]').waitFor();
  // Keep the record whose city is الأفلاج but take the other file's city, whichever side it is on.
  const cityA = await page.locator('[data-testid="choose-city-a"]').locator("xpath=..").innerText();
  const keep = cityA.includes("الأفلاج") ? "a" : "b";
  const other = keep === "a" ? "b" : "a";
  await page.click(`[data-testid="survivor-${keep}"]`);
  await page.click(`[data-testid="choose-city-${other}"]`);
  await shot("11-duplicates-side-by-side");
  await page.click('[data-testid="merge"]');
  await page.locator('[data-testid="notice"]').waitFor();
  assert.match(await page.locator('[data-testid="notice"]').innerText(), /تم الدمج/);
  const merges = page.locator('[data-testid="merge-row"]');
  await merges.first().waitFor();
  assert.equal(await merges.first().locator('[data-testid="undo"]').count(), 1);
  // The merged pair leaves the queue (the lists reload after the notice).
  await page.locator('[data-testid="pairs"] tbody tr').filter({ hasText: "القحطاني" }).first().waitFor({ state: "detached" });
  await shot("12-duplicates-merged");
  await merges.first().locator('[data-testid="undo"]').click();
  await page.locator('[data-testid="notice"]', { hasText: "تم التراجع" }).waitFor();
  await page.locator('[data-testid="pairs"] tbody tr').filter({ hasText: "مروان" }).first().waitFor();
  await merges.first().locator(".badge", { hasText: "تم التراجع" }).waitFor();
  await shot("13-duplicates-undone");
});

test("conflicts: a branch edit of a field HQ wrote shows both values; one is chosen", async () => {
  // The merge and its undo wrote the city of the surviving record at HQ; the branch, not yet
  // synced since, changes the same city: HQ keeps both values for a person to choose.
  const sheet = "الاسم الكامل,رقم الهوية,الجوال,تاريخ الميلاد,المدينة\n" + `أحمد عبد الله محمد القحطاني,${SAME_ID},0551234567,1980-03-15,الخرج\n`;
  const path = join(hq.dir, "update.csv");
  writeFileSync(path, sheet);
  await afl.sila(["import", path, "--json"]);
  const report = await afl.sync();
  assert.ok(report.conflicts >= 1, `the edit collided (${JSON.stringify(report)})`);
  await page.click('[data-testid="nav-conflicts"]');
  const card = page.locator('[data-testid="conflict"]').first();
  await card.waitFor();
  assert.match(await card.locator('[data-testid="branch-value"]').innerText(), /الخرج/);
  assert.match(await card.locator('[data-testid="hq-value"]').innerText(), /الأفلاج/);
  await shot("15-conflict");
  await card.locator('[data-testid="take-branch"]').click();
  await page.locator('[data-testid="notice"]').waitFor();
  // The notice comes before the list is fetched again: wait for the emptied list itself.
  await page.locator('[data-testid="conflicts"] p.muted').waitFor();
  assert.equal(await page.locator('[data-testid="conflict"]').count(), 0);
});

test("duplicates: \"not the same person\" is remembered and the pair leaves the queue", async () => {
  // A pair of its own: the same name, birth date and mobile at the two branches, one without a
  // national ID (a candidate, never certain: a person decides).
  const twinA = "الاسم الكامل,رقم الهوية,الجوال,تاريخ الميلاد\n" + `سارة محمد علي الدوسري,${nationalId(234567891)},0559876543,1990-07-01\n`;
  const twinB = "الاسم الكامل,رقم الهوية,الجوال,تاريخ الميلاد\n" + `ساره محمد علي الدوسري,,0559876543,1990-07-01\n`;
  for (const [branch, sheet] of [[afl, twinA], [marwan, twinB]]) {
    const path = join(branch.dir, "twin.csv");
    writeFileSync(path, sheet);
    await branch.sila(["import", path, "--json"]);
    await branch.sync();
  }
  await page.click('[data-testid="nav-committee"]');
  await page.click('[data-testid="nav-duplicates"]');
  const row = page.locator('[data-testid="pairs"] tbody tr').filter({ hasText: "الدوسري" }).first();
  await row.waitFor();
  assert.doesNotMatch(await row.innerText(), /مؤكد/, "without the same national ID a pair is never certain");
  await row.locator('[data-testid="compare"]').click();
  await page.click('[data-testid="not-same"]');
  await page.locator('[data-testid="notice"]', { hasText: "شخصان مختلفان" }).waitFor();
  await page.locator('[data-testid="pairs"] tbody tr').filter({ hasText: "الدوسري" }).first().waitFor({ state: "detached" });
  await page.reload();
  await page.locator('[data-testid="pairs"] tbody tr').first().waitFor();
  assert.equal(await page.locator('[data-testid="pairs"] tbody tr').filter({ hasText: "الدوسري" }).count(), 0, "remembered");
});

test("committee: the queue by promised date, the whole file, a decision that reaches the branch", async () => {
  await page.click('[data-testid="nav-committee"]');
  const rows = page.locator('[data-testid="committee-table"] tbody tr');
  await rows.first().waitFor();
  assert.ok((await rows.count()) >= 1, "demo data has cases with the committee");
  // Ordered by promised reply date.
  const dates = await page.locator('[data-testid="open-case"]').evaluateAll((els) => els.map((e) => e.dataset.case));
  assert.ok(dates.length >= 1);
  await shot("20-committee-queue");
  const first = rows.first();
  const number = (await first.locator('[data-testid="open-case"]').innerText()).trim();
  await first.locator('[data-testid="open-case"]').click();
  await page.locator('[data-testid="case-file"]').waitFor();
  // The documents are at HQ and open from the file (sent by the branch after its records).
  const docs = await page.locator('[data-testid="doc-link"]').evaluateAll((els) => els.map((e) => e.getAttribute("href")));
  assert.ok(docs.length >= 1, "the file lists its documents");
  const doc = await page.evaluate(async (href) => {
    const r = await fetch(href);
    return { status: r.status, type: r.headers.get("content-type") };
  }, docs[0]);
  assert.equal(doc.status, 200);
  assert.match(doc.type, /^(image\/(png|jpeg|webp)|application\/pdf)$/);
  // Rejecting without reasons is refused with an Arabic message.
  await page.click('[data-testid="reject"]');
  await page.locator('[data-testid="error-box"]').waitFor();
  assert.match(await page.locator('[data-testid="error-box"]').innerText(), /سبب القرار/);
  const reasons = `الدخل الشهري أعلى من حد الاستحقاق ${Date.now() % 10000}`;
  await page.fill('[data-testid="reasons"]', reasons);
  await shot("21-case-file");
  await page.click('[data-testid="reject"]');
  await page.locator('[data-testid="notice"]').waitFor();
  // The file reloads with HQ's state.
  await page.locator('[data-testid="case-state"]', { hasText: "مرفوض" }).waitFor();
  await shot("22-case-decided");

  // The branch pulls the decision with the real client and holds it in its own store.
  const report = await afl.sync();
  assert.ok(report.pulled >= 1, `the decision came down (${JSON.stringify(report)})`);
  const out = join(hq.dir, "afl-export.csv");
  await afl.sila(["export", "--format", "csv", "--out", out]);
  const cases = readFileSync(out.replace(/\.csv$/, ".cases.csv"), "utf8");
  const line = cases.split(/\r?\n/).find((l) => l.includes(number));
  assert.ok(line, `case ${number} is in the branch's export`);
  assert.match(line, /مرفوض/, "the branch holds HQ's decision");
  assert.ok(line.includes(reasons), "with the committee's reasons");
  rejected = { number, reasons };
});

test("an appeal: the rejected case found by its receipt's number, reopened for the committee, and so at the branch", async () => {
  assert.ok(rejected, "the committee test rejected a case");
  await page.click('[data-testid="nav-committee"]');
  await page.fill('[data-testid="find-number"]', "AFL-NOPE-000000");
  await page.click('[data-testid="find-case"]');
  await page.locator('[data-testid="error-box"]', { hasText: "لا يوجد طلب بهذا الرقم" }).waitFor();
  // Typed as a person reads it off a receipt: lower case, with spaces around.
  await page.fill('[data-testid="find-number"]', `  ${rejected.number.toLowerCase()} `);
  await page.click('[data-testid="find-case"]');
  await page.locator('[data-testid="case-state"]', { hasText: "مرفوض" }).waitFor();
  // Reopening needs the grounds of the appeal.
  await page.click('[data-testid="reopen"]');
  await page.locator('[data-testid="appeal"] [data-testid="error-box"]', { hasText: "أسباب التظلم" }).waitFor();
  await page.fill('[data-testid="appeal-grounds"]', "قدّم المستفيد تعريف راتب جديداً يثبت انخفاض دخله");
  await shot("23-appeal");
  await page.click('[data-testid="reopen"]');
  await page.locator('[data-testid="case-state"]', { hasText: "لدى لجنة البحث" }).waitFor();
  // Back with the committee: it can decide again; the rejection stays in the history.
  await page.locator('[data-testid="approve"]').waitFor();
  assert.ok((await page.locator(".timeline").innerText()).includes(rejected.reasons), "the earlier rejection is kept");
  await shot("24-reopened");

  const report = await afl.sync();
  assert.ok(report.pulled >= 1, `the reopening came down (${JSON.stringify(report)})`);
  const out = join(hq.dir, "afl-export-appeal.csv");
  await afl.sila(["export", "--format", "csv", "--out", out]);
  const line = readFileSync(out.replace(/\.csv$/, ".cases.csv"), "utf8").split(/\r?\n/).find((l) => l.includes(rejected.number));
  assert.match(line, /لدى لجنة البحث/, "the branch holds the reopened state");
});

test("dashboards in Arabic and English, with CSV (BOM) and Excel exports", async () => {
  await page.click('[data-testid="nav-dashboards"]');
  await page.locator('[data-testid="chart-funnel"]').waitFor();
  await page.locator('[data-testid="by-branch"]').waitFor();
  assert.match(await page.locator('[data-testid="by-branch"]').innerText(), /الأفلاج/);
  await shot("30-dashboards-ar");
  const csv = await page.evaluate(async () => {
    const r = await fetch("/console/api/export/dashboard.csv");
    return { type: r.headers.get("content-type"), bytes: Array.from(new Uint8Array(await r.arrayBuffer()).slice(0, 3)) };
  });
  assert.match(csv.type, /text\/csv/);
  assert.deepEqual(csv.bytes, [0xef, 0xbb, 0xbf], "CSV starts with a UTF-8 BOM");
  const xlsx = await page.evaluate(async () => {
    const r = await fetch("/console/api/export/dashboard.xlsx");
    return Array.from(new Uint8Array(await r.arrayBuffer()).slice(0, 2));
  });
  assert.deepEqual(xlsx, [0x50, 0x4b], "XLSX is a zip");
  await page.click('[data-testid="lang"]');
  assert.equal(await page.getAttribute("html", "dir"), "ltr");
  await page.locator("h1", { hasText: "Dashboards" }).waitFor();
  await shot("31-dashboards-en");
  await page.click('[data-testid="lang"]');
  assert.equal(await page.getAttribute("html", "dir"), "rtl");
});

/** Enrol a device of الأفلاج with `code` over HQ's device API and push `n` operations saying
 * "lost here too" (sila_proto::LOST_OP), in the push stream's framing: a 4-byte length, then
 * zstd (the `zstd` tool, as Node 20 has none). Returns the device's ID. */
async function lostOperations(code, n) {
  const headers = { "sila-protocol": "3" };
  const deviceId = randomUUID();
  const enrol = await fetch(`${hq.url}/v1/enroll`, {
    method: "POST",
    headers: { ...headers, "Content-Type": "application/json" },
    body: JSON.stringify({ code, device_id: deviceId, branch: "الأفلاج" }),
  });
  assert.equal(enrol.status, 200, await enrol.clone().text());
  const { token } = await enrol.json();
  const ops = Array.from({ length: n }, (_, i) => ({
    seq: i + 1, op_id: randomUUID(), op: "sync.lost", entity: "beneficiary", entity_id: randomUUID(),
    payload: {}, created_at: new Date().toISOString(),
  }));
  const json = JSON.stringify({ protocol: 3, device_id: deviceId, ops });
  const zst = execFileSync("zstd", ["-q", "-c"], { input: Buffer.from(json) });
  const len = Buffer.alloc(4);
  len.writeUInt32BE(zst.length);
  const push = await fetch(`${hq.url}/v1/push`, {
    method: "POST",
    headers: { ...headers, Authorization: `Bearer ${token}`, "Content-Type": "application/vnd.sila.push-stream" },
    body: Buffer.concat([len, zst]),
  });
  assert.equal(push.status, 200, await push.clone().text());
  assert.equal((await push.json()).acked_through, n);
  return deviceId;
}

test("administration: an enrolment code, devices, the audit of every action", async () => {
  await page.click('[data-testid="nav-admin"]');
  await page.fill('[data-testid="code-branch"]', "الأفلاج");
  await page.click('[data-testid="create-code"]');
  await page.locator('[data-testid="enrol-code"]').waitFor();
  const code = await page.locator('[data-testid="enrol-code"]').innerText();
  assert.match(code, /^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$/);
  assert.ok((await page.locator('[data-testid="devices"] tbody tr').count()) >= 2);
  assert.equal(await page.locator('[data-testid="lost-work"]').count(), 0, "no alert while nothing is lost");
  // A laptop enrolled with that code tells HQ, as a laptop does after HQ was restored from an
  // older copy, that two operations HQ lost are gone from its store too: the alert names it.
  const lostDevice = await lostOperations(code, 2);
  await page.reload();
  const alert = page.locator('[data-testid="lost-work"]');
  await alert.waitFor();
  assert.equal(await alert.getAttribute("role"), "alert");
  const item = alert.locator(`[data-testid="lost-device"][data-device="${lostDevice}"]`);
  assert.equal(await item.getAttribute("data-count"), "2");
  const said = await item.innerText();
  assert.ok(said.includes(lostDevice.slice(-12)) && said.includes("الأفلاج") && said.includes("عمليات مفقودة"), said);
  assert.match(await alert.innerText(), /عمل فُقد عند استعادة المقر/);
  await alert.scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, "41-admin-lost-work.png") });
  await page.reload();
  await page.locator('[data-testid="audit"] tbody tr').first().waitFor();
  const audit = await page.locator('[data-testid="audit"]').innerText();
  for (const action of ["sign_in", "conflict.resolve", "duplicates.merge", "duplicates.undo_merge", "duplicates.not_same", "case.view", "attachment.view", "case.decide", "export", "enrol_code.create"]) {
    assert.ok(audit.includes(action), `audited: ${action}`);
  }
  await shot("40-admin");
});

test("releases: a signed package is published from the console, a tampered one refused in Arabic", async () => {
  await page.click('[data-testid="nav-admin"]');
  // The fixture package anyone can remake, and its signature by the test key.
  const pkg = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251));
  const sig = readFileSync(join(FIXTURES, "release-300k.sig"));
  const tampered = Buffer.from(pkg);
  tampered[1000] ^= 1;
  await page.fill('[data-testid="release-version"]', "0.2.0");
  await page.setInputFiles('[data-testid="release-signature"]', { name: "Sila_0.2.0_amd64.deb.sig", mimeType: "text/plain", buffer: sig });
  // A package over HQ's limit (256 MiB; a sparse file, so no disk is spent) is refused from its
  // Content-Length, and the console says so in Arabic rather than as a server error.
  const bigDir = mkdtempSync(join(tmpdir(), "sila-release-"));
  const big = join(bigDir, "Sila_0.2.0_amd64.deb");
  writeFileSync(big, "");
  truncateSync(big, 256 * 1024 * 1024 + 1);
  await page.setInputFiles('[data-testid="release-file"]', big);
  await page.click('[data-testid="release-publish"]');
  const refused = page.locator('[data-testid="releases"] [data-testid="error-box"]');
  await page.locator('[data-testid="releases"] [data-testid="error-box"][data-code="too_large"]').waitFor();
  assert.match(await refused.innerText(), /الطلب أكبر من المسموح/);
  rmSync(bigDir, { recursive: true, force: true });
  await page.setInputFiles('[data-testid="release-file"]', { name: "Sila_0.2.0_amd64.deb", mimeType: "application/vnd.debian.binary-package", buffer: tampered });
  await page.click('[data-testid="release-publish"]');
  await page.locator('[data-testid="releases"] [data-testid="error-box"][data-code="update_bad_signature"]').waitFor();
  assert.match(await refused.innerText(), /التوقيع لا يطابق الحزمة/);
  await shot("41-release-refused");
  await page.setInputFiles('[data-testid="release-file"]', { name: "Sila_0.2.0_amd64.deb", mimeType: "application/vnd.debian.binary-package", buffer: pkg });
  await page.click('[data-testid="release-publish"]');
  await page.locator('[data-testid="releases"] tbody tr').first().waitFor();
  assert.match(await page.locator('[data-testid="releases"] tbody').innerText(), /0\.2\.0/);
  await page.locator('[data-testid="devices"] th', { hasText: "الإصدار" }).waitFor();
  await shot("42-releases");
});

test("a change without the CSRF token is refused", async () => {
  const status = await page.evaluate(async () => {
    const r = await fetch("/console/api/enrol-codes", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ branch: "x" }) });
    return { status: r.status, body: await r.json() };
  });
  assert.equal(status.status, 403);
  assert.equal(status.body.code, "csrf");
});
