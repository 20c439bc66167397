// HQ's register, complaints and survey scores in the console, end to end (issue 11, points 4, 6
// and 8): a real `sila-hq serve` with a real SQLite file, two branches made and synced by the
// real `sila` client, Debian's Chromium at 1366x768 as a person at HQ uses it. Screenshots go to
// target/hq-e2e/ (4x-*.png).
//
//   1. search every branch's people by any spelling, an ID, a mobile's last digits
//   2. open a person's file, change the mobile (the branch receives it at its next sync), see a
//      refused value explained in Arabic
//   3. export the register (CSV with BOM, mobiles as 05…; XLSX)
//   4. complaints and suggestions by their answer's status, one opened; survey scores per question
//   5. English, and what a committee-only account may not do
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Branch, Hq, PASSWORD, USER, binariesPresent, browser, nationalId, shotsDir } from "./harness.mjs";

assert.ok(binariesPresent(), "build first: cargo build -p sila-hq -p sila-cli");

let hq, afl, marwan, chrome, page;
const shots = shotsDir();
const shot = (name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
const ID_A = nationalId(345678912);

before(async () => {
  hq = await Hq.start();
  const head = "الاسم الكامل,رقم الهوية,الجوال,تاريخ الميلاد,المدينة\n";
  afl = await Branch.create(hq, "الأفلاج", { demo: 30, sheet: head + `عبد الله محمد آل سعود,${ID_A},0501234567,1975-02-10,الأفلاج\n` });
  marwan = await Branch.create(hq, "مروان", { sheet: head + `عبدالله سعد القحطاني,${nationalId(456789123)},0531112222,1988-09-01,ليلى\n` });
  assert.equal((await afl.sync()).pending, 0);
  assert.equal((await marwan.sync()).pending, 0);
  chrome = await browser();
  const ctx = await chrome.newContext({ viewport: { width: 1366, height: 768 }, locale: "ar-SA" });
  page = await ctx.newPage();
  page.setDefaultTimeout(20_000);
  await page.goto(`${hq.url}/console/`);
  await page.fill("#username", USER);
  await page.fill("#password", PASSWORD);
  await page.click('[data-testid="signin-submit"]');
  await page.locator('[data-testid="who"]').waitFor();
});

after(async () => {
  await chrome?.close();
  await hq?.stop();
});

/** Searches, and waits until the list shows that search's answer (not the previous one's rows). */
async function search(q) {
  await page.fill('[data-testid="register-q"]', q);
  await page.press('[data-testid="register-q"]', "Enter");
  await page.waitForFunction((want) => {
    const list = document.querySelector('[data-testid="register"]');
    return list?.getAttribute("data-shown-q") === want.trim() && list.getAttribute("aria-busy") === "false";
  }, q);
}

/** The rows once the list shows a result for `expect` (a text every wanted row holds). */
async function rowsWith(expect) {
  const rows = page.locator('[data-testid="register-table"] tbody tr');
  await rows.filter({ hasText: expect }).first().waitFor();
  return rows;
}

test("the register finds every branch's people by any spelling, an ID and a mobile's last digits", async () => {
  await page.click('[data-testid="nav-register"]');
  await page.locator('[data-testid="register"]').waitFor();
  assert.equal(await page.getAttribute("html", "dir"), "rtl");
  // Everyone, in pages, before any search.
  await page.locator('[data-testid="register-table"]').waitFor();
  assert.ok(Number(await page.locator('[data-testid="register-total"]').innerText()) >= 32);
  await shot("40-register-all");
  // The file numbers the branch gave, in their column, and a person found by theirs.
  const numbers = (await page.locator('[data-testid="file-number"]').allInnerTexts()).map((n) => n.trim());
  const given = numbers.filter((n) => /-F\d{5}$/.test(n));
  assert.ok(given.length >= 5, `file numbers shown: ${given.length} of ${numbers.length}`);
  await search(given[0].toLowerCase());
  const byFile = await rowsWith(given[0]);
  assert.equal(await byFile.count(), 1);
  await shot("40a-register-file-number");

  // "عبدالله" written joined finds "عبد الله" at one branch and "عبدالله" at the other.
  await search("عبدالله");
  const rows = await rowsWith("مروان");
  await rows.filter({ hasText: "آل سعود" }).first().waitFor();
  await shot("41-register-search-name");
  // Hamza, ta marbuta and آل written otherwise: still the one person.
  await search("عبداللة ال سعود");
  const one = await rowsWith("الأفلاج");
  assert.equal(await one.count(), 1);
  assert.match(await one.first().innerText(), /0501234567/, "mobiles in the national form");
  // The last four digits of a mobile, in Arabic-Indic digits; the beginning of an ID.
  await search("٤٥٦٧");
  assert.match(await (await rowsWith("آل سعود")).first().innerText(), /الأفلاج/);
  await search(ID_A.slice(0, 6));
  await rowsWith(ID_A);
  await shot("42-register-search-id");
  // Nothing found says so.
  await search("زيدان");
  await page.locator('[data-testid="register-empty"]', { hasText: "لا أحد يطابق" }).waitFor();
});

test("a person's file opens, a field is changed, a refused value is explained, the branch receives the change", async () => {
  await search("عبد الله السعود");
  const row = (await rowsWith("آل سعود")).first();
  await row.locator('[data-testid="open-person"]').click();
  await page.locator('[data-testid="person-file"]').waitFor();
  assert.match(await page.locator('[data-testid="person-name"]').innerText(), /آل سعود/);
  assert.match(await page.locator('[data-testid="value-national_id"]').innerText(), new RegExp(ID_A));
  await shot("43-person-file");

  // A birth date in the future: the domain's own reason, in Arabic, and nothing saved.
  await page.click('[data-testid="edit-birth_date-open"]');
  await page.fill('[data-testid="edit-birth_date"]', "2099-01-01");
  await page.click('[data-testid="edit-save"]');
  const refused = page.locator('[data-testid="fact-birth_date"] [data-testid="error-box"]');
  await refused.waitFor();
  assert.equal(await refused.getAttribute("data-code"), "invalid_field");
  assert.match(await refused.innerText(), /المستقبل/);
  await shot("44-person-edit-refused");
  await page.locator('[data-testid="fact-birth_date"]').getByRole("button", { name: "إلغاء" }).click();

  // The mobile, typed as people write it.
  await page.click('[data-testid="edit-mobile-open"]');
  assert.equal(await page.inputValue('[data-testid="edit-mobile"]'), "0501234567");
  await page.fill('[data-testid="edit-mobile"]', "055 987 6543");
  await page.click('[data-testid="edit-save"]');
  await page.locator('[data-testid="notice"]', { hasText: "المزامنة التالية" }).waitFor();
  await page.locator('[data-testid="value-mobile"]', { hasText: "6543" }).waitFor();
  await shot("45-person-edited");

  // The branch pulls HQ's change with the real client and holds it in its own store.
  const report = await afl.sync();
  assert.ok(report.pulled >= 1, `HQ's change came down (${JSON.stringify(report)})`);
  const out = join(hq.dir, "afl-after-edit.csv");
  await afl.sila(["export", "--format", "csv", "--out", out]);
  const line = readFileSync(out, "utf8").split(/\r?\n/).find((l) => l.includes(ID_A));
  assert.ok(line, "the person is in the branch's export");
  assert.ok(line.includes("0559876543"), `the branch holds HQ's mobile: ${line.replace(/\d{6,}/g, "…")}`);

  // The edit is audited with the field's name, never its value.
  const audit = await page.evaluate(async () => (await fetch("/console/api/audit")).json());
  const edit = audit.rows.find((r) => r.action === "person.edit");
  assert.ok(edit, "the edit is in the audit log");
  assert.equal(edit.detail.field, "mobile");
  assert.ok(!JSON.stringify(audit).includes("6543"), "no phone number in the audit");

  // The household as the branch's edit screen takes it: a member without a relation is refused
  // under their number, then added; the monthly income in Arabic-Indic digits; the housing.
  await page.click('[data-testid="edit-household-open"]');
  await page.click('[data-testid="edit-household-add"]');
  await page.fill('[data-testid="edit-household-0-name"]', "سعد");
  await page.click('[data-testid="edit-save"]');
  const noRelation = page.locator('[data-testid="fact-household"] [data-testid="error-box"]');
  await noRelation.waitFor();
  assert.match(await noRelation.innerText(), /الفرد 1/);
  await page.selectOption('[data-testid="edit-household-0-relation"]', "son");
  await page.click('[data-testid="edit-save"]');
  await page.locator('[data-testid="value-household"]', { hasText: "سعد" }).waitFor();
  await page.click('[data-testid="edit-monthly_income-open"]');
  await page.fill('[data-testid="edit-monthly_income"]', "٣٥٠٠");
  await page.click('[data-testid="edit-save"]');
  await page.locator('[data-testid="value-monthly_income"]', { hasText: "3500" }).waitFor();
  await page.click('[data-testid="edit-housing-open"]');
  await page.selectOption('[data-testid="edit-housing"]', "rented");
  await page.fill('[data-testid="edit-housing-rent"]', "18000");
  await page.click('[data-testid="edit-save"]');
  await page.locator('[data-testid="value-housing"]', { hasText: "18000" }).waitFor();
  await shot("45a-household-edited");
  const fields = (await page.evaluate(async () => (await fetch("/console/api/audit")).json())).rows
    .filter((r) => r.action === "person.edit").map((r) => r.detail.field);
  for (const f of ["household", "monthly_income", "housing"]) assert.ok(fields.includes(f), `${f} audited: ${fields}`);
});

test("a case opens from the person's file with its history", async () => {
  // Someone waiting for the committee: found in the register by name, their file, their case.
  const queue = await page.evaluate(async () => (await fetch("/console/api/committee?limit=1")).json());
  const waiting = queue.rows[0];
  assert.ok(waiting, "demo data has a case with the committee");
  await page.click('[data-testid="nav-register"]');
  await search(waiting.beneficiary_name);
  await page.locator(`[data-testid="open-person"][data-person="${waiting.beneficiary_id}"]`).click();
  await page.locator('[data-testid="person-file"]').waitFor();
  const row = page.locator('[data-testid="person-cases"] tbody tr').filter({ hasText: waiting.number });
  await row.locator('[data-testid="person-case"]').click();
  await page.locator('[data-testid="case-file"]').waitFor();
  await page.locator(".timeline li").first().waitFor();
  assert.equal(await page.locator('[data-testid="approve"]').count(), 0, "no decision from the register");
  await shot("46-register-case");
  await page.goBack();
  await page.locator('[data-testid="person-file"]').waitFor();
});

test("the register exports as CSV (BOM, mobiles as 05…) and Excel", async () => {
  // What is searched for goes in the body, never the URL; a GET is not served.
  const viaUrl = await page.evaluate(async () => (await fetch(`/console/api/register?q=x`)).status);
  assert.equal(viaUrl, 405);
  const csv = await page.evaluate(async () => {
    const me = await (await fetch("/console/api/me")).json();
    const r = await fetch("/console/api/register/export/register.csv", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": me.csrf },
      body: JSON.stringify({ q: "السعود" }),
    });
    return { status: r.status, type: r.headers.get("content-type"), bytes: Array.from(new Uint8Array(await r.arrayBuffer())) };
  });
  assert.equal(csv.status, 200);
  assert.match(csv.type, /text\/csv/);
  assert.deepEqual(csv.bytes.slice(0, 3), [0xef, 0xbb, 0xbf], "UTF-8 with a BOM for Excel");
  const text = Buffer.from(csv.bytes.slice(3)).toString("utf8");
  const [head, row] = text.split("\r\n");
  assert.match(head, /^الفرع,المعرف,رقم الملف,الاسم الكامل/);
  assert.match(row, /^الأفلاج,/);
  assert.ok(row.includes(",0559876543,"), "the mobile as 05…, without a formula guard");
  // The button, as a person uses it: the browser saves the workbook.
  await page.click('[data-testid="nav-register"]');
  const [saved] = await Promise.all([page.waitForEvent("download"), page.click('[data-testid="export-register-xlsx"]')]);
  assert.match(saved.suggestedFilename(), /^sila-register-\d{8}\.xlsx$/);
  const zip = readFileSync(await saved.path()).subarray(0, 2);
  assert.deepEqual([...zip], [0x50, 0x4b], "an XLSX is a zip");
});

