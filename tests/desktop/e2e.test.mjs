// End-to-end tests of the real desktop app: the built binary in a real WebKitGTK window under
// Xvfb, driven by WebDriver through tauri-driver. Run: node --test tests/desktop/
// Screenshots of every wizard step and of the case file land in target/desktop-e2e/.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Harness, SHOTS, makePdf, makePng, startHq, writeFixture } from "./harness.mjs";

const h = new Harness();
const dataDir = mkdtempSync(join(tmpdir(), "sila-e2e-"));
const files = mkdtempSync(join(tmpdir(), "sila-e2e-files-"));
const idScan = writeFixture(files, "national-id.png", makePng(240, 150, 3));
const familyCard = writeFixture(files, "family-card.pdf", makePdf());
const ADMIN = { user: "admin", password: "sila-pass-1234", name: "نورة العتيبي" };
let wd;
// Every screenshot must be taken: the suite's pictures are what README shows.
const shot = (name) => wd.screenshot(join(SHOTS, `${name}.png`));
const hqDir = mkdtempSync(join(tmpdir(), "sila-e2e-hq-"));
const exportDir = mkdtempSync(join(tmpdir(), "sila-e2e-exports-"));
let hq;
const step = () => wd.exec(`return document.querySelector('[data-testid=wizard]')?.dataset.step ?? null`);
const next = async (expectStep) => {
  await wd.click("[data-testid=next]");
  await wd.until(`wizard step ${expectStep}`, `return document.querySelector('[data-testid=wizard]')?.dataset.step === arguments[0]`, [String(expectStep)]);
};
const saved = () => wd.until("the draft to be saved", `return document.querySelector('[data-testid=save-state]')?.dataset.state === 'saved'`);
/** Sync from home (again when a pass that began earlier ends without it) until `done` holds. */
async function syncUntil(what, done, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await wd.click("[data-testid=nav-home]");
    await wd.waitFor("[data-testid=sync-last]");
    const last = await wd.exec(`return document.querySelector('[data-testid=sync-last]').dataset.last`);
    await wd.until("sync free", `return !document.querySelector('[data-testid=sync-now]').disabled`, [], 60000);
    await wd.click("[data-testid=sync-now]");
    await wd.until("a pass after this one began", `return document.querySelector('[data-testid=sync-last]').dataset.last !== arguments[0]`, [last], 60000);
    if (await done()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}
/** A member of HQ's committee, signed in to the console (made on first use). */
let committeeSession;
const hqCommittee = async () => (committeeSession ??= await hq.consoleAs("salem", "committee-pass-1", "سالم الغامدي", "committee"));
/** The case IDs in HQ's committee queue. */
const committee = async () => (await (await hqCommittee()).get("/committee?limit=200")).rows.map((r) => r.case_id);

before(async () => {
  hq = await startHq(hqDir);
  await h.start(exportDir);
  wd = await h.launch(dataDir);
});

after(async () => {
  await h.stop();
  hq?.stop();
  rmSync(hqDir, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(files, { recursive: true, force: true });
  rmSync(exportDir, { recursive: true, force: true });
});

describe("the branch desktop app", { concurrency: false }, () => {
  it("first run creates the branch store and its administrator, then sign-out and sign-in", async () => {
    await wd.waitFor("[data-testid=first-run]");
    assert.equal(await wd.exec("return document.documentElement.dir"), "rtl");
    await wd.type("#branch", "الأفلاج");
    await wd.type("#display_name", ADMIN.name);
    await wd.type("#username", ADMIN.user);
    await wd.type("#password", ADMIN.password);
    await wd.type("#again", ADMIN.password);
    await shot("00-first-run");
    await wd.click("[data-testid=create]");
    await wd.waitFor("[data-testid=home]", 30000);
    await wd.click("[data-testid=sign-out]");
    await wd.waitFor("[data-testid=sign-in]");
    await wd.type("#username", ADMIN.user);
    await wd.type("#password", "wrong-password");
    await wd.click("[data-testid=sign-in-button]");
    await wd.waitFor("[data-testid=error-box]", 20000);
    await wd.type("#password", ADMIN.password);
    await shot("01-sign-in");
    await wd.click("[data-testid=sign-in-button]");
    await wd.waitFor("[data-testid=home]", 30000);
    await wd.waitFor("[data-testid=sync-area]");
    await shot("02-home");
  });

  it("an administrator enrols the device with HQ from the home screen; sync then runs by itself", async () => {
    await wd.waitFor("[data-testid=sync-area][data-state=not_enrolled]");
    await wd.waitFor("[data-testid=enroll-form]");
    // A wrong code is refused beside its field, in Arabic.
    await wd.type("#hq_url", hq.url);
    await wd.type("#enroll_code", "AAAA-BBBB-CCCC");
    await wd.click("[data-testid=enroll]");
    assert.match(await wd.text("[data-testid=error-enroll_code]"), /رمز التسجيل/);
    await wd.type("#enroll_code", hq.code("الأفلاج"));
    await wd.click("[data-testid=enroll]");
    // The first pass runs unasked; the area shows the last sync and nothing waiting.
    await wd.waitFor("[data-testid=sync-area][data-state=online]", 30000);
    await wd.until("the last sync shown", `return /آخر مزامنة: .*14[0-9][0-9]/.test(document.querySelector('[data-testid=sync-last]')?.textContent ?? '')`);
    assert.match(await wd.text("[data-testid=sync-pending]"), /^0 /);
    await wd.waitFor("[data-testid=sync-now]");
    await shot("03-home-synced");
  });

  let caseNumber;
  it("takes a full intake: household of three, two documents, a drawn signature, a receipt", async () => {
    await wd.click("[data-testid=nav-wizard]");
    await wd.waitFor("[data-testid=wizard][data-step='0']");
    // Errors appear beside their field, in Arabic.
    await wd.click("[data-testid=next]");
    assert.match(await wd.text("[data-testid=error-channel]"), /قناة/);
    await wd.choose("#channel", "interview");
    await wd.type("#reason", "تطلب مساعدة غذائية بعد وفاة العائل");
    await shot("10-wizard-channel");
    await next(1);

    await wd.type("[data-testid=search-query]", "محمد عبدالله الدوسري");
    await wd.waitFor("[data-testid=matches]");
    await shot("11-wizard-search");
    await wd.click("[data-testid=new-beneficiary]");
    await wd.waitFor("[data-testid=wizard][data-step='2']");
    // The search query became the name.
    assert.equal(await wd.value("#identity-first"), "محمد");
    assert.equal(await wd.value("#identity-father"), "عبدالله");
    assert.equal(await wd.value("#identity-family"), "الدوسري");
    await wd.type("#identity-grandfather", "سعد");
    await wd.type("#identity-national_id", "1000000009");
    await wd.type("#identity-birth_date", "1410/05/12");
    await wd.type("#identity-mobile", "0551234567");
    await wd.choose("#identity-gender", "male");
    await wd.type("#identity-city", "الأفلاج");
    await wd.click("[data-testid=next]");
    const idError = await wd.text("[data-testid=error-identity-national_id]");
    assert.match(idError, /رقم الهوية/);
    await shot("12-wizard-identity-error");
    await wd.type("#identity-national_id", "1000000008");
    await next(3);

    const members = [["فاطمة سالم", "spouse"], ["عبدالرحمن محمد", "son"], ["سارة محمد", "daughter"]];
    for (let i = 0; i < members.length; i++) {
      await wd.click("[data-testid=add-member]");
      await wd.type(`#household-${i}-name`, members[i][0]);
      await wd.choose(`#household-${i}-relation`, members[i][1]);
    }
    await wd.type("#household-1-birth_date", "1435/02/10");
    await wd.type("#monthly_income", "٣٥٠٠");
    await wd.choose("#housing", "rented");
    await wd.type("#annual_rent", "18000");
    await shot("13-wizard-household");
    await next(4);

    await wd.choose("#support_type", "food_basket");
    await wd.type("#need", "سلة غذائية شهرية لأسرة من أربعة أفراد");
    await shot("14-wizard-need");
    await next(5);

    await wd.attachFile("[data-testid=file-national_id]", "national-id.png", "image/png", readFileSync(idScan));
    await wd.attachFile("[data-testid=file-family_card]", "family-card.pdf", "application/pdf", readFileSync(familyCard));
    await wd.until("both scans stored", `return document.querySelectorAll('[data-testid^=doc-] img, [data-testid^=doc-] .pdf-badge').length === 2`);
    await wd.click("[data-testid=seen-national_id]");
    await wd.click("[data-testid=seen-family_card]");
    await saved();
    await shot("15-wizard-documents");
    await next(6);

    // The applicant signs on screen with the pointer.
    // (The pad is found again if React replaced it between finding and drawing.)
    for (let attempt = 0; ; attempt++) {
      const pad = await wd.waitFor("[data-testid=signature-pad]");
      const moves = [];
      for (let k = 0; k <= 24; k++) moves.push({ type: "pointerMove", duration: 10, origin: { "element-6066-11e4-a52e-4f735466cecf": pad }, x: -200 + k * 16, y: Math.round(30 * Math.sin(k / 2.5)) });
      try {
        await wd.actions([{
          type: "pointer", id: "pen", parameters: { pointerType: "mouse" },
          actions: [{ type: "pointerMove", duration: 0, origin: { "element-6066-11e4-a52e-4f735466cecf": pad }, x: -220, y: 0 }, { type: "pointerDown", button: 0 }, ...moves, { type: "pointerUp", button: 0 }],
        }]);
        break;
      } catch (e) {
        if (attempt >= 2 || !/stale element/.test(e.message)) throw e;
      }
    }
    await wd.waitFor("[data-testid=signature-kept]", 10000);
    assert.equal(await wd.text("[data-testid=employee-name]"), ADMIN.name);
    await saved();
    await shot("16-wizard-declaration");
    await next(7);
    await wd.waitFor("[data-testid=review]");
    await shot("17-wizard-review");
    await wd.click("[data-testid=submit]");
    await wd.waitFor("[data-testid=receipt]", 20000);
    caseNumber = await wd.text("[data-testid=receipt-number]");
    assert.match(caseNumber, /^AFL-[A-Z0-9]{3}-000001$/);
    assert.match(await wd.text("[data-testid=receipt-promise]"), /14\d\d/);
    await shot("18-receipt");
  });

  it("the submitted case reaches HQ in the background, with nobody pressing sync", async () => {
    const deadline = Date.now() + 60000;
    let cases = 0;
    while (Date.now() < deadline && (cases = hq.stats().cases) < 1) await new Promise((r) => setTimeout(r, 250));
    // On failure, say what the sync worker did (the app's log holds names of steps and codes only).
    const log = () => readFileSync(join(dataDir, "logs/desktop.log"), "utf8").split("\n").filter((l) => /sync|enroll/.test(l)).slice(-20).join("\n");
    assert.equal(cases, 1, `HQ holds the new case; the app's sync log:\n${cases === 1 ? "" : log()}`);
  });

  it("finds the beneficiary again under another spelling", async () => {
    await wd.click("[data-testid=nav-beneficiaries]");
    // "عبد الله" with a space, alef maqsura for ya: the store's Arabic search folds both.
    const query = "محمد عبد الله الدوسرى";
    await wd.type("[data-testid=beneficiary-search]", query);
    // The rows must be the answer to this very query, not the full list still showing while it runs.
    await wd.until("the match", `const r = document.querySelector('[data-testid=search-results]');
      return r && r.dataset.query === arguments[0] && [...r.querySelectorAll('[data-testid=beneficiary-row]')].some(b => b.textContent.includes('1000000008'))`, [query]);
    await shot("20-beneficiary-found");
    await wd.click("[data-testid=beneficiary-row]");
    await wd.until("the beneficiary's cases", `return [...document.querySelectorAll('aside button.link')].some(b => b.textContent.includes(arguments[0]))`, [caseNumber]);
    await wd.exec(`[...document.querySelectorAll('aside button.link')].find(b => b.textContent.includes(arguments[0])).click()`, [caseNumber]);
    await wd.waitFor("[data-testid=case-file][data-state=submitted]");
  });

  it("moves the case: refer to the researcher, research report, send to committee", async () => {
    await wd.click("[data-testid=action-refer_to_research]");
    await wd.click("[data-testid=action-confirm]");
    // A referral needs a reason: the error says so beside the field.
    await wd.waitFor("[data-testid=error-note]");
    await wd.type("[data-testid=action-note]", "الدخل غير موثق، يحتاج زيارة منزلية");
    await wd.click("[data-testid=action-confirm]");
    await wd.waitFor("[data-testid=case-file][data-state=in_research]");
    await wd.click("[data-testid=action-research_report]");
    await wd.type("#text", "زيارة منزلية: الأسرة تسكن بالإيجار ودخلها الضمان فقط. الحاجة قائمة.");
    await wd.type("#recommendation", "يوصى بالقبول");
    await wd.click("[data-testid=action-confirm]");
    await wd.waitFor("[data-testid=action-research_done]");
    await wd.click("[data-testid=action-research_done]");
    await wd.click("[data-testid=action-confirm]");
    await wd.waitFor("[data-testid=case-file][data-state=submitted]");
    await wd.click("[data-testid=action-send_to_committee]");
    await wd.click("[data-testid=action-confirm]");
    await wd.waitFor("[data-testid=case-file][data-state=in_committee]");
    const kinds = await wd.exec(`return [...document.querySelectorAll('[data-testid=timeline] li')].map(li => li.dataset.code)`);
    for (const k of ["submit", "refer_to_research", "research_report", "research_done", "send_to_committee", "national_id", "family_card"])
      assert.ok(kinds.includes(k), `timeline has ${k}: ${kinds}`);
    await shot("30-case-file");
    await wd.click("[data-testid=print-form]");
    await wd.waitFor("[data-testid=form-paper] img.sig", 10000);
    await shot("31-print-form");
  });

  it("keeps the wizard's draft when the app is killed mid-intake", async () => {
    await wd.click("[data-testid=nav-wizard]");
    await wd.waitFor("[data-testid=wizard][data-step='0']");
    await wd.choose("#channel", "phone");
    await next(1);
    await wd.type("[data-testid=search-query]", "خالد القحطاني");
    await wd.click("[data-testid=new-beneficiary]");
    await wd.waitFor("[data-testid=wizard][data-step='2']");
    await wd.type("#identity-national_id", "2000000002");
    await wd.type("#identity-mobile", "0509876543");
    await saved();
    await shot("40-before-kill");
    await h.killApp();

    wd = await h.launch(dataDir);
    await wd.waitFor("[data-testid=sign-in]");
    await wd.type("#username", ADMIN.user);
    await wd.type("#password", ADMIN.password);
    await wd.click("[data-testid=sign-in-button]");
    // The home screen lists the unfinished intake; "continue" opens it where it stopped.
    await wd.until("the draft listed", `return [...document.querySelectorAll('[data-testid=draft-name]')].some(e => e.textContent === 'خالد القحطاني')`);
    await wd.click("[data-testid=continue-draft]");
    await wd.waitFor("[data-testid=wizard][data-step='2']");
    assert.equal(await wd.value("#identity-first"), "خالد");
    assert.equal(await wd.value("#identity-family"), "القحطاني");
    assert.equal(await wd.value("#identity-national_id"), "2000000002");
    assert.equal(await wd.value("#identity-mobile"), "0509876543");
    assert.equal(await step(), "2");
    await shot("41-after-restart");
  });

  const signInAs = async (user, password) => {
    await wd.click("[data-testid=sign-out]");
    await wd.waitFor("[data-testid=sign-in]");
    await wd.type("#username", user);
    await wd.type("#password", password);
    await wd.click("[data-testid=sign-in-button]");
    await wd.waitFor("[data-testid=home]", 30000);
  };
  const draftNames = () => wd.exec(`return [...document.querySelectorAll('[data-testid=draft-name]')].map(e => e.textContent)`);
  const SARA = { user: "sara", password: "sara-pass-1234", name: "سارة الحربي" };

  it("keeps several drafts per person: a second applicant, discard with undo, hand-over to a colleague", async () => {
    // A second applicant interrupts the first: a new request is a second draft, the first stays.
    await wd.click("[data-testid=nav-wizard]");
    await wd.waitFor("[data-testid=wizard][data-step='0']");
    await wd.choose("#channel", "interview");
    await next(1);
    await wd.type("[data-testid=search-query]", "منيرة السبيعي");
    await saved();
    await wd.click("[data-testid=nav-home]");
    await wd.until("two drafts", `return document.querySelectorAll('[data-testid=draft]').length === 2`);
    assert.deepEqual(await draftNames(), ["«منيرة السبيعي»", "خالد القحطاني"]);
    await shot("42-home-two-drafts");

    // Discarding is one click, and undone as easily.
    await wd.exec(`[...document.querySelectorAll('[data-testid=draft]')].find(li => li.textContent.includes('منيرة')).querySelector('[data-testid=discard-draft]').click()`);
    await wd.waitFor("[data-testid=draft-discarded]");
    await wd.until("one draft left", `return document.querySelectorAll('[data-testid=draft]').length === 1`);
    await shot("43-draft-discarded-undo");
    await wd.click("[data-testid=undo-discard]");
    await wd.until("the draft back", `return document.querySelectorAll('[data-testid=draft]').length === 2`);

    // A colleague's account on the same laptop.
    await wd.click("[data-testid=nav-staff]");
    await wd.type("#staff-display", SARA.name);
    await wd.type("#staff-username", SARA.user);
    await wd.type("#staff-password", SARA.password);
    await wd.click("[data-testid=staff-add]");
    await wd.until("the colleague listed", `return document.querySelector('[data-testid=staff]').textContent.includes(arguments[0])`, [SARA.name]);

    // She sees none of the administrator's drafts.
    await signInAs(SARA.user, SARA.password);
    assert.equal(await wd.exec(`return document.querySelectorAll('[data-testid=draft]').length`), 0);

    // The administrator hands Khalid's request over to her.
    await signInAs(ADMIN.user, ADMIN.password);
    await wd.until("two drafts", `return document.querySelectorAll('[data-testid=draft]').length === 2`);
    await wd.exec(`[...document.querySelectorAll('[data-testid=draft]')].find(li => li.textContent.includes('خالد')).querySelector('[data-testid=hand-over-draft]').click()`);
    await wd.until("the colleague offered", `return [...document.querySelectorAll('[data-testid=hand-over-to] option')].some(o => o.value === arguments[0])`, [SARA.user]);
    await wd.choose("[data-testid=hand-over-to]", SARA.user);
    await shot("44-hand-over");
    await wd.click("[data-testid=hand-over-confirm]");
    await wd.until("one draft left", `return document.querySelectorAll('[data-testid=draft]').length === 1`);
    assert.deepEqual(await draftNames(), ["«منيرة السبيعي»"]);

    await signInAs(SARA.user, SARA.password);
    await wd.until("the handed-over draft", `return document.querySelectorAll('[data-testid=draft]').length === 1`);
    assert.deepEqual(await draftNames(), ["خالد القحطاني"]);
    assert.match(await wd.text("[data-testid=handed-by]"), new RegExp(ADMIN.name));
    await shot("45-handed-over-draft");
    await wd.click("[data-testid=continue-draft]");
    await wd.waitFor("[data-testid=wizard][data-step='2']");
    assert.equal(await wd.value("#identity-national_id"), "2000000002");
    await signInAs(ADMIN.user, ADMIN.password);
  });

  it("works tasks from the case file and from home: add, take, snooze, give to a colleague, done", async () => {
    const today = await wd.exec(`const d = new Date(); return d.getFullYear() + '/' + String(d.getMonth() + 1).padStart(2, '0') + '/' + String(d.getDate()).padStart(2, '0')`);
    await wd.click("[data-testid=nav-cases]");
    await wd.click("[data-testid=case-row]");
    await wd.waitFor("[data-testid=case-file]");
    await wd.click("[data-testid=add-task]");
    await wd.click("[data-testid=add-task-confirm]");
    // Nothing to do and no date: both said beside their fields.
    await wd.waitFor("[data-testid=error-task-note]");
    await wd.type("#task-note", "اتصل بالمستفيد لتأكيد موعد الزيارة المنزلية");
    await wd.type("#task-due", today);
    await wd.click("[data-testid=add-task-confirm]");
    await wd.until("the task in the case file", `return document.querySelectorAll('[data-testid=case-tasks] [data-testid=task][data-kind=follow_up]').length === 1`);
    assert.equal(await wd.exec(`return document.querySelector('[data-testid=case-tasks] [data-kind=follow_up]').dataset.when`), "today");
    await shot("50-case-file-tasks");

    // At home it is today's, in the pool until someone takes it.
    await wd.click("[data-testid=nav-home]");
    const task = "[data-testid=my-tasks] [data-testid=task][data-kind=follow_up]";
    await wd.waitFor(task);
    await wd.click(`${task} [data-testid=task-take]`);
    await wd.until("taken", `return document.querySelector(arguments[0] + ' [data-testid=task-owner]')?.textContent.includes('مسندة إليك')`, [task]);
    await wd.click(`${task} [data-testid=task-snooze]`);
    await wd.click(`${task} [data-testid=snooze-tomorrow]`);
    await wd.until("snoozed to tomorrow", `return document.querySelector(arguments[0])?.dataset.when === 'upcoming'`, [task]);
    assert.match(await wd.text(task), /مؤجلة إلى/);
    await shot("51-home-tasks");

    // Given to Sara: it leaves the administrator's list and is hers.
    await wd.click(`${task} [data-testid=task-assign]`);
    await wd.until("colleagues offered", `return [...document.querySelectorAll('[data-testid=assign-to] option')].some(o => o.value === 'sara')`);
    await wd.choose("[data-testid=assign-to]", "sara");
    await wd.click("[data-testid=assign-confirm]");
    await wd.until("gone from my tasks", `return !document.querySelector(arguments[0])`, [task]);
    await signInAs(SARA.user, SARA.password);
    await wd.waitFor(task);
    await wd.click(`${task} [data-testid=task-done]`);
    await wd.until("done", `return !document.querySelector(arguments[0])`, [task]);
    await signInAs(ADMIN.user, ADMIN.password);
  });

  it("after the committee's rejection: the decision is announced, and the survey starts empty", async () => {
    await wd.click("[data-testid=nav-cases]");
    await wd.click("[data-testid=case-row]");
    await wd.waitFor("[data-testid=case-file][data-state=in_committee]");
    const caseId = await wd.exec(`return document.querySelector('[data-testid=case-file]').dataset.caseId`);
    hq.decide(caseId, "reject", "الدخل يتجاوز حد الاستحقاق");
    // The decision reaches the branch by sync.
    await wd.click("[data-testid=nav-home]");
    await wd.click("[data-testid=sync-now]");
    await wd.until("the announce task", `return !!document.querySelector('[data-testid=my-tasks] [data-kind=announce_decision]')`, [], 60000);
    await wd.click("[data-testid=my-tasks] [data-kind=announce_decision] [data-testid=task-view]");
    await wd.waitFor("[data-testid=case-file][data-state=rejected]");

    await wd.click("[data-testid=action-survey]");
    assert.equal(await wd.exec(`return document.querySelectorAll('[data-testid=form-survey] input[type=radio]:checked').length`), 0, "no score is chosen for the beneficiary");
    await wd.click("[data-testid=action-confirm]");
    for (const k of ["overall", "speed", "courtesy", "clarity"]) await wd.waitFor(`[data-testid=error-${k}]`);
    await shot("60-survey-empty");
    for (const [k, n] of [["overall", 2], ["speed", 3], ["courtesy", 5], ["clarity", 2]])
      await wd.click(`[data-testid=score-${k}] input[value='${n}']`);
    await wd.type("#comment", "لم أفهم سبب الرفض");
    await wd.click("[data-testid=action-confirm]");
    await wd.until("the survey in the timeline", `return !!document.querySelector('[data-testid=timeline] li[data-kind=survey]')`);
    assert.match(await wd.text("[data-testid=timeline] li[data-kind=survey]"), /2\/3\/5\/2/);
    await shot("61-survey-recorded");
  });

  it("corrects the person's file from the case file; the timeline names the fields", async () => {
    await wd.click("[data-testid=nav-cases]");
    await wd.click("[data-testid=case-row]");
    await wd.waitFor("[data-testid=case-file]");
    await wd.click("[data-testid=case-edit-person]");
    await wd.waitFor("[data-testid=person-editor]");
    // Every field the wizard takes, the household included, as on file.
    assert.equal(await wd.value("#identity-national_id"), "1000000008");
    assert.equal(await wd.value("#identity-mobile"), "0551234567");
    assert.equal(await wd.exec(`return document.querySelectorAll('[data-testid^=member-]').length`), 3);
    await wd.type("#identity-mobile", "0559876543");
    await wd.type("#identity-city", "مروان");
    await wd.type("#identity-birth_date", "1500/01/01");
    await wd.click("[data-testid=save-person]");
    // The domain refuses a birth date in the future beside its field, and saves nothing.
    await wd.waitFor("[data-testid=error-identity-birth_date]");
    await shot("70-person-edit-error");
    await wd.type("#identity-birth_date", "1410/05/12");
    await wd.click("[data-testid=save-person]");
    await wd.waitFor("[data-testid=person-details]");
    assert.match(await wd.text("[data-testid=person-details]"), /مروان/);
    assert.match(await wd.text("[data-testid=person-edits]"), /الجوال/);
    await shot("71-person-file");
    await wd.click("[data-testid=person-file] button.link");
    await wd.until("the correction in the timeline", `return [...document.querySelectorAll('[data-testid=timeline] li[data-kind=edit]')].some(li => /المدينة/.test(li.textContent))`);
  });

  it("a reviewer at HQ changes the mobile in the register; the desk's timeline says so, with who", async () => {
    // The branch's own correction reaches HQ first.
    await syncUntil("nothing waiting to sync", () => wd.exec(`return /^0 /.test(document.querySelector('[data-testid=sync-pending]')?.textContent ?? '')`));
    const reviewer = await hq.consoleAs("reem", "hq-review-pass-1", "ريم الحربي", "reviewer");
    const found = await reviewer.post("/register", { q: "1000000008" });
    assert.equal(found.rows.length, 1);
    await reviewer.post(`/register/people/${found.rows[0].id}/edit`, { field: "mobile", value: "0553337788" });

    await syncUntil("HQ's edit in the case file's timeline", async () => {
      await wd.click("[data-testid=nav-cases]");
      await wd.click("[data-testid=case-row]");
      await wd.waitFor("[data-testid=case-file] [data-testid=timeline]");
      return wd.exec(`return !!document.querySelector('[data-testid=timeline] li[data-kind=edit][data-code=hq]')`);
    });
    const line = await wd.text("[data-testid=timeline] li[data-kind=edit][data-code=hq]");
    assert.match(line, /عُدّل في المقر: الجوال/);
    assert.match(line, /ريم الحربي/);
    assert.doesNotMatch(line, /333 ?7788/, "the timeline names the field, not the value");
    await wd.exec(`document.querySelector('[data-testid=timeline] li[data-code=hq]').scrollIntoView({block: 'center'})`);
    await shot("71a-hq-edit-in-timeline");
    assert.match(await wd.text("[data-testid=case-file]"), /055 333 7788/, "the file shows HQ's value");
  });

  it("logs a complaint by letter from home, with the letter attached, and answers it from the list", async () => {
    await wd.click("[data-testid=nav-complaints]");
    await wd.click("[data-testid=log-contact]");
    await wd.type("[data-testid=contact-who]", "الدوسري");
    await wd.click("[data-testid=contact-choose]");
    await wd.choose("#contact-channel", "letter");
    await wd.choose("#contact-purpose", "complaint");
    await wd.type("#contact-summary", "تأخر الرد على طلب السلة الغذائية");
    await wd.attachFile("[data-testid=contact-attach]", "letter.pdf", "application/pdf", readFileSync(familyCard));
    await wd.waitFor("[data-testid=contact-form] [data-testid=file-chip]");
    await shot("80-complaint-letter");
    await wd.click("[data-testid=contact-save]");
    await wd.waitFor("[data-testid=complaint][data-status=open]");
    // Someone not registered makes a suggestion by phone.
    await wd.click("[data-testid=log-contact]");
    await wd.click("[data-testid=contact-unregistered]");
    await wd.type("#contact_name", "متصل من مروان");
    await wd.choose("#contact-purpose", "suggestion");
    await wd.type("#contact-summary", "فتح المكتب مساء الخميس");
    await wd.click("[data-testid=contact-save]");
    await wd.until("two in the list", `return document.querySelectorAll('[data-testid=complaint]').length === 2`);
    // The letter opens inside the app.
    await wd.click("[data-testid=complaint] [data-testid=file-chip]");
    await wd.waitFor("[data-testid=viewer][data-mime='application/pdf'] [data-testid=viewer-pdf]");
    await shot("81-viewer-pdf");
    await wd.click("[data-testid=viewer-close]");
    // The answer closes the complaint, on time.
    await wd.exec(`[...document.querySelectorAll('[data-testid=complaint]')].find(li => li.textContent.includes('السلة')).querySelector('[data-testid=answer]').click()`);
    await wd.type("#contact-summary", "اعتذرنا وأبلغناه بموعد اللجنة");
    await wd.click("[data-testid=contact-save]");
    await wd.waitFor("[data-testid=complaint][data-status=on_time] [data-testid=complaint-answer]");
    await shot("82-complaints");
    await wd.click("[data-testid=filter-open]");
    await wd.until("only the open one", `return [...document.querySelectorAll('[data-testid=complaint]')].map(li => li.dataset.status).join() === 'open'`);
  });

  it("attaches a photo taken with the camera to a contact and shows it in the viewer", async () => {
    await wd.click("[data-testid=nav-cases]");
    await wd.click("[data-testid=case-row]");
    await wd.click("[data-testid=action-interaction]");
    await wd.click("[data-testid=contact-attach-camera]");
    await wd.waitFor("[data-testid=camera-take]:not([disabled])", 20000);
    await shot("83-camera");
    await wd.click("[data-testid=camera-take]");
    await wd.waitFor("[data-testid=contact-form] [data-testid=file-chip] img");
    await wd.type("#contact-summary", "صورة رسالة واتساب من المستفيد");
    await wd.click("[data-testid=contact-save]");
    await wd.until("the contact in the timeline with its photo", `return [...document.querySelectorAll('[data-testid=timeline] li[data-kind=interaction]')].some(li => li.textContent.includes('واتساب') && li.querySelector('[data-testid=file-chip] img'))`);
    // The newest contact's photo (the letter of the complaint, logged without a case, shows here too).
    await wd.exec(`[...document.querySelectorAll('[data-testid=timeline] li[data-kind=interaction]')].filter(li => li.textContent.includes('واتساب')).pop().querySelector('[data-testid=file-chip]').click()`);
    await wd.waitFor("[data-testid=viewer][data-mime^='image/'] [data-testid=viewer-image]");
    await shot("84-viewer-photo");
    await wd.click("[data-testid=viewer-close]");
  });

  it("imports an office's sheet from the app: preview, progress, refused rows; exports with 05 mobiles", async () => {
    const sheet = writeFixture(files, "مكتب مروان.csv", Buffer.from(
      "كشف مستفيدي مكتب مروان,,,\n" +
      "الاسم,رقم الهوية,الجوال,تاريخ الميلاد\n" +
      "منيرة سعد السبيعي,1000000016,0551112233,1405/03/01\n" +
      "خالد,,,\n" +
      "فهد ناصر العتيبي,1000000032,0502223344,1990-05-20\n" +
      "الإجمالي,3,,\n", "utf8"));
    await wd.click("[data-testid=nav-data]");
    await wd.attachFile("[data-testid=sheet-file]", "مكتب مروان.csv", "text/csv", readFileSync(sheet));
    await wd.waitFor("[data-testid=import-preview]");
    assert.match(await wd.text("[data-testid=recognised]"), /رقم الهوية/);
    assert.equal(await wd.exec(`return document.querySelectorAll('[data-testid=preview-rows] tr.refused').length`), 2);
    await shot("90-import-preview");
    await wd.click("[data-testid=import-run]");
    await wd.waitFor("[data-testid=import-result]", 30000);
    assert.equal(await wd.text("[data-testid=imported-count]"), "2");
    assert.equal(await wd.text("[data-testid=refused-count]"), "2");
    const codes = await wd.exec(`return [...document.querySelectorAll('[data-testid=refused-rows] tr[data-code]')].map(r => r.dataset.code)`);
    assert.deepEqual(codes, ["not_identifying", "not_a_person"]);
    const refused = await wd.text("[data-testid=refused-file]");
    assert.match(readFileSync(refused, "utf8"), /ليس مستفيداً/);
    await shot("91-import-result");
    await wd.click("[data-testid=export-csv]");
    await wd.waitFor("[data-testid=export-done]");
    const csv = readdirSync(exportDir).find((f) => /^sila-.*\.csv$/.test(f) && !f.includes("cases"));
    const text = readFileSync(join(exportDir, csv), "utf8");
    assert.match(text, /,0551112233,/);
    assert.doesNotMatch(text, /'\+966/);
    await shot("92-export");
  });

  it("merges two registrations of one person at the branch, and undoes it", async () => {
    await wd.click("[data-testid=nav-beneficiaries]");
    await wd.type("[data-testid=beneficiary-search]", "منيرة سعد السبيعي");
    await wd.until("the imported person", `const r = document.querySelector('[data-testid=search-results]'); return r && r.dataset.query === arguments[0] && r.querySelector('[data-testid=beneficiary-row]')`, ["منيرة سعد السبيعي"]);
    await wd.click("[data-testid=beneficiary-row]");
    await wd.click("[data-testid=open-person]");
    await wd.click("[data-testid=person-merge]");
    await wd.type("[data-testid=merge-search]", "فهد ناصر العتيبي");
    await wd.click("[data-testid=merge-choose]");
    await wd.waitFor("[data-testid=merge-table]");
    await wd.click("[data-testid=take-mobile]");
    await shot("93-merge");
    await wd.click("[data-testid=merge-confirm]");
    await wd.waitFor("[data-testid=merge-row][data-undone=false]");
    assert.match(await wd.text("[data-testid=person-details]"), /050 222 3344/);
    await wd.click("[data-testid=unmerge]");
    await wd.waitFor("[data-testid=merge-row][data-undone=true]");
    assert.match(await wd.text("[data-testid=person-details]"), /055 111 2233/);
    await shot("94-merge-undone");
  });

  it("a returning applicant's expired ID is caught at review and corrected in the wizard, then the request is submitted", async () => {
    await wd.click("[data-testid=nav-beneficiaries]");
    await wd.type("[data-testid=beneficiary-search]", "1000000008");
    await wd.until("the person", `const r = document.querySelector('[data-testid=search-results]'); return r && r.dataset.query === '1000000008' && r.querySelector('[data-testid=beneficiary-row]')`);
    await wd.click("[data-testid=beneficiary-row]");
    await wd.click("[data-testid=open-person]");
    // The ID on file has since expired.
    await wd.click("[data-testid=edit-person]");
    await wd.type("#identity-id_expiry", "2020-01-01");
    await wd.click("[data-testid=save-person]");
    await wd.waitFor("[data-testid=person-details]");
    await wd.click("[data-testid=person-new-request]");
    await wd.waitFor("[data-testid=wizard][data-step='0']");
    await wd.choose("#channel", "phone");
    await next(1);
    await next(2);
    // The identity step shows the file as it is, to be checked.
    assert.equal(await wd.value("#identity-national_id"), "1000000008");
    assert.equal(await wd.value("#identity-id_expiry"), "2020-01-01");
    await next(3);
    await next(4);
    await wd.choose("#support_type", "food_basket");
    await wd.type("#need", "سلة غذائية لشهر رمضان");
    await next(5);
    await wd.attachFile("[data-testid=file-national_id]", "national-id.png", "image/png", readFileSync(idScan));
    await wd.attachFile("[data-testid=file-family_card]", "family-card.pdf", "application/pdf", readFileSync(familyCard));
    await wd.until("both scans stored", `return document.querySelectorAll('[data-testid^=doc-] img, [data-testid^=doc-] .pdf-badge').length === 2`);
    await wd.click("[data-testid=seen-national_id]");
    await wd.click("[data-testid=seen-family_card]");
    await saved();
    await next(6);
    await wd.click("[data-testid=sig-paper]");
    await wd.attachFile("[data-testid=sig-file]", "signature.png", "image/png", readFileSync(idScan));
    await wd.waitFor("[data-testid=wizard] img.thumb");
    await saved();
    await next(7);
    // Review checks what must hold at submission: the expired ID is named beside its field.
    await wd.click("[data-testid=submit]");
    await wd.until("the expiry refused", `return /منتهية/.test(document.querySelector('[data-testid=review]')?.textContent ?? '')`);
    await shot("72-returning-expired-id");
    await wd.exec(`[...document.querySelectorAll('[data-testid=review] button.link')][0].click()`);
    await wd.waitFor("[data-testid=wizard][data-step='2']");
    await wd.type("#identity-id_expiry", "1452/01/01");
    await saved();
    for (const n of [3, 4, 5, 6, 7]) await next(n);
    await wd.click("[data-testid=submit]");
    await wd.waitFor("[data-testid=receipt]", 20000);
    await shot("73-returning-receipt");
  });

  it("returned as incomplete by the committee: the missing document is added from the file, the request resubmitted, HQ has it back", async () => {
    await wd.click("[data-testid=open-case]");
    await wd.waitFor("[data-testid=case-file][data-state=submitted]");
    const caseId = await wd.exec(`return document.querySelector('[data-testid=case-file]').dataset.caseId`);
    await wd.click("[data-testid=action-send_to_committee]");
    await wd.click("[data-testid=action-confirm]");
    await wd.waitFor("[data-testid=case-file][data-state=in_committee]");
    await syncUntil("HQ holding the request with its committee", async () => (await committee()).includes(caseId));

    // The committee at HQ asks for a document the checklist did not list.
    hq.decide(caseId, "return_incomplete", "تنقص شهادة الآيبان لصرف الإعانة");
    await syncUntil("the request returned at the branch", async () => {
      await wd.click("[data-testid=nav-cases]");
      await wd.click(`[data-testid=case-row][data-case-id='${caseId}']`);
      await wd.waitFor("[data-testid=case-file]");
      return wd.exec(`return document.querySelector('[data-testid=case-file]').dataset.state === 'incomplete'`);
    });
    assert.match(await wd.text("[data-testid=timeline]"), /تنقص شهادة الآيبان/, "the committee's note is in the timeline");
    // The note also heads the documents, where the missing one is added.
    await wd.waitFor("[data-testid=case-documents] [data-testid=return-note]");
    assert.equal(await wd.text("[data-testid=return-note-text]"), "تنقص شهادة الآيبان لصرف الإعانة");
    assert.ok(await wd.exec(`const docs = document.querySelector('[data-testid=case-documents]');
      return docs.querySelector('[data-testid=return-note]') === docs.querySelector('h2').nextElementSibling`), "the note is the first thing under the documents' title");
    await wd.exec(`document.querySelector('[data-testid=case-documents]').scrollIntoView({block: 'start'})`);
    await shot("74-returned-incomplete");

    await wd.choose("[data-testid=add-document-type]", "bank_iban");
    await wd.attachFile("[data-testid=add-document-file]", "iban.pdf", "application/pdf", makePdf());
    await wd.waitFor("[data-testid=case-doc-bank_iban][data-attached=true]");
    await wd.click("[data-testid=case-seen-bank_iban]");
    await wd.waitFor("[data-testid=case-doc-bank_iban][data-seen=true]");
    await wd.exec(`document.querySelector('[data-testid=case-doc-bank_iban]').scrollIntoView({block: 'center'})`);
    await shot("75-missing-document-attached");
    await wd.click("[data-testid=action-resubmit]");
    await wd.click("[data-testid=action-confirm]");
    await wd.waitFor("[data-testid=case-file][data-state=submitted]");
    assert.equal(await wd.exec(`return document.querySelector('[data-testid=return-note]')`), null, "resubmitted: the note is gone from the documents");
    await wd.click("[data-testid=action-send_to_committee]");
    await wd.click("[data-testid=action-confirm]");
    await wd.waitFor("[data-testid=case-file][data-state=in_committee]");
    await shot("76-resubmitted");
    // Back in the committee's queue at HQ, with the document it asked for.
    await syncUntil("the request back in HQ's committee queue", async () => (await committee()).includes(caseId));
    const file = await (await hqCommittee()).get(`/cases/${caseId}`);
    assert.ok(JSON.stringify(file).includes("bank_iban"), "HQ's file has the added document");
  });

  it("an administrator compacts the store from the staff screen, and work goes on", async () => {
    const counts = "document.querySelector('[data-testid=counts]')?.textContent ?? null";
    await wd.click("[data-testid=nav-home]");
    await wd.waitFor("[data-testid=counts]");
    const before = await wd.exec(`return ${counts}`);
    await wd.click("[data-testid=nav-staff]");
    await wd.click("[data-testid=compact]");
    await wd.waitFor("[data-testid=compacted]", 60000);
    await shot("50-store-compacted");
    // Home reads the compacted file: the same counts, every request still there.
    await wd.click("[data-testid=nav-home]");
    await wd.until("home's counts, as before", `return (${counts}) === arguments[0]`, [before]);
  });
});
