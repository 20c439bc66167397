// Administration: device enrolment codes, devices and their revocation, HQ console accounts,
// branch staff accounts (synced down to the branch), knowledge-base documents (synced down),
// and the console's audit log.
import { useState } from "react";
import { Ltr } from "../shared/components";
import {
  get, post, publishRelease, type ApiError, type AuditList, type BranchStaff, type BranchStaffBody, type BranchStaffList, type Created, type Device, type DevicesView,
  type Done, type EnrolBody, type EnrolCode, type KbBody, type KbList, type Me, type ReleaseList, type Role, type Staff, type StaffAdd, type StaffList, type StaffSet,
} from "./api";
import { useHq, type HqKey } from "./i18n";
import { BRANCH_ROLES, label } from "./labels";
import { Failure, Notice, useLoad, when } from "./common";

function useAction() {
  const [failure, setFailure] = useState<ApiError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const run = async (f: () => Promise<unknown>, ok?: string) => {
    setFailure(null);
    setNotice(null);
    try {
      await f();
      if (ok) setNotice(ok);
      return true;
    } catch (e) {
      setFailure(e as ApiError);
      return false;
    }
  };
  return { failure, notice, run };
}

export function Admin({ me }: { me: Me }) {
  const { t } = useHq();
  return (
    <section data-testid="admin">
      <h1>{t("admin")}</h1>
      <Devices />
      <Releases />
      <HqStaff me={me} />
      <BranchStaffCard />
      <Knowledge />
      <Audit />
    </section>
  );
}

