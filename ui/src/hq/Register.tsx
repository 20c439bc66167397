// HQ's register: every branch's beneficiaries, searched as the branch searches (any spelling of
// a name, an ID or its beginning, a mobile or its last digits, a case or file number), a person's
// whole file (identity, household, contacts, cases with their history, surveys, complaints), one
// field changed at a time (checked by the server as the branch checks it), and the export.
import { useState, type FormEvent } from "react";
import { DualDate, Ltr, Phone } from "../shared/components";
import { download, get, post, type ApiError, type BranchList, type EditBody, type Edited, type FieldRefusal, type Housing, type Member, type Person, type PersonFile, type RegisterPage, type RegisterQuery } from "./api";
import { useHq } from "./i18n";
import { makeI18n } from "../shared/i18n";
import { CHANNELS, FIELDS, PURPOSES, STATES, label } from "./labels";
import { Failure, Notice, useCatalogName, useLoad, when } from "./common";
import { CaseView } from "./Committee";
import { VoiceStatusBadge } from "./Voice";

/** `arg` is "" (the list), a person's ID, or "case:" + a case's ID. */
export function Register({ arg, go, canEdit }: { arg: string; go: (arg: string) => void; canEdit: boolean }) {
  if (arg.startsWith("case:")) return <CaseView id={arg.slice(5)} back={() => window.history.back()} source="register" />;
  if (arg) return <Person id={arg} back={() => go("")} openCase={(id) => go(`case:${id}`)} canEdit={canEdit} />;
  return <Search open={(id) => go(id)} openCase={(id) => go(`case:${id}`)} canExport={canEdit} />;
}

