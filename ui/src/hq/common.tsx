// Small pieces the console's pages share.
import { createContext, useContext, useEffect, useState } from "react";
import type { ApiError, Catalog } from "./api";
import { useHq } from "./i18n";

export const CatalogContext = createContext<Catalog | null>(null);

/** The name of a support or document type in the current language. */
export function useCatalogName() {
  const c = useContext(CatalogContext);
  const { lang } = useHq();
  return (kind: "support" | "document", code: string) => {
    const list = kind === "support" ? c?.support_types : c?.document_types;
    const item = list?.find((x) => x.code === code);
    return item ? (lang === "ar" ? item.name_ar : item.name_en) : code;
  };
}

export function Failure({ error }: { error: ApiError | null }) {
  const { t, error: say } = useHq();
  if (!error) return null;
  return (
    <div className="error-box" role="alert" data-testid="error-box" data-code={error.code}>
      <strong>{t("errorTitle")}: </strong>
      {say(error)}
    </div>
  );
}

export function Notice({ text }: { text: string | null }) {
  if (!text) return null;
  return (
    <div className="notice" role="status" data-testid="notice">
      {text}
    </div>
  );
}

/** Load something once (and again when `deps` change); errors become a Failure. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | null; error: ApiError | null; reload: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setError(null);
    load()
      .then((d) => live && setData(d))
      .catch((e) => live && setError(e as ApiError));
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, n]);
  return { data, error, reload: () => setN((x) => x + 1) };
}

/** A date-time as a short local date and time (Gregorian digits). */
export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().slice(0, 16).replace("T", " ");
}
