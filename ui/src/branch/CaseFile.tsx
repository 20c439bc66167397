// The case file: who, what, where it stands against its promise, the timeline of everything that
// happened, and the actions the signed-in role may take, each asking for what it needs.
import { useCallback, useEffect, useState } from "react";
import { api, asApiError } from "../shared/ipc";
import { useI18n } from "../shared/i18n";
import { DualDate, ErrorBox, Field, Ltr, Phone, StoredImage } from "../shared/components";
import { formatHalalas, formatTime, localDay } from "../shared/format";
import type { CaseFileDto } from "../generated/CaseFileDto";
import type { ActionDto } from "../generated/ActionDto";
import type { ApiError } from "../generated/ApiError";
import { useDesk } from "./context";
import { PromiseBadge, StateLabel } from "./Lists";

export function CaseFile({ id }: { id: string }) {
  const { t, label, lang } = useI18n();
  const { catalog, go } = useDesk();
  const [file, setFile] = useState<CaseFileDto | null>(null);
  const [err, setErr] = useState<ApiError | null>(null);
  const [action, setAction] = useState<ActionDto | null>(null);
  const load = useCallback(() => api.caseFile(id).then(setFile, (e) => setErr(asApiError(e))), [id]);
  useEffect(() => { load(); }, [load]);
  if (!file) return <><h1 tabIndex={-1}>{t("caseFile")}</h1><ErrorBox error={err} /></>;
  const c = file.case;
  const b = file.beneficiary;
  const st = catalog.support_types.find((s) => s.code === c.support_type);
  const docName = (code: string) => {
    const d = catalog.document_types.find((x) => x.code === code);
    return d ? (lang === "ar" ? d.ar : d.en) : code;
  };
  const timelineTitle = (kind: string, code: string) => {
    switch (kind) {
      case "transition": return label("transition", code);
      case "interaction": return `${label("timeline", kind)}: ${label("purpose", code, catalog.purposes.find((p) => p.code === code)?.ar)}`;
      case "document": return `${label("timeline", kind)}: ${docName(code)}`;
      case "declaration": return `${label("timeline", kind)} — ${label("signature", code)}`;
      case "survey": return label("timeline", kind);
      default: return label("timeline", kind);
    }
  };
  return (
    <div data-testid="case-file" data-state={c.state}>
      <div className="between">
        <h1 tabIndex={-1}>{t("caseFile")} <Ltr testid="case-number">{c.number}</Ltr></h1>
        <div className="row no-print">
          {c.submitted_at && <button className="secondary" onClick={() => go({ name: "print", kind: "receipt", caseId: c.id })}>{t("printReceipt")}</button>}
          <button className="secondary" data-testid="print-form" onClick={() => go({ name: "print", kind: "form", caseId: c.id })}>{t("printForm")}</button>
        </div>
      </div>
      <p className="row">
        <span data-testid="case-state"><StateLabel code={c.state} /></span>
        <PromiseBadge code={c.promise} />
        {c.promised_reply_date && <span>{t("promisedReply")}: <DualDate iso={c.promised_reply_date} /></span>}
      </p>
      <div className="grid3">
        <div>
          <section className="card">
            <h2>{b.full_name}</h2>
            <dl className="kv">
              <dt>{t("nationalId")}</dt><dd><Ltr>{b.national_id ?? "—"}</Ltr></dd>
              <dt>{t("mobile")}</dt><dd><Phone e164={b.mobile} /></dd>
              <dt>{t("city")}</dt><dd>{[b.city, b.centre, b.district].filter(Boolean).join("، ") || "—"}</dd>
              <dt>{t("household")}</dt><dd><Ltr>{b.household.length}</Ltr></dd>
              <dt>{t("monthlyIncome")}</dt><dd><Ltr>{formatHalalas(Number(b.monthly_income_halalas))}</Ltr></dd>
              <dt>{t("supportType")}</dt><dd>{st ? (lang === "ar" ? st.ar : st.en) : c.support_type}</dd>
              <dt>{t("channel")}</dt><dd>{label("channel", c.channel, catalog.channels.find((x) => x.code === c.channel)?.ar)}</dd>
              <dt>{t("need")}</dt><dd>{c.need}</dd>
              {c.research_report && <><dt>{t("research")}</dt><dd>{c.research_report}{c.research_recommendation && <> — {c.research_recommendation}</>}</dd></>}
              {c.decision && <><dt>{t("decision")}</dt><dd>{label("decision", c.decision)} — {c.decision_reasons}</dd></>}
              {c.registration_number && <><dt>{t("registration")}</dt><dd><Ltr>{c.registration_number}</Ltr></dd></>}
            </dl>
          </section>
          <section className="card">
            <h2>{t("documents")}</h2>
            <ul className="docs">
              {c.documents.map((d) => (
                <li key={d.code}>
                  <span>{docName(d.code)}</span>
                  <span>{d.attachment ? <StoredImage sha={d.attachment} alt={docName(d.code)} className="thumb" /> : "✗"}</span>
                  <span>{d.seen_in_original ? `✓ ${t("seenInOriginal")}` : ""}</span>
                </li>
              ))}
            </ul>
          </section>
          <section className="card">
            <h2>{t("timeline")}</h2>
            <ol className="timeline" data-testid="timeline">
              {file.timeline.map((e, i) => (
                <li key={i} data-kind={e.kind} data-code={e.code}>
                  <strong>{timelineTitle(e.kind, e.code)}</strong>
                  <span className="muted"> · <DualDate iso={localDay(e.at)} /> <Ltr>{formatTime(e.at)}</Ltr>{e.actor && e.kind !== "interaction" ? <> · {e.actor}</> : null}</span>
                  {e.detail && e.kind !== "document" && <div>{e.detail}</div>}
                </li>
              ))}
            </ol>
          </section>
        </div>
        <aside className="card no-print" aria-labelledby="actions-h">
          <h2 id="actions-h">{t("actions")}</h2>
          {!action && (
            <div className="row" style={{ flexDirection: "column", alignItems: "stretch" }}>
              {file.actions.map((a) => (
                <button key={a.code} className="secondary" data-testid={`action-${a.code}`} onClick={() => setAction(a)}>
                  {label("transition", a.code)}
                </button>
              ))}
            </div>
          )}
          {action && (
            <ActionForm
              caseId={c.id}
              beneficiaryId={b.id}
              action={action}
              onDone={() => { setAction(null); load(); }}
              onCancel={() => setAction(null)}
            />
          )}
        </aside>
      </div>
    </div>
  );
}

