// The branch app: first run, sign-in, the idle lock, and the screens behind the navigation.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, asApiError, onLocked } from "../shared/ipc";
import { I18nContext, makeI18n, useI18n } from "../shared/i18n";
import type { Lang } from "../shared/format";
import { ErrorBox, Field, Ltr, fieldError } from "../shared/components";
import type { ApiError } from "../generated/ApiError";
import type { AppStatus } from "../generated/AppStatus";
import type { CatalogDto } from "../generated/CatalogDto";
import type { SessionInfo } from "../generated/SessionInfo";
import { DeskContext, type Route } from "./context";
import { Home } from "./Home";
import { Wizard } from "./Wizard";
import { BeneficiariesList, CasesList } from "./Lists";
import { CaseFile } from "./CaseFile";
import { PrintView, ReceiptScreen } from "./Print";
import { Knowledge } from "./Knowledge";
import { Staff } from "./Staff";
import { PersonFile } from "./PersonFile";
import { Complaints } from "./Contacts";
import { Viewer } from "./Documents";
import { ImportExport } from "./ImportExport";
import { FirstAccountFields, JoinForm, SyncIssues, useFirstRunForm } from "./BranchSync";
import { RestoreForm } from "./Backups";
import { UpdateBanner } from "./Update";

export function App() {
  const [lang, setLangState] = useState<Lang>(() => (localStorage.getItem("sila.lang") as Lang) || "ar");
  const setLang = useCallback((l: Lang) => {
    localStorage.setItem("sila.lang", l);
    setLangState(l);
  }, []);
  useEffect(() => {
    document.documentElement.lang = lang;
    document.documentElement.dir = lang === "ar" ? "rtl" : "ltr";
  }, [lang]);
  const i18n = useMemo(() => makeI18n(lang, setLang), [lang, setLang]);
  return (
    <I18nContext.Provider value={i18n}>
      <Root />
    </I18nContext.Provider>
  );
}

function Root() {
  const [status, setStatus] = useState<AppStatus | null>(null);
  const [session, setSession] = useState<SessionInfo | null>(null);
  const [catalog, setCatalog] = useState<CatalogDto | null>(null);
  const [locked, setLocked] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  const enter = useCallback(async (s: SessionInfo) => {
    setCatalog(await api.catalog());
    setSession(s);
    setLocked(false);
  }, []);

  useEffect(() => {
    api.appStatus().then(async (st) => {
      setStatus(st);
      // Startup benchmark only: on an empty data folder the first-run screen is the bare shell's
      // baseline (Tauri, WebKit and this bundle with no store).
      if (!st.initialised && st.bench_credentials) requestAnimationFrame(() => api.uiReady("first_run"));
      if (st.session) await enter(st.session);
      else if (st.bench_credentials && st.initialised) {
        // Startup benchmark only: the shell was started with --bench and credentials.
        try {
          await enter(await api.signIn(st.bench_credentials));
        } catch (e) {
          setError(asApiError(e));
        }
      }
    }, (e) => setError(asApiError(e)));
    const un = onLocked(() => {
      setSession(null);
      setLocked(true);
    });
    return () => {
      un.then((f) => f());
    };
  }, [enter]);

  // Activity keeps the store open; the shell locks it after the idle time without any.
  const lastTouch = useRef(0);
  useEffect(() => {
    if (!session) return;
    const onActivity = () => {
      const now = Date.now();
      if (now - lastTouch.current > 30_000) {
        lastTouch.current = now;
        api.touch().then((open) => {
          if (!open) {
            setSession(null);
            setLocked(true);
          }
        });
      }
    };
    window.addEventListener("keydown", onActivity);
    window.addEventListener("pointerdown", onActivity);
    return () => {
      window.removeEventListener("keydown", onActivity);
      window.removeEventListener("pointerdown", onActivity);
    };
  }, [session]);

  if (!status) return <div className="centered"><ErrorBox error={error} /></div>;
  if (!status.initialised && !session)
    return <FirstRun onDone={(s) => { setStatus({ ...status, initialised: true }); enter(s); }} />;
  if (!session || !catalog) return <SignIn locked={locked} onDone={enter} error={error} />;
  return (
    <Main
      session={session}
      catalog={catalog}
      version={status.version}
      onSignOut={async () => {
        await api.signOut();
        setSession(null);
      }}
    />
  );
}

