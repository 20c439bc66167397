// The branch as a whole on this laptop (issue 10): the first-run choice of adding the laptop to a
// branch, the branch arriving with its progress, "update Sila", what sync left for a person
// (conflicts waiting for HQ, changes HQ refused), and HQ's answer about other branches in the
// wizard.
import { useEffect, useRef, useState } from "react";
import { api, asApiError, onSyncChanged } from "../shared/ipc";
import { useI18n } from "../shared/i18n";
import { opLabels, refusalLabels } from "../shared/i18n-branch";
import { DualDate, ErrorBox, Field, Ltr, Phone, fieldError } from "../shared/components";
import { formatTime, localDay, toLatinDigits } from "../shared/format";
import { nationalIdShape } from "../shared/validate";
import type { ApiError } from "../generated/ApiError";
import type { SessionInfo } from "../generated/SessionInfo";
import type { LookupDto } from "../generated/LookupDto";
import { useDesk } from "./context";

/** The first account of a laptop, asked for by both ways of starting that make one. */
type FirstAccount = { display_name: string; username: string; password: string; again: string };

/**
 * A first-run form that makes the laptop's first account (a new branch, or this laptop joining
 * one): its fields, the error of its last try, and a submit that waits while the passwords differ.
 */
export function useFirstRunForm<F extends FirstAccount>(initial: F, submit: (f: F) => Promise<SessionInfo>, onDone: (s: SessionInfo) => void) {
  const [f, setF] = useState(initial);
  const [err, setErr] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  // A field's error goes once the person changes that field: it spoke of the old value.
  const set = (k: keyof F & string) => (e: React.ChangeEvent<HTMLInputElement>) => {
    const v = e.target.value;
    setF((cur) => ({ ...cur, [k]: v }));
    setErr((x) => (x && x.fields.some((y) => y.field === k) ? { ...x, fields: x.fields.filter((y) => y.field !== k) } : x));
  };
  const differ = f.again !== "" && f.again !== f.password;
  const onSubmit = async (e: React.FormEvent) => {
    e.preventDefault();
    if (differ) return;
    setBusy(true);
    setErr(null);
    try {
      onDone(await submit(f));
    } catch (x) {
      setErr(asApiError(x));
    } finally {
      setBusy(false);
    }
  };
  return { f, set, err, busy, differ, onSubmit };
}

/** The first account's fields (its administrator on this laptop); `prefix` keeps each form's ids apart. */
export function FirstAccountFields({ prefix, f, set, err, differ }: {
  prefix: string;
  f: FirstAccount;
  set: (k: keyof FirstAccount) => (e: React.ChangeEvent<HTMLInputElement>) => void;
  err: ApiError | null;
  differ: boolean;
}) {
  const { t } = useI18n();
  return (
    <>
      <Field id={`${prefix}display_name`} label={t("displayName")} error={fieldError(err, "display_name")}>
        {(a) => <input {...a} value={f.display_name} onChange={set("display_name")} />}
      </Field>
      <Field id={`${prefix}username`} label={t("username")} error={fieldError(err, "username")}>
        {(a) => <input {...a} dir="ltr" value={f.username} onChange={set("username")} autoComplete="username" />}
      </Field>
      <Field id={`${prefix}password`} label={t("password")} error={fieldError(err, "password")}>
        {(a) => <input {...a} type="password" value={f.password} onChange={set("password")} autoComplete="new-password" />}
      </Field>
      <Field id={`${prefix}again`} label={t("passwordAgain")} error={differ ? t("passwordsDiffer") : null}>
        {(a) => <input {...a} type="password" value={f.again} onChange={set("again")} autoComplete="new-password" />}
      </Field>
      {err && err.fields.length === 0 && <ErrorBox error={err} />}
    </>
  );
}

