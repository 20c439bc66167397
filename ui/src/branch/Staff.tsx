// Staff accounts (administrators): add, disable or enable, set a password, change roles; and the
// store's upkeep (compaction).
import { useEffect, useState } from "react";
import { api, asApiError } from "../shared/ipc";
import { useI18n } from "../shared/i18n";
import { ErrorBox, Field } from "../shared/components";
import type { StaffDto } from "../generated/StaffDto";
import type { ApiError } from "../generated/ApiError";
import type { CompactDto } from "../generated/CompactDto";
import type { CompactProgressDto } from "../generated/CompactProgressDto";
import { useDesk } from "./context";

export function Staff() {
  const { t, label } = useI18n();
  const { catalog, session } = useDesk();
  const [list, setList] = useState<StaffDto[]>([]);
  const [err, setErr] = useState<ApiError | null>(null);
  const [form, setForm] = useState({ username: "", display_name: "", password: "", roles: ["representative"] as string[] });
  const [pw, setPw] = useState<{ user: string; value: string; enabling: boolean } | null>(null);
  const load = () => api.staff().then(setList, (e) => setErr(asApiError(e)));
  useEffect(() => { load(); }, []);
  const act = async (f: () => Promise<unknown>) => {
    setErr(null);
    try { await f(); await load(); } catch (e) { setErr(asApiError(e)); }
  };
  const roleName = (r: string) => label("role", r, catalog.roles.find((x) => x.code === r)?.ar);
  // The catalog lists only the roles a branch account may hold (never the committee's or HQ's).
  const branchRoles = catalog.roles.map((r) => r.code);
  const fe = (k: string) => err?.fields.find((f) => f.field === k)?.message ?? null;
  return (
    <div data-testid="staff">
      <h1 tabIndex={-1}>{t("staff")}</h1>
      <ErrorBox error={err && err.fields.length === 0 ? err : null} />
      <table className="card">
        <thead><tr><th>{t("displayName")}</th><th>{t("username")}</th><th>{t("roles")}</th><th>{t("state")}</th><th /></tr></thead>
        <tbody>
          {list.map((s) => (
            <StaffRow key={s.username} s={s} self={s.username === session.username} roleName={roleName} roles={branchRoles}
              onRoles={(roles) => act(() => api.setStaffRoles(s.username, roles))}
              onDisable={() => act(() => api.setStaffActive(s.username, false, null))}
              onPassword={(enabling) => setPw({ user: s.username, value: "", enabling })} />
          ))}
        </tbody>
      </table>
      {pw && (
        <form className="card" onSubmit={(e) => {
          e.preventDefault();
          const p = pw;
          act(() => (p.enabling ? api.setStaffActive(p.user, true, p.value) : api.resetPassword(p.user, p.value))).then(() => setPw(null));
        }}>
          <Field id="new-password" label={`${t("newPassword")} — ${pw.user}`} error={fe("password")}>
            {(a) => <input {...a} type="password" value={pw.value} onChange={(e) => setPw({ ...pw, value: e.target.value })} autoFocus />}
          </Field>
          <div className="row end">
            <button type="button" className="secondary" onClick={() => setPw(null)}>{t("cancel")}</button>
            <button type="submit">{pw.enabling ? t("enable") : t("resetPassword")}</button>
          </div>
        </form>
      )}
      <form className="card" onSubmit={(e) => {
        e.preventDefault();
        act(() => api.addStaff(form)).then(() => setForm({ username: "", display_name: "", password: "", roles: ["representative"] }));
      }}>
        <h2>{t("addStaff")}</h2>
        <div className="form-grid">
          <Field id="staff-display" label={t("displayName")} error={fe("display_name")}>{(a) => <input {...a} value={form.display_name} onChange={(e) => setForm({ ...form, display_name: e.target.value })} />}</Field>
          <Field id="staff-username" label={t("username")} error={fe("username")}>{(a) => <input {...a} dir="ltr" value={form.username} onChange={(e) => setForm({ ...form, username: e.target.value })} />}</Field>
          <Field id="staff-password" label={t("password")} error={fe("password")}>{(a) => <input {...a} type="password" value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} />}</Field>
          <fieldset className="field">
            <legend>{t("roles")}</legend>
            {branchRoles.map((r) => (
              <label key={r}><input type="checkbox" checked={form.roles.includes(r)}
                onChange={(e) => setForm({ ...form, roles: e.target.checked ? [...form.roles, r] : form.roles.filter((x) => x !== r) })} /> {roleName(r)}</label>
            ))}
            {fe("roles") && <small className="error">{fe("roles")}</small>}
          </fieldset>
        </div>
        <div className="row end"><button type="submit" data-testid="staff-add">{t("addStaff")}</button></div>
      </form>
      <Upkeep />
    </div>
  );
}

