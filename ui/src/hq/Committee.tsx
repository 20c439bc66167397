// The research committee: the queue ordered by promised reply date (on track / due soon /
// overdue), the whole file of a case with its documents, and the decision with its reasons.
import { useState, type FormEvent, type ReactNode } from "react";
import { DualDate, Ltr, Phone } from "../shared/components";
import { get, post, qs, type ApiError, type BranchList, type CaseEvent, type CaseFile, type CommitteePage, type DecideBody, type FileDocument, type FoundCase } from "./api";
import { useHq } from "./i18n";
import { CHANNELS, PURPOSES, STATES, label } from "./labels";
import { Failure, Notice, useCatalogName, useLoad, when } from "./common";

export function PromiseBadge({ p, days }: { p: string | null; days?: number | null }) {
  const { t } = useHq();
  if (!p) return null;
  return (
    <span className={`badge promise-${p}`} data-testid="promise">
      {t(p as "on_track")}
      {days !== undefined && days !== null && (
        <>
          {" "}· <Ltr>{Math.abs(days)}</Ltr> {t("days")}
        </>
      )}
    </span>
  );
}

export function Committee({ caseId, open }: { caseId: string; open: (id: string) => void }) {
  return caseId ? <CaseView id={caseId} back={() => open("")} /> : <Queue open={open} />;
}