function ActionForm(props: { caseId: string; beneficiaryId: string; action: ActionDto; onDone: () => void; onCancel: () => void }) {
  const { t, label } = useI18n();
  const { catalog } = useDesk();
  const [v, setV] = useState<Record<string, string>>({ overall: "5", speed: "5", courtesy: "5", clarity: "5", channel: "phone", direction: "outbound", purpose: "follow_up" });
  const [anonymous, setAnonymous] = useState(false);
  const [err, setErr] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const code = props.action.code;
  const set = (k: string) => (e: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>) => setV({ ...v, [k]: e.target.value });
  const fe = (k: string) => err?.fields.find((f) => f.field === k)?.message ?? null;
  const run = async () => {
    setBusy(true);
    setErr(null);
    try {
      const caseId = props.caseId;
      if (code === "research_report") await api.researchReport({ case_id: caseId, text: v.text ?? "", recommendation: v.recommendation ?? "" });
      else if (code === "delivery") await api.recordDelivery({ case_id: caseId, kind: v.kind ?? "", amount: v.amount ?? "", items: v.items ?? "", delivered_on: v.delivered_on ?? "" });
      else if (code === "survey") await api.recordSurvey({ case_id: caseId, overall: +v.overall, speed: +v.speed, courtesy: +v.courtesy, clarity: +v.clarity, comment: v.comment ?? "", anonymous, channel: v.channel });
      else if (code === "interaction") await api.logInteraction({ beneficiary_id: props.beneficiaryId, case_id: caseId, channel: v.channel, direction: v.direction, purpose: v.purpose, summary: v.summary ?? "", outcome: v.outcome ?? "", follow_up_on: v.follow_up_on ?? "" });
      else await api.transition({ case_id: caseId, transition: code, note: v.note ?? "" });
      props.onDone();
    } catch (e) {
      setErr(asApiError(e));
    } finally {
      setBusy(false);
    }
  };
  const score = (k: string) => (
    <Field id={k} label={t(k as never)}>
      {(a) => <select {...a} value={v[k]} onChange={set(k)}>{[5, 4, 3, 2, 1].map((n) => <option key={n} value={n}>{n}</option>)}</select>}
    </Field>
  );
  const channelSelect = (
    <Field id="channel" label={t("channel")}>
      {(a) => <select {...a} value={v.channel} onChange={set("channel")}>{catalog.channels.map((c) => <option key={c.code} value={c.code}>{label("channel", c.code, c.ar)}</option>)}</select>}
    </Field>
  );
  return (
    <form noValidate data-testid={`form-${code}`} onSubmit={(e) => { e.preventDefault(); run(); }}>
      <h3>{label("transition", code)}</h3>
      {code === "research_report" && (
        <>
          <Field id="text" label={t("reportText")} error={fe("report")}>{(a) => <textarea {...a} value={v.text ?? ""} onChange={set("text")} autoFocus />}</Field>
          <Field id="recommendation" label={t("recommendation")}>{(a) => <input {...a} value={v.recommendation ?? ""} onChange={set("recommendation")} />}</Field>
        </>
      )}
      {code === "delivery" && (
        <>
          <Field id="kind" label={t("deliveryKind")}>{(a) => <input {...a} value={v.kind ?? ""} onChange={set("kind")} autoFocus />}</Field>
          <Field id="amount" label={t("amount")} error={fe("amount")}>{(a) => <input {...a} dir="ltr" value={v.amount ?? ""} onChange={set("amount")} />}</Field>
          <Field id="items" label={t("items")}>{(a) => <input {...a} value={v.items ?? ""} onChange={set("items")} />}</Field>
          <Field id="delivered_on" label={t("deliveredOn")} hint={t("dateHint")} error={fe("delivered_on")}>{(a) => <input {...a} dir="ltr" value={v.delivered_on ?? ""} onChange={set("delivered_on")} />}</Field>
        </>
      )}
      {code === "survey" && (
        <>
          {score("overall")}{score("speed")}{score("courtesy")}{score("clarity")}
          {channelSelect}
          <Field id="comment" label={t("comment")}>{(a) => <textarea {...a} value={v.comment ?? ""} onChange={set("comment")} />}</Field>
          <label><input type="checkbox" checked={anonymous} onChange={(e) => setAnonymous(e.target.checked)} /> {t("anonymous")}</label>
        </>
      )}
      {code === "interaction" && (
        <>
          {channelSelect}
          <Field id="direction" label={t("direction")}>
            {(a) => <select {...a} value={v.direction} onChange={set("direction")}><option value="inbound">{t("inbound")}</option><option value="outbound">{t("outbound")}</option></select>}
          </Field>
          <Field id="purpose" label={t("purpose")}>
            {(a) => <select {...a} value={v.purpose} onChange={set("purpose")}>{catalog.purposes.map((p) => <option key={p.code} value={p.code}>{label("purpose", p.code, p.ar)}</option>)}</select>}
          </Field>
          <Field id="summary" label={t("summary")} error={fe("summary")}>{(a) => <textarea {...a} value={v.summary ?? ""} onChange={set("summary")} />}</Field>
          <Field id="outcome" label={t("outcome")}>{(a) => <input {...a} value={v.outcome ?? ""} onChange={set("outcome")} />}</Field>
          <Field id="follow_up_on" label={t("followUpOn")} hint={t("dateHint")} error={fe("follow_up_on")}>{(a) => <input {...a} dir="ltr" value={v.follow_up_on ?? ""} onChange={set("follow_up_on")} />}</Field>
        </>
      )}
      {!["research_report", "delivery", "survey", "interaction"].includes(code) && (
        <Field id="note" label={t("note")} error={fe("note")}>
          {(a) => <textarea {...a} data-testid="action-note" value={v.note ?? ""} onChange={set("note")} autoFocus required={props.action.needs_note} />}
        </Field>
      )}
      <ErrorBox error={err && err.fields.length === 0 ? err : null} />
      <div className="row end">
        <button type="button" className="secondary" onClick={props.onCancel}>{t("cancel")}</button>
        <button type="submit" disabled={busy} data-testid="action-confirm">{t("confirm")}</button>
      </div>
    </form>
  );
}