test("dashboards: complaints by their answer's status per branch, one opened; survey scores per question", async () => {
  await page.click('[data-testid="nav-dashboards"]');
  const panel = page.locator('[data-testid="voice-panel"]');
  await panel.waitFor();
  const counts = panel.locator('[data-testid="voice-counts"] tbody tr');
  await counts.filter({ hasText: "الأفلاج" }).first().waitFor();
  // Demo contacts are spread over forty days: some complaints are past their due date.
  const list = panel.locator('[data-testid="voice-list"] tbody tr');
  await list.first().waitFor();
  await list.first().locator('[data-testid="voice-open"]').click();
  const detail = page.locator('[data-testid="voice-detail"]');
  await detail.waitFor();
  assert.ok((await detail.locator('[data-testid="voice-contact"]').innerText()).length > 0);
  await panel.scrollIntoViewIfNeeded();
  await shot("47-dashboard-voice");

  const scores = page.locator('[data-testid="survey-panel"]');
  await scores.locator('[data-testid="scores-branch"] tbody tr').filter({ hasText: "الأفلاج" }).first().waitFor();
  for (const q of ["overall", "speed", "courtesy", "clarity"]) await scores.locator(`[data-testid="question-${q}"]`).waitFor();
  await scores.scrollIntoViewIfNeeded();
  await shot("48-dashboard-surveys");
  const csv = await page.evaluate(async () => {
    const r = await fetch("/console/api/surveys/export/surveys.csv");
    return { status: r.status, text: await r.text() };
  });
  assert.equal(csv.status, 200);
  assert.match(csv.text, /الفرع,عدد الاستبيانات,الرضا العام,سرعة الخدمة,حسن التعامل,وضوح المعلومات/);
});

