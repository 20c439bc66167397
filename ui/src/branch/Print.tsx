// The receipt given at submission, and the printed pages (A4, Arabic, Naskh): the receipt and the
// support request form with the declaration and signature, printable from any case.
import { useEffect, useState } from "react";
import { api, asApiError } from "../shared/ipc";
import { useI18n } from "../shared/i18n";
import { ErrorBox, Ltr, StoredImage } from "../shared/components";
import { formatGregorian, formatHalalas, formatHijri, formatHijriNumeric, formatMobile, localDay } from "../shared/format";
import type { Receipt } from "../generated/Receipt";
import type { CaseFileDto } from "../generated/CaseFileDto";
import type { ApiError } from "../generated/ApiError";
import { useDesk } from "./context";

function useReceipt(caseId: string) {
  const [r, setR] = useState<Receipt | null>(null);
  const [err, setErr] = useState<ApiError | null>(null);
  useEffect(() => { api.receipt(caseId).then(setR, (e) => setErr(asApiError(e))); }, [caseId]);
  return { r, err };
}

export function ReceiptScreen({ caseId }: { caseId: string }) {
  const { t } = useI18n();
  const { go } = useDesk();
  const { r, err } = useReceipt(caseId);
  if (!r) return <ErrorBox error={err} />;
  return (
    <div data-testid="receipt">
      <h1 tabIndex={-1}>{t("receiptTitle")}</h1>
      <div className="card">
        <ReceiptBody r={r} />
      </div>
      <div className="row">
        <button onClick={() => go({ name: "print", kind: "receipt", caseId })} data-testid="print-receipt">{t("printReceipt")}</button>
        <button className="secondary" onClick={() => go({ name: "print", kind: "form", caseId })}>{t("printForm")}</button>
        <button className="secondary" onClick={() => go({ name: "case", id: caseId })} data-testid="open-case">{t("openCase")}</button>
        <button className="secondary" onClick={() => go({ name: "home" })}>{t("done")}</button>
      </div>
    </div>
  );
}

function ReceiptBody({ r }: { r: Receipt }) {
  const { t, label, lang } = useI18n();
  const { catalog } = useDesk();
  const submitted = r.submitted_at ? localDay(r.submitted_at) : "";
  return (
    <>
      <p className="receipt-big">{t("caseNumber")}: <Ltr testid="receipt-number">{r.case_number}</Ltr></p>
      <dl className="kv">
        <dt>{t("applicant")}</dt><dd>{r.beneficiary_name}</dd>
        <dt>{t("nationalId")}</dt><dd><Ltr>{r.national_id ?? "—"}</Ltr></dd>
        <dt>{t("mobile")}</dt><dd><Ltr>{r.mobile ?? "—"}</Ltr></dd>
        <dt>{t("supportType")}</dt><dd>{r.support_type}</dd>
        <dt>{t("channel")}</dt><dd>{label("channel", r.channel, catalog.channels.find((c) => c.code === r.channel)?.ar)}</dd>
        <dt>{t("submittedAt")}</dt><dd><bdi>{formatHijri(submitted, lang)}</bdi> — <bdi>{formatGregorian(submitted, lang)}</bdi></dd>
        <dt>{t("promisedReply")}</dt>
        <dd data-testid="receipt-promise"><strong><bdi>{formatHijri(r.promised_reply_date, lang)}</bdi></strong> — <bdi>{formatGregorian(r.promised_reply_date, lang)}</bdi></dd>
        <dt>{t("employee")}</dt><dd>{r.employee_name}</dd>
        <dt>{t("branch")}</dt><dd>{r.branch}</dd>
      </dl>
      <p>{t("replyNote")}</p>
    </>
  );
}

export function PrintView({ kind, caseId }: { kind: "receipt" | "form"; caseId: string }) {
  const { t } = useI18n();
  const { go } = useDesk();
  return (
    <div data-testid={`print-${kind}`}>
      <div className="row no-print" style={{ marginBlockEnd: ".8rem" }}>
        <button onClick={() => api.printPage()} data-testid="print-now">{t("print")}</button>
        <button className="secondary" onClick={() => go({ name: "case", id: caseId })}>{t("openCase")}</button>
      </div>
      {kind === "receipt" ? <ReceiptPaper caseId={caseId} /> : <FormPaper caseId={caseId} />}
    </div>
  );
}

function ReceiptPaper({ caseId }: { caseId: string }) {
  const { t } = useI18n();
  const { r, err } = useReceipt(caseId);
  if (!r) return <ErrorBox error={err} />;
  return (
    <article className="paper" lang="ar" dir="rtl">
      <p>{r.branch}</p>
      <h1>{t("receiptTitle")}</h1>
      <ReceiptBody r={r} />
    </article>
  );
}

