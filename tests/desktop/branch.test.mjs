// The branch, not the laptop (issue 10), end to end: two app instances (two data folders, two
// windows) with one real `sila-hq`. Laptop A is the branch's reception laptop (its store made and
// filled with `sila`, as a branch that has used Sila for a while); laptop B is a new laptop that
// joins the branch from the first-run screen over a slow link and watches the branch arrive. A
// person registered on A is found on B; the same person edited on both is a conflict with both
// values kept; the same case moved on both is refused on B with a clear reason; HQ is asked
// about an ID registered at another branch (and says nothing when it cannot be reached); an HQ
// newer than the app says "update Sila". Screenshots in target/desktop-e2e/branch-*.png.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Harness, SHOTS, makePdf, makePng, startHq } from "./harness.mjs";
import { sila, startLink } from "./link.mjs";

const BRANCH = "الأفلاج";
const A_USER = { user: "reception", password: "reception-pass-1", name: "نورة العتيبي" };
const B_USER = { user: "huda", password: "huda-pass-12345", name: "هدى القحطاني" };
// Enough of a branch that its arrival over the slow link takes a while, phase by phase.
const PEOPLE = 1500;

const tmp = (p) => mkdtempSync(join(tmpdir(), p));
const hqDir = tmp("sila-branch-hq-");
const aDir = tmp("sila-branch-a-");
const bDir = tmp("sila-branch-b-");
const otherDir = tmp("sila-branch-other-");
// Laptop A again after it was wiped: an empty data folder, its backup on the "stick".
const restoredDir = tmp("sila-branch-restored-");
const exportsA = tmp("sila-branch-exports-a-");
const exportsB = tmp("sila-branch-exports-b-");
const files = tmp("sila-branch-files-");
const hA = new Harness();
const hB = new Harness();
let hq, link, a, b;
const shot = (wd, name) => wd.screenshot(join(SHOTS, `branch-${name}.png`));

before(async () => {
  hq = await startHq(hqDir);
  // The reception laptop: a branch store with a history, bound to HQ and synced.
  sila(aDir, A_USER, "init", "--branch", BRANCH, "--display-name", A_USER.name);
  sila(aDir, A_USER, "demo-data", "--beneficiaries", String(PEOPLE));
  sila(aDir, A_USER, "enroll", "--hq", hq.url, "--code", hq.code(BRANCH));
  sila(aDir, A_USER, "sync");
  // Another branch, with one person whose ID the wizard at this branch will ask HQ about.
  const sheet = join(files, "marwan.csv");
  writeFileSync(sheet, "الاسم,رقم الهوية,الجوال,تاريخ الميلاد\nمنيرة سعد السبيعي,1000000016,0551112233,1405/03/01\n");
  sila(otherDir, A_USER, "init", "--branch", "مروان");
  sila(otherDir, A_USER, "import", sheet);
  sila(otherDir, A_USER, "enroll", "--hq", hq.url, "--code", hq.code("مروان"));
  sila(otherDir, A_USER, "sync");
  // Laptop B reaches HQ over a slow link: about 2G's download speed.
  link = await startLink(hq.url, { rate: 48 * 1024 });
  await hA.start(exportsA);
  await hB.start(exportsB);
  a = await hA.launch(aDir);
  b = await hB.launch(bDir);
});

after(async () => {
  await hA.stop();
  await hB.stop();
  link?.stop();
  hq?.stop();
  for (const d of [hqDir, aDir, bDir, otherDir, restoredDir, exportsA, exportsB, files]) rmSync(d, { recursive: true, force: true });
});

const signIn = async (wd, u) => {
  await wd.waitFor("[data-testid=sign-in]");
  await wd.type("#username", u.user);
  await wd.type("#password", u.password);
  await wd.click("[data-testid=sign-in-button]");
  await wd.waitFor("[data-testid=home]", 30000);
};
/** Wait until this laptop has nothing waiting for HQ and its last pass ended well. */
const synced = (wd) => wd.until("everything sent", `const s = document.querySelector('[data-testid=sync-area]');
  return s && s.dataset.state === 'online' && /^0 /.test(document.querySelector('[data-testid=sync-pending]')?.textContent ?? '')`, [], 60000);
