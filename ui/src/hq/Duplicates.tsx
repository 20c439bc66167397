// Duplicate review (after UNICEF HOPE's adjudication screen and DHIS2's potential duplicates):
// the queue of candidate pairs across branches, the two files side by side, a value chosen for
// each field that differs, then merge or "not the same person"; recent merges can be undone.
import { useEffect, useState } from "react";
import { DualDate, Ltr } from "../shared/components";
import { get, post, type ApiError, type BeneficiaryFile, type Done, type DuplicateList, type DuplicatePair, type MergeBody, type MergeList, type Merged, type PairBody, type Person } from "./api";
import { useHq } from "./i18n";
import { FIELDS, REASONS, label } from "./labels";
import { Failure, Notice, useLoad, when } from "./common";

/** How a field's value reads in the comparison table (a field of either record, or a value a
 * merge kept: any JSON). */
function show(v: unknown): string {
  if (v === null || v === undefined || v === "") return "—";
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) {
    const item = (x: unknown) => (typeof x === "object" && x !== null ? ("name" in x ? String(x.name) : JSON.stringify(x)) : String(x));
    return v.length === 0 ? "—" : `${v.length} × ` + v.map(item).join("، ");
  }
  if (typeof v !== "object") return String(v);
  if ("as_written" in v) {
    const name = new Map<string, unknown>(Object.entries(v));
    const parts = ["as_written", "first", "father", "grandfather", "family"].map((k) => name.get(k));
    return String(parts[0] || parts.slice(1).filter(Boolean).join(" "));
  }
  return Object.entries(v).map(([k, x]) => `${k}: ${typeof x === "object" ? JSON.stringify(x) : String(x)}`).join("، ");
}

/** A record's fields by name, for the comparison of two of them field by field. */
const fieldsOf = (r: Person): Record<string, unknown> => r;

const SKIP = new Set(["id"]);

