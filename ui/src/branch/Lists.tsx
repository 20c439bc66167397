// The beneficiaries and cases lists: the store's Arabic search and filters, paged from the store
// and drawn only where visible, so 100k rows scroll smoothly.
import { useEffect, useState } from "react";
import { api } from "../shared/ipc";
import { useI18n } from "../shared/i18n";
import { Ltr, Phone, VirtualList } from "../shared/components";
import { formatHijriNumeric } from "../shared/format";
import type { BeneficiaryRow } from "../generated/BeneficiaryRow";
import type { CaseQuery } from "../generated/CaseQuery";
import type { CaseRow } from "../generated/CaseRow";
import { useDesk } from "./context";

const ROW = 40;

export function BeneficiariesList() {
  const { t } = useI18n();
  const { go } = useDesk();
  const [query, setQuery] = useState("");
  // Results carry the query they answer: the list is keyed by it, so a slow answer to an older
  // query never shows under a newer one, and the full list never flashes while a search runs.
  const [hits, setHits] = useState<{ q: string; rows: BeneficiaryRow[] } | null>(null);
  const [total, setTotal] = useState(0);
  const [chosen, setChosen] = useState<BeneficiaryRow | null>(null);
  const [cases, setCases] = useState<CaseRow[] | null>(null);
  useEffect(() => {
    api.beneficiariesPage(0, 1).then((p) => setTotal(Number(p.total)), () => {});
  }, []);
  useEffect(() => {
    const q = query.trim();
    if (q.length < 2) { setHits(null); return; }
    let live = true;
    const timer = setTimeout(() => api.search(q, 100).then(
      (rows) => live && setHits({ q, rows }),
      () => live && setHits({ q, rows: [] }),
    ), 150);
    return () => { live = false; clearTimeout(timer); };
  }, [query]);
  useEffect(() => {
    if (!chosen) return;
    api.beneficiaryCases(chosen.id).then((p) => setCases(p.rows), () => setCases([]));
  }, [chosen]);
  const searching = query.trim().length >= 2;
  const row = (b: BeneficiaryRow | undefined) =>
    b ? (
      <button onClick={() => setChosen(b)} data-testid="beneficiary-row">
        <span>{b.full_name}</span>
        <span><Ltr>{b.national_id ?? "—"}</Ltr></span>
        <span><Phone e164={b.mobile} /></span>
        <span>{b.city}</span>
        <span><Ltr>{b.file_number ?? ""}</Ltr></span>
      </button>
    ) : <span className="muted" style={{ padding: "0 .75rem" }}>…</span>;
  return (
    <div>
      <h1 tabIndex={-1}>{t("beneficiaries")} <span className="muted">(<Ltr>{total.toLocaleString("en")}</Ltr>)</span></h1>
      <div className="grid3">
        <div>
          <input aria-label={t("search")} placeholder={t("searchHint")} value={query} data-testid="beneficiary-search"
            onChange={(e) => setQuery(e.target.value)} autoFocus style={{ marginBlockEnd: ".5rem" }} />
          <div className="vhead"><span>{t("name")}</span><span>{t("nationalId")}</span><span>{t("mobile")}</span><span>{t("city")}</span><span>{t("registration")}</span></div>
          {searching && !hits ? (
            <p className="muted" data-testid="search-pending">{t("loading")}</p>
          ) : hits ? (
            <div data-testid="search-results" data-query={hits.q} aria-busy={hits.q !== query.trim()}>
              {hits.rows.length === 0 ? <p className="muted">{t("noMatches")}</p> : (
                <VirtualList total={hits.rows.length} rowHeight={ROW} height={520} resetKey={`q:${hits.q}`}
                  load={async (o, l) => hits.rows.slice(o, o + l)} row={row} />
              )}
            </div>
          ) : (
            <VirtualList total={total} rowHeight={ROW} height={520} resetKey={`all:${total}`}
              load={async (o, l) => (await api.beneficiariesPage(o, l)).rows} row={row} />
          )}
        </div>
        <aside className="card" aria-live="polite">
          {chosen ? (
            <>
              <h2>{chosen.full_name}</h2>
              <dl className="kv">
                <dt>{t("nationalId")}</dt><dd><Ltr>{chosen.national_id ?? "—"}</Ltr></dd>
                <dt>{t("mobile")}</dt><dd><Phone e164={chosen.mobile} /></dd>
                <dt>{t("city")}</dt><dd>{chosen.city || "—"}</dd>
              </dl>
              <button className="secondary" data-testid="open-person" onClick={() => go({ name: "person", id: chosen.id })}>{t("openFile")}</button>
              <h3>{t("cases")}</h3>
              {cases?.length === 0 && <p className="muted">—</p>}
              <ul className="tasks">
                {cases?.map((c) => (
                  <li key={c.id}>
                    <button className="link" onClick={() => go({ name: "case", id: c.id })}><Ltr>{c.number}</Ltr></button>
                    <StateLabel code={c.state} />
                  </li>
                ))}
              </ul>
            </>
          ) : <p className="muted">{t("searchHint")}</p>}
        </aside>
      </div>
    </div>
  );
}

