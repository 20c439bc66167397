// The intake wizard. Every keystroke lands in the store's drafts (debounced 300 ms, and at once on
// leaving a field or a step), so closing the app anywhere and opening it again resumes exactly
// there. Each step is checked by the domain (`validate_intake`) and errors appear beside fields.
import { useCallback, useEffect, useRef, useState } from "react";
import { api, asApiError } from "../shared/ipc";
import { useI18n } from "../shared/i18n";
import { canvasPng, ErrorBox, Field, FilePick, Ltr, Phone, SignaturePad, StoredImage } from "../shared/components";
import { formatGregorian, formatHijri, toLatinDigits } from "../shared/format";
import { amountShape, dateShape, mobileShape, nationalIdShape } from "../shared/validate";
import type { IntakeDraft } from "../generated/IntakeDraft";
import type { MemberForm } from "../generated/MemberForm";
import type { IdentityForm } from "../generated/IdentityForm";
import type { BeneficiaryRow } from "../generated/BeneficiaryRow";
import type { ApiError } from "../generated/ApiError";
import { OtherBranches } from "./BranchSync";
import { useDesk } from "./context";

export const STEPS = 8;

export function emptyDraft(): IntakeDraft {
  return {
    step: 0, channel: "", reason: "", query: "", existing_beneficiary_id: null, existing_version: null,
    identity: {
      first: "", father: "", grandfather: "", family: "", national_id: "", id_expiry: "", nationality: "",
      gender: "", birth_date: "", marital_status: "", mobile: "", city: "", centre: "", district: "", preferred_channel: "",
    },
    household: [], monthly_income: "", housing: "", annual_rent: "", support_type: "", need: "",
    documents: [], signature_kind: "", signature_attachment: null, beneficiary_id: null, case_id: null,
  };
}

/** DOM id of a field named by the domain ("household[0].name" → "household-0-name"). */
export const fid = (field: string) => field.replace(/\[(\d+)\]/g, "-$1").replace(/\./g, "-");

/** What a typed search query already says about the person (a new registration starts from it). */
export function identityFromQuery(q: string): Partial<IdentityForm> {
  const v = toLatinDigits(q).trim();
  if (/^(\+?966|0)?5\d{8}$/.test(v.replace(/\s/g, ""))) return { mobile: v };
  if (/^[12]\d{9}$/.test(v)) return { national_id: v };
  const words = q.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0 || /\d/.test(v)) return {};
  // "عبد" joins the next word: "عبد الله" is one part of a name.
  const parts: string[] = [];
  for (let i = 0; i < words.length; i++) {
    if ((words[i] === "عبد" || words[i] === "أبو") && i + 1 < words.length) {
      parts.push(`${words[i]} ${words[i + 1]}`);
      i++;
    } else if ((words[i] === "بن" || words[i] === "بنت") && parts.length > 0) {
      continue;
    } else parts.push(words[i]);
  }
  if (parts.length === 1) return { first: parts[0] };
  if (parts.length === 2) return { first: parts[0], family: parts[1] };
  if (parts.length === 3) return { first: parts[0], father: parts[1], family: parts[2] };
  return { first: parts[0], father: parts[1], grandfather: parts[2], family: parts.slice(3).join(" ") };
}