function Search({ open, openCase, canExport }: { open: (id: string) => void; openCase: (id: string) => void; canExport: boolean }) {
  const { t } = useHq();
  // The query typed, and the one searched (a search runs on Enter or the button, not per key).
  const [typed, setTyped] = useState(() => sessionStorage.getItem("sila-hq-register-q") ?? "");
  const [q, setQ] = useState(typed);
  const [branch, setBranch] = useState("");
  const [cursors, setCursors] = useState<string[]>([]);
  const after = cursors[cursors.length - 1] ?? "";
  // Each page remembers the search it answers: while a new search runs the old rows stay in view,
  // dimmed and marked busy, so nobody (a person or a test) reads them as the new answer.
  const { data: loaded, error } = useLoad(
    () => post<RegisterPage>("/register", { q, branch, after: after || null, limit: 50 } satisfies RegisterQuery).then((page) => ({ page, q, branch, after })),
    [q, branch, after],
  );
  const data = loaded?.page ?? null;
  const current = loaded !== null && loaded.q === q && loaded.branch === branch && loaded.after === after;
  const [exportError, setExportError] = useState<ApiError | null>(null);
  const exportAs = async (ext: "csv" | "xlsx") => {
    setExportError(null);
    try {
      await download(`/register/export/register.${ext}`, { q, branch });
    } catch (e) {
      setExportError(e as ApiError);
    }
  };
  const branches = useLoad(() => get<BranchList>("/branches"), []).data?.branches ?? [];
  const submit = (e: FormEvent) => {
    e.preventDefault();
    sessionStorage.setItem("sila-hq-register-q", typed.trim());
    setQ(typed.trim());
    setCursors([]);
  };
  return (
    <section data-testid="register" data-shown-q={loaded?.q ?? ""} aria-busy={!current}>
      <div className="between">
        <h1>{t("register")}</h1>
        {canExport && (
          <div className="row">
            <button type="button" className="secondary" onClick={() => exportAs("csv")} data-testid="export-register-csv">{t("exportCsv")}</button>
            <button type="button" className="secondary" onClick={() => exportAs("xlsx")} data-testid="export-register-xlsx">{t("exportXlsx")}</button>
          </div>
        )}
      </div>
      <p className="muted">{t("registerHint")}</p>
      <form className="row search-form" onSubmit={submit} role="search">
        <input
          type="search"
          aria-label={t("registerSearch")}
          placeholder={t("registerSearch")}
          value={typed}
          onChange={(e) => setTyped(e.target.value)}
          data-testid="register-q"
          autoFocus
        />
        <select aria-label={t("branch")} value={branch} onChange={(e) => { setBranch(e.target.value); setCursors([]); }} data-testid="register-branch">
          <option value="">{t("branch")}: {t("all")}</option>
          {branches.map((b) => <option key={b} value={b}>{b}</option>)}
        </select>
        <button type="submit" data-testid="register-search">{t("search")}</button>
      </form>
      <Failure error={error ?? exportError} />
      {!data ? (
        <p>{t("loading")}</p>
      ) : data.rows.length === 0 ? (
        <p className="muted" data-testid="register-empty">{q ? t("noneFound") : t("empty")}</p>
      ) : (
        <>
          <p className="muted">
            {t("found")}: <Ltr testid="register-total">{data.capped ? `${data.total}+` : data.total}</Ltr>
            {data.capped && <> — {t("refine")}</>}
          </p>
          <table className="table" data-testid="register-table" style={current ? undefined : { opacity: 0.5 }}>
            <thead>
              <tr>
                <th>{t("name")}</th>
                <th>{t("nationalId")}</th>
                <th>{t("mobile")}</th>
                <th>{t("branch")}</th>
                <th>{t("city")}</th>
                <th>{t("fileNumber")}</th>
              </tr>
            </thead>
            <tbody>
              {data.rows.map((r) => (
                <tr key={r.id}>
                  <td>
                    <button type="button" className="link" onClick={() => open(r.id)} data-testid="open-person" data-person={r.id}>
                      {r.name || "—"}
                    </button>
                    {r.case_id && (
                      <>
                        {" "}
                        <button type="button" className="link small" onClick={() => openCase(r.case_id!)} data-testid="open-found-case">
                          {t("caseOpenedFor")}
                        </button>
                      </>
                    )}
                  </td>
                  <td><Ltr>{r.national_id ?? "—"}</Ltr></td>
                  <td><Ltr>{r.mobile ?? "—"}</Ltr></td>
                  <td>{r.branch}</td>
                  <td>{r.city || "—"}</td>
                  <td data-testid="file-number"><Ltr>{r.file_number ?? "—"}</Ltr></td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <div className="row pager">
        <button type="button" className="secondary" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>{t("previous")}</button>
        <button type="button" className="secondary" disabled={!data?.next} onClick={() => data?.next && setCursors([...cursors, data.next])} data-testid="register-next">{t("next")}</button>
      </div>
    </section>
  );
}

type Kind = "text" | "ltr" | "date" | "number" | "long" | "gender" | "marital" | "channel" | "name" | "household" | "income" | "housing";
const EDITABLE: { field: string; kind: Kind }[] = [
  { field: "name", kind: "name" },
  { field: "national_id", kind: "ltr" },
  { field: "id_expiry", kind: "date" },
  { field: "mobile", kind: "ltr" },
  { field: "birth_date", kind: "date" },
  { field: "gender", kind: "gender" },
  { field: "marital_status", kind: "marital" },
  { field: "nationality", kind: "text" },
  { field: "city", kind: "text" },
  { field: "centre", kind: "text" },
  { field: "district", kind: "text" },
  { field: "preferred_channel", kind: "channel" },
  { field: "household_size", kind: "number" },
  { field: "health_conditions", kind: "long" },
];
/** The household's fields, each edited whole as the branch's edit screen edits it. */
const HOUSEHOLD: { field: string; kind: Kind }[] = [
  { field: "household", kind: "household" },
  { field: "monthly_income", kind: "income" },
  { field: "housing", kind: "housing" },
];

/** A household member as the edit form holds it (strings as typed, as the server reads them). */
type MemberDraft = { id: string; name: string; relation: string; national_id: string; birth_date: string; disability: boolean; schooling: string };
const RELATIONS = ["spouse", "son", "daughter", "father", "mother", "brother", "sister", "other"];
const SCHOOLING = ["not_applicable", "not_enrolled", "primary", "intermediate", "secondary", "university"];
const HOUSING_KINDS = ["owned", "rented", "shared", "other"];

/** Halalas as riyals the way a person types them ("3500", "3500.50"). */
const riyals = (h: number) => (h % 100 === 0 ? String(h / 100) : (h / 100).toFixed(2));

/** What a field of the record holds, for the form: `monthly_income` is the incomes' total. */
function stored(r: Person, field: string): unknown {
  if (field === "monthly_income") {
    return r.incomes.length === 0 ? null : r.incomes.reduce((s, i) => s + i.monthly_halalas, 0);
  }
  const fields: Record<string, unknown> = r;
  return fields[field];
}

const MARITAL: Record<string, { ar: string; en: string }> = {
  single: { ar: "أعزب / عزباء", en: "Single" },
  married: { ar: "متزوج / متزوجة", en: "Married" },
  divorced: { ar: "مطلق / مطلقة", en: "Divorced" },
  widowed: { ar: "أرمل / أرملة", en: "Widowed" },
};

const NAME_PARTS = ["first", "father", "grandfather", "family"] as const;

/** English for the domain's reasons for refusing a value (its own words are Arabic). */
const REASONS_EN: Record<string, string> = {
  required: "This field is required.",
  too_long: "The text is too long.",
  invalid_value: "This value is not valid.",
  date_in_future: "The date is in the future.",
  date_out_of_range: "The date is not plausible.",
  id_empty: "The national ID is required.",
  id_not_digits: "The national ID has digits only.",
  id_wrong_length: "The national ID has 10 digits.",
  id_bad_prefix: "The national ID starts with 1 (citizen) or 2 (resident).",
  id_bad_checksum: "The national ID is not valid: check it against the card.",
  phone_empty: "The mobile is required.",
  phone_not_digits: "The mobile has digits only.",
  phone_not_saudi_mobile: "A Saudi mobile starting with 05.",
  phone_wrong_length: "The mobile has 10 digits starting with 05.",
};

/** A name as written, else its parts joined (`name` is a record's, or a value being shown). */
function fullName(name: unknown): string {
  if (typeof name !== "object" || name === null) return "";
  const n = new Map<string, unknown>(Object.entries(name));
  const written = n.get("as_written");
  if (typeof written === "string" && written) return written;
  return NAME_PARTS.map((p) => n.get(p)).filter((x) => typeof x === "string" && x).join(" ");
}

/** A stored value as a person reads it. */
function Shown({ kind, value }: { kind: Kind; value: unknown }) {
  const { t, lang } = useHq();
  const codes = makeI18n(lang, () => {});
  if (value === null || value === undefined || value === "") return <span>—</span>;
  switch (kind) {
    case "date":
      return <DualDate iso={value as string} />;
    case "ltr":
      return typeof value === "string" && value.startsWith("+966") ? <Phone e164={value} /> : <Ltr>{String(value)}</Ltr>;
    case "number":
      return <Ltr>{String(value)}</Ltr>;
    case "gender":
      return <span>{value === "male" ? t("male") : t("female")}</span>;
    case "marital":
      return <span>{label(MARITAL, value as string, lang)}</span>;
    case "channel":
      return <span>{label(CHANNELS, value as string, lang)}</span>;
    case "name":
      return <span>{fullName(value)}</span>;
    case "household": {
      const members = value as Member[];
      if (members.length === 0) return <span>—</span>;
      return (
        <ul className="members" data-testid="members">
          {members.map((m) => (
            <li key={m.id}>
              {m.name} — {codes.label("relation", m.relation)}{m.birth_date && <> — <DualDate iso={m.birth_date} /></>}{m.disability && <> — {t("disability")}</>}
            </li>
          ))}
        </ul>
      );
    }
    case "income":
      return <span><Ltr>{riyals(value as number)}</Ltr> {t("riyalsMonthly")}</span>;
    case "housing": {
      const h = value as Housing;
      return <span>{codes.label("housing", h.kind)}{h.annual_rent_halalas != null && <> — <Ltr>{riyals(h.annual_rent_halalas)}</Ltr> {t("riyalsYearly")}</>}</span>;
    }
    default:
      return <span className="prewrap">{String(value)}</span>;
  }
}

/** The value to start editing from: what the form shows for the stored value. */
function draftOf(kind: Kind, value: unknown): unknown {
  if (kind === "name") return { first: "", father: "", grandfather: "", family: "", as_written: "", ...(value as object) };
  if (kind === "household")
    return ((value ?? []) as Member[]).map((m): MemberDraft => ({
      id: String(m.id), name: String(m.name ?? ""), relation: String(m.relation ?? ""), national_id: String(m.national_id ?? ""),
      birth_date: String(m.birth_date ?? ""), disability: Boolean(m.disability), schooling: String(m.schooling ?? ""),
    }));
  if (kind === "housing") {
    const h = value as Housing | null;
    return { kind: h?.kind ?? "", annual_rent: h?.annual_rent_halalas != null ? riyals(h.annual_rent_halalas) : "" };
  }
  if (kind === "income") return value == null ? "" : riyals(value as number);
  if (value === null || value === undefined) return "";
  if (kind === "ltr" && typeof value === "string" && value.startsWith("+966")) return `0${value.slice(4)}`;
  return String(value);
}

function Editor({ kind, field, value, onChange }: { kind: Kind; field: string; value: unknown; onChange: (v: unknown) => void }) {
  const { t, lang } = useHq();
  const codes = makeI18n(lang, () => {});
  const id = `edit-${field}`;
  const common = { id, "data-testid": id, "aria-label": label(FIELDS, field, lang) };
  switch (kind) {
    case "household": {
      const members = value as MemberDraft[];
      const set = (i: number, m: Partial<MemberDraft>) => onChange(members.map((x, j) => (j === i ? { ...x, ...m } : x)));
      const choose = (i: number, key: "relation" | "schooling", group: string, list: string[]) => (
        <label>
          {t(key)}
          <select value={members[i][key]} onChange={(e) => set(i, { [key]: e.target.value })} data-testid={`${id}-${i}-${key}`}>
            <option value="">—</option>
            {list.map((c) => <option key={c} value={c}>{codes.label(group, c)}</option>)}
          </select>
        </label>
      );
      return (
        <div className="members-edit" data-testid={id}>
          {members.map((m, i) => (
            <fieldset key={m.id || i} className="member-edit" data-testid={`${id}-${i}`}>
              <legend>{t("member")} <Ltr>{i + 1}</Ltr></legend>
              <label>{t("memberName")}<input value={m.name} onChange={(e) => set(i, { name: e.target.value })} data-testid={`${id}-${i}-name`} /></label>
              {choose(i, "relation", "relation", RELATIONS)}
              <label>{t("nationalId")}<input dir="ltr" inputMode="numeric" value={m.national_id} onChange={(e) => set(i, { national_id: e.target.value })} data-testid={`${id}-${i}-national_id`} /></label>
              <label>{t("birthDate")}<input type="date" dir="ltr" value={m.birth_date} onChange={(e) => set(i, { birth_date: e.target.value })} data-testid={`${id}-${i}-birth_date`} /></label>
              {choose(i, "schooling", "schooling", SCHOOLING)}
              <label className="check"><input type="checkbox" checked={m.disability} onChange={(e) => set(i, { disability: e.target.checked })} /> {t("disability")}</label>
              <button type="button" className="link small" onClick={() => onChange(members.filter((_, j) => j !== i))} data-testid={`${id}-${i}-remove`}>{t("removeMember")}</button>
            </fieldset>
          ))}
          <button type="button" className="secondary" data-testid={`${id}-add`}
            onClick={() => onChange([...members, { id: "", name: "", relation: "", national_id: "", birth_date: "", disability: false, schooling: "" }])}>
            {t("addMember")}
          </button>
        </div>
      );
    }
    case "income":
      return <><input dir="ltr" inputMode="decimal" className="narrow" {...common} value={value as string} onChange={(e) => onChange(e.target.value)} /> <small className="hint">{t("riyalsMonthly")}</small></>;
    case "housing": {
      const h = value as { kind: string; annual_rent: string };
      return (
        <div className="row">
          <select {...common} value={h.kind} onChange={(e) => onChange({ ...h, kind: e.target.value })}>
            <option value="">—</option>
            {HOUSING_KINDS.map((c) => <option key={c} value={c}>{codes.label("housing", c)}</option>)}
          </select>
          <label>{t("annualRent")}<input dir="ltr" inputMode="decimal" className="narrow" value={h.annual_rent} onChange={(e) => onChange({ ...h, annual_rent: e.target.value })} data-testid={`${id}-rent`} /></label>
        </div>
      );
    }
    case "name": {
      const v = value as Record<string, string>;
      return (
        <div className="name-edit">
          {[...NAME_PARTS, "as_written" as const].map((p) => (
            <label key={p}>
              {t(p === "as_written" ? "asWritten" : p)}
              <input value={v[p] ?? ""} onChange={(e) => onChange({ ...v, [p]: e.target.value })} data-testid={`${id}-${p}`} />
            </label>
          ))}
        </div>
      );
    }
    case "date":
      // The Hijri day beside the Gregorian one the browser's date field takes.
      return (
        <>
          <input type="date" dir="ltr" {...common} value={value as string} onChange={(e) => onChange(e.target.value)} />
          {value ? <small className="hint"><DualDate iso={value as string} /></small> : null}
        </>
      );
    case "ltr":
      return <input dir="ltr" inputMode="numeric" {...common} value={value as string} onChange={(e) => onChange(e.target.value)} />;
    case "number":
      return <input type="number" min={1} max={99} dir="ltr" className="narrow" {...common} value={value as string} onChange={(e) => onChange(e.target.value)} />;
    case "long":
      return <textarea {...common} value={value as string} onChange={(e) => onChange(e.target.value)} />;
    case "gender":
    case "marital":
    case "channel": {
      const options = kind === "gender"
        ? [["male", t("male")], ["female", t("female")]]
        : Object.keys(kind === "marital" ? MARITAL : CHANNELS).map((c) => [c, label(kind === "marital" ? MARITAL : CHANNELS, c, lang)]);
      return (
        <select {...common} value={value as string} onChange={(e) => onChange(e.target.value)}>
          <option value="">—</option>
          {options.map(([c, l]) => <option key={c} value={c}>{l}</option>)}
        </select>
      );
    }
    default:
      return <input {...common} value={value as string} onChange={(e) => onChange(e.target.value)} />;
  }
}

function Person({ id, back, openCase, canEdit }: { id: string; back: () => void; openCase: (id: string) => void; canEdit: boolean }) {
  const { t, lang } = useHq();
  const name = useCatalogName();
  const { data: f, error, reload } = useLoad(() => get<PersonFile>(`/register/people/${encodeURIComponent(id)}`), [id]);
  const [editing, setEditing] = useState<string | null>(null);
  const [draft, setDraft] = useState<unknown>(null);
  const [refusal, setRefusal] = useState<ApiError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (error) return <Failure error={error} />;
  if (!f) return <p>{t("loading")}</p>;
  const r = f.record;
  const staffName = (sid: string | null | undefined) => (sid && f.staff[sid]) || "—";
  const start = (field: string, kind: Kind) => {
    setEditing(field);
    setDraft(draftOf(kind, stored(r, field)));
    setRefusal(null);
    setDone(null);
  };
  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!editing) return;
    setBusy(true);
    setRefusal(null);
    try {
      await post<Edited>(`/register/people/${encodeURIComponent(id)}/edit`, { field: editing, value: draft } satisfies EditBody);
      setEditing(null);
      setDone(t("edited"));
      reload();
    } catch (err) {
      const e = err as FieldRefusal;
      // The domain words its reasons in Arabic; English comes from the reason's code.
      const said = lang === "en" && e.reason && REASONS_EN[e.reason] ? { ...e, code: "field_reason" as const, message: REASONS_EN[e.reason] } : e;
      // A household member's problem says which member ("household[1].name": the second).
      const member = /^household\[(\d+)\]/.exec(e.field ?? "");
      setRefusal(member && said.message ? { ...said, message: `${t("member")} ${Number(member[1]) + 1}: ${said.message}` } : said);
    } finally {
      setBusy(false);
    }
  };
  /** One field of the file: its value, and its editor while it is edited. */
  const fact = ({ field, kind }: { field: string; kind: Kind }) => (
              <div key={field} className="fact" data-testid={`fact-${field}`}>
                <dt>{label(FIELDS, field, lang)}</dt>
                <dd>
                  {editing === field ? (
                    <form onSubmit={save} className="edit-form" onKeyDown={(e) => { if (e.key === "Escape") { setEditing(null); setRefusal(null); } }}>
                      <Editor kind={kind} field={field} value={draft} onChange={setDraft} />
                      <div className="row">
                        <button type="submit" disabled={busy} data-testid="edit-save">{t("save")}</button>
                        <button type="button" className="secondary" onClick={() => { setEditing(null); setRefusal(null); }}>{t("cancel")}</button>
                      </div>
                      <Failure error={refusal} />
                    </form>
                  ) : (
                    <>
                      <span data-testid={`value-${field}`}><Shown kind={kind} value={stored(r, field)} /></span>
                      {canEdit && !f.merged_into && (
                        <button type="button" className="link small edit-btn" onClick={() => start(field, kind)} data-testid={`edit-${field}-open`}
                          aria-label={`${t("edit")} ${label(FIELDS, field, lang)}`}>
                          {t("edit")}
                        </button>
                      )}
                    </>
                  )}
                </dd>
              </div>
            );
  return (
    <section data-testid="person-file">
      <div className="between">
        <h1>
          {t("personFile")}: <span data-testid="person-name">{fullName(r.name)}</span>
        </h1>
        <button type="button" className="secondary" onClick={back}>{t("back")}</button>
      </div>
      <p className="muted">
        {t("branch")}: <strong>{f.branch}</strong>
        {r.file_number && <> · {t("fileNumber")}: <Ltr>{r.file_number}</Ltr></>}
      </p>
      {f.merged_into && <div className="notice warn-box">{t("mergedInto")}</div>}
      <Notice text={done} />
      <div className="grid2">
        <div className="card">
          <h2>{t("identity")}</h2>
          {canEdit && !f.merged_into && <p className="hint">{t("editHint")}</p>}
          <dl className="facts editable">{EDITABLE.map(fact)}</dl>
        </div>
        <div className="card">
          <h2>{t("householdIncomeHousing")}</h2>
          <dl className="facts editable">{HOUSEHOLD.map(fact)}</dl>
        </div>
      </div>
      <div className="card">
        <h2>{t("cases")}</h2>
        {f.cases.length === 0 ? (
          <p className="muted">{t("noCases")}</p>
        ) : (
          <table className="table" data-testid="person-cases">
            <thead>
              <tr><th>{t("caseNumber")}</th><th>{t("supportType")}</th><th>{t("channel")}</th><th>{t("submitted")}</th><th>{t("state")}</th></tr>
            </thead>
            <tbody>
              {f.cases.map((c) => (
                <tr key={c.id}>
                  <td><button type="button" className="link" onClick={() => openCase(c.id)} data-testid="person-case"><Ltr>{c.number ?? "—"}</Ltr></button></td>
                  <td>{name("support", c.support_type)}</td>
                  <td>{label(CHANNELS, c.channel, lang)}</td>
                  <td><DualDate iso={c.submitted_at?.slice(0, 10)} /></td>
                  <td>{label(STATES, c.state, lang)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      <div className="grid2">
        <div className="card">
          <h2>{t("interactions")}</h2>
          {f.interactions.length === 0 ? (
            <p className="muted">{t("noContacts")}</p>
          ) : (
            <ul className="contacts" data-testid="person-contacts">
              {f.interactions.map((x) => (
                <li key={x.id}>
                  <strong>{label(PURPOSES, x.purpose, lang)}</strong> — {label(CHANNELS, x.channel, lang)} — <Ltr>{when(x.at)}</Ltr> — {staffName(x.staff)}
                  <div className="prewrap">{x.summary}</div>
                </li>
              ))}
            </ul>
          )}
        </div>
        <div className="card">
          <h2>{t("voice")}</h2>
          {f.voice.length === 0 ? (
            <p className="muted">—</p>
          ) : (
            <ul>
              {f.voice.map((v) => (
                <li key={v.task_id}>{t(v.kind)} — {t("due")} <DualDate iso={v.due_on} /> <VoiceStatusBadge s={v.status} /></li>
              ))}
            </ul>
          )}
          <h2>{t("surveys")}</h2>
          {f.surveys.length === 0 ? (
            <p className="muted">—</p>
          ) : (
            <ul>
              {f.surveys.map((s) => (
                <li key={s.id}>
                  <DualDate iso={s.answered_on} /> — {t("q_overall")} <Ltr>{s.overall}</Ltr> · {t("q_speed")} <Ltr>{s.speed}</Ltr> · {t("q_courtesy")} <Ltr>{s.courtesy}</Ltr> · {t("q_clarity")} <Ltr>{s.clarity}</Ltr>
                </li>
              ))}
            </ul>
          )}
        </div>
      </div>
    </section>
  );
}
