// Home: my tasks, counts by state, the sync area, and the way into a new or unfinished intake.
import { useEffect, useRef, useState } from "react";
import { api, asApiError, onSyncChanged } from "../shared/ipc";
import { useI18n } from "../shared/i18n";
import { DualDate, ErrorBox, Field, Ltr } from "../shared/components";
import { formatTime, localDay } from "../shared/format";
import type { HomeDto } from "../generated/HomeDto";
import type { SyncStatusDto } from "../generated/SyncStatusDto";
import type { ApiError } from "../generated/ApiError";
import { useDesk } from "./context";

export function Home() {
  const { t, label, lang } = useI18n();
  const { go, catalog } = useDesk();
  const [home, setHome] = useState<HomeDto | null>(null);
  const [err, setErr] = useState<ApiError | null>(null);
  // The sync worker's data version: it moves when tasks were brought up to date or rows came
  // from HQ, and the tasks and counts are loaded again.
  const [dataVersion, setDataVersion] = useState(0);
  const first = useRef(true);
  useEffect(() => {
    let alive = true;
    api.home().then((h) => {
      if (!alive) return;
      setHome(h);
      // The benchmark waits for this: the home screen is drawn and answers input.
      if (first.current) requestAnimationFrame(() => api.uiReady("home"));
      first.current = false;
    }, (e) => alive && setErr(asApiError(e)));
    return () => { alive = false; };
  }, [dataVersion]);
  if (!home) return <><h1 tabIndex={-1}>{t("home")}</h1><ErrorBox error={err} />{!err && <p>{t("loading")}</p>}</>;
  const stateName = (code: string) => label("state", code, catalog.states.find((s) => s.code === code)?.ar);
  const groups: [string, string][] = [["overdue", t("overdue")], ["today", t("today")], ["upcoming", t("upcoming")]];
  return (
    <div data-testid="home">
      <div className="between">
        <h1 tabIndex={-1}>{t("home")}</h1>
        <div className="row">
          {home.has_intake_draft && (
            <button onClick={() => go({ name: "wizard" })} data-testid="resume-intake">{t("resumeIntake")}</button>
          )}
          <button className={home.has_intake_draft ? "secondary" : ""} onClick={() => go({ name: "wizard" })} data-testid="new-intake">
            {t("newIntake")}
          </button>
        </div>
      </div>
      <div className="grid3">
        <section className="card" aria-labelledby="tasks-h">
          <h2 id="tasks-h">{t("myTasks")} <span className="muted">(<Ltr>{home.tasks.length}</Ltr>)</span></h2>
          {home.tasks.length === 0 && <p className="muted">{t("noTasks")}</p>}
          {groups.map(([when, title]) => {
            const list = home.tasks.filter((x) => x.when === when);
            if (list.length === 0) return null;
            return (
              <div key={when}>
                <h3 className={when === "overdue" ? "badge overdue" : ""}>{title}</h3>
                <ul className="tasks">
                  {list.map((task) => (
                    <li key={task.id}>
                      <span>
                        <strong>{label("task", task.kind, catalog.task_kinds.find((k) => k.code === task.kind)?.ar)}</strong>
                        {" — "}{task.beneficiary_name}
                        {task.case_number && <> · <Ltr>{task.case_number}</Ltr></>}
                        {task.channel && <span className="muted"> · {label("channel", task.channel, catalog.channels.find((c) => c.code === task.channel)?.ar)}</span>}
                      </span>
                      <span className="row">
                        <DualDate iso={task.due_on} />
                        {task.case_id && (
                          <button className="secondary" onClick={() => go({ name: "case", id: task.case_id! })}>{t("view")}</button>
                        )}
                      </span>
                    </li>
                  ))}
                </ul>
              </div>
            );
          })}
        </section>
        <div>
          <SyncArea onDataVersion={setDataVersion} />
          <section className="card" aria-labelledby="counts-h">
            <h2 id="counts-h">{t("countsByState")}</h2>
            <p className="muted">
              <Ltr>{home.beneficiaries.toLocaleString(lang === "ar" ? "ar-SA-u-nu-latn" : "en")}</Ltr> {t("beneficiariesCount")} ·{" "}
              <Ltr>{home.cases.toLocaleString(lang === "ar" ? "ar-SA-u-nu-latn" : "en")}</Ltr> {t("casesCount")}
            </p>
            <div className="counts" data-testid="counts">
              {catalog.states.map((s) => {
                const n = home.counts.find((c) => c.state === s.code)?.count ?? 0;
                return (
                  <button key={s.code} onClick={() => go({ name: "cases", filter: { state: s.code } })}>
                    <span className="n"><Ltr>{n}</Ltr></span>{stateName(s.code)}
                  </button>
                );
              })}
            </div>
          </section>
        </div>
      </div>
    </div>
  );
}

