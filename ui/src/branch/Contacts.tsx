// Contacts through any of the eight channels: logged from home (for someone registered or not),
// from a person's file or from a case file, with the letter or message attached. A complaint or
// suggestion gets an owner and a date to answer it by; the list shows each through to its answer.
import { useEffect, useState } from "react";
import { api, asApiError } from "../shared/ipc";
import { useI18n } from "../shared/i18n";
import { DualDate, ErrorBox, Field, Ltr, Phone } from "../shared/components";
import { formatTime, localDay } from "../shared/format";
import { mobileShape } from "../shared/validate";
import type { ApiError } from "../generated/ApiError";
import type { BeneficiaryRow } from "../generated/BeneficiaryRow";
import type { Colleague } from "../generated/Colleague";
import type { ComplaintDto } from "../generated/ComplaintDto";
import type { ContactDto } from "../generated/ContactDto";
import type { StoredFile } from "../generated/StoredFile";
import { useDesk } from "./context";
import { AttachPicker, FileChips } from "./Documents";

export function ContactForm(props: {
  beneficiaryId?: string;
  caseId?: string;
  /** Answering this complaint or suggestion (its task), with what it said. */
  answers?: { taskId: string; summary: string; beneficiaryId: string | null; contactName: string };
  onDone: () => void;
  onCancel: () => void;
}) {
  const { t, label } = useI18n();
  const { catalog, session } = useDesk();
  const answering = !!props.answers;
  const [v, setV] = useState({
    channel: "phone", direction: answering ? "outbound" : "inbound", purpose: answering ? "follow_up" : "inquiry",
    summary: "", outcome: "", follow_up_on: "", contact_name: props.answers?.contactName ?? "", contact_phone: "", owner: "",
  });
  const [person, setPerson] = useState<BeneficiaryRow | null>(null);
  const [unregistered, setUnregistered] = useState(false);
  const [files, setFiles] = useState<(StoredFile & { name: string })[]>([]);
  const [people, setPeople] = useState<Colleague[]>([]);
  const [err, setErr] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const fixedPerson = props.beneficiaryId ?? props.answers?.beneficiaryId ?? null;
  const needsPerson = !fixedPerson && !answering;
  const complaint = v.purpose === "complaint" || v.purpose === "suggestion";
  useEffect(() => { if (complaint) api.colleagues().then(setPeople, () => {}); }, [complaint]);
  const set = (k: keyof typeof v) => (e: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>) => setV({ ...v, [k]: e.target.value });
  const fe = (k: string) => err?.fields.find((f) => f.field === k)?.message ?? null;
  return (
    <form noValidate className="contact-form" data-testid="contact-form" onSubmit={async (e) => {
      e.preventDefault();
      setBusy(true);
      setErr(null);
      try {
        const beneficiary = fixedPerson ?? (unregistered ? null : person?.id ?? null);
        await api.logInteraction({
          beneficiary_id: beneficiary, case_id: props.caseId ?? null, channel: v.channel, direction: v.direction,
          purpose: v.purpose, summary: v.summary, outcome: v.outcome, follow_up_on: v.follow_up_on,
          contact_name: beneficiary ? "" : v.contact_name, contact_phone: beneficiary ? "" : v.contact_phone,
          attachments: files.map((f) => f.sha256), owner: complaint ? v.owner || null : null,
          answers: props.answers?.taskId ?? null,
        });
        props.onDone();
      } catch (x) {
        setErr(asApiError(x));
      } finally {
        setBusy(false);
      }
    }}>
      <h3>{answering ? t("answerComplaint") : t("logContact")}</h3>
      {props.answers && <p className="muted quote" data-testid="answering">{props.answers.summary}</p>}
      {needsPerson && (
        <PersonPicker chosen={person} unregistered={unregistered}
          onChoose={(p) => { setPerson(p); setUnregistered(false); }}
          onUnregistered={() => { setPerson(null); setUnregistered(true); }} />
      )}
      {((needsPerson && unregistered) || (answering && !fixedPerson)) && (
        <div className="form-grid">
          <Field id="contact_name" label={t("contactName")} error={fe("contact_name")}>
            {(a) => <input {...a} value={v.contact_name} onChange={set("contact_name")} />}
          </Field>
          <Field id="contact_phone" label={t("mobile")} error={fe("contact_phone") ?? mobileShape(v.contact_phone)?.message ?? null}>
            {(a) => <input {...a} dir="ltr" inputMode="tel" placeholder="05XXXXXXXX" value={v.contact_phone} onChange={set("contact_phone")} />}
          </Field>
        </div>
      )}
      {needsPerson && !person && !unregistered && fe("contact_name") && <p className="error" role="alert">{fe("contact_name")}</p>}
      <div className="form-grid">
        <Field id="contact-channel" label={t("channel")}>
          {(a) => <select {...a} value={v.channel} onChange={set("channel")}>{catalog.channels.map((c) => <option key={c.code} value={c.code}>{label("channel", c.code, c.ar)}</option>)}</select>}
        </Field>
        <Field id="contact-direction" label={t("direction")}>
          {(a) => <select {...a} value={v.direction} onChange={set("direction")}><option value="inbound">{t("inbound")}</option><option value="outbound">{t("outbound")}</option></select>}
        </Field>
        {!answering && (
          <Field id="contact-purpose" label={t("purpose")}>
            {(a) => <select {...a} value={v.purpose} onChange={set("purpose")}>{catalog.purposes.map((p) => <option key={p.code} value={p.code}>{label("purpose", p.code, p.ar)}</option>)}</select>}
          </Field>
        )}
        {complaint && (
          <Field id="contact-owner" label={t("complaintOwner")} hint={t("complaintOwnerHint")}>
            {(a) => (
              <select {...a} value={v.owner} onChange={set("owner")}>
                <option value="">{session.display_name} ({t("you")})</option>
                {people.filter((p) => p.username !== session.username).map((p) => <option key={p.username} value={p.username}>{p.display_name}</option>)}
              </select>
            )}
          </Field>
        )}
        <Field id="contact-summary" label={answering ? t("answerText") : t("summary")} error={fe("summary")} wide>
          {(a) => <textarea {...a} value={v.summary} onChange={set("summary")} />}
        </Field>
        {!answering && (
          <Field id="contact-outcome" label={t("outcome")} error={fe("outcome")} wide>
            {(a) => <input {...a} value={v.outcome} onChange={set("outcome")} />}
          </Field>
        )}
        {!answering && (
          <Field id="contact-follow_up_on" label={t("followUpOn")} hint={t("dateHint")} error={fe("follow_up_on")}>
            {(a) => <input {...a} dir="ltr" value={v.follow_up_on} onChange={set("follow_up_on")} />}
          </Field>
        )}
      </div>
      <div className="field">
        <span className="label">{t("contactFiles")}</span>
        <FileChips files={files} onRemove={(sha) => setFiles(files.filter((f) => f.sha256 !== sha))} />
        <AttachPicker testid="contact-attach" onStored={(f) => setFiles((l) => l.some((x) => x.sha256 === f.sha256) ? l : [...l, f])} onError={setErr} />
        {fe("attachments") && <small className="error" role="alert">{fe("attachments")}</small>}
      </div>
      <ErrorBox error={err && err.fields.length === 0 ? err : null} />
      <div className="row end">
        <button type="button" className="secondary" onClick={props.onCancel}>{t("cancel")}</button>
        <button type="submit" disabled={busy} data-testid="contact-save">{t("save")}</button>
      </div>
    </form>
  );
}