/** Add this laptop to an existing branch: HQ's address, the code HQ issued, this laptop's first account. */
export function JoinForm({ onDone }: { onDone: (s: SessionInfo) => void }) {
  const { t } = useI18n();
  const { f, set, err, busy, differ, onSubmit } = useFirstRunForm(
    { hq_url: "", code: "", username: "", display_name: "", password: "", again: "" },
    (f) => api.joinBranch({ hq_url: f.hq_url, code: f.code, username: f.username, display_name: f.display_name, password: f.password }),
    onDone,
  );
  return (
    <form data-testid="join-form" onSubmit={onSubmit}>
      <p className="muted">{t("joinIntro")}</p>
      <Field id="join-hq_url" label={t("hqUrl")} error={fieldError(err, "hq_url")}>
        {(a) => <input {...a} dir="ltr" type="url" value={f.hq_url} placeholder="https://" onChange={set("hq_url")} autoFocus />}
      </Field>
      <Field id="join-code" label={t("enrollCode")} hint={t("enrollCodeHint")} error={fieldError(err, "code")}>
        {(a) => <input {...a} dir="ltr" value={f.code} autoComplete="off" onChange={set("code")} />}
      </Field>
      <h2>{t("joinAccount")}</h2>
      <p className="muted">{t("joinAccountHint")}</p>
      <FirstAccountFields prefix="join-" f={f} set={set} err={err} differ={differ} />
      <div className="row end">
        <button type="submit" disabled={busy} data-testid="join">{busy ? t("joining") : t("join")}</button>
      </div>
    </form>
  );
}

/**
 * What `load` answers (and its error), loaded again whenever the sync worker says its state
 * changed. `load` must be the same function each render (one of `api`'s).
 */
function useSyncLoaded<T>(load: () => Promise<T>): [T | null, ApiError | null] {
  const [value, setValue] = useState<T | null>(null);
  const [err, setErr] = useState<ApiError | null>(null);
  useEffect(() => {
    let alive = true;
    const run = () => load().then(
      (x) => { if (alive) { setValue(x); setErr(null); } },
      (e) => alive && setErr(asApiError(e)),
    );
    run();
    const unlisten = onSyncChanged(run);
    return () => {
      alive = false;
      unlisten.then((u) => u());
    };
  }, [load]);
  return [value, err];
}

/**
 * At the top of home: the branch arriving on this laptop (phase, records done of all, whether the
 * desk can serve people yet), "update Sila" when HQ is newer, and what sync left for a person.
 */