/**
 * The sync area: what the background worker and the store say (state, last sync, changes waiting,
 * the error in Arabic), "sync now", and, for an administrator on a device not yet enrolled, the
 * enrolment form (HQ's address and the one-time code).
 */
function SyncArea({ onDataVersion }: { onDataVersion: (v: number) => void }) {
  const { t, lang } = useI18n();
  const [s, setS] = useState<SyncStatusDto | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    let alive = true;
    const load = () => api.syncStatus().then((x) => {
      if (!alive) return;
      setS(x);
      onDataVersion(x.data_version);
    }, () => {});
    load();
    const unlisten = onSyncChanged(load);
    // The countdown to the next attempt, and a safety net should an event be missed.
    const timer = setInterval(load, 5_000);
    return () => {
      alive = false;
      clearInterval(timer);
      unlisten.then((u) => u());
    };
  }, []);
  if (!s) return null;
  const busyState = s.state === "syncing" || s.state === "probing" || s.state === "starting";
  return (
    <section className="card" aria-labelledby="sync-h" data-testid="sync-area" data-state={s.state}>
      <div className="between">
        <h2 id="sync-h">{t("syncTitle")}</h2>
        {s.enrolled && (
          <button className="secondary" disabled={busy || s.state === "syncing"} data-testid="sync-now"
            onClick={async () => {
              setBusy(true);
              try { setS(await api.syncNow()); } finally { setBusy(false); }
            }}>
            {t("syncNow")}
          </button>
        )}
      </div>
      <p data-testid="sync-state" className={busyState ? "muted" : ""}>{t(`sync_${s.state}` as never) || s.state}</p>
      {s.error && <p className="error" role="alert" data-testid="sync-error">{s.error}</p>}
      <p className="muted" data-testid="sync-pending"><Ltr>{s.pending_changes.toLocaleString(lang === "ar" ? "ar-SA-u-nu-latn" : "en")}</Ltr> {t("pendingChanges")}</p>
      {s.enrolled && (
        <p className="muted" data-testid="sync-last">
          {t("lastSync")}: {s.last_sync ? <><DualDate iso={localDay(s.last_sync)} /> <Ltr>{formatTime(s.last_sync)}</Ltr></> : t("neverSynced")}
        </p>
      )}
      {s.state === "offline" && s.next_attempt_seconds != null && (
        <p className="muted">{t("nextAttempt")} <Ltr>{s.next_attempt_seconds}</Ltr> {t("seconds")}</p>
      )}
      {s.can_enroll && <EnrollForm onDone={setS} />}
    </section>
  );
}

function EnrollForm({ onDone }: { onDone: (s: SyncStatusDto) => void }) {
  const { t } = useI18n();
  const [url, setUrl] = useState("");
  const [code, setCode] = useState("");
  const [err, setErr] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const fieldError = (f: string) => err?.fields.find((x) => x.field === f)?.message ?? null;
  return (
    <form data-testid="enroll-form" onSubmit={async (e) => {
      e.preventDefault();
      setBusy(true);
      setErr(null);
      try {
        onDone(await api.enroll({ hq_url: url, code }));
      } catch (x) {
        setErr(asApiError(x));
      } finally {
        setBusy(false);
      }
    }}>
      <h3>{t("enrollTitle")}</h3>
      <Field id="hq_url" label={t("hqUrl")} error={fieldError("hq_url")}>
        {(a) => <input {...a} dir="ltr" type="url" value={url} placeholder="https://" onChange={(e) => setUrl(e.target.value)} />}
      </Field>
      <Field id="enroll_code" label={t("enrollCode")} hint={t("enrollCodeHint")} error={fieldError("code")}>
        {(a) => <input {...a} dir="ltr" value={code} autoComplete="off" onChange={(e) => setCode(e.target.value)} />}
      </Field>
      {err && err.fields.length === 0 && <ErrorBox error={err} />}
      <button type="submit" disabled={busy} data-testid="enroll">{busy ? t("enrolling") : t("enroll")}</button>
    </form>
  );
}