/** Find the person a contact is with: search by any name form, ID or mobile tail; or "not registered". */
function PersonPicker(props: { chosen: BeneficiaryRow | null; unregistered: boolean; onChoose: (p: BeneficiaryRow) => void; onUnregistered: () => void }) {
  const { t } = useI18n();
  const [q, setQ] = useState("");
  const [hits, setHits] = useState<BeneficiaryRow[]>([]);
  useEffect(() => {
    const query = q.trim();
    if (query.length < 2) { setHits([]); return; }
    let live = true;
    const timer = setTimeout(() => api.search(query, 8).then((r) => live && setHits(r), () => {}), 150);
    return () => { live = false; clearTimeout(timer); };
  }, [q]);
  if (props.chosen) {
    return (
      <p className="row" data-testid="contact-person">
        <strong>{props.chosen.full_name}</strong>
        {props.chosen.national_id && <Ltr>{props.chosen.national_id}</Ltr>}
        <button type="button" className="link" onClick={() => { setQ(""); props.onUnregistered(); }}>{t("changeChoice")}</button>
      </p>
    );
  }
  return (
    <div className="field">
      <label htmlFor="contact-who">{t("contactWho")}</label>
      <input id="contact-who" data-testid="contact-who" value={q} autoComplete="off" placeholder={t("searchHint")} onChange={(e) => setQ(e.target.value)} autoFocus />
      {hits.length > 0 && (
        <ul className="matches">
          {hits.map((h) => (
            <li key={h.id}>
              <span>{h.full_name}{h.national_id && <> · <Ltr>{h.national_id}</Ltr></>}{h.mobile && <> · <Phone e164={h.mobile} /></>}</span>
              <button type="button" className="secondary" data-testid="contact-choose" onClick={() => props.onChoose(h)}>{t("choose")}</button>
            </li>
          ))}
        </ul>
      )}
      <label className="row">
        <input type="checkbox" checked={props.unregistered} data-testid="contact-unregistered" onChange={(e) => (e.target.checked ? props.onUnregistered() : undefined)} />
        {t("notRegistered")}
      </label>
    </div>
  );
}