function Devices() {
  const { t } = useHq();
  const [n, setN] = useState(0);
  const { data, error } = useLoad(() => get<DevicesView>("/devices"), [n]);
  const { failure, notice, run } = useAction();
  const [branch, setBranch] = useState("");
  const [hours, setHours] = useState("72");
  const [code, setCode] = useState<EnrolCode | null>(null);
  return (
    <div className="card">
      <h2>{t("enrolCode")}</h2>
      <form
        className="row"
        onSubmit={async (e) => {
          e.preventDefault();
          await run(async () => {
            setCode(await post<EnrolCode>("/enrol-codes", { branch, ttl_hours: Number(hours) || 72 } satisfies EnrolBody));
            setN((x) => x + 1);
          });
        }}
      >
        <input aria-label={t("branch")} placeholder={t("branch")} value={branch} onChange={(e) => setBranch(e.target.value)} list="branch-list" data-testid="code-branch" />
        <datalist id="branch-list">{data?.branches.map((b) => <option key={b} value={b} />)}</datalist>
        <input aria-label={t("hours")} title={t("hours")} type="number" min={1} max={720} value={hours} onChange={(e) => setHours(e.target.value)} className="narrow" />
        <button type="submit" data-testid="create-code">{t("createCode")}</button>
      </form>
      {code && (
        <p className="code-out">
          {t("codeFor")}: <Ltr testid="enrol-code"><strong>{code.code}</strong></Ltr> — <Ltr>{when(code.expires_at)}</Ltr>
        </p>
      )}
      <Notice text={notice} />
      <Failure error={error ?? failure} />
      <LostWork devices={data?.devices ?? []} />
      <h2>{t("devices")}</h2>
      <table className="table" data-testid="devices">
        <thead>
          <tr><th>{t("device")}</th><th>{t("branch")}</th><th>{t("enrolled")}</th><th>{t("lastSeen")}</th><th>{t("appVersion")}</th><th /></tr>
        </thead>
        <tbody>
          {data?.devices.map((d) => (
            <tr key={d.device_id}>
              <td><Ltr>{d.device_id.slice(-12)}</Ltr></td>
              <td>{d.branch}</td>
              <td><Ltr>{when(d.enrolled_at)}</Ltr></td>
              <td><Ltr>{when(d.last_seen_at)}</Ltr></td>
              <td data-testid="device-version">
                <Ltr>{d.app_version ?? "—"}</Ltr>
                {d.update_outcome && (
                  <div className="badge danger" title={d.update_outcome} data-testid="device-update-problem">
                    {t("updateProblem")} <Ltr>{d.update_version ?? ""}</Ltr>: {t(`upd_${d.update_outcome}` as HqKey) || d.update_outcome}
                  </div>
                )}
              </td>
              <td>
                {d.revoked_at ? (
                  <span className="badge danger">{t("revoked")}</span>
                ) : (
                  <button type="button" className="danger" data-testid="revoke" onClick={() => window.confirm(t("confirmRevoke")) && run(() => post<Done>(`/devices/${d.device_id}/revoke`)).then(() => setN((x) => x + 1))}>
                    {t("revoke")}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Work a restored HQ lost and no device could send again: which device, how many operations,
 * since when. Shown first, in red, until the branch has entered the work again (the count stays:
 * it is a record of what was lost, not a task list). */
function LostWork({ devices }: { devices: Device[] }) {
  const { t } = useHq();
  const lost = devices.filter((d) => d.lost_operations > 0);
  if (lost.length === 0) return null;
  return (
    <div className="alert" role="alert" data-testid="lost-work">
      <h2>{t("lostWorkTitle")}</h2>
      <p>{t("lostWorkHelp")}</p>
      <ul>
        {lost.map((d) => (
          <li key={d.device_id} data-testid="lost-device" data-device={d.device_id} data-count={d.lost_operations}>
            {t("device")} <Ltr>{d.device_id.slice(-12)}</Ltr> — {d.branch}: <strong><Ltr>{d.lost_operations}</Ltr></strong> {t("lostOperations")}{t("lostSince")} <Ltr>{when(d.lost_since)}</Ltr>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** Releases of the branch app: publish a signed package, and see how many devices run each. */
function Releases() {
  const { t } = useHq();
  const [n, setN] = useState(0);
  const { data, error } = useLoad(() => get<ReleaseList>("/releases"), [n]);
  const { failure, notice, run } = useAction();
  const [version, setVersion] = useState("");
  const [pkg, setPkg] = useState<File | null>(null);
  const [sig, setSig] = useState<File | null>(null);
  return (
    <div className="card" data-testid="releases">
      <h2>{t("releases")}</h2>
      <p className="muted">{t("releasesHint")}</p>
      <form
        className="row"
        onSubmit={async (e) => {
          e.preventDefault();
          if (!pkg || !sig) return;
          const ok = await run(async () => publishRelease(version.trim(), pkg, await sig.text()), t("releasePublished"));
          if (ok) setN((x) => x + 1);
        }}
      >
        <input aria-label={t("appVersion")} placeholder="0.2.0" dir="ltr" className="narrow" value={version} onChange={(e) => setVersion(e.target.value)} data-testid="release-version" />
        <label>{t("releasePackage")} <input type="file" accept=".deb,.exe,.rpm" onChange={(e) => setPkg(e.target.files?.[0] ?? null)} data-testid="release-file" /></label>
        <label>{t("releaseSignature")} <input type="file" accept=".sig" onChange={(e) => setSig(e.target.files?.[0] ?? null)} data-testid="release-signature" /></label>
        <button type="submit" disabled={!pkg || !sig || !version.trim()} data-testid="release-publish">{t("releasePublish")}</button>
      </form>
      <Notice text={notice} />
      <Failure error={error ?? failure} />
      <table className="table">
        <thead>
          <tr><th>{t("appVersion")}</th><th>{t("releaseSize")}</th><th>{t("releasePublishedAt")}</th><th>{t("releaseDevices")}</th></tr>
        </thead>
        <tbody>
          {data?.releases.map((r) => (
            <tr key={r.version}>
              <td><Ltr>{r.version}</Ltr></td>
              <td><Ltr>{(r.size / 1048576).toFixed(1)} MB</Ltr></td>
              <td><Ltr>{when(r.published_at)}</Ltr></td>
              <td><Ltr>{r.devices}</Ltr></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const HQ_ROLES: Role[] = ["reviewer", "committee", "admin"];

function RolePicks<T extends string>({ all, value, onChange, name }: { all: T[]; value: T[]; onChange: (v: T[]) => void; name: (r: T) => string }) {
  return (
    <span className="roles">
      {all.map((r) => (
        <label key={r} className="choice">
          <input type="checkbox" checked={value.includes(r)} onChange={(e) => onChange(e.target.checked ? [...value, r] : value.filter((x) => x !== r))} /> {name(r)}
        </label>
      ))}
    </span>
  );
}

function HqStaff({ me }: { me: Me }) {
  const { t, lang } = useHq();
  const [n, setN] = useState(0);
  const { data, error } = useLoad(() => get<StaffList>("/staff"), [n]);
  const { failure, notice, run } = useAction();
  const [form, setForm] = useState({ username: "", display_name: "", password: "", roles: [] as Role[] });
  return (
    <div className="card">
      <h2>{t("hqStaff")}</h2>
      <table className="table" data-testid="hq-staff">
        <thead><tr><th>{t("username")}</th><th>{t("displayName")}</th><th>{t("roles")}</th><th /></tr></thead>
        <tbody>
          {data?.rows.map((s) => (
            <tr key={s.id} className={s.active ? "" : "inactive"}>
              <td><Ltr>{s.username}</Ltr></td>
              <td>{s.display_name}</td>
              <td>{s.roles.map((r) => t(`role_${r}` as HqKey)).join(lang === "ar" ? "، " : ", ")}</td>
              <td>
                {s.id !== me.staff.id && (
                  <button type="button" className="secondary" onClick={() => run(() => post<Staff>(`/staff/${s.id}`, { active: !s.active } satisfies StaffSet)).then(() => setN((x) => x + 1))}>
                    {s.active ? t("disable") : t("enable")}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        className="form-grid"
        onSubmit={async (e) => {
          e.preventDefault();
          if (await run(() => post<Staff>("/staff", form satisfies StaffAdd))) {
            setForm({ username: "", display_name: "", password: "", roles: [] });
            setN((x) => x + 1);
          }
        }}
      >
        <input aria-label={t("username")} placeholder={t("username")} value={form.username} onChange={(e) => setForm({ ...form, username: e.target.value })} data-testid="staff-username" />
        <input aria-label={t("displayName")} placeholder={t("displayName")} value={form.display_name} onChange={(e) => setForm({ ...form, display_name: e.target.value })} />
        <input aria-label={t("password")} placeholder={t("password")} type="password" autoComplete="new-password" value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} data-testid="staff-password" />
        <RolePicks all={HQ_ROLES} value={form.roles} onChange={(roles) => setForm({ ...form, roles })} name={(r) => t(`role_${r}` as HqKey)} />
        <button type="submit" data-testid="staff-add">{t("add")}</button>
      </form>
      <Notice text={notice} />
      <Failure error={error ?? failure} />
    </div>
  );
}

function BranchStaffCard() {
  const { t, lang } = useHq();
  const [n, setN] = useState(0);
  const { data, error } = useLoad(() => get<BranchStaffList>("/branch-staff"), [n]);
  const { failure, notice, run } = useAction();
  const [form, setForm] = useState({ branch: "", username: "", display_name: "", roles: [] as string[] });
  const save = (b: Omit<BranchStaff, "id"> & { id?: string }) => run(() => post<Created>("/branch-staff", b satisfies BranchStaffBody)).then((ok) => ok && setN((x) => x + 1));
  return (
    <div className="card">
      <h2>{t("branchStaff")}</h2>
      <p className="muted">{t("branchStaffHint")}</p>
      <table className="table" data-testid="branch-staff">
        <thead><tr><th>{t("branch")}</th><th>{t("username")}</th><th>{t("displayName")}</th><th>{t("roles")}</th><th /></tr></thead>
        <tbody>
          {data?.rows.map((s) => (
            <tr key={s.id} className={s.active ? "" : "inactive"}>
              <td>{s.branch}</td>
              <td><Ltr>{s.username}</Ltr></td>
              <td>{s.display_name}</td>
              <td>{s.roles.map((r) => label(BRANCH_ROLES, r, lang)).join(lang === "ar" ? "، " : ", ")}</td>
              <td>
                <button type="button" className="secondary" onClick={() => save({ ...s, active: !s.active })}>
                  {s.active ? t("disable") : t("enable")}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        className="form-grid"
        onSubmit={async (e) => {
          e.preventDefault();
          await save({ ...form, active: true });
          setForm({ branch: form.branch, username: "", display_name: "", roles: [] });
        }}
      >
        <select aria-label={t("branch")} value={form.branch} onChange={(e) => setForm({ ...form, branch: e.target.value })}>
          <option value="">{t("branch")}</option>
          {data?.branches.map((b) => <option key={b} value={b}>{b}</option>)}
        </select>
        <input aria-label={t("username")} placeholder={t("username")} value={form.username} onChange={(e) => setForm({ ...form, username: e.target.value })} />
        <input aria-label={t("displayName")} placeholder={t("displayName")} value={form.display_name} onChange={(e) => setForm({ ...form, display_name: e.target.value })} />
        <RolePicks all={Object.keys(BRANCH_ROLES)} value={form.roles} onChange={(roles) => setForm({ ...form, roles })} name={(r) => label(BRANCH_ROLES, r, lang)} />
        <button type="submit">{t("add")}</button>
      </form>
      <Notice text={notice} />
      <Failure error={error ?? failure} />
    </div>
  );
}

async function toBase64(f: File): Promise<string> {
  const bytes = new Uint8Array(await f.arrayBuffer());
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function Knowledge() {
  const { t } = useHq();
  const [n, setN] = useState(0);
  const { data, error } = useLoad(() => get<KbList>("/kb"), [n]);
  const { failure, notice, run } = useAction();
  const [title, setTitle] = useState("");
  const [body, setBody] = useState("");
  const [file, setFile] = useState<File | null>(null);
  return (
    <div className="card">
      <h2>{t("kb")}</h2>
      <ul data-testid="kb">
        {data?.rows.map((d) => (
          <li key={d.id}>{d.title} — <Ltr>{when(d.published_at)}</Ltr> {d.size > 0 && <Ltr>({Math.ceil(d.size / 1024)} KB)</Ltr>}</li>
        ))}
      </ul>
      <form
        className="form-grid"
        onSubmit={async (e) => {
          e.preventDefault();
          const ok = await run(async () => post<Created>("/kb", { title, body, file_base64: file ? await toBase64(file) : undefined } satisfies KbBody), t("published"));
          if (ok) {
            setTitle("");
            setBody("");
            setFile(null);
            setN((x) => x + 1);
          }
        }}
      >
        <input aria-label={t("title")} placeholder={t("title")} value={title} onChange={(e) => setTitle(e.target.value)} data-testid="kb-title" />
        <textarea aria-label={t("body")} placeholder={t("body")} value={body} onChange={(e) => setBody(e.target.value)} />
        <label className="field">
          {t("file")}
          <input type="file" accept="application/pdf,image/png,image/jpeg,image/webp" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
        </label>
        <button type="submit" data-testid="kb-publish">{t("publish")}</button>
      </form>
      <Notice text={notice} />
      <Failure error={error ?? failure} />
    </div>
  );
}

function Audit() {
  const { t } = useHq();
  const { data, error } = useLoad(() => get<AuditList>("/audit?limit=50"), []);
  return (
    <div className="card">
      <h2>{t("audit")}</h2>
      <Failure error={error} />
      <table className="table" data-testid="audit">
        <thead><tr><th>{t("when")}</th><th>{t("who")}</th><th>{t("action")}</th><th>{t("record")}</th></tr></thead>
        <tbody>
          {data?.rows.map((a) => (
            <tr key={a.id}>
              <td><Ltr>{when(a.at)}</Ltr></td>
              <td>{a.staff_name}</td>
              <td><Ltr>{a.action}</Ltr></td>
              <td><Ltr>{a.entity}:{a.entity_id.slice(-12)}</Ltr></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