export function BranchNotices({ version }: { version?: string }) {
  const { t, lang } = useI18n();
  const { go } = useDesk();
  const [s] = useSyncLoaded(api.syncStatus);
  // Seen arriving in this visit: once it is all here, say so (instead of just disappearing).
  const sawArrival = useRef(false);
  if (!s) return null;
  const r = s.redownload;
  if (r) sawArrival.current = true;
  const n = (x: number) => x.toLocaleString(lang === "ar" ? "ar-SA-u-nu-latn" : "en");
  // The noun after a count takes the language's plural form (Arabic has six: "1 تعارض", "2 تعارضان"...).
  const plural = (x: number) => new Intl.PluralRules(lang).select(x) as "zero" | "one" | "two" | "few" | "many" | "other";
  const pct = r && r.total > 0 ? Math.min(100, Math.floor((r.done * 100) / r.total)) : 0;
  return (
    <>
      {s.error_code === "update_required" && (
        <section className="notice warn" role="alert" data-testid="update-required">
          <h2>{t("updateRequired")}</h2>
          <p>{t("updateRequiredText")}</p>
          {version && <p className="muted">{t("thisVersion")}: <Ltr>{version}</Ltr></p>}
        </section>
      )}
      {r && (
        <section className="card" aria-labelledby="arrival-h" data-testid="branch-arrival" data-usable={r.usable} data-phase={r.phase}>
          <h2 id="arrival-h">{t("branchArriving")}</h2>
          {r.total === 0 ? (
            <p className="muted">{t("branchPreparing")}</p>
          ) : (
            <>
              <p>
                {t(`phase_${r.phase}` as never) || r.phase}{" — "}
                {/* "done of total" in words: a slash between two numbers reads either way in Arabic. */}
                <Ltr testid="arrival-count">{n(r.done)}</Ltr> {t("ofTotal")} <Ltr>{n(r.total)}</Ltr> {t("records")} (<Ltr>{pct}%</Ltr>)
              </p>
              <progress max={r.total} value={r.done} aria-label={t("branchArriving")} />
            </>
          )}
          <p className={r.usable ? "notice" : "notice warn"} data-testid="arrival-usable">
            {r.usable ? t("branchUsable") : t("branchNotUsable")}
          </p>
        </section>
      )}
      {!r && sawArrival.current && (
        <p className="notice" role="status" data-testid="branch-arrived">
          {t("branchArrived")}
          {s.files_waiting > 0 && <> <Ltr>{n(s.files_waiting)}</Ltr> {t(`filesWaiting_${plural(s.files_waiting)}`)}.</>}
        </p>
      )}
      {s.lost_at_hq > 0 && (
        <p className="error" role="alert" data-testid="lost-at-hq">
          {t("lostAtHq")} <Ltr>{n(s.lost_at_hq)}</Ltr>{" "}
          <button className="link" onClick={() => go({ name: "sync_issues" })}>{t("issuesOpen")}</button>
        </p>
      )}
      {(s.open_conflicts > 0 || s.refused_recently > 0) && (
        <p className="notice warn row" data-testid="sync-issues-line">
          {s.open_conflicts > 0 && <span data-testid="open-conflicts"><Ltr>{n(s.open_conflicts)}</Ltr> {t(`issuesConflicts_${plural(s.open_conflicts)}`)}</span>}
          {s.open_conflicts > 0 && s.refused_recently > 0 && <span aria-hidden>·</span>}
          {s.refused_recently > 0 && <span data-testid="refused-recently"><Ltr>{n(s.refused_recently)}</Ltr> {t(`issuesRefused_${plural(s.refused_recently)}`)}</span>}
          <button className="link" data-testid="open-sync-issues" onClick={() => go({ name: "sync_issues" })}>{t("issuesOpen")}</button>
        </p>
      )}
    </>
  );
}

