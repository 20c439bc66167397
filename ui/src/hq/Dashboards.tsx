// Dashboards for management: per branch and per channel — intake, the lifecycle funnel,
// promised-date compliance, satisfaction (distribution and trend), complaints and suggestions —
// with CSV and Excel exports of the same figures.
import { useState } from "react";
import { Ltr } from "../shared/components";
import { get, qs, type BranchList, type Dashboard, type DashRow } from "./api";
import { useHq } from "./i18n";
import { CHANNELS, STATES, label } from "./labels";
import { Failure, useLoad } from "./common";
import { Bars, Columns } from "./charts";
import { VoicePanel } from "./Voice";
import { SurveyPanel } from "./Surveys";

export function Dashboards() {
  const { t, lang } = useHq();
  const [branch, setBranch] = useState("");
  const [channel, setChannel] = useState("");
  const { data: d, error } = useLoad(() => get<Dashboard>(`/dashboard${qs({ branch, channel })}`), [branch, channel]);
  const branches = useLoad(() => get<BranchList>("/branches"), []).data?.branches ?? [];
  const month = (m: string) => m.slice(2).replace("-", "/");
  return (
    <section data-testid="dashboards">
      <div className="between">
        <h1>{t("dashboards")}</h1>
        <div className="row">
          <a className="button secondary" href={`/console/api/export/dashboard.csv${qs({ branch, channel })}`} data-testid="export-csv">{t("exportCsv")}</a>
          <a className="button secondary" href={`/console/api/export/dashboard.xlsx${qs({ branch, channel })}`} data-testid="export-xlsx">{t("exportXlsx")}</a>
        </div>
      </div>
      <div className="row filters">
        <select aria-label={t("branch")} value={branch} onChange={(e) => setBranch(e.target.value)} data-testid="dash-branch">
          <option value="">{t("branch")}: {t("all")}</option>
          {branches.map((b) => <option key={b} value={b}>{b}</option>)}
        </select>
        <select aria-label={t("channel")} value={channel} onChange={(e) => setChannel(e.target.value)}>
          <option value="">{t("channel")}: {t("all")}</option>
          {Object.keys(CHANNELS).map((c) => <option key={c} value={c}>{label(CHANNELS, c, lang)}</option>)}
        </select>
      </div>
      <Failure error={error} />
      {!d ? (
        <p>{t("loading")}</p>
      ) : (
        <>
          <div className="grid2">
            <div className="card">
              <h2>{t("intake")}</h2>
              <Columns points={d.intake.slice(-18).map((c) => ({ label: month(c.key), value: c.n }))} testid="chart-intake" />
            </div>
            <div className="card">
              <h2>{t("funnel")}</h2>
              <Bars bars={d.funnel.map((c) => ({ label: label(STATES, c.key, lang), value: c.n }))} testid="chart-funnel" />
            </div>
          </div>
          <div className="grid2">
            <div className="card">
              <h2>{t("compliance")}</h2>
              <Bars
                testid="chart-compliance"
                bars={[
                  { label: t("decidedOnTime"), value: d.compliance.decided_on_time, tone: "ok" },
                  { label: t("decidedLate"), value: d.compliance.decided_late, tone: "danger" },
                  { label: t("waitingOnTrack"), value: d.compliance.waiting_on_track, tone: "ok" },
                  { label: t("waitingDueSoon"), value: d.compliance.waiting_due_soon, tone: "warn" },
                  { label: t("waitingOverdue"), value: d.compliance.waiting_overdue, tone: "danger" },
                ]}
              />
            </div>
            <div className="card">
              <h2>{t("satisfaction")}</h2>
              <Bars bars={[...d.satisfaction].reverse().map((c) => ({ label: "★".repeat(Number(c.key)), value: c.n }))} testid="chart-satisfaction" />
              <h3>{t("satisfactionTrend")}</h3>
              <Columns
                points={d.satisfaction_trend.slice(-12).map((m) => ({ label: month(m.month), value: m.n }))}
                line={d.satisfaction_trend.slice(-12).map((m) => m.mean)}
                testid="chart-trend"
              />
            </div>
          </div>
          <div className="card">
            <h2>
              {t("voice")}: {t("complaints")} <Ltr>{d.complaints}</Ltr> · {t("suggestions")} <Ltr>{d.suggestions}</Ltr>
            </h2>
            <div className="grid2">
              {(["complaint", "suggestion"] as const).map((purpose) => {
                const months = Array.from(new Set(d.voice.map((v) => v.key.split("/")[0]))).sort().slice(-12);
                return (
                  <div key={purpose}>
                    <h3>{purpose === "complaint" ? t("complaints") : t("suggestions")}</h3>
                    <Columns
                      testid={`chart-${purpose}`}
                      points={months.map((m) => ({ label: month(m), value: d.voice.find((v) => v.key === `${m}/${purpose}`)?.n ?? 0 }))}
                    />
                  </div>
                );
              })}
            </div>
          </div>
          <VoicePanel branch={branch} />
          <SurveyPanel branch={branch} channel={channel} />
          <Table title={t("byBranch")} rows={d.by_branch} keyLabel={(k) => k} testid="by-branch" />
          <Table title={t("byChannel")} rows={d.by_channel} keyLabel={(k) => label(CHANNELS, k, lang)} testid="by-channel" />
        </>
      )}
    </section>
  );
}

function Table({ title, rows, keyLabel, testid }: { title: string; rows: DashRow[]; keyLabel: (k: string) => string; testid: string }) {
  const { t } = useHq();
  return (
    <div className="card">
      <h2>{title}</h2>
      <table className="table numbers" data-testid={testid}>
        <thead>
          <tr>
            <th />
            <th>{t("intake")}</th>
            <th>{t("openCases")}</th>
            <th>{t("approved")}</th>
            <th>{t("rejected")}</th>
            <th>{t("decidedOnTime")}</th>
            <th>{t("decidedLate")}</th>
            <th>{t("overdue")}</th>
            <th>{t("surveys")}</th>
            <th>{t("mean")}</th>
            <th>{t("complaints")}</th>
            <th>{t("suggestions")}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.key}>
              <th>{keyLabel(r.key)}</th>
              {[r.intake, r.open, r.approved, r.rejected, r.decided_on_time, r.decided_late, r.waiting_overdue, r.surveys].map((n, i) => (
                <td key={i}><Ltr>{n}</Ltr></td>
              ))}
              <td><Ltr>{r.satisfaction?.toFixed(2) ?? "—"}</Ltr></td>
              <td><Ltr>{r.complaints}</Ltr></td>
              <td><Ltr>{r.suggestions}</Ltr></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
