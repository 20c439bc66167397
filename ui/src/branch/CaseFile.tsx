// The case file: who, what, where it stands against its promise, the timeline of everything that
// happened, and the actions the signed-in role may take, each asking for what it needs.
import { useCallback, useEffect, useState } from "react";
import { api, asApiError } from "../shared/ipc";
import { useI18n } from "../shared/i18n";
import { DualDate, ErrorBox, Field, Ltr, Phone } from "../shared/components";
import { formatHalalas, formatTime, localDay } from "../shared/format";
import type { CaseFileDto } from "../generated/CaseFileDto";
import type { ActionDto } from "../generated/ActionDto";
import type { ApiError } from "../generated/ApiError";
import { useDesk } from "./context";
import { PromiseBadge, StateLabel } from "./Lists";
import { AddTask, TaskList } from "./Tasks";
import { ContactForm } from "./Contacts";
import { AttachPicker, FileChips } from "./Documents";

export function CaseFile({ id }: { id: string }) {
  const { t, label, fieldNames, lang } = useI18n();
  const { catalog, go } = useDesk();
  const [file, setFile] = useState<CaseFileDto | null>(null);
  const [err, setErr] = useState<ApiError | null>(null);
  const [action, setAction] = useState<ActionDto | null>(null);
  const [addingTask, setAddingTask] = useState(false);
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
  const timelineTitle = (kind: string, code: string, detail: string) => {
    switch (kind) {
      case "transition": return label("transition", code);
      case "interaction": return `${label("timeline", kind)}: ${label("purpose", code, catalog.purposes.find((p) => p.code === code)?.ar)}`;
      case "document": return `${label("timeline", kind)}: ${docName(code)}`;
      case "declaration": return `${label("timeline", kind)} — ${label("signature", code)}`;
      case "survey": return label("timeline", kind);
      // An edit at HQ names its fields in the title: "عُدّل في المقر: الجوال".
      // Changes at HQ older than the record brought to this laptop are counted: "… : 23".
      case "edit": return code === "hq" ? `${label("timeline", "edit_hq")}: ${fieldNames(detail)}` : code === "hq_older" ? `${label("timeline", "edit_hq_older")}: ${detail}` : label("timeline", `edit_${code}`);
      default: return label("timeline", kind);
    }
  };
  return (
    <div data-testid="case-file" data-state={c.state} data-case-id={c.id}>
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
            <div className="between">
              <h2><button className="link" data-testid="open-person" onClick={() => go({ name: "person", id: b.id })}>{b.full_name}</button></h2>
              <button className="secondary no-print" data-testid="case-edit-person" onClick={() => go({ name: "person", id: b.id, edit: true })}>{t("editPerson")}</button>
            </div>
            <dl className="kv">
              <dt>{t("nationalId")}</dt><dd><Ltr>{b.national_id ?? "—"}</Ltr></dd>
              <dt>{t("mobile")}</dt><dd><Phone e164={b.mobile} /></dd>
              <dt>{t("city")}</dt><dd>{[b.city, b.centre, b.district].filter(Boolean).join("، ") || "—"}</dd>
              <dt>{t("household")}</dt><dd><Ltr>{b.household.length}</Ltr></dd>
              <dt>{t("monthlyIncome")}</dt><dd><Ltr>{formatHalalas(Number(b.monthly_income_halalas))}</Ltr></dd>
              <dt>{t("supportType")}</dt><dd>{st ? (lang === "ar" ? st.ar : st.en) : c.support_type}</dd>
              <dt>{t("channel")}</dt><dd>{label("channel", c.channel, catalog.channels.find((x) => x.code === c.channel)?.ar)}</dd>
              <dt>{t("need")}</dt><dd data-testid="case-need">{c.need}</dd>
              {c.research_report && <><dt>{t("research")}</dt><dd>{c.research_report}{c.research_recommendation && <> — {c.research_recommendation}</>}</dd></>}
              {c.decision && <><dt>{t("decision")}</dt><dd>{label("decision", c.decision)} — {c.decision_reasons}</dd></>}
              {c.registration_number && <><dt>{t("registration")}</dt><dd><Ltr>{c.registration_number}</Ltr></dd></>}
            </dl>
          </section>
          <section className="card case-tasks" aria-labelledby="case-tasks-h">
            <div className="between">
              <h2 id="case-tasks-h">{t("caseTasks")} (<Ltr>{file.tasks.length}</Ltr>)</h2>
              {!addingTask && <button className="secondary" data-testid="add-task" onClick={() => setAddingTask(true)}>{t("addTask")}</button>}
            </div>
            {addingTask && <AddTask beneficiaryId={b.id} caseId={c.id} onDone={() => { setAddingTask(false); load(); }} onCancel={() => setAddingTask(false)} />}
            <TaskList tasks={file.tasks} today={file.today} onChanged={load} showCase={false} testid="case-tasks" />
          </section>
          {c.correctable && <CaseCorrector file={file} onDone={load} />}
          <section className="card" data-testid="case-documents">
            <h2>{t("documents")}</h2>
            {file.returned ? (
              // What the committee (or the researcher) asked for, where the missing documents are added.
              <div className="notice warn return-note" role="note" data-testid="return-note">
                <strong>{t("returnedBy")}</strong>
                <span className="muted"> · {file.returned.actor} · <DualDate iso={localDay(file.returned.at)} /></span>
                {file.returned.note && <blockquote data-testid="return-note-text">{file.returned.note}</blockquote>}
                {file.returned.missing.length > 0 && (
                  <>
                    <div>{t("stillMissing")}:</div>
                    <ul data-testid="return-missing">
                      {file.returned.missing.map((code) => <li key={code} data-code={code}>{docName(code)}</li>)}
                    </ul>
                  </>
                )}
                <p>{t("incompleteHint")}</p>
              </div>
            ) : c.state === "incomplete" && <p className="notice warn">{t("incompleteHint")}</p>}
            <ul className="docs">
              {c.documents.map((d) => (
                <li key={d.code} data-testid={`case-doc-${d.code}`} data-attached={!!d.attachment} data-seen={d.seen_in_original}>
                  <span>{docName(d.code)}{d.required && <span className="muted"> *</span>}</span>
                  <span>{d.attachment ? <FileChips files={[{ sha256: d.attachment, name: docName(d.code) }]} /> : "✗"}</span>
                  <span className="row">
                    {c.correctable ? (
                      <>
                        <AttachPicker testid={`case-attach-${d.code}`} label={d.attachment ? t("replace") : t("attach")} onError={setErr}
                          onStored={async (f) => {
                            try {
                              await api.attachCaseDocument(c.id, d.code, f.sha256);
                              load();
                            } catch (e) {
                              setErr(asApiError(e));
                            }
                          }} />
                        {d.attachment && (
                          <label><input type="checkbox" data-testid={`case-seen-${d.code}`} checked={d.seen_in_original}
                            onChange={async (e) => {
                              try {
                                await api.markDocumentSeen(c.id, d.code, e.target.checked);
                                load();
                              } catch (x) {
                                setErr(asApiError(x));
                              }
                            }} /> {t("seenInOriginal")}</label>
                        )}
                      </>
                    ) : d.seen_in_original ? `✓ ${t("seenInOriginal")}` : ""}
                  </span>
                </li>
              ))}
            </ul>
            {c.correctable && (
              <AddDocument have={c.documents.map((d) => d.code)} docName={docName} onError={setErr}
                onAttach={async (code, sha256) => {
                  try {
                    await api.attachCaseDocument(c.id, code, sha256);
                    load();
                  } catch (e) {
                    setErr(asApiError(e));
                  }
                }} />
            )}
            <ErrorBox error={err} />
          </section>
          <section className="card">
            <h2>{t("timeline")}</h2>
            <ol className="timeline" data-testid="timeline">
              {file.timeline.map((e, i) => (
                <li key={i} data-kind={e.kind} data-code={e.code}>
                  <strong>{timelineTitle(e.kind, e.code, e.detail)}</strong>
                  <span className="muted"> · <DualDate iso={localDay(e.at)} /> <Ltr>{formatTime(e.at)}</Ltr>{e.actor && e.kind !== "interaction" ? <> · {e.actor}</> : null}</span>
                  {e.detail && e.kind !== "document" && e.kind !== "edit" && <div>{e.detail}</div>}
                  {e.kind === "edit" && e.code !== "hq" && <div data-testid="edit-fields">{fieldNames(e.detail)}</div>}
                  {e.attachments.length > 0 && <FileChips files={e.attachments.map((sha) => ({ sha256: sha }))} />}
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

/** A document the checklist does not list yet (one the committee asked for when it returned the
 * request as incomplete): its type from the catalog, then the file, scanned or photographed. */
function AddDocument(props: { have: string[]; docName: (code: string) => string; onError: (e: ApiError | null) => void; onAttach: (code: string, sha256: string) => void }) {
  const { t } = useI18n();
  const { catalog } = useDesk();
  const [code, setCode] = useState("");
  const others = catalog.document_types.filter((d) => !props.have.includes(d.code));
  if (others.length === 0) return null;
  return (
    <div className="add-document no-print" data-testid="add-document">
      <label htmlFor="add-document-type">{t("addCaseDocument")}</label>
      <div className="row">
        <select id="add-document-type" data-testid="add-document-type" value={code} onChange={(e) => setCode(e.target.value)}>
          <option value="">{t("chooseDocumentType")}</option>
          {others.map((d) => <option key={d.code} value={d.code}>{props.docName(d.code)}</option>)}
        </select>
        {code && <AttachPicker testid="add-document-file" onError={props.onError} onStored={(f) => { props.onAttach(code, f.sha256); setCode(""); }} />}
      </div>
    </div>
  );
}

function ActionForm(props: { caseId: string; beneficiaryId: string; action: ActionDto; onDone: () => void; onCancel: () => void }) {
  const { t, label } = useI18n();
  const { catalog } = useDesk();
  // Scores start empty: a pre-filled answer is one nobody gave.
  const [v, setV] = useState<Record<string, string>>({ overall: "", speed: "", courtesy: "", clarity: "", channel: "phone" });
  const [anonymous, setAnonymous] = useState(false);
  const [err, setErr] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const code = props.action.code;
  if (code === "interaction") return <ContactForm beneficiaryId={props.beneficiaryId} caseId={props.caseId} onDone={props.onDone} onCancel={props.onCancel} />;
  const set = (k: string) => (e: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>) => setV({ ...v, [k]: e.target.value });
  const fe = (k: string) => err?.fields.find((f) => f.field === k)?.message ?? null;
  const run = async () => {
    setBusy(true);
    setErr(null);
    try {
      const caseId = props.caseId;
      if (code === "research_report") await api.researchReport({ case_id: caseId, text: v.text ?? "", recommendation: v.recommendation ?? "" });
      else if (code === "delivery") await api.recordDelivery({ case_id: caseId, kind: v.kind ?? "", amount: v.amount ?? "", items: v.items ?? "", delivered_on: v.delivered_on ?? "" });
      else if (code === "survey") {
        // Every score must be chosen by the person answering; none is assumed.
        const missing = ["overall", "speed", "courtesy", "clarity"].filter((k) => !v[k]);
        if (missing.length > 0) {
          setErr({ code: "invalid_input", message: t("scoreRequired"), fields: missing.map((k) => ({ field: k, code: "required", message: t("scoreRequired") })) });
          return;
        }
        await api.recordSurvey({ case_id: caseId, overall: +v.overall, speed: +v.speed, courtesy: +v.courtesy, clarity: +v.clarity, comment: v.comment ?? "", anonymous, channel: v.channel });
      }
      else await api.transition({ case_id: caseId, transition: code, note: v.note ?? "" });
      props.onDone();
    } catch (e) {
      setErr(asApiError(e));
    } finally {
      setBusy(false);
    }
  };
  const score = (k: string) => (
    <fieldset className="field score" data-testid={`score-${k}`} aria-invalid={!!fe(k)}>
      <legend>{t(k as never)}</legend>
      <div className="row" role="radiogroup">
        {[1, 2, 3, 4, 5].map((n) => (
          <label key={n} className={v[k] === String(n) ? "chosen" : ""}>
            <input type="radio" name={k} value={n} checked={v[k] === String(n)} onChange={set(k)} /> <Ltr>{n}</Ltr>
          </label>
        ))}
      </div>
      <small className="hint">{t("scoreHint")}</small>
      {fe(k) && <small className="error" role="alert" data-testid={`error-${k}`}>{fe(k)}</small>}
    </fieldset>
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

/** Correct a request's need and support type while the branch still holds it. */
function CaseCorrector({ file, onDone }: { file: CaseFileDto; onDone: () => void }) {
  const { t, lang } = useI18n();
  const { catalog } = useDesk();
  const c = file.case;
  const [open, setOpen] = useState(false);
  const [v, setV] = useState({ need: c.need, support_type: c.support_type });
  const [err, setErr] = useState<ApiError | null>(null);
  useEffect(() => { setV({ need: c.need, support_type: c.support_type }); }, [c.need, c.support_type]);
  const fe = (k: string) => err?.fields.find((f) => f.field === k)?.message ?? null;
  if (!open) {
    return (
      <div className="row no-print" style={{ marginBlockEnd: "1rem" }}>
        <button className="secondary" data-testid="correct-case" onClick={() => setOpen(true)}>{t("correctCase")}</button>
      </div>
    );
  }
  return (
    <form className="card" noValidate data-testid="case-corrector" onSubmit={async (e) => {
      e.preventDefault();
      setErr(null);
      try {
        await api.correctCase({ case_id: c.id, version: c.version, need: v.need, support_type: v.support_type });
        setOpen(false);
        onDone();
      } catch (x) {
        setErr(asApiError(x));
      }
    }}>
      <h2>{t("correctCase")}</h2>
      <Field id="correct-support_type" label={t("supportType")} error={fe("support_type")}>
        {(a) => (
          <select {...a} value={v.support_type} onChange={(e) => setV({ ...v, support_type: e.target.value })}>
            {catalog.support_types.map((s) => <option key={s.code} value={s.code}>{lang === "ar" ? s.ar : s.en}</option>)}
          </select>
        )}
      </Field>
      <Field id="correct-need" label={t("need")} error={fe("need")}>
        {(a) => <textarea {...a} value={v.need} onChange={(e) => setV({ ...v, need: e.target.value })} />}
      </Field>
      <ErrorBox error={err && err.fields.length === 0 ? err : null} />
      <div className="row end">
        <button type="button" className="secondary" onClick={() => { setOpen(false); setErr(null); }}>{t("cancel")}</button>
        <button type="submit" data-testid="correct-save">{t("save")}</button>
      </div>
    </form>
  );
}
