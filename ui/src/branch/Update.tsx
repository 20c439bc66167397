// The update banner (issue 13.2): a newer version HQ offered, arriving over the sync link, then
// ready. It is installed only when the person signed in agrees, and never while an intake or
// another form is open with unsaved input (`busy`): then the banner says why and waits.
import { useEffect, useState } from "react";
import { api, asApiError, onSyncChanged } from "../shared/ipc";
import { useI18n } from "../shared/i18n";
import { ErrorBox, Ltr } from "../shared/components";
import type { ApiError } from "../generated/ApiError";
import type { UpdateDto } from "../generated/UpdateDto";

export function UpdateBanner({ busy }: { busy: () => boolean }) {
  const { t } = useI18n();
  const [u, setU] = useState<UpdateDto | null>(null);
  const [step, setStep] = useState<"offer" | "confirm" | "blocked" | "installing">("offer");
  const [err, setErr] = useState<ApiError | null>(null);
  useEffect(() => {
    let alive = true;
    const load = () => api.syncStatus().then((s) => alive && setU(s.update), () => {});
    load();
    const unlisten = onSyncChanged(load);
    return () => {
      alive = false;
      unlisten.then((f) => f());
    };
  }, []);
  if (!u) return null;
  if (u.state === "fetching") {
    const pct = u.size > 0 ? Math.floor((100 * u.done) / u.size) : 0;
    return (
      <p className="muted update-banner no-print" data-testid="update-fetching">
        {t("updateFetching")} ({t("updateVersion")} <Ltr>{u.version}</Ltr>): <Ltr>{pct}%</Ltr>
      </p>
    );
  }
  if (u.state === "refused") {
    return (
      <div className="card update-banner no-print" role="alert" data-testid="update-refused">
        <strong>{t("updateRefused")} ({t("updateVersion")} <Ltr>{u.version}</Ltr>)</strong>
        <p className="error">{u.error}</p>
      </div>
    );
  }
  return (
    <section className="card update-banner no-print" aria-live="polite" data-testid="update-banner" data-version={u.version}>
      <div className="between">
        <strong>{t("updateAvailable")}: {t("updateVersion")} <Ltr>{u.version}</Ltr></strong>
        {step === "offer" || step === "blocked" ? (
          <button type="button" data-testid="update-install" onClick={() => {
            setErr(null);
            setStep(busy() ? "blocked" : "confirm");
          }}>{t("updateInstall")}</button>
        ) : null}
      </div>
      {step === "blocked" && <p className="error" role="alert" data-testid="update-busy">{t("updateBusy")}</p>}
      {step === "confirm" && (
        <div data-testid="update-confirm">
          <p>{t("updateConfirm")}</p>
          <div className="row end">
            <button type="button" className="secondary" data-testid="update-later" onClick={() => setStep("offer")}>{t("updateLater")}</button>
            <button type="button" data-testid="update-confirm-yes" onClick={async () => {
              if (busy()) return setStep("blocked");
              setStep("installing");
              try {
                await api.installUpdate();
              } catch (e) {
                setErr(asApiError(e));
                setStep("offer");
              }
            }}>{t("updateConfirmYes")}</button>
          </div>
        </div>
      )}
      {step === "installing" && <p className="muted" data-testid="update-installing">{t("updateInstalling")}</p>}
      <ErrorBox error={err} />
    </section>
  );
}