function FormPaper({ caseId }: { caseId: string }) {
  const { t, label } = useI18n();
  const { catalog } = useDesk();
  const [f, setF] = useState<CaseFileDto | null>(null);
  const [err, setErr] = useState<ApiError | null>(null);
  useEffect(() => { api.caseFile(caseId).then(setF, (e) => setErr(asApiError(e))); }, [caseId]);
  if (!f) return <ErrorBox error={err} />;
  const c = f.case;
  const b = f.beneficiary;
  const ar = (group: string, code: string | null | undefined, fallback?: string) => label(group, code, fallback);
  const st = catalog.support_types.find((s) => s.code === c.support_type);
  const decl = c.declaration;
  return (
    <article className="paper" lang="ar" dir="rtl" data-testid="form-paper">
      <div className="between"><span>{c.branch}</span><span>{t("caseNumber")}: <Ltr>{c.number}</Ltr></span></div>
      <h1>{t("requestForm")}</h1>
      <table>
        <tbody>
          <tr><th>{t("name")}</th><td colSpan={3}>{b.full_name}</td></tr>
          <tr><th>{t("nationalId")}</th><td><Ltr>{b.national_id ?? "—"}</Ltr></td><th>{t("mobile")}</th><td><Ltr>{formatMobile(b.mobile) || "—"}</Ltr></td></tr>
          <tr><th>{t("birthDate")}</th><td>{b.birth_date ? <><Ltr>{formatHijriNumeric(b.birth_date)}</Ltr> هـ</> : "—"}</td><th>{t("gender")}</th><td>{ar("gender", b.gender) || "—"}</td></tr>
          <tr><th>{t("city")}</th><td>{b.city || "—"}</td><th>{t("district")}</th><td>{b.district || "—"}</td></tr>
          <tr><th>{t("monthlyIncome")}</th><td><Ltr>{formatHalalas(Number(b.monthly_income_halalas))}</Ltr></td><th>{t("housing")}</th><td>{ar("housing", b.housing) || "—"}</td></tr>
          <tr><th>{t("supportType")}</th><td>{st?.ar ?? c.support_type}</td><th>{t("channel")}</th><td>{ar("channel", c.channel, catalog.channels.find((x) => x.code === c.channel)?.ar)}</td></tr>
          <tr><th>{t("need")}</th><td colSpan={3}>{c.need}</td></tr>
        </tbody>
      </table>
      <h2>{t("household")}</h2>
      <table>
        <thead><tr><th>{t("memberName")}</th><th>{t("relation")}</th><th>{t("nationalId")}</th><th>{t("birthDate")}</th></tr></thead>
        <tbody>
          {b.household.map((m, i) => (
            <tr key={i}><td>{m.name}</td><td>{ar("relation", m.relation)}</td><td><Ltr>{m.national_id ?? "—"}</Ltr></td><td>{m.birth_date ? <Ltr>{formatHijriNumeric(m.birth_date)}</Ltr> : "—"}</td></tr>
          ))}
        </tbody>
      </table>
      <h2>{t("documents")}</h2>
      <table>
        <tbody>
          {c.documents.map((d) => (
            <tr key={d.code}><td>{catalog.document_types.find((x) => x.code === d.code)?.ar ?? d.code}</td><td>{d.attachment ? "مرفق" : "غير مرفق"}</td><td>{d.seen_in_original ? "طوبق مع الأصل" : "—"}</td></tr>
          ))}
        </tbody>
      </table>
      <h2>{t("declaration")}</h2>
      <p>{decl?.text ?? catalog.declaration_ar}</p>
      <table>
        <tbody>
          <tr>
            <th>{t("signature")}</th>
            <td>{decl ? <StoredImage sha={decl.signature_attachment} alt={t("signature")} className="sig" /> : null}{decl && <div>{ar("signature", decl.signature_kind)}</div>}</td>
          </tr>
          <tr><th>{t("employee")}</th><td>{decl?.employee_name ?? ""}</td></tr>
          <tr><th>{t("time")}</th><td>{decl ? <><bdi>{formatHijri(localDay(decl.signed_at))}</bdi> — <bdi>{formatGregorian(localDay(decl.signed_at))}</bdi></> : ""}</td></tr>
          {c.promised_reply_date && <tr><th>{t("promisedReply")}</th><td><bdi>{formatHijri(c.promised_reply_date)}</bdi> — <bdi>{formatGregorian(c.promised_reply_date)}</bdi></td></tr>}
        </tbody>
      </table>
    </article>
  );
}
