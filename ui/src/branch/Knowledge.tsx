// The knowledge base: the relations employee's tools (bylaws, research guide, support policy,
// request form), kept in the encrypted store and readable offline.
import { useEffect, useState } from "react";
import { api, asApiError } from "../shared/ipc";
import { useI18n } from "../shared/i18n";
import { DualDate, ErrorBox, Field, FilePick, StoredImage } from "../shared/components";
import { localDay } from "../shared/format";
import type { KbDocDto } from "../generated/KbDocDto";
import type { ApiError } from "../generated/ApiError";
import { useDesk } from "./context";

export function Knowledge() {
  const { t } = useI18n();
  const { isAdmin } = useDesk();
  const [docs, setDocs] = useState<KbDocDto[] | null>(null);
  const [open, setOpen] = useState<KbDocDto | null>(null);
  const [adding, setAdding] = useState(false);
  const load = () => api.kbDocuments().then(setDocs, () => setDocs([]));
  useEffect(() => { load(); }, []);
  return (
    <div data-testid="knowledge">
      <div className="between">
        <h1 tabIndex={-1}>{t("knowledge")}</h1>
        {isAdmin && !adding && <button className="secondary" onClick={() => setAdding(true)} data-testid="kb-add">{t("addDocument")}</button>}
      </div>
      {adding && <AddDoc onDone={() => { setAdding(false); load(); }} onCancel={() => setAdding(false)} />}
      <div className="grid3">
        <section className="card">
          {open ? (
            <article>
              <h2>{open.title}</h2>
              <p className="muted"><DualDate iso={localDay(open.published_at)} /></p>
              {open.attachment && <StoredImage sha={open.attachment} alt={open.title} />}
              <div style={{ whiteSpace: "pre-wrap" }}>{open.body}</div>
            </article>
          ) : <p className="muted">{docs && docs.length === 0 ? t("kbEmpty") : ""}</p>}
        </section>
        <nav className="card" aria-label={t("knowledge")}>
          <ul className="tasks">
            {docs?.map((d) => (
              <li key={d.id}><button className="link" onClick={() => setOpen(d)}>{d.title}</button></li>
            ))}
          </ul>
        </nav>
      </div>
    </div>
  );
}

function AddDoc({ onDone, onCancel }: { onDone: () => void; onCancel: () => void }) {
  const { t } = useI18n();
  const [title, setTitle] = useState("");
  const [body, setBody] = useState("");
  const [attachment, setAttachment] = useState<string | null>(null);
  const [fileName, setFileName] = useState("");
  const [err, setErr] = useState<ApiError | null>(null);
  const fe = (k: string) => err?.fields.find((f) => f.field === k)?.message ?? null;
  return (
    <form className="card" onSubmit={async (e) => {
      e.preventDefault();
      try {
        await api.addKbDocument({ title, body, attachment });
        onDone();
      } catch (x) {
        setErr(asApiError(x));
      }
    }}>
      <Field id="kb-title" label={t("title")} error={fe("title")}>{(a) => <input {...a} value={title} onChange={(e) => setTitle(e.target.value)} autoFocus />}</Field>
      <Field id="kb-body" label={t("body")} error={fe("body")}>{(a) => <textarea {...a} rows={8} value={body} onChange={(e) => setBody(e.target.value)} />}</Field>
      <div className="row">
        <FilePick id="kb-file" label={t("file")} onFile={async (bytes, name) => {
          try {
            setAttachment((await api.upload(bytes)).sha256);
            setFileName(name);
          } catch (x) {
            setErr(asApiError(x));
          }
        }} />
        <bdi>{fileName}</bdi>
      </div>
      <ErrorBox error={err && err.fields.length === 0 ? err : null} />
      <div className="row end">
        <button type="button" className="secondary" onClick={onCancel}>{t("cancel")}</button>
        <button type="submit">{t("addDocument")}</button>
      </div>
    </form>
  );
}
