// A beneficiary's file: who they are (corrected here, every field the wizard takes, household
// included), their requests, every contact, and the corrections made to the file over time.
import { useCallback, useEffect, useState } from "react";
import { api, asApiError } from "../shared/ipc";
import { useI18n } from "../shared/i18n";
import { DualDate, ErrorBox, Ltr, Phone } from "../shared/components";
import { formatHalalas, formatTime, localDay } from "../shared/format";
import type { ApiError } from "../generated/ApiError";
import type { CaseRow } from "../generated/CaseRow";
import type { IntakeDraft } from "../generated/IntakeDraft";
import type { PersonFileDto } from "../generated/PersonFileDto";
import type { PersonFormDto } from "../generated/PersonFormDto";
import { useDesk } from "./context";
import { PromiseBadge, StateLabel } from "./Lists";
import { ContactForm, ContactList } from "./Contacts";
import { StepHousehold, StepIdentity, emptyDraft, fid } from "./Wizard";
import { Merge, Merges } from "./Merge";

export function PersonFile({ id, edit }: { id: string; edit?: boolean }) {
  const { t, label, fieldNames } = useI18n();
  const { go } = useDesk();
  const [file, setFile] = useState<PersonFileDto | null>(null);
  const [cases, setCases] = useState<CaseRow[]>([]);
  const [err, setErr] = useState<ApiError | null>(null);
  const [mode, setMode] = useState<"view" | "edit" | "contact" | "merge">(edit ? "edit" : "view");
  const load = useCallback(() => {
    api.personFile(id).then(setFile, (e) => setErr(asApiError(e)));
    api.beneficiaryCases(id).then((p) => setCases(p.rows), () => {});
  }, [id]);
  useEffect(() => { load(); }, [load]);
  if (!file) return <><h1 tabIndex={-1}>{t("personFile")}</h1><ErrorBox error={err} /></>;
  const b = file.beneficiary;
  // A merged registration opens as the file it was merged into.
  const here = b.id;
  return (
    <div data-testid="person-file" data-id={here}>
      <div className="between">
        <h1 tabIndex={-1}>{b.full_name} {b.file_number && <span className="muted"><Ltr>{b.file_number}</Ltr></span>}</h1>
        {mode === "view" && (
          <div className="row no-print">
            <button data-testid="edit-person" onClick={() => setMode("edit")}>{t("editPerson")}</button>
            <button className="secondary" data-testid="person-contact" onClick={() => setMode("contact")}>{t("logContact")}</button>
            <button className="secondary" data-testid="person-merge" onClick={() => setMode("merge")}>{t("mergeWith")}</button>
          </div>
        )}
      </div>
      {mode === "edit" && <PersonEditor id={here} onDone={() => { setMode("view"); load(); }} onCancel={() => setMode("view")} />}
      {mode === "contact" && <div className="card"><ContactForm beneficiaryId={here} onDone={() => { setMode("view"); load(); }} onCancel={() => setMode("view")} /></div>}
      {mode === "merge" && <Merge survivorId={here} onDone={() => { setMode("view"); load(); }} onCancel={() => setMode("view")} />}
      {mode === "view" && (
        <div className="grid3">
          <div>
            <section className="card">
              <dl className="kv" data-testid="person-details">
                <dt>{t("nationalId")}</dt><dd><Ltr>{b.national_id ?? "—"}</Ltr></dd>
                <dt>{t("idExpiry")}</dt><dd><DualDate iso={b.id_expiry} /></dd>
                <dt>{t("mobile")}</dt><dd><Phone e164={b.mobile} /></dd>
                <dt>{t("birthDate")}</dt><dd><DualDate iso={b.birth_date} /></dd>
                <dt>{t("gender")}</dt><dd>{label("gender", b.gender) || "—"}</dd>
                <dt>{t("maritalStatus")}</dt><dd>{label("marital", b.marital_status) || "—"}</dd>
                <dt>{t("city")}</dt><dd>{[b.city, b.centre, b.district].filter(Boolean).join("، ") || "—"}</dd>
                <dt>{t("household")}</dt><dd>{b.household.length === 0 ? "—" : b.household.map((m) => `${m.name} (${label("relation", m.relation)})`).join("، ")}</dd>
                <dt>{t("monthlyIncome")}</dt><dd><Ltr>{formatHalalas(Number(b.monthly_income_halalas))}</Ltr></dd>
                <dt>{t("housing")}</dt><dd>{label("housing", b.housing) || "—"}</dd>
              </dl>
            </section>
            <section className="card">
              <h2>{t("contacts")} (<Ltr>{file.contacts.length}</Ltr>)</h2>
              <ContactList contacts={file.contacts} />
            </section>
          </div>
          <div>
            <section className="card">
              <h2>{t("cases")}</h2>
              {cases.length === 0 && <p className="muted">—</p>}
              <ul className="tasks">
                {cases.map((c) => (
                  <li key={c.id}>
                    <button className="link" onClick={() => go({ name: "case", id: c.id })}><Ltr>{c.number}</Ltr></button>
                    <span className="row"><StateLabel code={c.state} /><PromiseBadge code={c.promise} /></span>
                  </li>
                ))}
              </ul>
              <button className="secondary" onClick={() => go({ name: "wizard", forPerson: here })} data-testid="person-new-request">{t("newRequestForPerson")}</button>
            </section>
            <Merges beneficiaryId={here} onChanged={load} />
            <section className="card">
              <h2>{t("corrections")}</h2>
              {file.edits.length === 0 && <p className="muted">—</p>}
              <ul className="tasks" data-testid="person-edits">
                {file.edits.map((e, i) => (
                  <li key={i} data-code={e.code}>
                    <span>{e.code === "hq" ? `${label("timeline", "edit_hq")}: ${fieldNames(e.detail)}` : e.code === "hq_older" ? `${label("timeline", "edit_hq_older")}: ${e.detail}` : fieldNames(e.detail)}</span>
                    <span className="muted">{e.actor} · <DualDate iso={localDay(e.at)} /> <Ltr>{formatTime(e.at)}</Ltr></span>
                  </li>
                ))}
              </ul>
            </section>
          </div>
        </div>
      )}
    </div>
  );
}