test("in English the register reads left to right; a committee-only account reads but may not change or export", async () => {
  await page.click('[data-testid="nav-register"]');
  await page.click('[data-testid="lang"]');
  assert.equal(await page.getAttribute("html", "dir"), "ltr");
  await search("عبدالله");
  await page.locator('[data-testid="register"] h1', { hasText: "Beneficiary register" }).waitFor();
  await rowsWith("مروان");
  await shot("49-register-en");
  // The domain's reason for refusing a value, in English too.
  const row = (await rowsWith("مروان")).filter({ hasText: "مروان" }).first();
  await row.locator('[data-testid="open-person"]').click();
  await page.locator('[data-testid="person-file"]').waitFor();
  await page.click('[data-testid="edit-national_id-open"]');
  await page.fill('[data-testid="edit-national_id"]', "1234567890");
  await page.press('[data-testid="edit-national_id"]', "Enter");
  await page.locator('[data-testid="fact-national_id"] [data-testid="error-box"]', { hasText: "check it against the card" }).waitFor();
  await shot("50-person-edit-refused-en");
  // Escape leaves the field as it was.
  await page.press('[data-testid="edit-national_id"]', "Escape");
  await page.locator('[data-testid="edit-national_id-open"]').waitFor();
  await page.click('[data-testid="lang"]');

  await hq.cli(["add-staff", "--role", "committee", "--display-name", "خالد اللجنة"], { SILA_USER: "khalid", SILA_PASSWORD: "committee-pass-1" });
  const ctx = await chrome.newContext({ viewport: { width: 1366, height: 768 }, locale: "ar-SA" });
  const p = await ctx.newPage();
  await p.goto(`${hq.url}/console/`);
  await p.fill("#username", "khalid");
  await p.fill("#password", "committee-pass-1");
  await p.click('[data-testid="signin-submit"]');
  await p.click('[data-testid="nav-register"]');
  await p.locator('[data-testid="open-person"]').first().click();
  await p.locator('[data-testid="person-file"]').waitFor();
  assert.equal(await p.locator('[data-testid="edit-mobile-open"]').count(), 0, "no edit for the committee");
  assert.equal(await p.locator('[data-testid="export-register-csv"]').count(), 0);
  const refused = await p.evaluate(async () => {
    const me = await (await fetch("/console/api/me")).json();
    const r = await fetch(`/console/api/register/export/register.csv`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": me.csrf },
      body: "{}",
    });
    const e = await fetch(`/console/api/register/people/x/edit`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": me.csrf },
      body: JSON.stringify({ field: "city", value: "x" }),
    });
    return [r.status, e.status];
  });
  assert.deepEqual(refused, [403, 403]);
  await ctx.close();
});
