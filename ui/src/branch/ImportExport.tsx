// Import and export (administrators): pick a sheet, see the columns recognised and the first rows
// with their problems before anything is saved, import with a progress bar, see (and keep as a
// file) the rows refused and why; export beneficiaries and cases as XLSX or CSV.
import { useEffect, useRef, useState } from "react";
import { api, asApiError } from "../shared/ipc";
import { useI18n } from "../shared/i18n";
import { DualDate, ErrorBox, Ltr, Phone, readFile } from "../shared/components";
import type { ApiError } from "../generated/ApiError";
import type { ImportPreviewDto } from "../generated/ImportPreviewDto";
import type { ImportProgressDto } from "../generated/ImportProgressDto";
import type { ImportResultDto } from "../generated/ImportResultDto";
import type { RowProblem } from "../generated/RowProblem";
import { BackupCard } from "./Backups";

export function ImportExport() {
  const { t } = useI18n();
  return (
    <div data-testid="import-export">
      <h1 tabIndex={-1}>{t("importExport")}</h1>
      <Import />
      <Export />
      <BackupCard />
    </div>
  );
}

function Import() {
  const { t, label } = useI18n();
  const [preview, setPreview] = useState<ImportPreviewDto | null>(null);
  const [progress, setProgress] = useState<ImportProgressDto | null>(null);
  const [running, setRunning] = useState(false);
  const [result, setResult] = useState<ImportResultDto | null>(null);
  const [err, setErr] = useState<ApiError | null>(null);
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearInterval(timer.current), []);
  const pick = async (f: File) => {
    setErr(null);
    setResult(null);
    setPreview(null);
    try {
      setPreview(await api.importPreview(f.name, await readFile(f)));
    } catch (e) {
      setErr(asApiError(e));
    }
  };
  const run = async () => {
    if (!preview) return;
    setRunning(true);
    setErr(null);
    setProgress({ phase: "reading", done: 0, total: 0 });
    // The import holds the store for its one transaction; the progress is read beside it.
    timer.current = window.setInterval(() => api.importProgress().then((p) => p && setProgress(p), () => {}), 250);
    try {
      setResult(await api.importSheet(preview.token));
      setPreview(null);
    } catch (e) {
      setErr(asApiError(e));
    } finally {
      window.clearInterval(timer.current);
      setRunning(false);
      setProgress(null);
    }
  };
  const used = preview?.columns.filter((c) => c.field) ?? [];
  const unused = preview?.columns.filter((c) => !c.field && c.header) ?? [];
  return (
    <section className="card" aria-labelledby="import-h">
      <h2 id="import-h">{t("importTitle")}</h2>
      <p className="muted">{t("importIntro")}</p>
      {!running && (
        <label className="file-pick button secondary" htmlFor="sheet-file">
          {t("pickSheet")}
          <input id="sheet-file" data-testid="sheet-file" type="file" accept=".csv,.xlsx,.txt,.tsv,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            onChange={(e) => { const f = e.target.files?.[0]; if (f) pick(f); e.target.value = ""; }} />
        </label>
      )}
      <ErrorBox error={err} />
      {preview && !running && (
        <div data-testid="import-preview">
          <h3><bdi>{preview.file_name}</bdi></h3>
          <p>{t("recognisedColumns")}:</p>
          <ul className="chips" data-testid="recognised">
            {used.map((c, i) => <li key={i} className="badge on_time"><bdi>{c.header}</bdi> ← {label("sheetField", c.field)}</li>)}
          </ul>
          {unused.length > 0 && <p className="muted">{t("unusedColumns")}: {unused.map((c) => c.header).join("، ")}</p>}
          <table className="preview" data-testid="preview-rows">
            <thead><tr><th>{t("row")}</th><th>{t("name")}</th><th>{t("nationalId")}</th><th>{t("mobile")}</th><th>{t("birthDate")}</th><th>{t("city")}</th><th>{t("problems")}</th></tr></thead>
            <tbody>
              {preview.rows.map((r) => (
                <tr key={r.row} data-row={r.row} className={r.problems.length ? "refused" : ""}>
                  <td><Ltr>{r.row}</Ltr></td>
                  <td>{r.name}</td>
                  <td><Ltr>{r.national_id ?? ""}</Ltr></td>
                  <td>{r.mobile ? <Phone e164={r.mobile} /> : ""}</td>
                  <td>{r.birth_date ? <DualDate iso={r.birth_date} /> : ""}</td>
                  <td>{r.city}</td>
                  <td>{r.problems.map((p, i) => <div key={i} className="error">{p.column && <><bdi>{p.column}</bdi>: </>}{p.message}</div>)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {preview.more && <p className="muted">{t("previewMore")}</p>}
          <div className="row end">
            <button className="secondary" onClick={() => { api.cancelImport(); setPreview(null); }}>{t("cancel")}</button>
            <button data-testid="import-run" onClick={run}>{t("importRun")}</button>
          </div>
        </div>
      )}
      {running && progress && (
        <div data-testid="import-progress" aria-live="polite">
          <p>{progress.phase === "saving" ? t("importSaving") : t("importReading")} <Ltr>{progress.done.toLocaleString("en")}{progress.total > 0 && <> / {progress.total.toLocaleString("en")}</>}</Ltr></p>
          <progress max={progress.total || undefined} value={progress.total ? progress.done : undefined} />
        </div>
      )}
      {result && <ImportResult r={result} />}
    </section>
  );
}

function ImportResult({ r }: { r: ImportResultDto }) {
  const { t } = useI18n();
  return (
    <div data-testid="import-result">
      <p className="notice">
        {t("imported")}: <Ltr testid="imported-count">{r.imported}</Ltr> · {t("updated")}: <Ltr>{r.updated}</Ltr> · {t("unchanged")}: <Ltr>{r.unchanged}</Ltr> · {t("refused")}: <Ltr testid="refused-count">{r.refused.length}</Ltr>
      </p>
      {r.refused.length > 0 && (
        <>
          <h3>{t("refusedRows")}</h3>
          {r.refused_file && <p className="muted">{t("refusedSaved")} <bdi dir="ltr" data-testid="refused-file">{r.refused_file}</bdi></p>}
          <RefusedTable rows={r.refused} />
        </>
      )}
    </div>
  );
}

function RefusedTable({ rows }: { rows: RowProblem[] }) {
  const { t } = useI18n();
  return (
    <table className="preview" data-testid="refused-rows">
      <thead><tr><th>{t("row")}</th><th>{t("column")}</th><th>{t("reasonCol")}</th></tr></thead>
      <tbody>
        {rows.map((p, i) => (
          <tr key={i} data-code={p.code}><td><Ltr>{p.row}</Ltr></td><td><bdi>{p.column || "—"}</bdi></td><td>{p.message}</td></tr>
        ))}
      </tbody>
    </table>
  );
}

function Export() {
  const { t } = useI18n();
  const [files, setFiles] = useState<string[] | null>(null);
  const [err, setErr] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (format: "xlsx" | "csv") => {
    setBusy(true);
    setErr(null);
    try {
      setFiles(await api.exportData(format));
    } catch (e) {
      setErr(asApiError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card" aria-labelledby="export-h">
      <h2 id="export-h">{t("exportTitle")}</h2>
      <p className="muted">{t("exportIntro")}</p>
      <div className="row">
        <button disabled={busy} data-testid="export-xlsx" onClick={() => run("xlsx")}>{t("exportXlsx")}</button>
        <button disabled={busy} className="secondary" data-testid="export-csv" onClick={() => run("csv")}>{t("exportCsv")}</button>
      </div>
      <ErrorBox error={err} />
      {files && (
        <div className="notice" data-testid="export-done">
          {t("exportedTo")}
          <ul>{files.map((f) => <li key={f}><bdi dir="ltr">{f}</bdi></li>)}</ul>
        </div>
      )}
    </section>
  );
}