function LangSwitch() {
  const { lang, setLang, t } = useI18n();
  return (
    <button type="button" className="secondary" data-testid="lang" onClick={() => setLang(lang === "ar" ? "en" : "ar")}>
      {t("lang")}
    </button>
  );
}


/** First run: a new branch, this laptop added to a branch that exists, or a backup restored. */
function FirstRun({ onDone }: { onDone: (s: SessionInfo) => void }) {
  const { t } = useI18n();
  const [mode, setMode] = useState<"new" | "join" | "restore">("new");
  const choices: ["new" | "join" | "restore", string, string][] = [
    ["new", t("firstRunNew"), t("firstRunNewHint")],
    ["join", t("firstRunJoin"), t("firstRunJoinHint")],
    ["restore", t("firstRunRestore"), t("firstRunRestoreHint")],
  ];
  return (
    <div className="centered">
      <div className="card first-run">
        <div className="between"><h1>{t("firstRunTitle")}</h1><LangSwitch /></div>
        <fieldset className="choices" data-testid="first-run-choice">
          <legend>{t("firstRunChoose")}</legend>
          {choices.map(([m, label, hint]) => (
            <label key={m} className="choice">
              <input type="radio" name="first-run-mode" value={m} checked={mode === m} onChange={() => setMode(m)} data-testid={`first-run-${m}`} />
              <span><strong>{label}</strong><small className="muted">{hint}</small></span>
            </label>
          ))}
        </fieldset>
        {mode === "new" && <NewBranch onDone={onDone} />}
        {mode === "join" && <JoinForm onDone={onDone} />}
        {mode === "restore" && <RestoreForm onDone={onDone} />}
      </div>
    </div>
  );
}

function NewBranch({ onDone }: { onDone: (s: SessionInfo) => void }) {
  const { t } = useI18n();
  const { f, set, err, busy, differ, onSubmit } = useFirstRunForm(
    { branch: "", username: "", display_name: "", password: "", again: "" },
    (f) => api.firstRun({ branch: f.branch, username: f.username, display_name: f.display_name, password: f.password }),
    onDone,
  );
  return (
    <form data-testid="first-run" onSubmit={onSubmit}>
      <p className="muted">{t("firstRunIntro")}</p>
      <Field id="branch" label={t("branch")} error={fieldError(err, "branch")}>
        {(a) => <input {...a} value={f.branch} onChange={set("branch")} autoFocus />}
      </Field>
      <FirstAccountFields prefix="" f={f} set={set} err={err} differ={differ} />
      <div className="row end"><button type="submit" disabled={busy} data-testid="create">{t("create")}</button></div>
    </form>
  );
}

function SignIn({ onDone, locked, error }: { onDone: (s: SessionInfo) => Promise<void>; locked: boolean; error: ApiError | null }) {
  const { t } = useI18n();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [err, setErr] = useState<ApiError | null>(error);
  const [busy, setBusy] = useState(false);
  return (
    <div className="centered">
      <form
        className="card"
        data-testid="sign-in"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          try {
            await onDone(await api.signIn({ username, password }));
          } catch (x) {
            setErr(asApiError(x));
            setPassword("");
          } finally {
            setBusy(false);
          }
        }}
      >
        <div className="between"><h1>{t("app")} — {t("signInTitle")}</h1><LangSwitch /></div>
        {locked && <p className="muted" data-testid="locked-notice">{t("lockedNotice")}</p>}
        <Field id="username" label={t("username")}>
          {(a) => <input {...a} dir="ltr" value={username} onChange={(e) => setUsername(e.target.value)} autoFocus autoComplete="username" />}
        </Field>
        <Field id="password" label={t("password")}>
          {(a) => <input {...a} type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="current-password" />}
        </Field>
        <ErrorBox error={err} />
        <div className="row end"><button type="submit" disabled={busy} data-testid="sign-in-button">{t("signIn")}</button></div>
      </form>
    </div>
  );
}

