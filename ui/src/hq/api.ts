import type { VoiceRow } from "./generated/VoiceRow";
import type { ScoreRow } from "./generated/ScoreRow";
import type { ApiError as Refusal } from "./generated/ApiError";
import type { PublishedRelease } from "./generated/PublishedRelease";
// The console's only door to the server: JSON over fetch, same origin, with the session cookie
// (HttpOnly, so the page never sees it) and the CSRF token echoed on every change.

/** What a request fails with: HQ's refusal (generated from Rust; its code is one of the server's
 * codes), or the console's own words where no refusal can be shown as is: the server unreachable
 * ("offline"), or a refused field's reason put into English here ("field_reason"). */
export type ApiError = Refusal | { code: "offline" | "field_reason"; message: string };

let csrf = "";
export function setCsrf(token: string) {
  csrf = token;
}

/** Called when the server says the session is over (the app shows the sign-in page). */
let onSignedOut: () => void = () => {};
export function whenSignedOut(f: () => void) {
  onSignedOut = f;
}

function isRefusal(e: unknown): e is Refusal {
  return typeof e === "object" && e !== null && "code" in e && "message" in e;
}

/** One request to the API; an answer that is not 2xx is thrown as its refusal (a server error
 * when it carries none), and a request that got no answer as "offline". */
async function send(path: string, init: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(`/console/api${path}`, { ...init, credentials: "same-origin" });
  } catch {
    throw { code: "offline", message: "تعذّر الاتصال بالخادم." } satisfies ApiError;
  }
  if (!res.ok) {
    const j: unknown = await res.json().catch(() => null);
    const err: ApiError = isRefusal(j) ? j : { code: "server_error", message: "حدث خطأ في الخادم." };
    if (res.status === 401 && err.code === "signed_out") onSignedOut();
    throw err;
  }
  return res;
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  const res = await send(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return (await res.json()) as T;
}

export const get = <T>(path: string) => request<T>("GET", path);

/** A file the server makes from a POST's body (what is searched for never goes in a URL), saved
 * by the browser under the server's file name. */
export async function download(path: string, body: unknown): Promise<void> {
  const res = await send(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body),
  });
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

// ---- the shapes the server answers with: generated from Rust by ts-rs (crates/sila-hq/src/console/types.rs) ----

export type { ConsoleRole as Role } from "./generated/ConsoleRole";
export type { ConsoleStaff as Staff } from "./generated/ConsoleStaff";
export type { PromiseStatus } from "./generated/PromiseStatus";
export type { CommitteeRow } from "./generated/CommitteeRow";
export type { CommitteePage } from "./generated/CommitteePage";
export type { FileDocument } from "./generated/FileDocument";
export type { DuplicatePerson } from "./generated/DuplicatePerson";
export type { DuplicatePair } from "./generated/DuplicatePair";
export type { Count } from "./generated/Count";
export type { DashRow } from "./generated/DashRow";
export type { Dashboard } from "./generated/Dashboard";
export type { DeviceInfo as Device } from "./generated/DeviceInfo";
export type { DevicesView } from "./generated/DevicesView";
export type { BranchStaffRow as BranchStaff } from "./generated/BranchStaffRow";
export type { KbRow } from "./generated/KbRow";
export type { RegisterQuery } from "./generated/RegisterQuery";
export type { RegisterRow } from "./generated/RegisterRow";
export type { RegisterPage } from "./generated/RegisterPage";
export type { VoiceRow } from "./generated/VoiceRow";
export type { VoiceCounts } from "./generated/VoiceCounts";
export type { VoicePage } from "./generated/VoicePage";
export type { ScoreRow } from "./generated/ScoreRow";
export type { SurveyScores } from "./generated/SurveyScores";

export type { Me } from "./generated/Me";
export type { CaseFile } from "./generated/CaseFile";
export type { Case } from "./generated/Case";
export type { CaseEvent } from "./generated/CaseEvent";
export type { CaseLine } from "./generated/CaseLine";
export type { Contact } from "./generated/Contact";
export type { Delivery } from "./generated/Delivery";
export type { Survey } from "./generated/Survey";
export type { Person } from "./generated/Person";
export type { PersonName } from "./generated/PersonName";
export type { Member } from "./generated/Member";
export type { PersonFile } from "./generated/PersonFile";
export type { BeneficiaryFile } from "./generated/BeneficiaryFile";
export type { ConflictRow } from "./generated/ConflictRow";
export type { MergeRow } from "./generated/MergeRow";
export type { AuditRow } from "./generated/AuditRow";
export type { VoiceItem } from "./generated/VoiceItem";
export type { ReleaseRow } from "./generated/ReleaseRow";
// The request bodies the server reads.
export type { SignIn } from "./generated/SignIn";
export type { DecideBody } from "./generated/DecideBody";
export type { ResolveBody } from "./generated/ResolveBody";
export type { MergeBody } from "./generated/MergeBody";
export type { PairBody } from "./generated/PairBody";
export type { EnrolBody } from "./generated/EnrolBody";
export type { StaffAdd } from "./generated/StaffAdd";
export type { StaffSet } from "./generated/StaffSet";
export type { BranchStaffBody } from "./generated/BranchStaffBody";
export type { KbBody } from "./generated/KbBody";
export type { EditBody } from "./generated/EditBody";
// The lists the pages load, each in the object it comes in.
export type { AuditList } from "./generated/AuditList";
export type { ConflictList } from "./generated/ConflictList";
export type { MergeList } from "./generated/MergeList";
export type { DuplicateList } from "./generated/DuplicateList";
export type { StaffList } from "./generated/StaffList";
export type { BranchStaffList } from "./generated/BranchStaffList";
export type { KbList } from "./generated/KbList";
export type { ReleaseList } from "./generated/ReleaseList";
export type { BranchList } from "./generated/BranchList";
export type { EnrolCode } from "./generated/EnrolCode";
export type { FoundCase } from "./generated/FoundCase";
export type { Catalog } from "./generated/Catalog";
export type { Housing } from "./generated/Housing";
// The answers of a change.
export type { Done } from "./generated/Done";
export type { Created } from "./generated/Created";
export type { Merged } from "./generated/Merged";
export type { Edited } from "./generated/Edited";
export type { PublishedRelease } from "./generated/PublishedRelease";
// A refused value of a person: the field, and the domain's reason and its Arabic.
export type { FieldRefusal } from "./generated/FieldRefusal";
export type VoiceStatus = VoiceRow["status"];
/** A survey question: one of a score row's means. */
export type Question = Exclude<keyof ScoreRow, "key" | "label" | "n">;

/** Publish a release of the desktop app: the package as the body, its signature (the `.sig`
 * file's text) in a header; HQ refuses one that its update key does not verify. */
export async function publishRelease(version: string, pkg: Blob, signature: string): Promise<PublishedRelease> {
  const res = await send(`/releases?version=${encodeURIComponent(version)}`, {
    method: "POST",
    headers: { "Content-Type": "application/octet-stream", "X-CSRF-Token": csrf, "X-Release-Signature": signature.trim(), Accept: "application/json" },
    body: pkg,
  });
  return (await res.json()) as PublishedRelease;
}
