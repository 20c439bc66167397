// Satisfaction survey scores on the dashboards: every question (not only the overall score), per
// branch, per channel, per service and per employee, how many gave each score, and the export.
import { Ltr } from "../shared/components";
import { get, qs, type Question, type ScoreRow, type SurveyScores } from "./api";
import { useHq, type HqKey } from "./i18n";
import { CHANNELS, label } from "./labels";
import { Failure, useCatalogName, useLoad } from "./common";

const QUESTIONS: Question[] = ["overall", "speed", "courtesy", "clarity"];

export function SurveyPanel({ branch, channel }: { branch: string; channel: string }) {
  const { t, lang } = useHq();
  const service = useCatalogName();
  const { data: s, error } = useLoad(() => get<SurveyScores>(`/surveys${qs({ branch, channel })}`), [branch, channel]);
  const unknown = (f: (k: string) => string) => (k: string) => (k ? f(k) : t("unknown"));
  return (
    <div className="card" data-testid="survey-panel">
      <div className="between">
        <h2>{t("surveyScores")}</h2>
        <div className="row">
          <a className="button secondary" href={`/console/api/surveys/export/surveys.csv${qs({ branch, channel })}`} data-testid="export-surveys-csv">{t("exportCsv")}</a>
          <a className="button secondary" href={`/console/api/surveys/export/surveys.xlsx${qs({ branch, channel })}`} data-testid="export-surveys-xlsx">{t("exportXlsx")}</a>
        </div>
      </div>
      <Failure error={error} />
      {s && (
        <>
          <h3>{t("distribution")}</h3>
          <table className="table numbers distribution" data-testid="scores-distribution">
            <thead>
              <tr>
                <th />
                {[1, 2, 3, 4, 5].map((n) => <th key={n} aria-label={String(n)}><Ltr>{n}</Ltr> ★</th>)}
                <th>{t("answers")}</th>
                <th>{t("mean")}</th>
              </tr>
            </thead>
            <tbody>
              {QUESTIONS.map((q) => (
                <tr key={q} data-testid={`question-${q}`}>
                  <th>{t(`q_${q}` as HqKey)}</th>
                  {s.distribution[q].map((n, i) => <td key={i}><Ltr>{n}</Ltr></td>)}
                  <td><Ltr>{s.distribution[q].reduce((a, b) => a + b, 0)}</Ltr></td>
                  <td className={s.total[q] !== null && s.total[q]! < 3 ? "bad" : ""}><strong><Ltr>{s.total[q]?.toFixed(2) ?? "—"}</Ltr></strong></td>
                </tr>
              ))}
            </tbody>
          </table>
          <Scores title={t("byBranch")} rows={s.by_branch} name={(r) => r.key} testid="scores-branch" />
          <Scores title={t("byChannel")} rows={s.by_channel} name={(r) => unknown((k) => label(CHANNELS, k, lang))(r.key)} testid="scores-channel" />
          <Scores title={t("byService")} rows={s.by_service} name={(r) => unknown((k) => service("support", k))(r.key)} testid="scores-service" />
          <Scores title={t("byEmployee")} rows={s.by_employee} name={(r) => r.label || unknown((k) => k)(r.key)} testid="scores-employee" />
        </>
      )}
    </div>
  );
}

function Scores({ title, rows, name, testid }: { title: string; rows: ScoreRow[]; name: (r: ScoreRow) => string; testid: string }) {
  const { t } = useHq();
  return (
    <>
      <h3>{title}</h3>
      <table className="table numbers" data-testid={testid}>
        <thead>
          <tr>
            <th />
            <th>{t("answers")}</th>
            {QUESTIONS.map((q) => <th key={q}>{t(`q_${q}` as HqKey)}</th>)}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.key}>
              <th>{name(r)}</th>
              <td><Ltr>{r.n}</Ltr></td>
              {QUESTIONS.map((q) => (
                <td key={q} className={r[q] !== null && r[q]! < 3 ? "bad" : ""}><Ltr>{r[q]?.toFixed(2) ?? "—"}</Ltr></td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
