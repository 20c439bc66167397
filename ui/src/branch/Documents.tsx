// Documents inside the app: a stored image or PDF opens in a viewer over the screen (PDFs through
// WebKit's own PDF viewer), and a document can be attached from a file or taken with the
// machine's camera, with the same type and size checks as any file (the store's, by the bytes).
import { useEffect, useRef, useState } from "react";
import { api, asApiError, fileUrl } from "../shared/ipc";
import { useI18n } from "../shared/i18n";
import { FilePick, Ltr } from "../shared/components";
import type { ApiError } from "../generated/ApiError";
import type { StoredFile } from "../generated/StoredFile";

/** Open a stored file (image or PDF) in the viewer over the screen. */
export function openViewer(sha256: string, title: string) {
  window.dispatchEvent(new CustomEvent("sila:view", { detail: { sha256, title } }));
}

/** The viewer itself, mounted once by the app: Escape or the close button closes it. */
export function Viewer() {
  const { t } = useI18n();
  const [open, setOpen] = useState<{ sha256: string; title: string } | null>(null);
  const [file, setFile] = useState<{ url: string; mime: string } | null>(null);
  const close = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const on = (e: Event) => setOpen((e as CustomEvent).detail);
    window.addEventListener("sila:view", on);
    return () => window.removeEventListener("sila:view", on);
  }, []);
  useEffect(() => {
    if (!open) return;
    let url: string | null = null;
    let live = true;
    fileUrl(open.sha256).then((f) => {
      if (!live) return URL.revokeObjectURL(f.url);
      url = f.url;
      setFile(f);
    }, () => {});
    const key = (e: KeyboardEvent) => { if (e.key === "Escape") setOpen(null); };
    window.addEventListener("keydown", key);
    setTimeout(() => close.current?.focus(), 0);
    return () => {
      live = false;
      window.removeEventListener("keydown", key);
      if (url) URL.revokeObjectURL(url);
      setFile(null);
    };
  }, [open]);
  if (!open) return null;
  return (
    <div className="viewer no-print" role="dialog" aria-modal="true" aria-label={open.title} data-testid="viewer" data-mime={file?.mime ?? ""}>
      <div className="viewer-bar">
        <strong>{open.title}</strong>
        <button ref={close} className="secondary" data-testid="viewer-close" onClick={() => setOpen(null)}>{t("close")}</button>
      </div>
      <div className="viewer-body">
        {file && file.mime.startsWith("image/") && <img src={file.url} alt={open.title} data-testid="viewer-image" />}
        {file && file.mime === "application/pdf" && <iframe src={file.url} title={open.title} data-testid="viewer-pdf" />}
      </div>
    </div>
  );
}

/** Stored files as small buttons that open in the viewer (an image shows its thumbnail). */
export function FileChips({ files, onRemove }: { files: { sha256: string; name?: string }[]; onRemove?: (sha: string) => void }) {
  const { t } = useI18n();
  if (files.length === 0) return null;
  return (
    <ul className="chips">
      {files.map((f, i) => (
        <li key={f.sha256}>
          <button type="button" className="chip" data-testid="file-chip" onClick={() => openViewer(f.sha256, f.name || `${t("attachment")} ${i + 1}`)}>
            <ChipIcon sha={f.sha256} />
            <span>{f.name || <>{t("attachment")} <Ltr>{i + 1}</Ltr></>}</span>
          </button>
          {onRemove && <button type="button" className="link" onClick={() => onRemove(f.sha256)} aria-label={t("removeMember")}>×</button>}
        </li>
      ))}
    </ul>
  );
}

/** An image's thumbnail, or a PDF's badge (what it is comes from its bytes). */
function ChipIcon({ sha }: { sha: string }) {
  const [f, setF] = useState<{ url: string; mime: string } | null>(null);
  useEffect(() => {
    let u: string | null = null;
    let live = true;
    fileUrl(sha).then((r) => { if (!live) return URL.revokeObjectURL(r.url); u = r.url; setF(r); }, () => {});
    return () => { live = false; if (u) URL.revokeObjectURL(u); };
  }, [sha]);
  if (!f) return null;
  return f.mime.startsWith("image/") ? <img src={f.url} alt="" className="thumb" /> : <span className="pdf-badge">PDF</span>;
}

/**
 * Attach a document: from a file, or photographed with the camera where the machine has one.
 * Whatever the source, the bytes go through `upload`, which keeps only PNG, JPEG, WebP or PDF of
 * at most the store's size.
 */
export function AttachPicker(props: { testid: string; onStored: (f: StoredFile & { name: string }) => void; onError: (e: ApiError | null) => void; label?: string }) {
  const { t } = useI18n();
  const [camera, setCamera] = useState(false);
  const hasCamera = typeof navigator !== "undefined" && !!navigator.mediaDevices?.getUserMedia;
  const store = async (bytes: Uint8Array, name: string) => {
    try {
      const f = await api.upload(bytes);
      props.onError(null);
      props.onStored({ ...f, name });
    } catch (e) {
      props.onError(asApiError(e));
    }
  };
  return (
    <div className="row attach">
      <FilePick id={`${props.testid}-file`} testid={props.testid} label={props.label ?? t("attach")} onFile={(b, name) => store(b, name)} />
      {hasCamera && !camera && (
        <button type="button" className="secondary" data-testid={`${props.testid}-camera`} onClick={() => setCamera(true)}>{t("fromCamera")}</button>
      )}
      {camera && <Camera onShot={(b) => { setCamera(false); store(b, t("photo")); }} onCancel={() => setCamera(false)} onError={props.onError} />}
    </div>
  );
}

/** The camera's picture, live; "take" keeps one frame as a JPEG. */
function Camera(props: { onShot: (bytes: Uint8Array) => void; onCancel: () => void; onError: (e: ApiError | null) => void }) {
  const { t } = useI18n();
  const video = useRef<HTMLVideoElement>(null);
  const [ready, setReady] = useState(false);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let stream: MediaStream | null = null;
    let live = true;
    navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1920 }, height: { ideal: 1080 } }, audio: false }).then((s) => {
      if (!live) return s.getTracks().forEach((tr) => tr.stop());
      stream = s;
      if (video.current) {
        video.current.srcObject = s;
        video.current.play().then(() => setReady(true), () => setReady(true));
      }
    }, () => setFailed(true));
    return () => {
      live = false;
      stream?.getTracks().forEach((tr) => tr.stop());
    };
  }, []);
  const take = async () => {
    const v = video.current;
    if (!v || !v.videoWidth) return;
    const c = document.createElement("canvas");
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    c.getContext("2d")!.drawImage(v, 0, 0);
    const blob: Blob | null = await new Promise((ok) => c.toBlob(ok, "image/jpeg", 0.9));
    if (blob) props.onShot(new Uint8Array(await blob.arrayBuffer()));
  };
  return (
    <div className="camera" data-testid="camera">
      {failed ? <p className="error" role="alert">{t("noCamera")}</p> : <video ref={video} muted playsInline data-testid="camera-video" />}
      <div className="row">
        <button type="button" disabled={!ready} data-testid="camera-take" onClick={take}>{t("takePhoto")}</button>
        <button type="button" className="secondary" onClick={props.onCancel}>{t("cancel")}</button>
      </div>
    </div>
  );
}
