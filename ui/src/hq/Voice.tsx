// Complaints and suggestions from every branch, on the dashboards: how many are open, overdue,
// answered on time and answered late (the due date is each branch's policy), per branch, and the
// list a person opens to read what was said and the answer given.
import { useState } from "react";
import { DualDate, Ltr } from "../shared/components";
import { get, qs, type VoiceItem, type VoicePage, type VoiceStatus } from "./api";
import { useHq, type HqKey } from "./i18n";
import { CHANNELS, label } from "./labels";
import { Failure, useLoad, when } from "./common";

const STATUSES: VoiceStatus[] = ["overdue", "open", "on_time", "late"];
const TONE: Record<VoiceStatus, string> = { overdue: "danger", open: "warn", on_time: "ok", late: "danger" };

export function VoiceStatusBadge({ s }: { s: VoiceStatus }) {
  const { t } = useHq();
  return <span className={`badge ${TONE[s]}`} data-testid="voice-status">{t(`status_${s}` as HqKey)}</span>;
}

export function VoicePanel({ branch }: { branch: string }) {
  const { t, lang } = useHq();
  const [kind, setKind] = useState("");
  const [status, setStatus] = useState("waiting");
  const [offset, setOffset] = useState(0);
  const [opened, setOpened] = useState<string | null>(null);
  const { data, error } = useLoad(
    () => get<VoicePage>(`/voice${qs({ branch, kind, status, offset, limit: 20 })}`),
    [branch, kind, status, offset],
  );
  const counts = (data?.counts ?? []).filter((c) => c.key !== "");
  const keys = Array.from(new Set(counts.map((c) => c.key)));
  const cell = (key: string, k: string, s: VoiceStatus) => counts.find((c) => c.key === key && c.kind === k)?.[s] ?? 0;
  return (
    <div className="card" data-testid="voice-panel">
      <h2>{t("voice")}: {t("answerStatus")}</h2>
      <Failure error={error} />
      {data && (
        <table className="table numbers" data-testid="voice-counts">
          <thead>
            <tr>
              <th rowSpan={2}>{t("branch")}</th>
              <th colSpan={4} className="group">{t("complaints")}</th>
              <th colSpan={4} className="group">{t("suggestions")}</th>
            </tr>
            <tr>
              {["complaint", "suggestion"].flatMap((k) => STATUSES.map((s) => <th key={`${k}-${s}`}>{t(`status_${s}` as HqKey)}</th>))}
            </tr>
          </thead>
          <tbody>
            {keys.map((key) => (
              <tr key={key}>
                <th>{key}</th>
                {["complaint", "suggestion"].flatMap((k) =>
                  STATUSES.map((s) => (
                    <td key={`${k}-${s}`} className={s === "overdue" || s === "late" ? (cell(key, k, s) ? "bad" : "") : ""}>
                      <Ltr>{cell(key, k, s)}</Ltr>
                    </td>
                  )),
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="row filters">
        <select aria-label={t("kind")} value={kind} onChange={(e) => { setKind(e.target.value); setOffset(0); }} data-testid="voice-kind">
          <option value="">{t("kind")}: {t("all")}</option>
          <option value="complaint">{t("complaints")}</option>
          <option value="suggestion">{t("suggestions")}</option>
        </select>
        <select aria-label={t("answerStatus")} value={status} onChange={(e) => { setStatus(e.target.value); setOffset(0); }} data-testid="voice-status-filter">
          <option value="">{t("answerStatus")}: {t("all")}</option>
          <option value="waiting">{t("status_waiting")}</option>
          {STATUSES.map((s) => <option key={s} value={s}>{t(`status_${s}` as HqKey)}</option>)}
        </select>
      </div>
      {data && data.rows.length === 0 && <p className="muted">{t("empty")}</p>}
      {data && data.rows.length > 0 && (
        <table className="table" data-testid="voice-list">
          <thead>
            <tr>
              <th>{t("kind")}</th><th>{t("beneficiary")}</th><th>{t("branch")}</th><th>{t("channel")}</th>
              <th>{t("due")}</th><th>{t("owner")}</th><th>{t("answerStatus")}</th>
            </tr>
          </thead>
          <tbody>
            {data.rows.map((r) => [
              <tr key={r.task_id}>
                <td>
                  <button type="button" className="link" onClick={() => setOpened(opened === r.task_id ? null : r.task_id)} data-testid="voice-open" aria-expanded={opened === r.task_id}>
                    {t(r.kind)}
                  </button>
                </td>
                <td>{r.beneficiary_name ?? "—"}</td>
                <td>{r.branch}</td>
                <td>{label(CHANNELS, r.channel, lang)}</td>
                <td><DualDate iso={r.due_on} /></td>
                <td>{r.owner || t("pool")}</td>
                <td><VoiceStatusBadge s={r.status} /></td>
              </tr>,
              // Opened under its own row, so the page does not jump away from the list.
              opened === r.task_id && (
                <tr key={`${r.task_id}-detail`} className="detail-row">
                  <td colSpan={7}><VoiceDetail id={r.task_id} close={() => setOpened(null)} /></td>
                </tr>
              ),
            ])}
          </tbody>
        </table>
      )}
      {data && data.total > 20 && (
        <div className="row pager">
          <button type="button" className="secondary" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - 20))}>{t("previous")}</button>
          <button type="button" className="secondary" disabled={offset + 20 >= data.total} onClick={() => setOffset(offset + 20)}>{t("next")}</button>
        </div>
      )}
    </div>
  );
}

function VoiceDetail({ id, close }: { id: string; close: () => void }) {
  const { t, lang } = useHq();
  const { data: v, error } = useLoad(() => get<VoiceItem>(`/voice/${encodeURIComponent(id)}`), [id]);
  if (error) return <Failure error={error} />;
  if (!v) return <p>{t("loading")}</p>;
  const who = (sid: string | null | undefined) => (sid && v.staff[sid]) || "—";
  return (
    <div className="card voice-detail" data-testid="voice-detail">
      <div className="between">
        <h3>
          {t(v.row.kind)} — {v.row.beneficiary_name ?? v.contact?.contact_name ?? "—"} — {v.row.branch}
        </h3>
        <button type="button" className="secondary" onClick={close}>{t("close")}</button>
      </div>
      <dl className="facts">
        <dt>{t("answerStatus")}</dt><dd><VoiceStatusBadge s={v.row.status} /></dd>
        <dt>{t("due")}</dt><dd><DualDate iso={v.row.due_on} /></dd>
        <dt>{t("owner")}</dt><dd>{v.row.owner || t("pool")}</dd>
        <dt>{t("channel")}</dt><dd>{label(CHANNELS, v.row.channel, lang)}</dd>
      </dl>
      <h4>{t("theContact")}</h4>
      {v.contact ? (
        <blockquote className="prewrap" data-testid="voice-contact">
          {v.contact.summary}
          <footer className="muted"><Ltr>{when(v.contact.at)}</Ltr> — {who(v.contact.staff)}</footer>
        </blockquote>
      ) : (
        <p className="muted">—</p>
      )}
      <h4>{t("theAnswer")}</h4>
      {v.answer ? (
        <blockquote className="prewrap" data-testid="voice-answer">
          {v.answer.summary}
          {v.answer.outcome && <div>{v.answer.outcome}</div>}
          <footer className="muted"><Ltr>{when(v.answer.at)}</Ltr> — {who(v.answer.staff)}</footer>
        </blockquote>
      ) : (
        <p className="muted">{t("noAnswer")}</p>
      )}
    </div>
  );
}
