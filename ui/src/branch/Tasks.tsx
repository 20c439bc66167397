// Tasks as a desk works them, on the home screen and in a case file: overdue first and marked,
// each done, snoozed to a later day, taken from its role's pool, given to a colleague or put back.
import { useEffect, useState } from "react";
import { api, asApiError } from "../shared/ipc";
import { useI18n } from "../shared/i18n";
import { DualDate, ErrorBox, Field, Ltr } from "../shared/components";
import type { TaskDto } from "../generated/TaskDto";
import type { Colleague } from "../generated/Colleague";
import type { ApiError } from "../generated/ApiError";
import { useDesk } from "./context";

/** ISO day `days` after `iso`. */
export function addDays(iso: string, days: number): string {
  const d = new Date(`${iso}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

export function TaskList(props: { tasks: TaskDto[]; today: string; onChanged: () => void; showCase?: boolean; testid?: string }) {
  const { t, label } = useI18n();
  const { catalog, go, session } = useDesk();
  const [open, setOpen] = useState<{ id: string; what: "snooze" | "assign" } | null>(null);
  const [err, setErr] = useState<ApiError | null>(null);
  const act = async (f: () => Promise<unknown>) => {
    setErr(null);
    try {
      await f();
      setOpen(null);
      props.onChanged();
    } catch (e) {
      setErr(asApiError(e));
    }
  };
  const groups: [string, string][] = [["overdue", t("overdue")], ["today", t("today")], ["upcoming", t("upcoming")]];
  return (
    <div data-testid={props.testid}>
      <ErrorBox error={err && err.fields.length === 0 ? err : null} />
      {groups.map(([when, title]) => {
        const list = props.tasks.filter((x) => x.when === when);
        if (list.length === 0) return null;
        return (
          <div key={when}>
            <h3 className={when === "overdue" ? "badge overdue" : ""}>{title} (<Ltr>{list.length}</Ltr>)</h3>
            <ul className="tasks">
              {list.map((task) => (
                <li key={task.id} data-testid="task" data-task={task.id} data-kind={task.kind} data-when={task.when} className={task.when === "overdue" ? "overdue" : ""}>
                  <span>
                    <strong>{label("task", task.kind, catalog.task_kinds.find((k) => k.code === task.kind)?.ar)}</strong>
                    {" — "}{task.beneficiary_name}
                    {props.showCase !== false && task.case_number && <> · <Ltr>{task.case_number}</Ltr></>}
                    {task.channel && <span className="muted"> · {label("channel", task.channel, catalog.channels.find((c) => c.code === task.channel)?.ar)}</span>}
                    {task.note && <div className="muted task-note">{task.note}</div>}
                    <div className="muted">
                      <span data-testid="task-owner">
                        {task.assignee_name
                          ? (task.mine ? t("assignedToYou") : <>{t("assignedTo")} {task.assignee_name}</>)
                          : <>{t("pool")}: {label("role", task.role, catalog.roles.find((r) => r.code === task.role)?.ar)}</>}
                      </span>
                      {task.snoozed_until && <> · {t("snoozedUntil")} <DualDate iso={task.snoozed_until} /></>}
                    </div>
                  </span>
                  <span className="row">
                    <DualDate iso={task.snoozed_until && task.snoozed_until > task.due_on ? task.snoozed_until : task.due_on} />
                    {task.case_id && props.showCase !== false && (
                      <button className="secondary" data-testid="task-view" onClick={() => go({ name: "case", id: task.case_id! })}>{t("view")}</button>
                    )}
                    {!task.assignee && (
                      <button className="secondary" data-testid="task-take" onClick={() => act(() => api.assignTask(task.id, session.username))}>{t("take")}</button>
                    )}
                    <button className="secondary" data-testid="task-assign" aria-expanded={open?.id === task.id && open.what === "assign"}
                      onClick={() => setOpen(open?.id === task.id && open.what === "assign" ? null : { id: task.id, what: "assign" })}>{t("reassign")}</button>
                    <button className="secondary" data-testid="task-snooze" aria-expanded={open?.id === task.id && open.what === "snooze"}
                      onClick={() => setOpen(open?.id === task.id && open.what === "snooze" ? null : { id: task.id, what: "snooze" })}>{t("snooze")}</button>
                    <button data-testid="task-done" onClick={() => act(() => api.completeTask(task.id))}>{t("markDone")}</button>
                  </span>
                  {open?.id === task.id && open.what === "snooze" && <SnoozeForm task={task} today={props.today} onSnooze={(until) => act(() => api.snoozeTask(task.id, until))} error={err} />}
                  {open?.id === task.id && open.what === "assign" && <AssignForm task={task} onAssign={(to) => act(() => api.assignTask(task.id, to))} />}
                </li>
              ))}
            </ul>
          </div>
        );
      })}
    </div>
  );
}

function SnoozeForm({ task, today, onSnooze, error }: { task: TaskDto; today: string; onSnooze: (until: string) => void; error: ApiError | null }) {
  const { t } = useI18n();
  const [until, setUntil] = useState("");
  const fe = error?.fields.find((f) => f.field === "until")?.message ?? null;
  return (
    <form className="row task-form" data-testid="snooze-form" onSubmit={(e) => { e.preventDefault(); onSnooze(until); }}>
      <button type="button" className="secondary" data-testid="snooze-tomorrow" onClick={() => onSnooze(addDays(today, 1))}>{t("tomorrow")}</button>
      <button type="button" className="secondary" onClick={() => onSnooze(addDays(today, 7))}>{t("inAWeek")}</button>
      <Field id={`until-${task.id}`} label={t("snoozeTo")} hint={t("dateHint")} error={fe}>
        {(a) => <input {...a} dir="ltr" value={until} onChange={(e) => setUntil(e.target.value)} data-testid="snooze-until" />}
      </Field>
      <button type="submit" disabled={!until}>{t("confirm")}</button>
    </form>
  );
}

function AssignForm({ task, onAssign }: { task: TaskDto; onAssign: (to: string | null) => void }) {
  const { t } = useI18n();
  const { session } = useDesk();
  const [people, setPeople] = useState<Colleague[]>([]);
  const [to, setTo] = useState("");
  useEffect(() => { api.colleagues().then(setPeople, () => {}); }, []);
  return (
    <form className="row task-form" data-testid="assign-form" onSubmit={(e) => { e.preventDefault(); if (to) onAssign(to); }}>
      <label htmlFor={`to-${task.id}`}>{t("giveTo")}</label>
      <select id={`to-${task.id}`} data-testid="assign-to" value={to} onChange={(e) => setTo(e.target.value)} autoFocus>
        <option value="">{t("choose")}</option>
        {people.filter((p) => p.username !== task.assignee).map((p) => (
          <option key={p.username} value={p.username}>{p.username === session.username ? `${p.display_name} (${t("you")})` : p.display_name}</option>
        ))}
      </select>
      <button type="submit" disabled={!to} data-testid="assign-confirm">{t("confirm")}</button>
      {task.assignee && <button type="button" className="secondary" data-testid="assign-pool" onClick={() => onAssign(null)}>{t("backToPool")}</button>}
    </form>
  );
}

/** Add a follow-up task about a beneficiary (and case): what, by when, for whom. */
export function AddTask(props: { beneficiaryId: string; caseId?: string; onDone: () => void; onCancel: () => void }) {
  const { t } = useI18n();
  const [people, setPeople] = useState<Colleague[]>([]);
  const [v, setV] = useState({ note: "", due_on: "", assignee: "" });
  const [err, setErr] = useState<ApiError | null>(null);
  useEffect(() => { api.colleagues().then(setPeople, () => {}); }, []);
  const fe = (k: string) => err?.fields.find((f) => f.field === k)?.message ?? null;
  return (
    <form noValidate data-testid="add-task-form" onSubmit={async (e) => {
      e.preventDefault();
      setErr(null);
      try {
        await api.addTask({ beneficiary_id: props.beneficiaryId, case_id: props.caseId ?? null, note: v.note, due_on: v.due_on, assignee: v.assignee || null });
        props.onDone();
      } catch (x) {
        setErr(asApiError(x));
      }
    }}>
      <h3>{t("addTask")}</h3>
      <Field id="task-note" label={t("whatToDo")} error={fe("note")}>
        {(a) => <textarea {...a} value={v.note} onChange={(e) => setV({ ...v, note: e.target.value })} autoFocus />}
      </Field>
      <Field id="task-due" label={t("dueOn")} hint={t("dateHint")} error={fe("due_on")}>
        {(a) => <input {...a} dir="ltr" value={v.due_on} onChange={(e) => setV({ ...v, due_on: e.target.value })} />}
      </Field>
      <Field id="task-assignee" label={t("giveTo")} error={fe("assignee")}>
        {(a) => (
          <select {...a} value={v.assignee} onChange={(e) => setV({ ...v, assignee: e.target.value })}>
            <option value="">{t("myRolePool")}</option>
            {people.map((p) => <option key={p.username} value={p.username}>{p.display_name}</option>)}
          </select>
        )}
      </Field>
      <ErrorBox error={err && err.fields.length === 0 ? err : null} />
      <div className="row end">
        <button type="button" className="secondary" onClick={props.onCancel}>{t("cancel")}</button>
        <button type="submit" data-testid="add-task-confirm">{t("confirm")}</button>
      </div>
    </form>
  );
}
