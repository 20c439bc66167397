// The console's only door to the server: JSON over fetch, same origin, with the session cookie
// (HttpOnly, so the page never sees it) and the CSRF token echoed on every change.

export type ApiError = { code: string; message: string };

let csrf = "";
export function setCsrf(token: string) {
  csrf = token;
}

/** Called when the server says the session is over (the app shows the sign-in page). */
let onSignedOut: () => void = () => {};
export function whenSignedOut(f: () => void) {
  onSignedOut = f;
}

export function isApiError(e: unknown): e is ApiError {
  return typeof e === "object" && e !== null && "code" in e && "message" in e;
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  let res: Response;
  try {
    res = await fetch(`/console/api${path}`, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw { code: "offline", message: "تعذّر الاتصال بالخادم." } satisfies ApiError;
  }
  if (!res.ok) {
    let err: ApiError = { code: "server_error", message: "حدث خطأ في الخادم." };
    try {
      const j = await res.json();
      if (isApiError(j)) err = j;
    } catch {
      /* not JSON */
    }
    if (res.status === 401 && err.code === "signed_out") onSignedOut();
    throw err;
  }
  return (await res.json()) as T;
}

export const get = <T>(path: string) => request<T>("GET", path);

/** A file the server makes from a POST's body (what is searched for never goes in a URL), saved
 * by the browser under the server's file name. */
export async function download(path: string, body: unknown): Promise<void> {
  const res = await fetch(`/console/api${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    credentials: "same-origin",
    body: JSON.stringify(body),
  });
  if (!res.ok) {
    let err: ApiError = { code: "server_error", message: "حدث خطأ في الخادم." };
    try {
      const j = await res.json();
      if (isApiError(j)) err = j;
    } catch {
      /* not JSON */
    }
    if (res.status === 401 && err.code === "signed_out") onSignedOut();
    throw err;
  }
  const name = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") ?? "")?.[1] ?? "sila-export";
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
export const post = <T>(path: string, body: unknown = {}) => request<T>("POST", path, body);

/** Query string of the non-empty values. */
export function qs(params: Record<string, string | number | null | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : "";
}

// ---- the shapes the server answers with (crates/sila-hq/src/console/store.rs) ----

export type Role = "reviewer" | "committee" | "admin";
export type Staff = { id: string; username: string; display_name: string; roles: Role[]; active: boolean };
export type Me = { staff: Staff; csrf: string; expires_at: string };
export type PromiseStatus = "on_track" | "due_soon" | "overdue";
export type CommitteeRow = {
  case_id: string; number: string; branch: string; support_type: string; channel: string;
  submitted_at: string | null; promised_reply_date: string | null; promise: PromiseStatus; days_left: number | null;
  beneficiary_id: string; beneficiary_name: string;
};
export type CommitteePage = {
  rows: CommitteeRow[]; next: string | null; total: number; on_track: number; due_soon: number; overdue: number;
};
export type FileDocument = {
  code: string; required: boolean; seen_in_original: boolean; sha256: string | null; mime: string | null;
  size: number | null; at_hq: boolean;
};
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;
export type CaseFile = {
  case: Json; branch: string; state: string; promise: PromiseStatus | null; beneficiary: Json | null; events: Json[];
  documents: FileDocument[]; signature: FileDocument | null; interactions: Json[]; deliveries: Json[];
  surveys: Json[]; other_cases: Json[];
};
export type DuplicatePerson = {
  id: string; branch: string; national_id: string | null; full_name: string; birth_date: string | null; mobile: string | null;
};
export type DuplicatePair = { a: DuplicatePerson; b: DuplicatePerson; score: number; certain: boolean; reasons: string[] };
export type BeneficiaryFile = { record: Json; branch: string; version: number; merged_into: string | null };
export type MergeRow = {
  id: number; survivor: string; merged: string; chosen: Record<string, { value: Json; from: string }>;
  staff_name: string; at: string; undone_at: string | null;
};
export type ConflictRow = {
  id: number; entity: string; entity_id: string; field: string; hq_value: Json; branch_value: Json;
  device_id: string; seq: number; reason: string; resolved: boolean; name: string; branch: string | null;
};
export type Count = { key: string; n: number };
export type DashRow = {
  key: string; intake: number; open: number; approved: number; rejected: number; decided_on_time: number;
  decided_late: number; waiting_overdue: number; surveys: number; satisfaction: number | null;
  complaints: number; suggestions: number;
};
export type Dashboard = {
  today: string; branches: string[]; intake: Count[]; funnel: Count[];
  compliance: { decided_on_time: number; decided_late: number; waiting_on_track: number; waiting_due_soon: number; waiting_overdue: number };
  satisfaction: Count[]; satisfaction_trend: { month: string; n: number; mean: number }[];
  voice: Count[]; complaints: number; suggestions: number; by_branch: DashRow[]; by_channel: DashRow[];
};
export type Device = {
  device_id: string; branch: string; enrolled_at: string; revoked_at: string | null; last_seen_at: string | null; last_seq: number;
  /** The app version the device named at its last sync, and the last problem it reported with a release. */
  app_version: string | null; update_version: string | null; update_outcome: string | null; update_at: string | null;
};
export type ReleaseRow = { version: string; sha256: string; size: number; published_at: string; published_by: string; devices: number };

/** Publish a release of the desktop app: the package as the body, its signature (the `.sig`
 * file's text) in a header; HQ refuses one that its update key does not verify. */
export async function publishRelease(version: string, pkg: Blob, signature: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`/console/api/releases?version=${encodeURIComponent(version)}`, {
      method: "POST",
      headers: { "Content-Type": "application/octet-stream", "X-CSRF-Token": csrf, "X-Release-Signature": signature.trim(), Accept: "application/json" },
      credentials: "same-origin",
      body: pkg,
    });
  } catch {
    throw { code: "offline", message: "تعذّر الاتصال بالخادم." } satisfies ApiError;
  }
  if (!res.ok) {
    const j = await res.json().catch(() => null);
    throw (isApiError(j) ? j : { code: "server_error", message: "حدث خطأ في الخادم." }) satisfies ApiError;
  }
}
export type BranchStaff = { id: string; branch: string; username: string; display_name: string; roles: string[]; active: boolean };
export type KbRow = { id: string; title: string; mime: string; size: number; published_at: string };
export type AuditRow = {
  id: number; at: string; staff_id: string; staff_name: string; action: string; entity: string; entity_id: string; detail: Json;
};

// ---- the register, complaints and survey scores (crates/sila-hq/src/store/register.rs) ----

export type RegisterRow = {
  id: string; branch: string; name: string; national_id: string | null; mobile: string | null;
  file_number: string | null; city: string; birth_date: string | null; case_id: string | null;
};
export type RegisterPage = { rows: RegisterRow[]; next: string | null; total: number; capped: boolean };
export type VoiceStatus = "open" | "overdue" | "on_time" | "late";
export type VoiceRow = {
  task_id: string; branch: string; kind: "complaint" | "suggestion"; channel: string | null; status: VoiceStatus;
  due_on: string; done_at: string | null; owner: string | null; role: string; beneficiary_id: string | null;
  beneficiary_name: string | null; note: string;
};
export type VoiceCounts = { key: string; kind: string; open: number; overdue: number; on_time: number; late: number };
export type VoicePage = { counts: VoiceCounts[]; rows: VoiceRow[]; total: number };
export type VoiceItem = { row: VoiceRow; contact: Json | null; answer: Json | null; staff: Record<string, string> };
export type PersonFile = {
  record: Json; branch: string; version: number; merged_into: string | null; cases: Json[]; interactions: Json[];
  surveys: Json[]; voice: VoiceRow[]; staff: Record<string, string>;
};
export type Question = "overall" | "speed" | "courtesy" | "clarity";
export type ScoreRow = { key: string; label: string | null; n: number } & Record<Question, number | null>;
export type SurveyScores = {
  total: ScoreRow; distribution: Record<Question, number[]>; by_branch: ScoreRow[]; by_channel: ScoreRow[];
  by_service: ScoreRow[]; by_employee: ScoreRow[];
};
/** The server's refusal of an edited value: the domain's reason, in Arabic, for one field. */
export type FieldRefusal = ApiError & { field: string; reason: string | null };