function Main({ session, catalog, version, onSignOut }: { session: SessionInfo; catalog: CatalogDto; version: string; onSignOut: () => void }) {
  const { t } = useI18n();
  const [route, setRouteState] = useState<Route>({ name: "home" });
  // Every navigation is a fresh screen, even to the same route ("new request" twice is two drafts).
  const [visit, setVisit] = useState(0);
  const setRoute = useCallback((r: Route) => {
    setRouteState(r);
    setVisit((v) => v + 1);
  }, []);
  const isAdmin = session.roles.includes("admin");
  const desk = useMemo(() => ({ catalog, session, go: setRoute, isAdmin }), [catalog, session, isAdmin, setRoute]);
  const mainRef = useRef<HTMLElement>(null);
  // Typed into a form on this screen since it opened (a search box aside): an update waits.
  const dirty = useRef(false);
  const routeRef = useRef(route);
  routeRef.current = route;
  const busy = useCallback(() => {
    const r = routeRef.current;
    return r.name === "wizard" || (r.name === "person" && !!r.edit) || dirty.current;
  }, []);
  useEffect(() => {
    dirty.current = false;
  }, [route]);
  useEffect(() => {
    // A new screen starts at its top, with focus on its heading for keyboard users.
    mainRef.current?.scrollTo(0, 0);
    mainRef.current?.querySelector<HTMLElement>("h1")?.focus();
  }, [route]);
  // Alt+1…8 jump between the main screens.
  useEffect(() => {
    const order: Route[] = [{ name: "home" }, { name: "wizard" }, { name: "beneficiaries" }, { name: "cases" }, { name: "complaints" }, { name: "kb" }, { name: "staff" }, { name: "data" }];
    const onKey = (e: KeyboardEvent) => {
      if (!e.altKey) return;
      const i = Number(e.key) - 1;
      if (i >= 0 && i < order.length && ((order[i].name !== "staff" && order[i].name !== "data") || isAdmin)) {
        e.preventDefault();
        setRoute(order[i]);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [isAdmin, setRoute]);
  const nav: [Route["name"], string][] = [
    ["home", t("home")], ["wizard", t("newIntake")], ["beneficiaries", t("beneficiaries")],
    ["cases", t("cases")], ["complaints", t("complaintsNav")], ["kb", t("knowledge")],
  ];
  if (isAdmin) nav.push(["staff", t("staff")], ["data", t("importExport")]);
  return (
    <DeskContext.Provider value={desk}>
      <div className="shell">
        <nav className="nav no-print" aria-label={t("app")}>
          <div className="brand">{t("app")}</div>
          {nav.map(([name, label], i) => (
            <button
              key={name}
              data-testid={`nav-${name}`}
              aria-current={route.name === name ? "page" : undefined}
              title={`Alt+${i + 1}`}
              onClick={() => setRoute({ name } as Route)}
            >
              {label}
            </button>
          ))}
          <div className="spacer" />
          <div className="who">{session.display_name}<br />{session.branch}<br /><span data-testid="app-version">{t("thisVersion")}: <Ltr>{version}</Ltr></span></div>
          <LangSwitch />
          <button onClick={onSignOut} data-testid="sign-out">{t("signOut")}</button>
        </nav>
        <main ref={mainRef} onInput={(e) => {
          const el = e.target as HTMLInputElement;
          if (el.type !== "search" && !el.closest("[role=search]")) dirty.current = true;
        }}>
          <UpdateBanner busy={busy} />
          {route.name === "home" && <Home key={visit} discarded={route.discarded} />}
          {route.name === "wizard" && <Wizard key={visit} draftId={route.draftId} forPerson={route.forPerson} />}
          {route.name === "person" && <PersonFile key={visit} id={route.id} edit={route.edit} />}
          {route.name === "complaints" && <Complaints />}
          {route.name === "receipt" && <ReceiptScreen caseId={route.caseId} />}
          {route.name === "beneficiaries" && <BeneficiariesList />}
          {route.name === "cases" && <CasesList initial={route.filter} />}
          {route.name === "case" && <CaseFile id={route.id} />}
          {route.name === "print" && <PrintView kind={route.kind} caseId={route.caseId} />}
          {route.name === "kb" && <Knowledge />}
          {route.name === "staff" && isAdmin && <Staff />}
          {route.name === "data" && isAdmin && <ImportExport />}
          {route.name === "sync_issues" && <SyncIssues />}
        </main>
        <Viewer />
      </div>
    </DeskContext.Provider>
  );
}
