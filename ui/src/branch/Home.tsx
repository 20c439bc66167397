// Home: my tasks, counts by state, the sync area, and the way into a new or unfinished intake.
import { useEffect, useState } from "react";
import { api, asApiError } from "../shared/ipc";
import { useI18n } from "../shared/i18n";
import { DualDate, ErrorBox, Ltr } from "../shared/components";
import type { HomeDto } from "../generated/HomeDto";
import type { SyncStatusDto } from "../generated/SyncStatusDto";
import type { ApiError } from "../generated/ApiError";
import { useDesk } from "./context";

export function Home() {
  const { t, label, lang } = useI18n();
  const { go, catalog } = useDesk();
  const [home, setHome] = useState<HomeDto | null>(null);
  const [err, setErr] = useState<ApiError | null>(null);
  useEffect(() => {
    api.home().then((h) => {
      setHome(h);
      // The benchmark waits for this: the home screen is drawn and answers input.
      requestAnimationFrame(() => api.uiReady("home"));
    }, (e) => setErr(asApiError(e)));
  }, []);
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
          <SyncArea />
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

/** The sync area: what the sync scheduler reports (not enrolled until the device is enrolled). */
function SyncArea() {
  const { t } = useI18n();
  const [s, setS] = useState<SyncStatusDto | null>(null);
  useEffect(() => {
    const load = () => api.syncStatus().then(setS, () => {});
    load();
    const timer = setInterval(load, 15_000);
    return () => clearInterval(timer);
  }, []);
  if (!s) return null;
  return (
    <section className="card" aria-labelledby="sync-h" data-testid="sync-area">
      <h2 id="sync-h">{t("syncTitle")}</h2>
      <p>{t(`sync_${s.state}` as never) || s.state}</p>
      <p className="muted"><Ltr>{s.pending_changes}</Ltr> {t("pendingChanges")}</p>
      {s.last_sync && <p className="muted">{t("lastSync")}: <Ltr>{s.last_sync}</Ltr></p>}
      {s.error && <p className="error">{s.error}</p>}
    </section>
  );
}