export function StateLabel({ code }: { code: string }) {
  const { label } = useI18n();
  const { catalog } = useDesk();
  return <span className="badge">{label("state", code, catalog.states.find((s) => s.code === code)?.ar)}</span>;
}

export function PromiseBadge({ code }: { code: string | null }) {
  const { label } = useI18n();
  if (!code) return null;
  return <span className={`badge ${code}`}>{label("promise", code)}</span>;
}

export function CasesList({ initial }: { initial?: Partial<CaseQuery> }) {
  const { t, label, lang } = useI18n();
  const { catalog, go } = useDesk();
  const [f, setF] = useState<CaseQuery>({
    state: null, support_type: null, channel: null, promise: null, beneficiary_id: null, offset: 0, limit: 100, ...initial,
  });
  const [total, setTotal] = useState<number | null>(null);
  const key = JSON.stringify(f);
  useEffect(() => {
    api.casesPage({ ...f, offset: 0, limit: 1 }).then((p) => setTotal(Number(p.total)), () => setTotal(0));
  }, [key]);
  const sel = (k: keyof CaseQuery, lbl: string, opts: [string, string][]) => (
    <label className="field">
      <span>{lbl}</span>
      <select value={(f[k] as string | null) ?? ""} data-testid={`filter-${k}`} onChange={(e) => setF({ ...f, [k]: e.target.value || null })}>
        <option value="">{t("all")}</option>
        {opts.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
      </select>
    </label>
  );
  return (
    <div>
      <h1 tabIndex={-1}>{t("cases")} {total !== null && <span className="muted">(<Ltr>{total.toLocaleString("en")}</Ltr>)</span>}</h1>
      <div className="form-grid card">
        {sel("state", t("state"), catalog.states.map((s) => [s.code, label("state", s.code, s.ar)]))}
        {sel("support_type", t("supportType"), catalog.support_types.map((s) => [s.code, lang === "ar" ? s.ar : s.en]))}
        {sel("channel", t("channel"), catalog.channels.map((c) => [c.code, label("channel", c.code, c.ar)]))}
        {sel("promise", t("promise"), ["on_track", "due_soon", "overdue"].map((p) => [p, label("promise", p)]))}
      </div>
      <div className="vhead"><span>{t("name")}</span><span>{t("caseNumber")}</span><span>{t("state")}</span><span>{t("supportType")}</span><span>{t("promise")}</span></div>
      {total !== null && (
        <VirtualList total={total} rowHeight={ROW} height={470} resetKey={key}
          load={async (o, l) => (await api.casesPage({ ...f, offset: o, limit: l })).rows}
          row={(c: CaseRow | undefined) => c ? (
            <button onClick={() => go({ name: "case", id: c.id })} data-testid="case-row" data-case-id={c.id}>
              <span>{c.full_name}</span>
              <span><Ltr>{c.number}</Ltr></span>
              <span><StateLabel code={c.state} /></span>
              <span>{(() => { const st = catalog.support_types.find((s) => s.code === c.support_type); return st ? (lang === "ar" ? st.ar : st.en) : c.support_type; })()}</span>
              <span>{c.promised_reply_date ? <><PromiseBadge code={c.promise} /> <Ltr>{formatHijriNumeric(c.promised_reply_date)}</Ltr></> : "—"}</span>
            </button>
          ) : <span className="muted" style={{ padding: "0 .75rem" }}>…</span>} />
      )}
    </div>
  );
}

