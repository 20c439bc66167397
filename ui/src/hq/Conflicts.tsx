// Conflicts: an edit at a branch that collided with HQ's write of the same field. Both values
// side by side; a reviewer chooses one (it becomes HQ's value and reaches the branch).
import { useState } from "react";
import { Ltr } from "../shared/components";
import { get, post, type ApiError, type ConflictList, type Done, type ResolveBody } from "./api";
import { useHq } from "./i18n";
import { CONFLICT_REASONS, FIELDS, label } from "./labels";
import { Failure, Notice, useLoad } from "./common";

/** A stored value (any JSON) as a reviewer reads it: a name as written, else its JSON. */
function show(v: unknown): string {
  if (v === null || v === undefined || v === "") return "—";
  if (typeof v === "object") return "as_written" in v && typeof v.as_written === "string" ? v.as_written : JSON.stringify(v);
  return String(v);
}

export function Conflicts({ canResolve }: { canResolve: boolean }) {
  const { t, lang } = useHq();
  const [n, setN] = useState(0);
  const { data, error } = useLoad(() => get<ConflictList>("/conflicts"), [n]);
  const [failure, setFailure] = useState<ApiError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const resolve = async (id: number, take: "hq" | "branch") => {
    setFailure(null);
    try {
      await post<Done>(`/conflicts/${id}/resolve`, { take } satisfies ResolveBody);
      setNotice(t("resolved"));
      setN((x) => x + 1);
    } catch (e) {
      setFailure(e as ApiError);
    }
  };
  return (
    <section data-testid="conflicts">
      <h1>{t("conflicts")}</h1>
      <Notice text={notice} />
      <Failure error={error ?? failure} />
      {data && data.rows.length === 0 && <p className="muted">{t("empty")}</p>}
      {data?.rows.map((c) => (
        <div className="card conflict" key={c.id} data-testid="conflict">
          <h2>
            {c.name || <Ltr>{c.entity_id}</Ltr>} — {c.branch ?? ""} — {label(FIELDS, c.field, lang)}
          </h2>
          <div className="grid2">
            <div className="side">
              <h3>{t("hqValue")}</h3>
              <p className="value" data-testid="hq-value">{show(c.hq_value)}</p>
              {canResolve && <button type="button" onClick={() => resolve(c.id, "hq")} data-testid="keep-hq">{t("keepHq")}</button>}
            </div>
            <div className="side">
              <h3>{t("branchValue")}</h3>
              <p className="value" data-testid="branch-value">{show(c.branch_value)}</p>
              {canResolve && <button type="button" onClick={() => resolve(c.id, "branch")} data-testid="take-branch">{t("takeBranch")}</button>}
            </div>
          </div>
          <p className="muted">{t("reason")}: {label(CONFLICT_REASONS, c.reason, lang)}</p>
        </div>
      ))}
    </section>
  );
}
