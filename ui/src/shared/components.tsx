// Building blocks shared by the branch app and (later) the HQ console.
import { useEffect, useRef, useState, type ReactNode } from "react";
import { formatGregorian, formatHijri, formatMobile } from "./format";
import { useI18n } from "./i18n";
import type { ApiError } from "../generated/ApiError";
import { fileUrl } from "./ipc";

/** A number, ID, phone or date inside text of the other direction: isolated so it never scrambles. */
export function Ltr({ children, testid }: { children: ReactNode; testid?: string }) {
  return <bdi dir="ltr" data-testid={testid}>{children}</bdi>;
}

/** A stored ISO date shown in both calendars: Hijri (Umm al-Qura) first, Gregorian beside it. */
export function DualDate({ iso }: { iso: string | null | undefined }) {
  const { lang } = useI18n();
  if (!iso) return <span>—</span>;
  return (
    <span className="dual-date">
      <bdi>{formatHijri(iso, lang)}</bdi>
      <span className="muted"> (<bdi>{formatGregorian(iso, lang)}</bdi>)</span>
    </span>
  );
}

export function Phone({ e164 }: { e164: string | null | undefined }) {
  return e164 ? <Ltr>{formatMobile(e164)}</Ltr> : <span>—</span>;
}

/** What an error says of one field of a form (shown beside that field by `Field`), if anything. */
export function fieldError(err: ApiError | null, field: string): string | null {
  return err?.fields.find((f) => f.field === field)?.message ?? null;
}

/** A labelled field with its error beside it (and announced to screen readers). */
export function Field(props: {
  id: string;
  label: string;
  error?: string | null;
  hint?: string;
  children: (a: { id: string; "aria-invalid": boolean; "aria-describedby"?: string }) => ReactNode;
  wide?: boolean;
}) {
  const errId = `${props.id}-error`;
  const hintId = `${props.id}-hint`;
  const described = [props.error ? errId : null, props.hint ? hintId : null].filter(Boolean).join(" ");
  return (
    <div className={`field${props.wide ? " wide" : ""}${props.error ? " has-error" : ""}`}>
      <label htmlFor={props.id}>{props.label}</label>
      {props.children({ id: props.id, "aria-invalid": !!props.error, "aria-describedby": described || undefined })}
      {props.hint && <small id={hintId} className="hint">{props.hint}</small>}
      {props.error && (
        <small id={errId} className="error" role="alert" data-testid={`error-${props.id}`}>{props.error}</small>
      )}
    </div>
  );
}

export function ErrorBox({ error }: { error: ApiError | null }) {
  const { t } = useI18n();
  if (!error) return null;
  return (
    <div className="error-box" role="alert" data-testid="error-box">
      <strong>{t("errorTitle")}: </strong>{error.message}
    </div>
  );
}

/**
 * A list of any length that renders only the rows in view. Rows come in pages from `load`; the
 * total comes with the first page. Fixed row height keeps 100k rows smooth.
 */
export function VirtualList<T>(props: {
  total: number;
  rowHeight: number;
  height: number;
  load: (offset: number, limit: number) => Promise<T[]>;
  row: (item: T | undefined, index: number) => ReactNode;
  pageSize?: number;
  resetKey: string;
}) {
  const pageSize = props.pageSize ?? 100;
  const [scroll, setScroll] = useState(0);
  const pages = useRef(new Map<number, T[] | "loading">());
  const [, bump] = useState(0);
  const box = useRef<HTMLDivElement>(null);
  // Forget the pages in the same render that brings a new key, so not one frame shows the old
  // rows under the new query (an effect would run only after they were painted).
  const pagesKey = useRef(props.resetKey);
  if (pagesKey.current !== props.resetKey) {
    pagesKey.current = props.resetKey;
    pages.current = new Map();
  }
  useEffect(() => {
    setScroll(0);
    if (box.current) box.current.scrollTop = 0;
  }, [props.resetKey]);
  const first = Math.max(0, Math.floor(scroll / props.rowHeight) - 5);
  const count = Math.ceil(props.height / props.rowHeight) + 10;
  const last = Math.min(props.total, first + count);
  for (let p = Math.floor(first / pageSize); p * pageSize < last; p++) {
    if (!pages.current.has(p)) {
      pages.current.set(p, "loading");
      const key = props.resetKey;
      props.load(p * pageSize, pageSize).then((rows) => {
        if (key !== pagesKey.current) return; // an answer for a list that has since changed
        pages.current.set(p, rows);
        bump((n) => n + 1);
      }, () => { if (key === pagesKey.current) pages.current.delete(p); });
    }
  }
  const items: ReactNode[] = [];
  for (let i = first; i < last; i++) {
    const page = pages.current.get(Math.floor(i / pageSize));
    const item = Array.isArray(page) ? page[i % pageSize] : undefined;
    items.push(
      <div key={i} className="vrow" style={{ top: i * props.rowHeight, height: props.rowHeight }}>
        {props.row(item, i)}
      </div>,
    );
  }
  return (
    <div
      className="vlist"
      ref={box}
      style={{ height: props.height }}
      onScroll={(e) => setScroll((e.target as HTMLDivElement).scrollTop)}
      data-testid="vlist"
    >
      <div style={{ height: props.total * props.rowHeight, position: "relative" }}>{items}</div>
    </div>
  );
}