function Queue({ open }: { open: (id: string) => void }) {
  const { t, lang } = useHq();
  const name = useCatalogName();
  const [promise, setPromise] = useState("");
  const [branch, setBranch] = useState("");
  const [cursors, setCursors] = useState<string[]>([]);
  const after = cursors[cursors.length - 1] ?? "";
  const { data, error } = useLoad(
    () => get<CommitteePage>(`/committee${qs({ promise, branch, after, limit: 50 })}`),
    [promise, branch, after],
  );
  const branches = useLoad(() => get<BranchList>("/branches"), []).data?.branches ?? [];
  const filter = (p: string) => {
    setPromise(p);
    setCursors([]);
  };
  return (
    <section data-testid="committee">
      <div className="between">
        <h1>{t("committee")}</h1>
        <div className="row">
          <a className="button secondary" href={`/console/api/export/committee.csv${qs({ promise, branch })}`} data-testid="export-committee-csv">{t("exportCsv")}</a>
          <a className="button secondary" href={`/console/api/export/committee.xlsx${qs({ promise, branch })}`}>{t("exportXlsx")}</a>
        </div>
      </div>
      <div className="row filters">
        {(["", "overdue", "due_soon", "on_track"] as const).map((p) => (
          <button key={p} type="button" className={promise === p ? "" : "secondary"} onClick={() => filter(p)} data-testid={`filter-${p || "all"}`}>
            {p ? t(p) : t("all")}{" "}
            {data && <Ltr>{p === "" ? data.total : data[p]}</Ltr>}
          </button>
        ))}
        <select aria-label={t("branch")} value={branch} onChange={(e) => { setBranch(e.target.value); setCursors([]); }}>
          <option value="">{t("branch")}: {t("all")}</option>
          {branches.map((b) => <option key={b} value={b}>{b}</option>)}
        </select>
      </div>
      <FindCase open={open} />
      <Failure error={error} />
      {!data ? (
        <p>{t("loading")}</p>
      ) : data.rows.length === 0 ? (
        <p className="muted">{t("empty")}</p>
      ) : (
        <table className="table" data-testid="committee-table">
          <thead>
            <tr>
              <th>{t("promised")}</th>
              <th>{t("caseNumber")}</th>
              <th>{t("beneficiary")}</th>
              <th>{t("branch")}</th>
              <th>{t("supportType")}</th>
              <th>{t("channel")}</th>
              <th>{t("submitted")}</th>
            </tr>
          </thead>
          <tbody>
            {data.rows.map((r) => (
              <tr key={r.case_id} className={`promise-row-${r.promise}`}>
                <td>
                  <DualDate iso={r.promised_reply_date} /> <PromiseBadge p={r.promise} days={r.days_left} />
                </td>
                <td>
                  <button type="button" className="link" onClick={() => open(r.case_id)} data-testid="open-case" data-case={r.case_id}>
                    <Ltr>{r.number}</Ltr>
                  </button>
                </td>
                <td>{r.beneficiary_name}</td>
                <td>{r.branch}</td>
                <td>{name("support", r.support_type)}</td>
                <td>{label(CHANNELS, r.channel, lang)}</td>
                <td><DualDate iso={r.submitted_at?.slice(0, 10)} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="row pager">
        <button type="button" className="secondary" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>{t("previous")}</button>
        <button type="button" className="secondary" disabled={!data?.next} onClick={() => data?.next && setCursors([...cursors, data.next])} data-testid="next-page">{t("next")}</button>
      </div>
    </section>
  );
}

/** A committee action that takes a written note (reasons, or an appeal's grounds), and its buttons. */
function NoteCard(props: {
  title: string; field: string; label: string; hint: string; testid?: string;
  note: string; setNote: (v: string) => void; failure: ApiError | null; children: ReactNode;
}) {
  return (
    <div className="card decision" data-testid={props.testid}>
      <h2>{props.title}</h2>
      <div className="field">
        <label htmlFor={props.field}>{props.label}</label>
        <textarea id={props.field} value={props.note} onChange={(e) => props.setNote(e.target.value)} data-testid={props.field} />
        <small className="hint">{props.hint}</small>
      </div>
      <Failure error={props.failure} />
      <div className="row">{props.children}</div>
    </div>
  );
}

/** An appeal comes with the receipt's number: open that case, whatever its state. */
function FindCase({ open }: { open: (id: string) => void }) {
  const { t } = useHq();
  const [number, setNumber] = useState("");
  const [failure, setFailure] = useState<ApiError | null>(null);
  const find = async (e: FormEvent) => {
    e.preventDefault();
    setFailure(null);
    try {
      const r = await get<FoundCase>(`/cases/find${qs({ number: number.trim() })}`);
      open(r.id);
    } catch (err) {
      setFailure(err as ApiError);
    }
  };
  return (
    <form className="find-case" onSubmit={find} aria-label={t("appealFind")}>
      <label htmlFor="find-number">{t("appealFind")}</label>
      <input id="find-number" dir="ltr" placeholder={t("appealNumber")} value={number}
        onChange={(e) => setNumber(e.target.value)} data-testid="find-number" />
      <button type="submit" className="secondary" disabled={!number.trim()} data-testid="find-case">{t("appealOpen")}</button>
      <Failure error={failure} />
    </form>
  );
}

function Doc({ d, title }: { d: FileDocument; title: string }) {
  const { t } = useHq();
  return (
    <li>
      <strong>{title}</strong>{" "}
      {d.required && <span className="badge">{t("required")}</span>}{" "}
      {d.seen_in_original && <span className="badge ok">{t("seenOriginal")}</span>}{" "}
      {d.sha256 && d.at_hq ? (
        <a href={`/console/api/attachments/${d.sha256}`} target="_blank" rel="noopener" data-testid="doc-link">{t("view")}</a>
      ) : d.sha256 ? (
        <span className="muted">{t("notAtHq")}</span>
      ) : (
        <span className="muted">—</span>
      )}
    </li>
  );
}

/** The whole file of a case. From the register (`source`), any reader of the register opens it
 * and the committee's decision is not offered there. */
export function CaseView({ id, back, source }: { id: string; back: () => void; source?: "register" }) {
  const { t, lang } = useHq();
  const name = useCatalogName();
  const path = source === "register" ? `/register/cases/${encodeURIComponent(id)}` : `/cases/${encodeURIComponent(id)}`;
  const { data: f, error, reload } = useLoad(() => get<CaseFile>(path), [path]);
  const [note, setNote] = useState("");
  const [failure, setFailure] = useState<ApiError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const decide = async (transition: "approve" | "reject" | "reopen") => {
    setBusy(true);
    setFailure(null);
    try {
      await post<CaseEvent>(`/cases/${encodeURIComponent(id)}/decide`, { transition, note } satisfies DecideBody);
      setDone(t(transition === "reopen" ? "reopened" : "decided"));
      setNote("");
      reload();
    } catch (e) {
      const err = e as ApiError;
      // The domain says "a reason is needed"; for an appeal, the reason is its grounds.
      setFailure(transition === "reopen" && err.code === "note_required" ? { ...err, message: t("appealGroundsRequired") } : err);
    } finally {
      setBusy(false);
    }
  };
  if (error) return <Failure error={error} />;
  if (!f) return <p>{t("loading")}</p>;
  const c = f.case;
  const b = f.beneficiary;
  return (
    <section data-testid="case-file">
      <div className="between">
        <h1>
          {t("wholeFile")}: <Ltr>{c.number}</Ltr>
        </h1>
        <button type="button" className="secondary" onClick={back}>{t("back")}</button>
      </div>
      <div className="grid2">
        <div className="card">
          <h2>{b ? b.name?.as_written || [b.name?.first, b.name?.father, b.name?.grandfather, b.name?.family].join(" ") : "—"}</h2>
          <dl className="facts">
            <dt>{t("branch")}</dt><dd>{f.branch}</dd>
            <dt>{t("nationalId")}</dt><dd><Ltr>{b?.national_id ?? "—"}</Ltr></dd>
            <dt>{t("birthDate")}</dt><dd><DualDate iso={b?.birth_date} /></dd>
            <dt>{t("mobile")}</dt><dd><Phone e164={b?.mobile} /></dd>
            <dt>{t("household")}</dt><dd><Ltr>{b?.household?.length ?? 0}</Ltr></dd>
            <dt>{t("incomes")}</dt>
            <dd>
              <Ltr>{((b?.incomes ?? []).reduce((s, i) => s + i.monthly_halalas, 0) / 100).toFixed(2)}</Ltr> SAR
            </dd>
          </dl>
        </div>
        <div className="card">
          <dl className="facts">
            <dt>{t("supportType")}</dt><dd>{name("support", c.support_type)}</dd>
            <dt>{t("channel")}</dt><dd>{label(CHANNELS, c.channel, lang)}</dd>
            <dt>{t("submitted")}</dt><dd><DualDate iso={c.submitted_at?.slice(0, 10)} /></dd>
            <dt>{t("promised")}</dt><dd><DualDate iso={c.promised_reply_date} /> <PromiseBadge p={f.promise} /></dd>
            <dt>{t("state")}</dt><dd data-testid="case-state">{label(STATES, f.state, lang)}</dd>
          </dl>
          <h3>{t("need")}</h3>
          <p className="prewrap">{c.need || "—"}</p>
        </div>
      </div>
      <div className="grid2">
        <div className="card">
          <h2>{t("documents")}</h2>
          <ul className="docs">
            {f.documents.map((d) => <Doc key={d.code} d={d} title={name("document", d.code)} />)}
            {f.signature && <Doc d={f.signature} title={t("declaration")} />}
          </ul>
          {c.research_report && (
            <>
              <h3>{t("research")}</h3>
              <p className="prewrap">{c.research_report.text}</p>
              <p className="muted">{c.research_report.recommendation}</p>
            </>
          )}
        </div>
        <div className="card">
          <h2>{t("history")}</h2>
          <ol className="timeline">
            {f.events.map((e, i) => (
              <li key={i}>
                <strong>{label(STATES, e.to, lang)}</strong> — {e.actor_name} — <Ltr>{when(e.at)}</Ltr>
                {e.note && <div className="prewrap">{e.note}</div>}
              </li>
            ))}
          </ol>
          {f.interactions.length > 0 && (
            <>
              <h3>{t("interactions")}</h3>
              <ul>
                {f.interactions.map((x) => (
                  <li key={x.id}>{label(PURPOSES, x.purpose, lang)} — {label(CHANNELS, x.channel, lang)} — <Ltr>{when(x.at)}</Ltr></li>
                ))}
              </ul>
            </>
          )}
          {f.other_cases.length > 0 && (
            <>
              <h3>{t("otherCases")}</h3>
              <ul>
                {f.other_cases.map((o) => (
                  <li key={o.id}><Ltr>{o.number}</Ltr> — {name("support", o.support_type)} — {label(STATES, o.state, lang)}</li>
                ))}
              </ul>
            </>
          )}
        </div>
      </div>
      {source === "register" ? null : f.state === "in_committee" ? (
        <NoteCard title={t("decision")} field="reasons" label={t("reasons")} hint={t("reasonsHint")} note={note} setNote={setNote} failure={failure}>
          <button type="button" disabled={busy} onClick={() => decide("approve")} data-testid="approve">{t("approve")}</button>
          <button type="button" className="danger" disabled={busy} onClick={() => decide("reject")} data-testid="reject">{t("reject")}</button>
        </NoteCard>
      ) : (
        c.decision && (
          <div className="card">
            <h2>{t("decision")}: {label(STATES, f.state, lang)}</h2>
            <p className="prewrap">{c.decision.reasons}</p>
            <p className="muted">{c.decision.decided_by_name} — <Ltr>{when(c.decision.decided_at)}</Ltr></p>
          </div>
        )
      )}
      {f.state === "rejected" && source !== "register" && (
        <NoteCard testid="appeal" title={t("appeal")} field="appeal-grounds" label={t("appealGrounds")} hint={t("appealHint")} note={note} setNote={setNote} failure={failure}>
          <button type="button" disabled={busy} onClick={() => decide("reopen")} data-testid="reopen">{t("reopen")}</button>
        </NoteCard>
      )}
      <Notice text={done} />
    </section>
  );
}