/** Contacts as a list: when, how, why, what was said, by whom, what came with it. */
export function ContactList({ contacts }: { contacts: ContactDto[] }) {
  const { t, label } = useI18n();
  const { catalog } = useDesk();
  if (contacts.length === 0) return <p className="muted">{t("noContacts")}</p>;
  return (
    <ul className="contacts" data-testid="contacts">
      {contacts.map((c) => (
        <li key={c.id} data-testid="contact" data-purpose={c.purpose}>
          <div className="between">
            <strong>{label("purpose", c.purpose, catalog.purposes.find((p) => p.code === c.purpose)?.ar)} · {label("channel", c.channel, catalog.channels.find((x) => x.code === c.channel)?.ar)} · {c.direction === "inbound" ? t("inbound") : t("outbound")}</strong>
            <span className="muted"><DualDate iso={localDay(c.at)} /> <Ltr>{formatTime(c.at)}</Ltr></span>
          </div>
          <div>{c.summary}{c.outcome && <> — {c.outcome}</>}</div>
          <div className="muted">
            {c.staff_name}
            {c.case_number && <> · <Ltr>{c.case_number}</Ltr></>}
            {c.contact_name && <> · {c.contact_name}</>}
            {c.contact_phone && <> · <Phone e164={c.contact_phone} /></>}
          </div>
          {c.attachments.length > 0 && <FileChips files={c.attachments} />}
        </li>
      ))}
    </ul>
  );
}

const STATUSES = ["open", "overdue", "on_time", "late"] as const;

/** The branch's complaints and suggestions, each through to its recorded answer. */
export function Complaints() {
  const { t, label } = useI18n();
  const { catalog } = useDesk();
  const [rows, setRows] = useState<ComplaintDto[] | null>(null);
  const [err, setErr] = useState<ApiError | null>(null);
  const [filter, setFilter] = useState<string>("");
  const [answering, setAnswering] = useState<ComplaintDto | null>(null);
  const [logging, setLogging] = useState(false);
  const load = () => api.complaints().then(setRows, (e) => setErr(asApiError(e)));
  useEffect(() => { load(); }, []);
  const count = (s: string) => rows?.filter((r) => r.status === s).length ?? 0;
  const shown = rows?.filter((r) => !filter || r.status === filter || (filter === "late" && r.status === "overdue")) ?? [];
  return (
    <div data-testid="complaints">
      <div className="between">
        <h1 tabIndex={-1}>{t("complaintsTitle")}</h1>
        {!logging && <button onClick={() => setLogging(true)} data-testid="log-contact">{t("logContact")}</button>}
      </div>
      {logging && <div className="card"><ContactForm onDone={() => { setLogging(false); load(); }} onCancel={() => setLogging(false)} /></div>}
      <ErrorBox error={err} />
      <div className="row filters" role="tablist">
        <button role="tab" aria-selected={filter === ""} className={filter === "" ? "" : "secondary"} onClick={() => setFilter("")}>{t("all")} (<Ltr>{rows?.length ?? 0}</Ltr>)</button>
        {STATUSES.map((s) => (
          <button key={s} role="tab" aria-selected={filter === s} data-testid={`filter-${s}`} className={filter === s ? "" : "secondary"} onClick={() => setFilter(s)}>
            {label("answer", s)} (<Ltr>{count(s)}</Ltr>)
          </button>
        ))}
      </div>
      {rows && shown.length === 0 && <p className="muted">{t("noComplaints")}</p>}
      <ul className="contacts">
        {shown.map((r) => (
          <li key={r.task_id} data-testid="complaint" data-status={r.status} className={r.status === "overdue" || r.status === "late" ? "overdue" : ""}>
            <div className="between">
              <strong>{label("task", r.kind, catalog.task_kinds.find((k) => k.code === r.kind)?.ar)} — {r.who || "—"}</strong>
              <span className={`badge ${r.status}`} data-testid="complaint-status">{label("answer", r.status)}</span>
            </div>
            <div>{r.contact.summary}</div>
            <div className="muted">
              {label("channel", r.contact.channel, catalog.channels.find((x) => x.code === r.contact.channel)?.ar)} · <DualDate iso={localDay(r.contact.at)} />
              {" · "}{t("answerBy")} <DualDate iso={r.due_on} />
              {r.owner && <> · {t("owner")}: {r.owner}</>}
            </div>
            {r.contact.attachments.length > 0 && <FileChips files={r.contact.attachments} />}
            {r.answer && (
              <div className="answer" data-testid="complaint-answer">
                <strong>{t("answered")}</strong> <DualDate iso={localDay(r.answer.at)} /> — {r.answer.summary} <span className="muted">({r.answer.staff_name})</span>
              </div>
            )}
            {!r.answer && answering?.task_id !== r.task_id && (
              <div className="row end"><button className="secondary" data-testid="answer" onClick={() => setAnswering(r)}>{t("answerComplaint")}</button></div>
            )}
            {answering?.task_id === r.task_id && (
              <ContactForm answers={{ taskId: r.task_id, summary: r.contact.summary, beneficiaryId: r.contact.beneficiary_id, contactName: r.contact.contact_name }}
                caseId={r.contact.case_id ?? undefined}
                onDone={() => { setAnswering(null); load(); }} onCancel={() => setAnswering(null)} />
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}