export function Duplicates() {
  const { t } = useHq();
  const [n, setN] = useState(0);
  const pairs = useLoad(() => get<DuplicateList>("/duplicates?limit=200"), [n]);
  const merges = useLoad(() => get<MergeList>("/merges?limit=20"), [n]);
  const [selected, setSelected] = useState<DuplicatePair | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [failure, setFailure] = useState<ApiError | null>(null);
  const refresh = (msg: string | null) => {
    setSelected(null);
    setNotice(msg);
    setN((x) => x + 1);
  };
  return (
    <section data-testid="duplicates">
      <h1>{t("duplicates")}</h1>
      <Notice text={notice} />
      <Failure error={pairs.error ?? failure} />
      {selected ? (
        <Compare pair={selected} done={refresh} cancel={() => setSelected(null)} />
      ) : !pairs.data ? (
        <p>{t("loading")}</p>
      ) : pairs.data.pairs.length === 0 ? (
        <p className="muted" data-testid="no-duplicates">{t("empty")}</p>
      ) : (
        <table className="table" data-testid="pairs">
          <thead>
            <tr>
              <th>{t("score")}</th>
              <th>{t("name")}</th>
              <th>{t("branch")}</th>
              <th>{t("name")}</th>
              <th>{t("branch")}</th>
              <th>{t("reason")}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {pairs.data.pairs.map((p) => (
              <tr key={`${p.a.id}/${p.b.id}`}>
                <td>
                  <span className={`badge ${p.certain ? "danger" : ""}`}>{p.certain ? t("certain") : t("candidate")}</span> <Ltr>{Math.round(p.score * 100)}%</Ltr>
                </td>
                <td>{p.a.full_name}</td>
                <td>{p.a.branch}</td>
                <td>{p.b.full_name}</td>
                <td>{p.b.branch}</td>
                <td><Reasons codes={p.reasons} /></td>
                <td>
                  <button type="button" className="secondary" onClick={() => { setNotice(null); setFailure(null); setSelected(p); }} data-testid="compare">
                    {t("compare")}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="card">
        <h2>{t("recentMerges")}</h2>
        {merges.data && merges.data.rows.length === 0 && <p className="muted">{t("empty")}</p>}
        <ul className="merges" data-testid="merges">
          {merges.data?.rows.map((m) => (
            <li key={m.id} data-testid="merge-row">
              <Ltr>#{m.id}</Ltr> — {m.staff_name} — <Ltr>{when(m.at)}</Ltr> — {t("fieldsChosen")}: <Ltr>{Object.keys(m.chosen).length}</Ltr>{" "}
              {m.undone_at ? (
                <span className="badge">{t("undone")}</span>
              ) : (
                <button
                  type="button"
                  className="secondary"
                  data-testid="undo"
                  onClick={async () => {
                    setFailure(null);
                    try {
                      await post<Done>(`/merges/${m.id}/undo`);
                      refresh(t("undone"));
                    } catch (e) {
                      setFailure(e as ApiError);
                    }
                  }}
                >
                  {t("undo")}
                </button>
              )}
            </li>
          ))}
        </ul>
      </div>
    </section>
  );
}

function Reasons({ codes }: { codes: string[] }) {
  const { lang } = useHq();
  return <>{codes.map((c) => <span key={c} className="badge reason">{label(REASONS, c, lang)}</span>)}</>;
}

function Compare({ pair, done, cancel }: { pair: DuplicatePair; done: (msg: string) => void; cancel: () => void }) {
  const { t, lang } = useHq();
  const [files, setFiles] = useState<[BeneficiaryFile, BeneficiaryFile] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [survivor, setSurvivor] = useState<"a" | "b">("a");
  const [choice, setChoice] = useState<Record<string, "a" | "b">>({});
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    Promise.all([
      get<BeneficiaryFile>(`/beneficiaries/${encodeURIComponent(pair.a.id)}`),
      get<BeneficiaryFile>(`/beneficiaries/${encodeURIComponent(pair.b.id)}`),
    ])
      .then(setFiles)
      .catch((e) => setError(e as ApiError));
  }, [pair]);
  if (error) return <Failure error={error} />;
  if (!files) return <p>{t("loading")}</p>;
  const [fa, fb] = files;
  // Known fields in a reading order (name, ID, birth date, mobile, …), then any others.
  const order = Object.keys(FIELDS);
  const rank = (k: string) => (order.indexOf(k) < 0 ? order.length : order.indexOf(k));
  const [ra, rb] = [fieldsOf(fa.record), fieldsOf(fb.record)];
  const keys = Array.from(new Set([...Object.keys(ra), ...Object.keys(rb)]))
    .filter((k) => !SKIP.has(k))
    .sort((x, y) => rank(x) - rank(y) || x.localeCompare(y));
  const differs = (k: string) => JSON.stringify(ra[k] ?? null) !== JSON.stringify(rb[k] ?? null);
  const chosenSide = (k: string): "a" | "b" => choice[k] ?? (survivor === "a" ? (ra[k] == null ? "b" : "a") : rb[k] == null ? "a" : "b");
  const act = async (what: "merge" | "not_same") => {
    setBusy(true);
    setError(null);
    try {
      if (what === "merge") {
        const fields: Record<string, unknown> = {};
        for (const k of keys) if (differs(k)) fields[k] = (chosenSide(k) === "a" ? ra : rb)[k] ?? null;
        const [s, m] = survivor === "a" ? [pair.a.id, pair.b.id] : [pair.b.id, pair.a.id];
        await post<Merged>("/duplicates/merge", { survivor: s, merged: m, fields } satisfies MergeBody);
        done(t("merged"));
      } else {
        await post<Done>("/duplicates/not-same", { a: pair.a.id, b: pair.b.id } satisfies PairBody);
        done(t("markedNotSame"));
      }
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(false);
    }
  };
  const cell = (side: "a" | "b", k: string) => {
    const v = (side === "a" ? ra : rb)[k];
    const text = k === "birth_date" || k === "id_expiry" ? null : show(v);
    const iso = typeof v === "string" ? v : null;
    return (
      <td className={differs(k) && chosenSide(k) === side ? "chosen" : ""}>
        {differs(k) ? (
          <label className="choice">
            <input type="radio" name={`f-${k}`} checked={chosenSide(k) === side} onChange={() => setChoice({ ...choice, [k]: side })} data-testid={`choose-${k}-${side}`} />{" "}
            {text !== null ? <bdi>{text}</bdi> : <DualDate iso={iso} />}
          </label>
        ) : text !== null ? (
          <bdi>{text}</bdi>
        ) : (
          <DualDate iso={iso} />
        )}
      </td>
    );
  };
  return (
    <div className="card" data-testid="compare-view">
      <div className="between">
        <h2>{t("chooseValue")}</h2>
        <button type="button" className="secondary" onClick={cancel}>{t("back")}</button>
      </div>
      <p>
        <Reasons codes={pair.reasons} /> <Ltr>{Math.round(pair.score * 100)}%</Ltr>
      </p>
      <table className="table compare">
        <thead>
          <tr>
            <th>{t("field")}</th>
            {(["a", "b"] as const).map((s) => (
              <th key={s}>
                {(s === "a" ? fa : fb).branch}{" "}
                <label className="choice">
                  <input type="radio" name="survivor" checked={survivor === s} onChange={() => { setSurvivor(s); setChoice({}); }} data-testid={`survivor-${s}`} /> {t("mergeInto")}
                </label>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <tr key={k} className={differs(k) ? "differs" : ""}>
              <th>{label(FIELDS, k, lang)}</th>
              {cell("a", k)}
              {cell("b", k)}
            </tr>
          ))}
        </tbody>
      </table>
      <div className="row">
        <button type="button" disabled={busy} onClick={() => act("merge")} data-testid="merge">{t("merge")}</button>
        <button type="button" className="secondary" disabled={busy} onClick={() => act("not_same")} data-testid="not-same">{t("notSame")}</button>
      </div>
      <p className="muted">
        <Ltr>{pair.a.id}</Ltr> · <Ltr>{pair.b.id}</Ltr>
      </p>
    </div>
  );
}