const nextStep = async (wd, n) => {
  await wd.click("[data-testid=next]");
  await wd.until(`wizard step ${n}`, `return document.querySelector('[data-testid=wizard]')?.dataset.step === arguments[0]`, [String(n)]);
};
const draftSaved = (wd) => wd.until("the draft saved", `return document.querySelector('[data-testid=save-state]')?.dataset.state === 'saved'`);
const openPerson = async (wd, query) => {
  await wd.click("[data-testid=nav-beneficiaries]");
  await wd.type("[data-testid=beneficiary-search]", query);
  await wd.until("the person", `const r = document.querySelector('[data-testid=search-results]'); return r && r.dataset.query === arguments[0] && r.querySelector('[data-testid=beneficiary-row]')`, [query]);
  await wd.click("[data-testid=beneficiary-row]");
  await wd.click("[data-testid=open-person]");
  await wd.waitFor("[data-testid=person-details]");
};
const editMobile = async (wd, mobile) => {
  await wd.click("[data-testid=edit-person]");
  await wd.type("#identity-mobile", mobile);
  await wd.click("[data-testid=save-person]");
  await wd.waitFor("[data-testid=person-details]");
};

describe("two laptops of one branch", { concurrency: false }, () => {
  let caseNumber;
  it("laptop A registers a person through the wizard, and it reaches HQ", async () => {
    await signIn(a, A_USER);
    await a.click("[data-testid=nav-wizard]");
    await a.waitFor("[data-testid=wizard][data-step='0']");
    await a.choose("#channel", "interview");
    await nextStep(a, 1);
    await a.type("[data-testid=search-query]", "سلمان فهد الشمري");
    await a.click("[data-testid=new-beneficiary]");
    await a.waitFor("[data-testid=wizard][data-step='2']");
    await a.type("#identity-grandfather", "عبدالعزيز");
    await a.type("#identity-national_id", "1000000024");
    await a.type("#identity-birth_date", "1402/07/01");
    await a.type("#identity-mobile", "0553334444");
    await a.choose("#identity-gender", "male");
    await a.type("#identity-city", "الأفلاج");
    // Nobody at another branch has this ID: HQ says so.
    await a.waitFor("[data-testid=other-branches][data-state=none]", 20000);
    await nextStep(a, 3);
    await nextStep(a, 4);
    await a.choose("#support_type", "food_basket");
    await a.type("#need", "سلة غذائية شهرية");
    await nextStep(a, 5);
    const png = makePng(200, 120, 5);
    await a.attachFile("[data-testid=file-national_id]", "id.png", "image/png", png);
    await a.attachFile("[data-testid=file-family_card]", "card.pdf", "application/pdf", makePdf());
    await a.until("both scans stored", `return document.querySelectorAll('[data-testid^=doc-] img, [data-testid^=doc-] .pdf-badge').length === 2`);
    await a.click("[data-testid=seen-national_id]");
    await a.click("[data-testid=seen-family_card]");
    await draftSaved(a);
    await nextStep(a, 6);
    await a.click("[data-testid=sig-paper]");
    await a.attachFile("[data-testid=sig-file]", "signature.png", "image/png", png);
    await a.waitFor("[data-testid=wizard] img.thumb");
    await draftSaved(a);
    await nextStep(a, 7);
    await a.click("[data-testid=submit]");
    await a.waitFor("[data-testid=receipt]", 20000);
    caseNumber = await a.text("[data-testid=receipt-number]");
    await a.click("[data-testid=nav-home]");
    await synced(a);
  });

  it("laptop B joins the branch from the first-run screen and watches it arrive", async () => {
    await b.waitFor("[data-testid=first-run]");
    await b.click("[data-testid=first-run-join]");
    await b.waitFor("[data-testid=join-form]");
    const code = hq.code(BRANCH);
    await b.type("#join-hq_url", link.url);
    await b.type("#join-code", code);
    await b.type("#join-display_name", B_USER.name);
    await b.type("#join-username", B_USER.user);
    await b.type("#join-password", B_USER.password);
    await b.type("#join-again", B_USER.password);
    // HQ out of reach: said beside its address, in Arabic; nothing is made and the code stays usable.
    link.set("down");
    await b.click("[data-testid=join]");
    assert.match(await b.text("[data-testid=error-join-hq_url]"), /تعذر الوصول إلى المقر.*حاول مرة أخرى/);
    await shot(b, "09-join-hq-unreachable");
    assert.ok(await b.exec(`return !!document.querySelector('[data-testid=join-form]')`));
    link.set("up");
    // A code HQ never issued is refused beside its field, and nothing is made.
    await b.type("#join-code", "AAAA-BBBB-CCCC");
    await b.click("[data-testid=join]");
    assert.match(await b.text("[data-testid=error-join-code]"), /رمز التسجيل/);
    // The real code, typed in small letters: the branch's name comes from HQ.
    await b.type("#join-code", code.toLowerCase());
    await shot(b, "10-join");
    await b.click("[data-testid=join]");
    await b.waitFor("[data-testid=home]", 30000);
    assert.match(await b.text(".who"), new RegExp(BRANCH));
    // The branch arrives page by page: the phase, records done of all, a progress bar.
    await b.until("the branch arriving", `const c = document.querySelector('[data-testid=arrival-count]'); return c && /^[1-9]/.test(c.textContent)`, [], 60000);
    assert.equal(await b.exec(`return document.querySelector('[data-testid=branch-arrival]').dataset.usable`), "false");
    await shot(b, "11-arriving");
    // People and open cases in: the desk may serve people while closed history still comes.
    await b.waitFor("[data-testid=branch-arrival][data-usable=true]", 120000);
    assert.match(await b.text("[data-testid=arrival-usable]"), /يمكنك خدمة المستفيدين الآن/);
    await shot(b, "12-usable");
    await b.waitFor("[data-testid=branch-arrived]", 180000);
    await synced(b);
    const people = await b.exec(`return document.querySelector('[data-testid=home]').textContent.match(/([\\d,٬]+) مستفيد/)?.[1]`);
    assert.equal(Number(people.replace(/\D/g, "")), PEOPLE + 1);
    await shot(b, "13-arrived");
    link.rate = Infinity;
  });

  it("the person registered on laptop A is found on laptop B, under another spelling", async () => {
    const query = "سلمان فهد الشمرى";
    await b.click("[data-testid=nav-beneficiaries]");
    await b.type("[data-testid=beneficiary-search]", query);
    await b.until("the person from laptop A", `const r = document.querySelector('[data-testid=search-results]');
      return r && r.dataset.query === arguments[0] && [...r.querySelectorAll('[data-testid=beneficiary-row]')].some(b => b.textContent.includes('1000000024'))`, [query]);
    // The whole name as typed on A, each part in its field.
    assert.match(await b.text("[data-testid=beneficiary-row]"), /سلمان فهد عبدالعزيز الشمري/);
    await shot(b, "20-found");
  });

  it("the same person edited on both laptops: both values kept, waiting for HQ's decision", async () => {
    await openPerson(a, "1000000024");
    await openPerson(b, "1000000024");
    await editMobile(a, "0551110000");
    await a.click("[data-testid=nav-home]");
    await synced(a);
    // B edits the same field from the version it holds, before it has seen A's edit.
    await editMobile(b, "0552220000");
    await b.click("[data-testid=nav-home]");
    await b.waitFor("[data-testid=open-conflicts]", 60000);
    await b.click("[data-testid=open-sync-issues]");
    await b.waitFor("[data-testid=conflict][data-field=mobile]");
    assert.match(await b.text("[data-testid=conflict-hq]"), /0551110000|055 111 0000/);
    assert.match(await b.text("[data-testid=conflict-proposed]"), /0552220000|055 222 0000/);
    assert.match(await b.text("[data-testid=conflict-waiting]"), /بانتظار قرار المقر/);
    await shot(b, "30-conflict");
  });

  it("the same case moved on both laptops: B's move is refused with its reason, and B shows HQ's state", async () => {
    // Through the person (the cases list holds the branch's 1500 demo cases, drawn only where visible).
    const openCase = async (wd) => {
      await wd.click("[data-testid=nav-beneficiaries]");
      await wd.type("[data-testid=beneficiary-search]", "1000000024");
      await wd.until("the person", `const r = document.querySelector('[data-testid=search-results]'); return r && r.dataset.query === '1000000024' && r.querySelector('[data-testid=beneficiary-row]')`);
      await wd.click("[data-testid=beneficiary-row]");
      await wd.until("the person's cases", `return [...document.querySelectorAll('aside button.link')].some(b => b.textContent.includes(arguments[0]))`, [caseNumber]);
      await wd.exec(`[...document.querySelectorAll('aside button.link')].find(b => b.textContent.includes(arguments[0])).click()`, [caseNumber]);
      await wd.waitFor("[data-testid=case-file]");
    };
    await openCase(a);
    await openCase(b);
    await a.click("[data-testid=action-refer_to_research]");
    await a.type("[data-testid=action-note]", "الدخل غير موثق");
    await a.click("[data-testid=action-confirm]");
    await a.waitFor("[data-testid=case-file][data-state=in_research]");
    await a.click("[data-testid=nav-home]");
    await synced(a);
    // B still sees the case as submitted, and sends it to the committee.
    await b.waitFor("[data-testid=case-file][data-state=submitted]");
    await b.click("[data-testid=action-send_to_committee]");
    await b.click("[data-testid=action-confirm]");
    await b.waitFor("[data-testid=case-file][data-state=in_committee]");
    await b.click("[data-testid=nav-home]");
    await b.waitFor("[data-testid=refused-recently]", 60000);
    await b.click("[data-testid=open-sync-issues]");
    await b.waitFor("[data-testid=refused][data-reason=wrong_state]");
    assert.match(await b.text("[data-testid=refused][data-reason=wrong_state] [data-testid=refused-reason]"), /انتقل إلى حالة أخرى على جهاز آخر/);
    await shot(b, "40-refused");
    await b.click("[data-testid=refused][data-reason=wrong_state] [data-testid=issue-open]");
    await b.waitFor("[data-testid=case-file][data-state=in_research]", 30000);
  });

  it("the wizard asks HQ about an ID registered at another branch, and says so when HQ cannot be reached", async () => {
    await b.click("[data-testid=nav-wizard]");
    await b.waitFor("[data-testid=wizard][data-step='0']");
    await b.choose("#channel", "phone");
    await nextStep(b, 1);
    await b.type("[data-testid=search-query]", "1000000016");
    await b.waitFor("[data-testid=matches]");
    await b.click("[data-testid=new-beneficiary]");
    await b.waitFor("[data-testid=wizard][data-step='2']");
    assert.equal(await b.value("#identity-national_id"), "1000000016");
    await b.waitFor("[data-testid=other-branches][data-state=found]", 20000);
    assert.match(await b.text("[data-testid=other-branch]"), /مروان/);
    await shot(b, "50-other-branch");
    // HQ out of reach: the wizard says plainly that other branches were not checked.
    link.set("down");
    await b.type("#identity-national_id", "1000000032");
    await b.waitFor("[data-testid=other-branches][data-state=offline]", 30000);
    assert.match(await b.text("[data-testid=other-branches]"), /لم تُفحص الفروع الأخرى/);
    await shot(b, "51-other-branches-offline");
    link.set("up");
  });

  it("an HQ newer than this app: sync stops and home says to update Sila, the work kept", async () => {
    link.set("upgraded");
    await b.click("[data-testid=nav-home]");
    await b.click("[data-testid=sync-now]");
    await b.waitFor("[data-testid=update-required]", 60000);
    assert.match(await b.text("[data-testid=update-required]"), /تحديث صلة/);
    await shot(b, "60-update-required");
    link.set("up");
    await b.click("[data-testid=sync-now]");
    await b.until("the banner gone", `return !document.querySelector('[data-testid=update-required]')`, [], 60000);
  });

  it("an administrator saves a backup from the app; the wiped laptop restores it on first run and signs in", async () => {
    await a.click("[data-testid=nav-home]");
    await synced(a);
    await a.click("[data-testid=nav-data]");
    await a.waitFor("[data-testid=backup-place]");
    // The folder exports go to stands in for a USB stick (Xvfb has none plugged in).
    await a.exec(`[...document.querySelectorAll('[data-testid=backup-place]')].find(r => r.value === arguments[0]).click()`, [exportsA]);
    await a.click("[data-testid=backup-save]");
    await a.waitFor("[data-testid=backup-done]", 60000);
    const file = await a.text("[data-testid=backup-file]");
    assert.deepEqual(readdirSync(exportsA).filter((f) => f.endsWith(".silabackup")), [file]);
    const saved = (await a.text("[data-testid=backup-done]")).match(/([\d,٬]+) مستفيد/)?.[1] ?? "";
    assert.equal(Number(saved.replace(/\D/g, "")), PEOPLE + 1);
    await shot(a, "70-backup-saved");

    // The laptop is wiped and Sila starts on an empty data folder: the first-run screen finds the backup.
    await hA.wd.quit();
    a = await hA.launch(restoredDir);
    await a.waitFor("[data-testid=first-run]");
    await a.click("[data-testid=first-run-restore]");
    await a.waitFor("[data-testid=backup-found]", 30000);
    assert.match(await a.text("[data-testid=backups-found]"), new RegExp(file.replace(/[.]/g, "\\.")));
    // A wrong password opens nothing and says so in Arabic.
    await a.type("#restore-username", A_USER.user);
    await a.type("#restore-password", "not-the-password");
    await a.click("[data-testid=restore]");
    await a.until("the refusal", `return [...document.querySelectorAll('[role=alert]')].some(e => /كلمة المرور غير صحيحة/.test(e.textContent))`, [], 30000);
    assert.ok(await a.exec(`return !!document.querySelector('[data-testid=restore-form]')`));
    await a.type("#restore-password", A_USER.password);
    await shot(a, "71-restore");
    await a.click("[data-testid=restore]");
    await a.waitFor("[data-testid=home]", 60000);
    assert.match(await a.text(".who"), new RegExp(BRANCH));
    const people = await a.until("the people counted", `return document.querySelector('[data-testid=home]').textContent.match(/([\\d,٬]+) مستفيد/)?.[1]`);
    assert.equal(Number(people.replace(/\D/g, "")), PEOPLE + 1);
    // The restored laptop takes up where the backup left off with HQ.
    await synced(a);
    await shot(a, "72-restored");
    await openPerson(a, "1000000024");
    await shot(a, "73-restored-person");
  });
});