/** Conflicts of the branch (both values, waiting for HQ) and the changes HQ refused, with why. */
export function SyncIssues() {
  const { t, label, lang } = useI18n();
  const { go } = useDesk();
  const [issues, err] = useSyncLoaded(api.syncIssues);
  const open = (b: string | null, c: string | null) => {
    if (c) go({ name: "case", id: c });
    else if (b) go({ name: "person", id: b });
  };
  const subject = (x: { subject: string | null; beneficiary_id: string | null; case_id: string | null; entity: string }) =>
    x.subject && (x.case_id || x.beneficiary_id)
      ? <button className="link" data-testid="issue-open" onClick={() => open(x.beneficiary_id, x.case_id)}>{x.subject}</button>
      : <span>{x.subject ?? x.entity}</span>;
  // A mobile reads as it does everywhere else (055 111 0000), not as the bare digits the field holds.
  const value = (field: string, v: string) =>
    v === "" ? <span className="muted">{t("emptyValue")}</span>
      : field === "mobile" && /^05\d{8}$/.test(v) ? <Phone e164={`+966${v.slice(1)}`} />
      : <bdi>{v}</bdi>;
  return (
    <div data-testid="sync-issues">
      <h1 tabIndex={-1}>{t("syncIssuesTitle")}</h1>
      <p className="muted">{t("syncIssuesIntro")}</p>
      <ErrorBox error={err} />
      <section className="card" aria-labelledby="conflicts-h">
        <h2 id="conflicts-h">{t("conflictsTitle")}</h2>
        {issues && issues.conflicts.length === 0 && <p className="muted">{t("noConflicts")}</p>}
        <ul className="contacts">
          {issues?.conflicts.map((c) => (
            <li key={c.id} data-testid="conflict" data-field={c.field}>
              <div className="between">
                <strong>{subject(c)} · {label("field", c.field) || c.field}</strong>
                <span className="muted" data-testid="conflict-waiting">{t("waitingForHq")}</span>
              </div>
              <table className="conflict-values">
                <tbody>
                  <tr><th scope="row">{t("valueAtHq")}</th><td data-testid="conflict-hq">{value(c.field, c.at_hq)}</td></tr>
                  <tr><th scope="row">{c.proposed_here ? t("valueProposedHere") : t("valueProposedThere")}</th><td data-testid="conflict-proposed">{value(c.field, c.proposed)}</td></tr>
                </tbody>
              </table>
            </li>
          ))}
        </ul>
      </section>
      <section className="card" aria-labelledby="refused-h">
        <h2 id="refused-h">{t("refusedTitle")}</h2>
        {issues && issues.refused.length === 0 && <p className="muted">{t("noRefused")}</p>}
        <ul className="contacts">
          {issues?.refused.map((r) => (
            <li key={r.seq} data-testid="refused" data-reason={r.reason}>
              <div className="between">
                <strong>{opLabels[lang][r.op] ?? r.op} · {subject(r)}</strong>
                <span className="muted">
                  {t("madeAt")} <DualDate iso={localDay(r.created_at)} /> <Ltr>{formatTime(r.created_at)}</Ltr>
                </span>
              </div>
              <p className="error" data-testid="refused-reason">{refusalLabels[lang][r.reason] ?? refusalLabels[lang].other}</p>
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}

/** Answers already given in this window, so going back and forth in the wizard asks HQ once per ID. */
const asked = new Map<string, LookupDto>();

/**
 * In the wizard, once a valid national ID is typed: is it registered at another branch? HQ answers
 * where and since when, never the file; offline the wizard says plainly that other branches were
 * not checked.
 */
export function OtherBranches({ nationalId }: { nationalId: string }) {
  const { t } = useI18n();
  const id = toLatinDigits(nationalId).replace(/[\s-]/g, "");
  const valid = id !== "" && !nationalIdShape(id);
  const [answer, setAnswer] = useState<{ id: string; dto: LookupDto } | null>(null);
  useEffect(() => {
    if (!valid) return;
    const known = asked.get(id);
    if (known) { setAnswer({ id, dto: known }); return; }
    let live = true;
    const timer = setTimeout(() => {
      api.lookupNationalId(id).then((dto) => {
        // A failed question is asked again next time; an answer is kept.
        if (dto.state === "found" || dto.state === "none") asked.set(id, dto);
        if (live) setAnswer({ id, dto });
      }, () => {
        // Not a valid ID after all (its check digit): the identity step says so beside the field.
        if (live) setAnswer({ id, dto: { state: "invalid", registered: [], code: null } });
      });
    }, 400);
    return () => { live = false; clearTimeout(timer); };
  }, [id, valid]);
  if (!valid) return null;
  const a = answer?.id === id ? answer.dto : null;
  if (!a) return <p className="muted" data-testid="other-branches" data-state="checking" aria-live="polite">{t("otherBranchesChecking")}</p>;
  if (a.state === "invalid") return null;
  if (a.state === "found")
    return (
      <div className="notice warn" role="alert" data-testid="other-branches" data-state="found">
        <strong>{t("otherBranchesFound")}</strong>
        <ul>
          {a.registered.map((r) => (
            <li key={r.branch} data-testid="other-branch">{r.branch} — {t("otherBranchesSince")} <DualDate iso={r.since} /></li>
          ))}
        </ul>
        <p className="muted">{t("otherBranchesFoundHint")}</p>
      </div>
    );
  const text = a.state === "none" ? t("otherBranchesNone")
    : a.state === "not_enrolled" ? t("otherBranchesNotEnrolled")
    : a.state === "offline" ? t("otherBranchesOffline")
    : t("otherBranchesUnavailable");
  return <p className={a.state === "none" ? "muted" : "notice warn"} data-testid="other-branches" data-state={a.state} aria-live="polite">{text}</p>;
}