export function Wizard({ draftId, forPerson }: { draftId?: string; forPerson?: string }) {
  const { t } = useI18n();
  const { go } = useDesk();
  // The draft's ID in the store: given when continuing one, made by the first save of a new one.
  const idRef = useRef<string | null>(draftId ?? null);
  const [draft, setDraftState] = useState<IntakeDraft | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [err, setErr] = useState<ApiError | null>(null);
  const [saveState, setSaveState] = useState<"saved" | "pending" | "saving">("saved");
  const [busy, setBusy] = useState(false);
  const latest = useRef<IntakeDraft | null>(null);
  const timer = useRef<number | undefined>(undefined);
  const chain = useRef<Promise<unknown>>(Promise.resolve());
  const formRef = useRef<HTMLFormElement>(null);

  useEffect(() => {
    const start = (d: IntakeDraft) => {
      latest.current = d;
      setDraftState(d);
    };
    if (draftId) api.intakeDraft(draftId).then(start, (e) => setErr(asApiError(e)));
    else if (forPerson) {
      // A new request from a person's file: the wizard starts with them chosen, to be checked.
      api.beneficiaryForm(forPerson).then((f) => start({
        ...emptyDraft(), query: f.full_name, existing_beneficiary_id: f.id, existing_version: f.version,
        identity: f.identity, household: f.household, monthly_income: f.monthly_income, housing: f.housing, annual_rent: f.annual_rent,
      }), (e) => setErr(asApiError(e)));
    } else start(emptyDraft());
    return () => {
      // Leaving the screen saves what is pending (after any save still on its way, so a new
      // draft is not made twice).
      if (timer.current !== undefined && latest.current) {
        window.clearTimeout(timer.current);
        const d = latest.current;
        chain.current = chain.current.then(() => api.saveIntakeDraft(idRef.current, d));
      }
    };
  }, [draftId, forPerson]);

  /** Save now (serialised: saves never overtake each other). */
  const flush = useCallback((): Promise<unknown> => {
    if (timer.current !== undefined) {
      window.clearTimeout(timer.current);
      timer.current = undefined;
    }
    const d = latest.current;
    if (!d) return chain.current;
    setSaveState("saving");
    chain.current = chain.current.then(() => api.saveIntakeDraft(idRef.current, d)).then(
      (id) => {
        idRef.current = id;
        if (latest.current === d) setSaveState("saved");
      },
      (e) => { setErr(asApiError(e)); setSaveState("pending"); },
    );
    return chain.current;
  }, []);

  const update = useCallback((f: (d: IntakeDraft) => IntakeDraft) => {
    const next = f(latest.current!);
    latest.current = next;
    setDraftState(next);
    setSaveState("pending");
    if (timer.current !== undefined) window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => { timer.current = undefined; flush(); }, 300);
  }, [flush]);

  const goStep = useCallback(async (step: number) => {
    update((d) => ({ ...d, step }));
    await flush();
    setErrors({});
    setTimeout(() => {
      const form = formRef.current;
      // The new step shows before the save above ends (a moment, longer on a busy laptop): a person
      // already typing in one of its fields keeps the focus, or their next letters would land in
      // the first field (seen in the desktop suite: half a grandfather's name in the first name).
      const here = document.activeElement;
      if (!form || (here && form.contains(here) && here.matches("input,select,textarea"))) return;
      form.querySelector<HTMLElement>("input:not([type=hidden]),select,textarea,button.primary-choice")?.focus();
    }, 0);
  }, [update, flush]);

  if (!draft) return <><h1 tabIndex={-1}>{t("newIntake")}</h1><ErrorBox error={err} /></>;
  const step = draft.step;

  const next = async () => {
    setErr(null);
    await flush();
    try {
      const problems = await api.validateIntake(latest.current!, step);
      if (problems.length > 0) {
        const map: Record<string, string> = {};
        for (const p of problems) map[p.field] ??= p.message;
        setErrors(map);
        setTimeout(() => document.getElementById(fid(problems[0].field))?.focus(), 0);
        return;
      }
      if (step < STEPS - 1) {
        await goStep(step + 1);
      } else {
        setBusy(true);
        const receipt = await api.submitIntake(idRef.current!);
        go({ name: "receipt", caseId: receipt.case_id });
      }
    } catch (e) {
      const ae = asApiError(e);
      setErr(ae);
      if (ae.code === "version_conflict" && latest.current?.existing_beneficiary_id) {
        // Someone changed the file since it was read here: read it again, to be checked again.
        await useExisting(latest.current.existing_beneficiary_id);
      }
      const map: Record<string, string> = {};
      for (const p of ae.fields) map[p.field] ??= p.message;
      setErrors(map);
    } finally {
      setBusy(false);
    }
  };
  const back = () => goStep(Math.max(0, step - 1));

  const useExisting = async (id: string) => {
    try {
      const f = await api.beneficiaryForm(id);
      update((d) => ({
        ...d, existing_beneficiary_id: f.id, existing_version: f.version,
        identity: f.identity, household: f.household, monthly_income: f.monthly_income, housing: f.housing, annual_rent: f.annual_rent,
      }));
      await goStep(2);
    } catch (e) {
      setErr(asApiError(e));
    }
  };
  const props: StepProps = { draft, update, errors, setErrors, goStep, flush, useExisting };
  return (
    <div data-testid="wizard" data-step={step}>
      <div className="between">
        <h1 tabIndex={-1}>{t("newIntake")}</h1>
        <span className="save-state" data-testid="save-state" data-state={saveState} aria-live="polite">
          {saveState === "saved" ? t("saved") : t("saving")}
        </span>
      </div>
      <ol className="steps" aria-label={t("newIntake")}>
        {Array.from({ length: STEPS }, (_, i) => (
          <li key={i} className={i === step ? "current" : i < step ? "done" : ""} aria-current={i === step ? "step" : undefined}>
            <Ltr>{i + 1}</Ltr>. {t(`step${i}` as never)}
          </li>
        ))}
      </ol>
      <form
        ref={formRef}
        className="card"
        noValidate
        onSubmit={(e) => { e.preventDefault(); next(); }}
        onBlur={() => { if (timer.current !== undefined) flush(); }}
      >
        <h2>{t(`step${step}` as never)}</h2>
        {step === 0 && <StepChannel {...props} />}
        {step === 1 && <StepSearch {...props} />}
        {step === 2 && <>{draft.existing_beneficiary_id && <ExistingBanner id={draft.existing_beneficiary_id} />}<StepIdentity {...props} /><OtherBranches nationalId={draft.identity.national_id} /></>}
        {step === 3 && <StepHousehold {...props} />}
        {step === 4 && <StepNeed {...props} />}
        {step === 5 && <StepDocuments {...props} />}
        {step === 6 && <StepDeclaration {...props} />}
        {step === 7 && <StepReview {...props} />}
        <ErrorBox error={err} />
        <div className="between" style={{ marginBlockStart: "1rem" }}>
          <button
            type="button"
            className="secondary"
            data-testid="discard"
            onClick={async () => {
              // No "are you sure": home offers to undo it instead.
              window.clearTimeout(timer.current);
              timer.current = undefined;
              await chain.current;
              const id = idRef.current;
              if (id) await api.discardIntakeDraft(id);
              go({ name: "home", discarded: id ?? undefined });
            }}
          >
            {t("discard")}
          </button>
          <div className="row">
            {step > 0 && <button type="button" className="secondary" onClick={back} data-testid="back">{t("back")}</button>}
            <button type="submit" disabled={busy} data-testid={step === STEPS - 1 ? "submit" : "next"}>
              {step === STEPS - 1 ? t("submit") : t("next")}
            </button>
          </div>
        </div>
      </form>
    </div>
  );
}