/** Compaction: a progress bar while the store is rewritten, then its size before and after. */
function Upkeep() {
  const { t } = useI18n();
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<CompactProgressDto | null>(null);
  const [done, setDone] = useState<CompactDto | null>(null);
  const [err, setErr] = useState<ApiError | null>(null);
  useEffect(() => {
    if (!busy) return;
    const timer = setInterval(() => api.compactProgress().then(setProgress, () => {}), 300);
    return () => clearInterval(timer);
  }, [busy]);
  const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
  const compact = async () => {
    setErr(null);
    setDone(null);
    setBusy(true);
    try {
      setDone(await api.compactStore());
    } catch (e) {
      setErr(asApiError(e));
    } finally {
      setBusy(false);
      setProgress(null);
    }
  };
  return (
    <section className="card" data-testid="upkeep">
      <h2>{t("upkeep")}</h2>
      <p>{t("compactHelp")}</p>
      <ErrorBox error={err} />
      {busy && <progress max={progress?.total_bytes || 1} value={progress?.written_bytes ?? 0} aria-label={t("compacting")} />}
      {done && <p data-testid="compacted">{t("compacted")}: <bdi dir="ltr">{mb(done.before_bytes)} → {mb(done.after_bytes)}</bdi></p>}
      <div className="row end">
        <button type="button" disabled={busy} onClick={compact} data-testid="compact">{busy ? t("compacting") : t("compact")}</button>
      </div>
    </section>
  );
}

function StaffRow(props: {
  s: StaffDto; self: boolean; roleName: (r: string) => string; roles: string[];
  onRoles: (roles: string[]) => void; onDisable: () => void; onPassword: (enabling: boolean) => void;
}) {
  const { t } = useI18n();
  const [roles, setRoles] = useState(props.s.roles);
  const changed = roles.slice().sort().join() !== props.s.roles.slice().sort().join();
  return (
    <tr>
      <td>{props.s.display_name}</td>
      <td><bdi>{props.s.username}</bdi></td>
      <td>
        {props.roles.map((r) => (
          <label key={r} style={{ marginInlineEnd: ".6rem" }}>
            <input type="checkbox" checked={roles.includes(r)} onChange={(e) => setRoles(e.target.checked ? [...roles, r] : roles.filter((x) => x !== r))} /> {props.roleName(r)}
          </label>
        ))}
        {changed && <button className="secondary" onClick={() => props.onRoles(roles)}>{t("saveRoles")}</button>}
      </td>
      <td>
        {props.s.active ? t("active") : t("disabled")}
        {props.s.active && !props.s.can_sign_in_here && (
          <div className="muted" data-testid="needs-activation">{t("notOnThisDevice")}</div>
        )}
      </td>
      <td className="row">
        {props.s.active && !props.self && <button className="secondary" onClick={props.onDisable}>{t("disable")}</button>}
        {!props.s.active && <button className="secondary" onClick={() => props.onPassword(true)}>{t("enable")}</button>}
        {props.s.active && (
          <button className={props.s.can_sign_in_here ? "secondary" : ""} onClick={() => props.onPassword(false)}
            data-testid={props.s.can_sign_in_here ? undefined : "activate-here"}>
            {props.s.can_sign_in_here ? t("resetPassword") : t("activateHere")}
          </button>
        )}
      </td>
    </tr>
  );
}
