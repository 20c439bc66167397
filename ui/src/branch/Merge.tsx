// Two registrations of one person at this branch, merged into one file with undo: find the other
// registration, see both side by side, choose for each differing field which value the file
// keeps. The rule is the domain's (the same HQ uses): a merge picks values, it never edits them.
import { useEffect, useState } from "react";
import { api, asApiError } from "../shared/ipc";
import { useI18n } from "../shared/i18n";
import { DualDate, ErrorBox, Ltr, Phone } from "../shared/components";
import { formatTime, localDay } from "../shared/format";
import type { ApiError } from "../generated/ApiError";
import type { BeneficiaryRow } from "../generated/BeneficiaryRow";
import type { MergeDto } from "../generated/MergeDto";
import type { MergePreview } from "../generated/MergePreview";

export function Merge({ survivorId, onDone, onCancel }: { survivorId: string; onDone: () => void; onCancel: () => void }) {
  const { t, label } = useI18n();
  const [q, setQ] = useState("");
  const [hits, setHits] = useState<BeneficiaryRow[]>([]);
  const [preview, setPreview] = useState<MergePreview | null>(null);
  const [take, setTake] = useState<Set<string>>(new Set());
  const [err, setErr] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const query = q.trim();
    if (query.length < 2) { setHits([]); return; }
    let live = true;
    const timer = setTimeout(() => api.search(query, 10).then((r) => live && setHits(r.filter((h) => h.id !== survivorId)), () => {}), 150);
    return () => { live = false; clearTimeout(timer); };
  }, [q, survivorId]);
  const choose = async (id: string) => {
    setErr(null);
    try {
      setPreview(await api.mergePreview(survivorId, id));
      setTake(new Set());
    } catch (e) {
      setErr(asApiError(e));
    }
  };
  const show = (field: string, v: string) => {
    if (!v) return <span className="muted">—</span>;
    if (field === "mobile") return <Phone e164={v.startsWith("05") ? `+966${v.slice(1)}` : v} />;
    if (["gender", "housing", "preferred_channel"].includes(field)) return label(field === "preferred_channel" ? "channel" : field, v) || v;
    if (field === "marital_status") return label("marital", v) || v;
    if (/^\d{4}-\d{2}-\d{2}$/.test(v)) return <DualDate iso={v} />;
    if (/^[\d.,\-A-Z]+$/.test(v)) return <Ltr>{v}</Ltr>;
    return v;
  };
  return (
    <section className="card" data-testid="merge">
      <h2>{t("mergeWith")}</h2>
      <p className="muted">{t("mergeIntro")}</p>
      {!preview && (
        <>
          <input aria-label={t("search")} data-testid="merge-search" value={q} placeholder={t("searchHint")} onChange={(e) => setQ(e.target.value)} autoFocus />
          <ul className="matches">
            {hits.map((h) => (
              <li key={h.id}>
                <span>{h.full_name}{h.national_id && <> · <Ltr>{h.national_id}</Ltr></>}{h.mobile && <> · <Phone e164={h.mobile} /></>}{h.file_number && <> · <Ltr>{h.file_number}</Ltr></>}</span>
                <button type="button" className="secondary" data-testid="merge-choose" onClick={() => choose(h.id)}>{t("compare")}</button>
              </li>
            ))}
          </ul>
        </>
      )}
      {preview && (
        <table className="merge-table" data-testid="merge-table">
          <thead>
            <tr><th>{t("field")}</th><th>{t("keptFile")}: {preview.survivor_name}</th><th>{t("otherFile")}: {preview.merged_name}</th></tr>
          </thead>
          <tbody>
            {preview.fields.filter((f) => !f.same).map((f) => (
              <tr key={f.field} data-field={f.field}>
                <th scope="row">{label("field", f.field) || f.field}</th>
                <td><label><input type="radio" name={`m-${f.field}`} checked={!take.has(f.field)} onChange={() => { const n = new Set(take); n.delete(f.field); setTake(n); }} /> {show(f.field, f.survivor)}</label></td>
                <td><label><input type="radio" name={`m-${f.field}`} data-testid={`take-${f.field}`} checked={take.has(f.field)} onChange={() => setTake(new Set(take).add(f.field))} /> {show(f.field, f.merged)}</label></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ErrorBox error={err} />
      <div className="row end">
        <button type="button" className="secondary" onClick={onCancel}>{t("cancel")}</button>
        {preview && (
          <button type="button" disabled={busy} data-testid="merge-confirm" onClick={async () => {
            setBusy(true);
            setErr(null);
            try {
              await api.mergeBeneficiaries({ survivor_id: preview.survivor_id, merged_id: preview.merged_id, take_from_merged: [...take] });
              onDone();
            } catch (e) {
              setErr(asApiError(e));
            } finally {
              setBusy(false);
            }
          }}>{t("mergeConfirm")}</button>
        )}
      </div>
    </section>
  );
}

/** The merges made here into or out of a file, each undoable while it stands. */
export function Merges({ beneficiaryId, onChanged }: { beneficiaryId: string; onChanged: () => void }) {
  const { t, fieldNames } = useI18n();
  const [list, setList] = useState<MergeDto[]>([]);
  const [err, setErr] = useState<ApiError | null>(null);
  const [kept, setKept] = useState<string[] | null>(null);
  const load = () => api.beneficiaryMerges(beneficiaryId).then(setList, () => {});
  useEffect(() => { load(); }, [beneficiaryId]);
  if (list.length === 0) return null;
  return (
    <section className="card" data-testid="merges">
      <h2>{t("merges")}</h2>
      <ul className="tasks">
        {list.map((m) => (
          <li key={m.id} data-testid="merge-row" data-undone={m.undone}>
            <span>
              {t("mergedInto").replace("{a}", m.merged_name).replace("{b}", m.survivor_name)}
              {m.from_merged.length > 0 && <div className="muted">{t("tookFromOther")}: {fieldNames(m.from_merged)}</div>}
              <div className="muted">{m.by} · <DualDate iso={localDay(m.at)} /> <Ltr>{formatTime(m.at)}</Ltr>{m.undone && <> · {t("undone")}</>}</div>
            </span>
            {!m.undone && (
              <button className="secondary" data-testid="unmerge" onClick={async () => {
                setErr(null);
                try {
                  setKept(await api.unmergeBeneficiaries(m.id));
                  await load();
                  onChanged();
                } catch (e) {
                  setErr(asApiError(e));
                }
              }}>{t("undo")}</button>
            )}
          </li>
        ))}
      </ul>
      {kept && kept.length > 0 && <p className="notice">{t("keptSinceMerge")}: {fieldNames(kept)}</p>}
      <ErrorBox error={err} />
    </section>
  );
}
