// Backups (issue 10.5): an administrator saves an encrypted backup to a USB stick or a folder;
// the first-run screen of a new or wiped laptop finds the backups in the same places, restores
// one and signs in with a staff password held in it.
import { useCallback, useEffect, useState } from "react";
import { api, asApiError } from "../shared/ipc";
import { useI18n } from "../shared/i18n";
import { DualDate, ErrorBox, Field, Ltr, fieldError } from "../shared/components";
import { formatTime, localDay } from "../shared/format";
import type { ApiError } from "../generated/ApiError";
import type { BackupPlaceDto } from "../generated/BackupPlaceDto";
import type { BackupDto } from "../generated/BackupDto";
import type { BackupFileDto } from "../generated/BackupFileDto";
import type { SessionInfo } from "../generated/SessionInfo";

/** A size in megabytes (or kilobytes when small), as a person reads it, the unit in their language. */
function Size({ bytes }: { bytes: number }) {
  const { t, lang } = useI18n();
  const mb = bytes / (1024 * 1024);
  const n = (x: number, d: number) => x.toLocaleString(lang === "ar" ? "ar-SA-u-nu-latn" : "en", { maximumFractionDigits: d });
  return mb >= 1
    ? <><Ltr>{n(mb, 1)}</Ltr> {t("megabytes")}</>
    : <><Ltr>{n(Math.max(1, Math.round(bytes / 1024)), 0)}</Ltr> {t("kilobytes")}</>;
}

/** On the administrator's data screen: where to save (a USB stick first), save, and what was saved. */
export function BackupCard() {
  const { t, lang } = useI18n();
  const [places, setPlaces] = useState<BackupPlaceDto[] | null>(null);
  const [place, setPlace] = useState("");
  const [done, setDone] = useState<BackupDto | null>(null);
  const [err, setErr] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const load = useCallback(() => {
    api.backupPlaces().then((p) => {
      setPlaces(p);
      // A stick plugged in is what the person means; otherwise the first folder.
      setPlace((cur) => (p.some((x) => x.path === cur) ? cur : (p.find((x) => x.removable) ?? p[0])?.path ?? ""));
    }, (e) => setErr(asApiError(e)));
  }, []);
  useEffect(load, [load]);
  const n = (x: number) => x.toLocaleString(lang === "ar" ? "ar-SA-u-nu-latn" : "en");
  return (
    <section className="card" aria-labelledby="backup-h" data-testid="backup">
      <h2 id="backup-h">{t("backupTitle")}</h2>
      <p className="muted">{t("backupIntro")}</p>
      <fieldset className="choices" data-testid="backup-places">
        <legend>{t("backupWhere")}</legend>
        {places?.length === 0 && <p className="muted">{t("backupNoPlace")}</p>}
        {places?.map((p) => (
          <label key={p.path} className="choice">
            <input type="radio" name="backup-place" value={p.path} checked={place === p.path} onChange={() => setPlace(p.path)} data-testid="backup-place" />
            <span>
              <strong>{p.removable ? t("backupDrive") : t("backupFolder")}: <bdi>{p.label}</bdi></strong>
              <small className="muted"><Ltr>{p.path}</Ltr></small>
            </span>
          </label>
        ))}
      </fieldset>
      <div className="row">
        <button disabled={busy || !place} data-testid="backup-save" onClick={async () => {
          setBusy(true);
          setErr(null);
          setDone(null);
          try {
            setDone(await api.saveBackup(place));
          } catch (e) {
            setErr(asApiError(e));
            load();
          } finally {
            setBusy(false);
          }
        }}>{busy ? t("backupSaving") : t("backupSave")}</button>
        <button className="secondary" onClick={load} data-testid="backup-refresh">{t("backupLookAgain")}</button>
      </div>
      <ErrorBox error={err} />
      {done && (
        <div className="notice" role="status" data-testid="backup-done">
          <strong>{t("backupSaved")}</strong> <bdi data-testid="backup-file">{done.file_name}</bdi>
          {" — "}{done.removable ? t("backupDrive") : t("backupFolder")}: <bdi>{done.place}</bdi> (<Size bytes={done.bytes} />)
          <div>
            <Ltr>{n(done.beneficiaries)}</Ltr> {t("beneficiariesCount")} · <Ltr>{n(done.cases)}</Ltr> {t("casesCount")}
            {done.pending_changes > 0 && <> · <Ltr>{n(done.pending_changes)}</Ltr> {t("backupPendingIn")}</>}
          </div>
          <div className="muted">{t("backupOpensWith")}</div>
        </div>
      )}
    </section>
  );
}

/** First run: the backups found on the USB sticks and folders, one chosen, opened with a staff password. */
export function RestoreForm({ onDone }: { onDone: (s: SessionInfo) => void }) {
  const { t } = useI18n();
  const [found, setFound] = useState<BackupFileDto[] | null>(null);
  const [path, setPath] = useState("");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [err, setErr] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const look = useCallback(() => {
    setFound(null);
    api.findBackups().then((f) => {
      setFound(f);
      setPath((cur) => (f.some((x) => x.path === cur) ? cur : f[0]?.path ?? ""));
    }, (e) => setErr(asApiError(e)));
  }, []);
  useEffect(look, [look]);
  return (
    <form
      data-testid="restore-form"
      onSubmit={async (e) => {
        e.preventDefault();
        if (!path) return;
        setBusy(true);
        setErr(null);
        try {
          onDone(await api.restoreBackup({ path, username, password }));
        } catch (x) {
          setErr(asApiError(x));
          setPassword("");
        } finally {
          setBusy(false);
        }
      }}
    >
      <p className="muted">{t("restoreIntro")}</p>
      <fieldset className="choices" data-testid="backups-found">
        <legend>{t("restoreWhich")}</legend>
        {found === null && <p className="muted">{t("loading")}</p>}
        {found?.length === 0 && <p className="notice warn" data-testid="no-backups">{t("restoreNone")}</p>}
        {found?.map((f) => (
          <label key={f.path} className="choice">
            <input type="radio" name="backup-file" value={f.path} checked={path === f.path} onChange={() => setPath(f.path)} data-testid="backup-found" />
            <span>
              <strong><bdi>{f.name}</bdi></strong>
              <small className="muted">
                {f.removable ? t("backupDrive") : t("backupFolder")}: <bdi>{f.place}</bdi> · <Size bytes={f.bytes} />
                {f.modified && <> · <DualDate iso={localDay(f.modified)} /> <Ltr>{formatTime(f.modified)}</Ltr></>}
              </small>
            </span>
          </label>
        ))}
      </fieldset>
      <div className="row"><button type="button" className="secondary" onClick={look} data-testid="restore-look-again">{t("backupLookAgain")}</button></div>
      <p className="muted">{t("restoreAccount")}</p>
      <Field id="restore-username" label={t("username")} error={fieldError(err, "username")}>
        {(a) => <input {...a} dir="ltr" value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="username" />}
      </Field>
      <Field id="restore-password" label={t("password")} error={fieldError(err, "password")}>
        {(a) => <input {...a} type="password" value={password} onChange={(e) => { setPassword(e.target.value); setErr(null); }} autoComplete="current-password" />}
      </Field>
      {err && err.fields.length === 0 && <ErrorBox error={err} />}
      <div className="row end">
        <button type="submit" disabled={busy || !path} data-testid="restore">{busy ? t("restoring") : t("restore")}</button>
      </div>
    </form>
  );
}
