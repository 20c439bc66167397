// The only door to the shell. Every call is typed with the DTOs generated from Rust
// (src/generated/, by ts-rs): a command's input and output are never written twice.
import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { ApiError } from "../generated/ApiError";
import type { Command } from "../generated/Command";
import type { CompactDto } from "../generated/CompactDto";
import type { CompactProgressDto } from "../generated/CompactProgressDto";
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
import type { DraftSummary } from "../generated/DraftSummary";
import type { Colleague } from "../generated/Colleague";
import type { TaskInput } from "../generated/TaskInput";
import type { PersonFormDto } from "../generated/PersonFormDto";
import type { PersonFileDto } from "../generated/PersonFileDto";
import type { CaseCorrection } from "../generated/CaseCorrection";
import type { ComplaintDto } from "../generated/ComplaintDto";
import type { MergePreview } from "../generated/MergePreview";
import type { MergeInput } from "../generated/MergeInput";
import type { MergeDto } from "../generated/MergeDto";
import type { ImportPreviewDto } from "../generated/ImportPreviewDto";
import type { ImportProgressDto } from "../generated/ImportProgressDto";
import type { ImportResultDto } from "../generated/ImportResultDto";
import type { FieldProblem } from "../generated/FieldProblem";
import type { Receipt } from "../generated/Receipt";
import type { StaffDto } from "../generated/StaffDto";
import type { StaffInput } from "../generated/StaffInput";
import type { KbDocDto } from "../generated/KbDocDto";
import type { KbInput } from "../generated/KbInput";
import type { StoredFile } from "../generated/StoredFile";
import type { JoinInput } from "../generated/JoinInput";
import type { LookupDto } from "../generated/LookupDto";
import type { SyncIssuesDto } from "../generated/SyncIssuesDto";
import type { BackupPlaceDto } from "../generated/BackupPlaceDto";
import type { BackupDto } from "../generated/BackupDto";
import type { BackupFileDto } from "../generated/BackupFileDto";
import type { RestoreInput } from "../generated/RestoreInput";

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
  snoozeTask: (id: string, until: string) => call<null>("snooze_task", { id, until }),
  /** Give a task to a colleague (their user name), take it (one's own), or put it back in its pool (null). */
  assignTask: (id: string, to: string | null) => call<null>("assign_task", { id, to }),
  addTask: (input: TaskInput) => call<null>("add_task", { input }),
  syncStatus: () => call<SyncStatusDto>("sync_status"),
  syncNow: () => call<SyncStatusDto>("sync_now"),
  /** Install the release HQ offered (the person agreed); the app restarts into it. */
  installUpdate: () => call<null>("install_update"),
  enroll: (input: EnrollInput) => call<SyncStatusDto>("enroll", { input }),
  /** First run: add this laptop to an existing branch (the branch's name comes from HQ). */
  joinBranch: (input: JoinInput) => call<SessionInfo>("join_branch", { input }),
  /** Is this national ID registered at another branch? (HQ answers where and since when.) */
  lookupNationalId: (nationalId: string) => call<LookupDto>("lookup_national_id", { nationalId }),
  syncIssues: () => call<SyncIssuesDto>("sync_issues"),
  /** Where a backup can go (USB sticks first), and where first run looks for one. */
  backupPlaces: () => call<BackupPlaceDto[]>("backup_places"),
  saveBackup: (place: string) => call<BackupDto>("save_backup", { place }),
  findBackups: () => call<BackupFileDto[]>("find_backups"),
  restoreBackup: (input: RestoreInput) => call<SessionInfo>("restore_backup", { input }),
  search: (query: string, limit = 30) => call<BeneficiaryRow[]>("search", { query, limit }),
  beneficiaryRow: (id: string) => call<BeneficiaryRow | null>("beneficiary_row", { id }),
  beneficiariesPage: (offset: number, limit: number) =>
    call<BeneficiaryPage>("beneficiaries_page", { offset, limit }),
  casesPage: (query: CaseQuery) => call<CasePage>("cases_page", { query }),
  checkId: (id: string) => call<IdCheck>("check_id", { id }),
  beneficiaryForm: (id: string) => call<PersonFormDto>("beneficiary_form", { id }),
  saveBeneficiary: (input: PersonFormDto) => call<PersonFormDto>("save_beneficiary", { input }),
  sameNationalId: (nationalId: string, except: string | null) =>
    call<BeneficiaryRow[]>("same_national_id", { nationalId, except }),
  caseFile: (id: string) => call<CaseFileDto>("case_file", { id }),
  beneficiaryCases: (id: string) => call<CasePage>("beneficiary_cases", { id }),
  personFile: (id: string) => call<PersonFileDto>("person_file", { id }),
  correctCase: (input: CaseCorrection) => call<null>("correct_case", { input }),
  attachCaseDocument: (caseId: string, code: string, sha256: string) =>
    call<null>("attach_case_document", { caseId, code, sha256 }),
  markDocumentSeen: (caseId: string, code: string, seen: boolean) =>
    call<null>("mark_document_seen", { caseId, code, seen }),
  complaints: () => call<ComplaintDto[]>("complaints"),
  mergePreview: (survivorId: string, mergedId: string) =>
    call<MergePreview>("merge_preview", { survivorId, mergedId }),
  mergeBeneficiaries: (input: MergeInput) => call<string>("merge_beneficiaries", { input }),
  unmergeBeneficiaries: (mergeId: string) => call<string[]>("unmerge_beneficiaries", { mergeId }),
  beneficiaryMerges: (id: string) => call<MergeDto[]>("beneficiary_merges", { id }),
  transition: (input: TransitionInput) => call<null>("transition", { input }),
  researchReport: (input: ReportInput) => call<null>("research_report", { input }),
  recordDelivery: (input: DeliveryInput) => call<null>("record_delivery", { input }),
  recordSurvey: (input: SurveyInput) => call<null>("record_survey", { input }),
  logInteraction: (input: InteractionInput) => call<null>("log_interaction", { input }),
  intakeDrafts: () => call<DraftSummary[]>("intake_drafts"),
  intakeDraft: (id: string) => call<IntakeDraft>("intake_draft", { id }),
  /** Save into draft `id`, or a new draft when `id` is null; answers the draft's ID. */
  saveIntakeDraft: (id: string | null, draft: IntakeDraft) => call<string>("save_intake_draft", { id, draft }),
  discardIntakeDraft: (id: string) => call<null>("discard_intake_draft", { id }),
  restoreIntakeDraft: (id: string) => call<null>("restore_intake_draft", { id }),
  handOverDraft: (id: string, to: string) => call<null>("hand_over_draft", { id, to }),
  colleagues: () => call<Colleague[]>("colleagues"),
  validateIntake: (draft: IntakeDraft, step: number) =>
    call<FieldProblem[]>("validate_intake", { draft, step }),
  submitIntake: (id: string) => call<Receipt>("submit_intake", { id }),
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
  compactStore: () => call<CompactDto>("compact_store"),
  compactProgress: () => call<CompactProgressDto | null>("compact_progress"),
  /** A sheet to preview for import: bytes as the raw body, the file name in a header. */
  importPreview: (fileName: string, bytes: Uint8Array) =>
    invoke<ImportPreviewDto>("import_preview" satisfies Command, bytes, { headers: { "x-file-name": encodeURIComponent(fileName) } }),
  importSheet: (token: string) => call<ImportResultDto>("import_sheet", { token }),
  importProgress: () => call<ImportProgressDto | null>("import_progress"),
  cancelImport: () => call<null>("cancel_import"),
  exportData: (format: "xlsx" | "csv") => call<string[]>("export_data", { format }),
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
