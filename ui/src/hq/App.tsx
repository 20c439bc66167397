// The console's shell: sign-in, the navigation by role, and the page in view (hash routes, so a
// reload keeps the page and the server serves one HTML file).
import { useCallback, useEffect, useMemo, useState } from "react";
import { I18nContext, makeI18n } from "../shared/i18n";
import type { Lang } from "../shared/format";
import { get, post, setCsrf, whenSignedOut, type ApiError, type Catalog, type Done, type Me, type Role, type SignIn } from "./api";
import { HqI18nContext, makeHqI18n, useHq, type HqKey } from "./i18n";
import { Committee } from "./Committee";
import { Duplicates } from "./Duplicates";
import { Conflicts } from "./Conflicts";
import { Dashboards } from "./Dashboards";
import { Admin } from "./Admin";
import { Register } from "./Register";
import { CatalogContext, Failure } from "./common";

type Page = "register" | "committee" | "duplicates" | "conflicts" | "dashboards" | "admin";
const PAGES: { page: Page; key: HqKey; roles: Role[] }[] = [
  { page: "register", key: "register", roles: ["reviewer", "committee", "admin"] },
  { page: "committee", key: "committee", roles: ["committee", "admin"] },
  { page: "duplicates", key: "duplicates", roles: ["reviewer"] },
  { page: "conflicts", key: "conflicts", roles: ["reviewer", "admin"] },
  { page: "dashboards", key: "dashboards", roles: ["reviewer", "committee", "admin"] },
  { page: "admin", key: "admin", roles: ["admin"] },
];

function route(): { page: string; arg: string } {
  const [page = "", arg = ""] = window.location.hash.replace(/^#\/?/, "").split("/");
  return { page, arg: decodeURIComponent(arg) };
}

export function App() {
  const [lang, setLangState] = useState<Lang>(() => (localStorage.getItem("sila-hq-lang") === "en" ? "en" : "ar"));
  const setLang = useCallback((l: Lang) => {
    localStorage.setItem("sila-hq-lang", l);
    setLangState(l);
  }, []);
  useEffect(() => {
    document.documentElement.lang = lang;
    document.documentElement.dir = lang === "ar" ? "rtl" : "ltr";
  }, [lang]);
  const hq = useMemo(() => makeHqI18n(lang, setLang), [lang, setLang]);
  const shared = useMemo(() => makeI18n(lang, setLang), [lang, setLang]);
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [catalog, setCatalog] = useState<Catalog | null>(null);

  useEffect(() => {
    whenSignedOut(() => setMe(null));
    get<Me>("/me")
      .then((m) => {
        setCsrf(m.csrf);
        setMe(m);
      })
      .catch(() => setMe(null));
  }, []);
  useEffect(() => {
    if (me) get<Catalog>("/catalog").then(setCatalog).catch(() => {});
  }, [me]);

  return (
    <HqI18nContext.Provider value={hq}>
      <I18nContext.Provider value={shared}>
        <CatalogContext.Provider value={catalog}>
          {me === undefined ? (
            <p className="centered">{hq.t("loading")}</p>
          ) : me === null ? (
            <SignIn
              onIn={(m) => {
                setCsrf(m.csrf);
                setMe(m);
              }}
            />
          ) : (
            <Shell me={me} onOut={() => setMe(null)} />
          )}
        </CatalogContext.Provider>
      </I18nContext.Provider>
    </HqI18nContext.Provider>
  );
}

function LangSwitch() {
  const { lang, setLang, t } = useHq();
  return (
    <button type="button" className="secondary lang" data-testid="lang" onClick={() => setLang(lang === "ar" ? "en" : "ar")}>
      {t("lang")}
    </button>
  );
}

function SignIn({ onIn }: { onIn: (m: Me) => void }) {
  const { t } = useHq();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <div className="signin-page">
      <form
        className="card signin"
        data-testid="signin"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          try {
            onIn(await post<Me>("/sign-in", { username, password } satisfies SignIn));
          } catch (err) {
            setError(err as ApiError);
          } finally {
            setBusy(false);
          }
        }}
      >
        <div className="between">
          <h1>{t("app")}</h1>
          <LangSwitch />
        </div>
        <h2>{t("signInTitle")}</h2>
        <div className="field">
          <label htmlFor="username">{t("username")}</label>
          <input id="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required />
        </div>
        <div className="field">
          <label htmlFor="password">{t("password")}</label>
          <input id="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </div>
        <Failure error={error} />
        <button type="submit" disabled={busy} data-testid="signin-submit">{t("signIn")}</button>
      </form>
    </div>
  );
}

function Shell({ me, onOut }: { me: Me; onOut: () => void }) {
  const { t, lang } = useHq();
  const allowed = PAGES.filter((p) => p.roles.some((r) => me.staff.roles.includes(r)));
  const [r, setR] = useState(route());
  useEffect(() => {
    const f = () => setR(route());
    window.addEventListener("hashchange", f);
    return () => window.removeEventListener("hashchange", f);
  }, []);
  const page = (allowed.find((p) => p.page === r.page) ?? allowed[0])?.page;
  const go = (p: string, arg = "") => {
    window.location.hash = `#/${p}${arg ? `/${encodeURIComponent(arg)}` : ""}`;
  };
  return (
    <div className="shell">
      <nav className="nav" aria-label={t("app")}>
        <div className="brand">صلة</div>
        <div className="muted-light">{t("app")}</div>
        {allowed.map((p) => (
          <button key={p.page} type="button" data-testid={`nav-${p.page}`} aria-current={page === p.page ? "page" : undefined} onClick={() => go(p.page)}>
            {t(p.key)}
          </button>
        ))}
        <div className="spacer" />
        <div className="who" data-testid="who">
          {me.staff.display_name}
          <br />
          {me.staff.roles.map((x) => t(`role_${x}` as HqKey)).join(lang === "ar" ? "، " : ", ")}
        </div>
        <LangSwitch />
        <button
          type="button"
          data-testid="signout"
          onClick={async () => {
            try {
              await post<Done>("/sign-out");
            } finally {
              onOut();
            }
          }}
        >
          {t("signOut")}
        </button>
      </nav>
      <main>
        {page === "register" && (
          <Register
            arg={r.page === "register" ? r.arg : ""}
            go={(arg) => go("register", arg)}
            canEdit={me.staff.roles.some((x) => x === "reviewer" || x === "admin")}
          />
        )}
        {page === "committee" && <Committee caseId={r.page === "committee" ? r.arg : ""} open={(id) => go("committee", id)} />}
        {page === "duplicates" && <Duplicates />}
        {page === "conflicts" && <Conflicts canResolve={me.staff.roles.includes("reviewer")} />}
        {page === "dashboards" && <Dashboards />}
        {page === "admin" && <Admin me={me} />}
        {!page && <p>{t("empty")}</p>}
      </main>
    </div>
  );
}