export type StepProps = {
  draft: IntakeDraft;
  update: (f: (d: IntakeDraft) => IntakeDraft) => void;
  errors: Record<string, string>;
  setErrors: (e: Record<string, string>) => void;
  goStep: (s: number) => Promise<void>;
  flush: () => Promise<unknown>;
  /** Make this intake a returning applicant's: their file fills the identity step, to be checked. */
  useExisting: (id: string) => Promise<void>;
};

/** The person's part of a draft (what the identity and household steps show). */
export function personFields(d: IntakeDraft): Pick<IntakeDraft, "identity" | "household" | "monthly_income" | "housing" | "annual_rent"> {
  return { identity: d.identity, household: d.household, monthly_income: d.monthly_income, housing: d.housing, annual_rent: d.annual_rent };
}

function StepChannel({ draft, update, errors }: StepProps) {
  const { t, label } = useI18n();
  const { catalog } = useDesk();
  return (
    <div className="form-grid">
      <Field id="channel" label={t("channel")} error={errors["channel"]}>
        {(a) => (
          <select {...a} value={draft.channel} onChange={(e) => update((d) => ({ ...d, channel: e.target.value }))}>
            <option value="">{t("choose")}</option>
            {catalog.channels.map((c) => <option key={c.code} value={c.code}>{label("channel", c.code, c.ar)}</option>)}
          </select>
        )}
      </Field>
      <Field id="reason" label={t("reason")} wide>
        {(a) => <textarea {...a} value={draft.reason} onChange={(e) => update((d) => ({ ...d, reason: e.target.value }))} />}
      </Field>
    </div>
  );
}

