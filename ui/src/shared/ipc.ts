// The only door to the shell. Every call is typed with the DTOs generated from Rust
// (src/generated/, by ts-rs): a command's input and output are never written twice.
import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { ApiError } from "../generated/ApiError";
import type { Command } from "../generated/Command";
import type { AppStatus } from "../generated/AppStatus";
import type { SessionInfo } from "../generated/SessionInfo";
import type { FirstRunInput } from "../generated/FirstRunInput";
import type { SignInInput } from "../generated/SignInInput";
import type { CatalogDto } from "../generated/CatalogDto";
import type { HomeDto } from "../generated/HomeDto";
import type { SyncStatusDto } from "../generated/SyncStatusDto";
import type { EnrollInput } from "../generated/EnrollInput";
import type { BeneficiaryRow } from "../generated/BeneficiaryRow";
import type { BeneficiaryPage } from "../generated/BeneficiaryPage";
import type { CaseQuery } from "../generated/CaseQuery";
import type { CasePage } from "../generated/CasePage";
import type { IdCheck } from "../generated/IdCheck";
import type { CaseFileDto } from "../generated/CaseFileDto";
import type { TransitionInput } from "../generated/TransitionInput";
import type { ReportInput } from "../generated/ReportInput";
import type { DeliveryInput } from "../generated/DeliveryInput";
import type { SurveyInput } from "../generated/SurveyInput";
import type { InteractionInput } from "../generated/InteractionInput";
import type { IntakeDraft } from "../generated/IntakeDraft";
import type { FieldProblem } from "../generated/FieldProblem";
import type { Receipt } from "../generated/Receipt";
import type { StaffDto } from "../generated/StaffDto";
import type { StaffInput } from "../generated/StaffInput";
import type { KbDocDto } from "../generated/KbDocDto";
import type { KbInput } from "../generated/KbInput";
import type { StoredFile } from "../generated/StoredFile";

export function isApiError(e: unknown): e is ApiError {
  return typeof e === "object" && e !== null && "code" in e && "message" in e;
}

/** Any failure as an ApiError (the shell's own, or one made here for a broken bridge). */
export function asApiError(e: unknown): ApiError {
  if (isApiError(e)) return e;
  return { code: "internal", message: "حدث خطأ غير متوقع.", fields: [] };
}

const call = <T>(cmd: Command, args?: Record<string, unknown>) => invoke<T>(cmd, args);

export const api = {
  appStatus: () => call<AppStatus>("app_status"),
  firstRun: (input: FirstRunInput) => call<SessionInfo>("first_run", { input }),
  signIn: (input: SignInInput) => call<SessionInfo>("sign_in", { input }),
  signOut: () => call<null>("sign_out"),
  touch: () => call<boolean>("touch"),
  catalog: () => call<CatalogDto>("catalog"),
  home: () => call<HomeDto>("home"),
  completeTask: (id: string) => call<null>("complete_task", { id }),
  syncStatus: () => call<SyncStatusDto>("sync_status"),
  syncNow: () => call<SyncStatusDto>("sync_now"),
  enroll: (input: EnrollInput) => call<SyncStatusDto>("enroll", { input }),
  search: (query: string, limit = 30) => call<BeneficiaryRow[]>("search", { query, limit }),
  beneficiaryRow: (id: string) => call<BeneficiaryRow | null>("beneficiary_row", { id }),
  beneficiariesPage: (offset: number, limit: number) =>
    call<BeneficiaryPage>("beneficiaries_page", { offset, limit }),
  casesPage: (query: CaseQuery) => call<CasePage>("cases_page", { query }),
  checkId: (id: string) => call<IdCheck>("check_id", { id }),
  caseFile: (id: string) => call<CaseFileDto>("case_file", { id }),
  beneficiaryCases: (id: string) => call<CasePage>("beneficiary_cases", { id }),
  transition: (input: TransitionInput) => call<null>("transition", { input }),
  researchReport: (input: ReportInput) => call<null>("research_report", { input }),
  recordDelivery: (input: DeliveryInput) => call<null>("record_delivery", { input }),
  recordSurvey: (input: SurveyInput) => call<null>("record_survey", { input }),
  logInteraction: (input: InteractionInput) => call<null>("log_interaction", { input }),
  intakeDraft: () => call<IntakeDraft | null>("intake_draft"),
  saveIntakeDraft: (draft: IntakeDraft) => call<null>("save_intake_draft", { draft }),
  discardIntakeDraft: () => call<null>("discard_intake_draft"),
  validateIntake: (draft: IntakeDraft, step: number) =>
    call<FieldProblem[]>("validate_intake", { draft, step }),
  submitIntake: () => call<Receipt>("submit_intake"),
  receipt: (id: string) => call<Receipt>("receipt", { id }),
  staff: () => call<StaffDto[]>("staff"),
  addStaff: (input: StaffInput) => call<null>("add_staff", { input }),
  setStaffActive: (username: string, active: boolean, password: string | null) =>
    call<null>("set_staff_active", { username, active, password }),
  resetPassword: (username: string, password: string) =>
    call<null>("reset_password", { username, password }),
  setStaffRoles: (username: string, roles: string[]) =>
    call<null>("set_staff_roles", { username, roles }),
  kbDocuments: () => call<KbDocDto[]>("kb_documents"),
  addKbDocument: (input: KbInput) => call<null>("add_kb_document", { input }),
  /** Bytes go as the raw request body, not as JSON. */
  upload: (bytes: Uint8Array) => invoke<StoredFile>("upload" satisfies Command, bytes),
  file: async (sha256: string) => new Uint8Array(await invoke<ArrayBuffer>("file" satisfies Command, { sha256 })),
  printPage: () => call<null>("print_page"),
  uiReady: (screen: string) => call<null>("ui_ready", { screen }),
};

export function onLocked(f: () => void): Promise<() => void> {
  return listen("sila://locked", () => f());
}

/** The background sync worker's state changed (a pass began or ended, HQ went away or came back). */
export function onSyncChanged(f: () => void): Promise<() => void> {
  return listen("sila://sync", () => f());
}

/** The mime type of stored bytes, from their first bytes (the store only keeps these four). */
export function sniffMime(b: Uint8Array): string {
  if (b[0] === 0x25 && b[1] === 0x50 && b[2] === 0x44 && b[3] === 0x46) return "application/pdf";
  if (b[0] === 0x89 && b[1] === 0x50) return "image/png";
  if (b[0] === 0xff && b[1] === 0xd8) return "image/jpeg";
  if (b[0] === 0x52 && b[1] === 0x49 && b[8] === 0x57) return "image/webp";
  return "application/octet-stream";
}

/** A blob: URL for a stored file (revoke it when done). */
export async function fileUrl(sha256: string): Promise<{ url: string; mime: string }> {
  const bytes = await api.file(sha256);
  const mime = sniffMime(bytes);
  return { url: URL.createObjectURL(new Blob([bytes as BlobPart], { type: mime })), mime };
}