/** The edit screen: the wizard's identity and household steps over the file as it is. */
function PersonEditor({ id, onDone, onCancel }: { id: string; onDone: () => void; onCancel: () => void }) {
  const { t } = useI18n();
  const [form, setForm] = useState<PersonFormDto | null>(null);
  const [draft, setDraft] = useState<IntakeDraft | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [err, setErr] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const read = useCallback(() => api.beneficiaryForm(id).then((f) => {
    setForm(f);
    setDraft({ ...emptyDraft(), existing_beneficiary_id: f.id, existing_version: f.version, identity: f.identity, household: f.household, monthly_income: f.monthly_income, housing: f.housing, annual_rent: f.annual_rent });
  }, (e) => setErr(asApiError(e))), [id]);
  useEffect(() => { read(); }, [read]);
  if (!form || !draft) return <ErrorBox error={err} />;
  const update = (f: (d: IntakeDraft) => IntakeDraft) => setDraft((d) => (d ? f(d) : d));
  return (
    <form className="card" noValidate data-testid="person-editor" onSubmit={async (e) => {
      e.preventDefault();
      setBusy(true);
      setErr(null);
      try {
        await api.saveBeneficiary({ ...form, identity: draft.identity, household: draft.household, monthly_income: draft.monthly_income, housing: draft.housing, annual_rent: draft.annual_rent });
        onDone();
      } catch (x) {
        const ae = asApiError(x);
        setErr(ae);
        const map: Record<string, string> = {};
        for (const p of ae.fields) map[p.field] ??= p.message;
        setErrors(map);
        if (ae.fields[0]) setTimeout(() => document.getElementById(fid(ae.fields[0].field))?.focus(), 0);
      } finally {
        setBusy(false);
      }
    }}>
      <h2>{t("editPerson")}</h2>
      <StepIdentity draft={draft} update={update} errors={errors} />
      <StepHousehold draft={draft} update={update} errors={errors} />
      <ErrorBox error={err && err.fields.length === 0 ? err : null} />
      {err?.code === "version_conflict" && <button type="button" className="secondary" onClick={() => { setErr(null); read(); }}>{t("reloadPerson")}</button>}
      <div className="row end">
        <button type="button" className="secondary" onClick={onCancel}>{t("cancel")}</button>
        <button type="submit" disabled={busy} data-testid="save-person">{t("save")}</button>
      </div>
    </form>
  );
}