function StepSearch({ draft, update, goStep, useExisting }: StepProps) {
  const { t } = useI18n();
  const [hits, setHits] = useState<BeneficiaryRow[] | null>(null);
  useEffect(() => {
    const q = draft.query.trim();
    if (q.length < 2) { setHits(null); return; }
    const timer = setTimeout(() => api.search(q, 20).then(setHits, () => setHits([])), 150);
    return () => clearTimeout(timer);
  }, [draft.query]);
  return (
    <div>
      <Field id="query" label={t("searchLabel")} hint={t("searchHint")} wide>
        {(a) => (
          <input {...a} data-testid="search-query" value={draft.query} autoComplete="off"
            onChange={(e) => update((d) => ({ ...d, query: e.target.value }))} />
        )}
      </Field>
      {hits && (
        <section aria-live="polite" data-testid="matches">
          <h3>{t("likelyMatches")}</h3>
          {hits.length === 0 && <p className="muted">{t("noMatches")}</p>}
          <ul className="matches">
            {hits.map((h) => (
              <li key={h.id} data-testid="match">
                <span>
                  <strong>{h.full_name}</strong>
                  {h.national_id && <> · <Ltr>{h.national_id}</Ltr></>}
                  {h.mobile && <> · <Phone e164={h.mobile} /></>}
                  {h.city && <span className="muted"> · {h.city}</span>}
                </span>
                <button type="button" className="secondary" data-testid="choose-match"
                  onClick={() => useExisting(h.id)}>
                  {t("thisIsThePerson")}
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
      <div className="row" style={{ marginBlockStart: ".8rem" }}>
        <button type="button" className="secondary primary-choice" data-testid="new-beneficiary"
          onClick={async () => {
            update((d) => {
              // A person chosen before and then set aside leaves nothing of theirs in the form.
              const base = d.existing_beneficiary_id ? { ...d, ...personFields(emptyDraft()) } : d;
              const fromQuery = base.identity.first || base.identity.national_id ? {} : identityFromQuery(d.query);
              return { ...base, existing_beneficiary_id: null, existing_version: null, identity: { ...base.identity, ...fromQuery } };
            });
            await goStep(2);
          }}>
          {t("newBeneficiary")}
        </button>
      </div>
    </div>
  );
}

export function StepIdentity({ draft, update, errors, useExisting }: Pick<StepProps, "draft" | "update" | "errors"> & { useExisting?: (id: string) => void }) {
  const { t, label } = useI18n();
  const { catalog, go } = useDesk();
  const [local, setLocal] = useState<Record<string, string | null>>({});
  // Search-before-create, once more: someone on file with the ID just typed.
  const [sameId, setSameId] = useState<BeneficiaryRow[]>([]);
  const self = draft.existing_beneficiary_id ?? draft.beneficiary_id;
  useEffect(() => {
    const id = draft.identity.national_id;
    if (!id.trim() || nationalIdShape(id)) { setSameId([]); return; }
    let live = true;
    const timer = setTimeout(() => api.sameNationalId(id, self).then((r) => live && setSameId(r), () => {}), 200);
    return () => { live = false; clearTimeout(timer); };
  }, [draft.identity.national_id, self]);
  const set = (k: keyof IdentityForm) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) => {
    const v = e.target.value;
    update((d) => ({ ...d, identity: { ...d.identity, [k]: v } }));
  };
  const shape = (k: string, f: (v: string) => { message: string } | null) => () =>
    setLocal((l) => ({ ...l, [k]: f((draft.identity as Record<string, string>)[k.split(".")[1]] ?? "")?.message ?? null }));
  const err = (k: string) => errors[k] ?? local[k] ?? null;
  const text = (k: keyof IdentityForm, lbl: string, extra: Partial<React.InputHTMLAttributes<HTMLInputElement>> = {}, check?: (v: string) => { message: string } | null) => (
    <Field id={fid(`identity.${k}`)} label={lbl} error={err(`identity.${k}`)} hint={extra.placeholder ? undefined : undefined}>
      {(a) => <input {...a} {...extra} value={draft.identity[k]} onChange={set(k)} onBlur={check ? shape(`identity.${k}`, check) : undefined} />}
    </Field>
  );
  const select = (k: keyof IdentityForm, lbl: string, group: string, codes: string[], fallback?: (c: string) => string) => (
    <Field id={fid(`identity.${k}`)} label={lbl} error={err(`identity.${k}`)}>
      {(a) => (
        <select {...a} value={draft.identity[k]} onChange={set(k)}>
          <option value="">{t("choose")}</option>
          {codes.map((c) => <option key={c} value={c}>{label(group, c, fallback?.(c))}</option>)}
        </select>
      )}
    </Field>
  );
  return (
    <div className="form-grid">
      {text("first", t("first"))}
      {text("father", t("father"))}
      {text("grandfather", t("grandfather"))}
      {text("family", t("family"))}
      {text("national_id", t("nationalId"), { dir: "ltr", inputMode: "numeric" }, nationalIdShape)}
      {text("id_expiry", t("idExpiry"), { dir: "ltr", placeholder: "1450/01/01" }, dateShape)}
      {text("birth_date", t("birthDate"), { dir: "ltr", placeholder: "1410/05/12" }, dateShape)}
      {text("mobile", t("mobile"), { dir: "ltr", inputMode: "tel", placeholder: "05XXXXXXXX" }, mobileShape)}
      {select("gender", t("gender"), "gender", ["male", "female"])}
      {select("marital_status", t("maritalStatus"), "marital", ["single", "married", "divorced", "widowed"])}
      {text("nationality", t("nationality"))}
      {select("preferred_channel", t("preferredChannel"), "channel", catalog.channels.map((c) => c.code), (c) => catalog.channels.find((x) => x.code === c)?.ar ?? c)}
      {text("city", t("city"))}
      {text("centre", t("centre"))}
      {text("district", t("district"))}
      <p className="hint muted wide" style={{ gridColumn: "1 / -1" }}>{t("dateHint")}</p>
      {sameId.length > 0 && (
        <div className="notice warn wide" role="alert" data-testid="same-id" style={{ gridColumn: "1 / -1" }}>
          <strong>{t("sameIdOnFile")}</strong>
          <ul>
            {sameId.map((r) => (
              <li key={r.id} className="row">
                <span>{r.full_name}{r.file_number && <> · <Ltr>{r.file_number}</Ltr></>}{r.mobile && <> · <Phone e164={r.mobile} /></>}</span>
                {useExisting && <button type="button" className="secondary" data-testid="same-id-use" onClick={() => useExisting(r.id)}>{t("thisIsThePerson")}</button>}
                <button type="button" className="secondary" data-testid="same-id-open" onClick={() => go({ name: "person", id: r.id })}>{t("openFile")}</button>
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}

const RELATIONS = ["spouse", "son", "daughter", "father", "mother", "brother", "sister", "other"];
const SCHOOLING = ["not_applicable", "not_enrolled", "primary", "intermediate", "secondary", "university"];

export function StepHousehold({ draft, update, errors }: Pick<StepProps, "draft" | "update" | "errors">) {
  const { t, label } = useI18n();
  const [local, setLocal] = useState<Record<string, string | null>>({});
  const setMember = (i: number, k: keyof MemberForm, v: string | boolean) =>
    update((d) => ({ ...d, household: d.household.map((m, j) => (j === i ? { ...m, [k]: v } : m)) }));
  const err = (k: string) => errors[k] ?? local[k] ?? null;
  return (
    <div>
      <h3>{t("household")}</h3>
      {draft.household.map((m, i) => (
        <div className="form-grid card" key={i} data-testid={`member-${i}`}>
          <Field id={fid(`household[${i}].name`)} label={t("memberName")} error={err(`household[${i}].name`)}>
            {(a) => <input {...a} value={m.name} onChange={(e) => setMember(i, "name", e.target.value)} />}
          </Field>
          <Field id={fid(`household[${i}].relation`)} label={t("relation")} error={err(`household[${i}].relation`)}>
            {(a) => (
              <select {...a} value={m.relation} onChange={(e) => setMember(i, "relation", e.target.value)}>
                <option value="">{t("choose")}</option>
                {RELATIONS.map((r) => <option key={r} value={r}>{label("relation", r)}</option>)}
              </select>
            )}
          </Field>
          <Field id={fid(`household[${i}].national_id`)} label={t("nationalId")} error={err(`household[${i}].national_id`)}>
            {(a) => <input {...a} dir="ltr" value={m.national_id} onChange={(e) => setMember(i, "national_id", e.target.value)}
              onBlur={() => setLocal((l) => ({ ...l, [`household[${i}].national_id`]: nationalIdShape(m.national_id)?.message ?? null }))} />}
          </Field>
          <Field id={fid(`household[${i}].birth_date`)} label={t("birthDate")} error={err(`household[${i}].birth_date`)}>
            {(a) => <input {...a} dir="ltr" placeholder="1435/02/10" value={m.birth_date} onChange={(e) => setMember(i, "birth_date", e.target.value)}
              onBlur={() => setLocal((l) => ({ ...l, [`household[${i}].birth_date`]: dateShape(m.birth_date)?.message ?? null }))} />}
          </Field>
          <Field id={fid(`household[${i}].schooling`)} label={t("schooling")} error={err(`household[${i}].schooling`)}>
            {(a) => (
              <select {...a} value={m.schooling} onChange={(e) => setMember(i, "schooling", e.target.value)}>
                <option value="">{t("choose")}</option>
                {SCHOOLING.map((r) => <option key={r} value={r}>{label("schooling", r)}</option>)}
              </select>
            )}
          </Field>
          <div className="field">
            <label><input type="checkbox" checked={m.disability} onChange={(e) => setMember(i, "disability", e.target.checked)} /> {t("disability")}</label>
          </div>
          <div className="field">
            <button type="button" className="secondary" onClick={() => update((d) => ({ ...d, household: d.household.filter((_, j) => j !== i) }))}>
              {t("removeMember")}
            </button>
          </div>
        </div>
      ))}
      <button type="button" className="secondary" data-testid="add-member"
        onClick={() => {
          update((d) => ({ ...d, household: [...d.household, { id: "", name: "", relation: "", national_id: "", birth_date: "", disability: false, schooling: "" }] }));
          setTimeout(() => document.getElementById(fid(`household[${draft.household.length}].name`))?.focus(), 0);
        }}>
        {t("addMember")}
      </button>
      <div className="form-grid" style={{ marginBlockStart: "1rem" }}>
        <Field id="monthly_income" label={t("monthlyIncome")} error={err("monthly_income")}>
          {(a) => <input {...a} dir="ltr" inputMode="decimal" value={draft.monthly_income}
            onChange={(e) => update((d) => ({ ...d, monthly_income: e.target.value }))}
            onBlur={() => setLocal((l) => ({ ...l, monthly_income: amountShape(draft.monthly_income)?.message ?? null }))} />}
        </Field>
        <Field id="housing" label={t("housing")} error={err("housing")}>
          {(a) => (
            <select {...a} value={draft.housing} onChange={(e) => update((d) => ({ ...d, housing: e.target.value }))}>
              <option value="">{t("choose")}</option>
              {["owned", "rented", "shared", "other"].map((h) => <option key={h} value={h}>{label("housing", h)}</option>)}
            </select>
          )}
        </Field>
        {draft.housing === "rented" && (
          <Field id="annual_rent" label={t("annualRent")} error={err("annual_rent")}>
            {(a) => <input {...a} dir="ltr" inputMode="decimal" value={draft.annual_rent} onChange={(e) => update((d) => ({ ...d, annual_rent: e.target.value }))} />}
          </Field>
        )}
      </div>
    </div>
  );
}

function StepNeed({ draft, update, errors }: StepProps) {
  const { t, lang } = useI18n();
  const { catalog } = useDesk();
  return (
    <div className="form-grid">
      {draft.existing_beneficiary_id && <ExistingBanner id={draft.existing_beneficiary_id} />}
      <Field id="support_type" label={t("supportType")} error={errors["support_type"]}>
        {(a) => (
          <select {...a} value={draft.support_type}
            onChange={(e) => {
              const code = e.target.value;
              const req = catalog.support_types.find((s) => s.code === code)?.required_documents ?? [];
              update((d) => ({
                ...d,
                support_type: code,
                // The checklist follows the support type; documents already attached are kept.
                documents: req.map((c) => d.documents.find((x) => x.code === c) ?? { code: c, attachment: null, file_name: "", mime: "", seen_in_original: false }),
              }));
            }}>
            <option value="">{t("choose")}</option>
            {catalog.support_types.map((s) => <option key={s.code} value={s.code}>{lang === "ar" ? s.ar : s.en}</option>)}
          </select>
        )}
      </Field>
      <Field id="need" label={t("need")} error={errors["need"]} wide>
        {(a) => <textarea {...a} value={draft.need} onChange={(e) => update((d) => ({ ...d, need: e.target.value }))} />}
      </Field>
    </div>
  );
}

function ExistingBanner({ id }: { id: string }) {
  const { t } = useI18n();
  const [row, setRow] = useState<BeneficiaryRow | null>(null);
  useEffect(() => {
    api.beneficiaryRow(id).then(setRow, () => {});
  }, [id]);
  return (
    <p className="wide" style={{ gridColumn: "1 / -1" }} data-testid="existing-banner">
      {t("existingChosen")} <strong>{row?.full_name}</strong>
      {row?.national_id && <> · <Ltr>{row.national_id}</Ltr></>}
    </p>
  );
}

function StepDocuments({ draft, update, errors }: StepProps) {
  const { t, lang } = useI18n();
  const { catalog } = useDesk();
  const [err, setErr] = useState<ApiError | null>(null);
  if (!draft.support_type) return <p>{t("chooseSupportFirst")}</p>;
  const name = (code: string) => {
    const d = catalog.document_types.find((x) => x.code === code);
    return d ? (lang === "ar" ? d.ar : d.en) : code;
  };
  const setDoc = (code: string, patch: Partial<IntakeDraft["documents"][number]>) =>
    update((d) => ({ ...d, documents: d.documents.map((x) => (x.code === code ? { ...x, ...patch } : x)) }));
  return (
    <div>
      <p className="muted">{t("documentsFor")}</p>
      <ul className="docs">
        {draft.documents.map((doc) => (
          <li key={doc.code} data-testid={`doc-${doc.code}`}>
            <div className={`field${errors[`documents.${doc.code}`] ? " has-error" : ""}`}>
              <strong>{name(doc.code)}</strong>
              {doc.file_name && <small className="muted"><bdi>{doc.file_name}</bdi></small>}
              {errors[`documents.${doc.code}`] && (
                <small className="error" role="alert" id={fid(`documents.${doc.code}`)} tabIndex={-1}>{errors[`documents.${doc.code}`]}</small>
              )}
            </div>
            <div className="row">
              {doc.attachment && <StoredImage sha={doc.attachment} alt={name(doc.code)} className="thumb" />}
              <FilePick id={`file-${doc.code}`} testid={`file-${doc.code}`} label={doc.attachment ? t("replace") : t("attach")}
                onFile={async (bytes, fileName) => {
                  try {
                    const f = await api.upload(bytes);
                    setDoc(doc.code, { attachment: f.sha256, file_name: fileName, mime: f.mime });
                    setErr(null);
                  } catch (e) {
                    setErr(asApiError(e));
                  }
                }} />
            </div>
            <label>
              <input type="checkbox" data-testid={`seen-${doc.code}`} checked={doc.seen_in_original}
                onChange={(e) => setDoc(doc.code, { seen_in_original: e.target.checked })} /> {t("seenInOriginal")}
            </label>
          </li>
        ))}
      </ul>
      <ErrorBox error={err} />
    </div>
  );
}

function StepDeclaration({ draft, update, errors }: StepProps) {
  const { t, lang } = useI18n();
  const { catalog, session } = useDesk();
  const pad = useRef<HTMLCanvasElement | null>(null);
  const [err, setErr] = useState<ApiError | null>(null);
  const uploadTimer = useRef<number | undefined>(undefined);
  const keepDrawn = async () => {
    if (!pad.current) return;
    try {
      const f = await api.upload(await canvasPng(pad.current));
      update((d) => ({ ...d, signature_kind: "drawn", signature_attachment: f.sha256 }));
    } catch (e) {
      setErr(asApiError(e));
    }
  };
  const now = new Date().toISOString();
  return (
    <div>
      <p className="declaration-text" lang="ar" dir="rtl">{catalog.declaration_ar}</p>
      {lang === "en" && <p className="muted">{catalog.declaration_en}</p>}
      <div className="row" role="radiogroup" aria-label={t("signature")}>
        <label><input type="radio" name="sigkind" checked={draft.signature_kind !== "on_paper"} data-testid="sig-drawn"
          onChange={() => update((d) => ({ ...d, signature_kind: "drawn", signature_attachment: d.signature_kind === "drawn" ? d.signature_attachment : null }))} /> {t("signHere")}</label>
        <label><input type="radio" name="sigkind" checked={draft.signature_kind === "on_paper"} data-testid="sig-paper"
          onChange={() => update((d) => ({ ...d, signature_kind: "on_paper", signature_attachment: null }))} /> {t("signedOnPaper")}</label>
      </div>
      <div id="signature" tabIndex={-1} className={errors["signature"] ? "field has-error" : "field"}>
        {draft.signature_kind !== "on_paper" && (
          draft.signature_attachment ? (
            <div data-testid="signature-kept">
              <StoredImage sha={draft.signature_attachment} alt={t("signature")} className="sig-preview" />
              <p className="muted">{t("signatureSaved")}</p>
              <button type="button" className="secondary" onClick={() => update((d) => ({ ...d, signature_attachment: null }))}>{t("clear")}</button>
            </div>
          ) : (
            <SignaturePad padRef={pad} onChange={(ink) => {
              // The drawn signature is kept in the store shortly after the pen lifts.
              window.clearTimeout(uploadTimer.current);
              if (ink) uploadTimer.current = window.setTimeout(keepDrawn, 800);
            }} />
          )
        )}
        {draft.signature_kind === "on_paper" && (
          <div className="row">
            {draft.signature_attachment && <StoredImage sha={draft.signature_attachment} alt={t("signature")} className="thumb" />}
            <FilePick id="sig-file" testid="sig-file" label={t("attach")} onFile={async (bytes) => {
              try {
                const f = await api.upload(bytes);
                update((d) => ({ ...d, signature_kind: "on_paper", signature_attachment: f.sha256 }));
              } catch (e) {
                setErr(asApiError(e));
              }
            }} />
          </div>
        )}
        {errors["signature"] && <small className="error" role="alert">{errors["signature"]}</small>}
      </div>
      <dl className="kv" style={{ marginBlockStart: ".8rem" }}>
        <dt>{t("employee")}</dt><dd data-testid="employee-name">{session.display_name}</dd>
        <dt>{t("time")}</dt><dd><bdi>{formatHijri(now, lang)}</bdi> · <bdi>{formatGregorian(now, lang)}</bdi></dd>
      </dl>
      <ErrorBox error={err} />
    </div>
  );
}

function StepReview({ draft, goStep, errors }: StepProps) {
  const { t, label, lang } = useI18n();
  const { catalog } = useDesk();
  const id = draft.identity;
  const st = catalog.support_types.find((s) => s.code === draft.support_type);
  const problems = Object.entries(errors);
  return (
    <div data-testid="review">
      <p className="muted">{t("review")}</p>
      {problems.length > 0 && (
        <ul className="error-box">{problems.map(([f, m]) => <li key={f}>{m}</li>)}</ul>
      )}
      <div className="grid2">
        <section>
          <div className="between"><h3>{t("step2")}</h3><button type="button" className="link" onClick={() => goStep(2)}>{t("edit")}</button></div>
          {draft.existing_beneficiary_id && <p className="muted">{t("existingChosen")}</p>}
          {(
            <dl className="kv">
              <dt>{t("name")}</dt><dd>{[id.first, id.father, id.grandfather, id.family].filter(Boolean).join(" ")}</dd>
              <dt>{t("nationalId")}</dt><dd><Ltr>{id.national_id || "—"}</Ltr></dd>
              <dt>{t("mobile")}</dt><dd><Ltr>{id.mobile || "—"}</Ltr></dd>
              <dt>{t("birthDate")}</dt><dd><Ltr>{id.birth_date || "—"}</Ltr></dd>
              <dt>{t("city")}</dt><dd>{id.city || "—"}</dd>
            </dl>
          )}
          {(
            <>
              <div className="between"><h3>{t("household")} (<Ltr>{draft.household.length}</Ltr>)</h3><button type="button" className="link" onClick={() => goStep(3)}>{t("edit")}</button></div>
              <ul>{draft.household.map((m, i) => <li key={i}>{m.name} — {label("relation", m.relation)}</li>)}</ul>
            </>
          )}
        </section>
        <section>
          <div className="between"><h3>{t("step4")}</h3><button type="button" className="link" onClick={() => goStep(4)}>{t("edit")}</button></div>
          <dl className="kv">
            <dt>{t("channel")}</dt><dd>{label("channel", draft.channel, catalog.channels.find((c) => c.code === draft.channel)?.ar)}</dd>
            <dt>{t("supportType")}</dt><dd>{st ? (lang === "ar" ? st.ar : st.en) : "—"}</dd>
            <dt>{t("need")}</dt><dd>{draft.need}</dd>
          </dl>
          <div className="between"><h3>{t("documents")}</h3><button type="button" className="link" onClick={() => goStep(5)}>{t("edit")}</button></div>
          <ul>
            {draft.documents.map((d) => (
              <li key={d.code}>
                {lang === "ar" ? catalog.document_types.find((x) => x.code === d.code)?.ar : catalog.document_types.find((x) => x.code === d.code)?.en}
                {" — "}{d.attachment ? "✓" : "✗"} {d.seen_in_original ? t("seenInOriginal") : ""}
              </li>
            ))}
          </ul>
          <div className="between"><h3>{t("signature")}</h3><button type="button" className="link" onClick={() => goStep(6)}>{t("edit")}</button></div>
          <p>{draft.signature_attachment ? label("signature", draft.signature_kind || "drawn") : "✗"}</p>
        </section>
      </div>
    </div>
  );
}