/** Read a chosen file's bytes. */
export async function readFile(f: File): Promise<Uint8Array> {
  return new Uint8Array(await f.arrayBuffer());
}

/** A file input that hands over the chosen file's bytes. */
export function FilePick(props: {
  id: string;
  label: string;
  onFile: (bytes: Uint8Array, name: string) => void;
  testid?: string;
}) {
  return (
    <label className="file-pick button secondary" htmlFor={props.id}>
      {props.label}
      <input
        id={props.id}
        data-testid={props.testid}
        type="file"
        accept="image/png,image/jpeg,image/webp,application/pdf"
        onChange={async (e) => {
          const f = e.target.files?.[0];
          if (f) props.onFile(await readFile(f), f.name);
          e.target.value = "";
        }}
      />
    </label>
  );
}

/** Drawing pad for the applicant's signature (mouse, pen or finger). Gives a PNG. */
export function SignaturePad(props: { onChange: (hasInk: boolean) => void; padRef: React.RefObject<HTMLCanvasElement | null> }) {
  const drawing = useRef(false);
  const { t } = useI18n();
  const ink = useRef(false);
  useEffect(() => {
    const c = props.padRef.current;
    if (!c) return;
    const ctx = c.getContext("2d")!;
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, c.width, c.height);
  }, [props.padRef]);
  const pos = (e: React.PointerEvent<HTMLCanvasElement>) => {
    const r = e.currentTarget.getBoundingClientRect();
    return {
      x: ((e.clientX - r.left) * e.currentTarget.width) / r.width,
      y: ((e.clientY - r.top) * e.currentTarget.height) / r.height,
    };
  };
  return (
    <div className="signature">
      <canvas
        ref={props.padRef}
        width={600}
        height={200}
        data-testid="signature-pad"
        aria-label={t("signHere")}
        onPointerDown={(e) => {
          drawing.current = true;
          e.currentTarget.setPointerCapture?.(e.pointerId);
          const ctx = e.currentTarget.getContext("2d")!;
          const p = pos(e);
          ctx.beginPath();
          ctx.moveTo(p.x, p.y);
        }}
        onPointerMove={(e) => {
          if (!drawing.current) return;
          const ctx = e.currentTarget.getContext("2d")!;
          ctx.lineWidth = 3;
          ctx.lineCap = "round";
          ctx.strokeStyle = "#10233f";
          const p = pos(e);
          ctx.lineTo(p.x, p.y);
          ctx.stroke();
          if (!ink.current) {
            ink.current = true;
            props.onChange(true);
          }
        }}
        onPointerUp={() => (drawing.current = false)}
        onPointerLeave={() => (drawing.current = false)}
      />
      <button
        type="button"
        className="secondary"
        onClick={() => {
          const c = props.padRef.current!;
          const ctx = c.getContext("2d")!;
          ctx.fillStyle = "#fff";
          ctx.fillRect(0, 0, c.width, c.height);
          ink.current = false;
          props.onChange(false);
        }}
      >
        {t("clear")}
      </button>
    </div>
  );
}

export async function canvasPng(c: HTMLCanvasElement): Promise<Uint8Array> {
  const blob: Blob = await new Promise((ok, fail) => c.toBlob((b) => (b ? ok(b) : fail(new Error("png"))), "image/png"));
  return new Uint8Array(await blob.arrayBuffer());
}

/** A stored image shown from the store (blob URL, revoked when gone). */
export function StoredImage({ sha, alt, className }: { sha: string; alt: string; className?: string }) {
  const [url, setUrl] = useState<string | null>(null);
  const [mime, setMime] = useState("");
  useEffect(() => {
    let u: string | null = null;
    let live = true;
    fileUrl(sha).then((r) => {
      if (!live) return URL.revokeObjectURL(r.url);
      u = r.url;
      setUrl(r.url);
      setMime(r.mime);
    }, () => {});
    return () => {
      live = false;
      if (u) URL.revokeObjectURL(u);
    };
  }, [sha]);
  if (!url) return null;
  if (!mime.startsWith("image/")) return <span className="pdf-badge">PDF</span>;
  return <img src={url} alt={alt} className={className} />;
}
