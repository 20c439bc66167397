// Names of the codes the console shows: case states, channels, purposes, branch roles, reasons
// of duplicate candidates, fields of a beneficiary. Support and document types come from the
// server's catalog (their names live with the catalog in Rust).
import type { Lang } from "../shared/format";

type Table = Record<string, { ar: string; en: string }>;

export const STATES: Table = {
  draft: { ar: "مسودة", en: "Draft" },
  submitted: { ar: "مقدَّم", en: "Submitted" },
  in_research: { ar: "لدى الباحث الاجتماعي", en: "In research" },
  incomplete: { ar: "ناقص", en: "Incomplete" },
  in_committee: { ar: "لدى لجنة البحث", en: "With the committee" },
  approved: { ar: "مقبول", en: "Approved" },
  rejected: { ar: "مرفوض", en: "Rejected" },
  registered: { ar: "مسجَّل", en: "Registered" },
  served: { ar: "قُدّمت الخدمة", en: "Served" },
  closed: { ar: "مغلق", en: "Closed" },
  withdrawn: { ar: "مسحوب", en: "Withdrawn" },
};

export const CHANNELS: Table = {
  interview: { ar: "مقابلة شخصية", en: "Interview" },
  phone: { ar: "الهاتف", en: "Phone" },
  social_media: { ar: "وسائل التواصل الاجتماعي", en: "Social media" },
  letter: { ar: "الخطابات", en: "Letters" },
  help_request_service: { ar: "خدمات طلب المساعدة", en: "Help-request services" },
  volunteer: { ar: "خدمة التطوع", en: "Volunteer service" },
  website: { ar: "الموقع الإلكتروني", en: "Website" },
  branch_representative: { ar: "مندوب الفرع", en: "Branch representative" },
};

// The roles a branch account may hold (sila_domain's Role::BRANCH): the committee and HQ staff
// act here at headquarters, never from a branch device, and HQ refuses them for branch accounts.
export const BRANCH_ROLES: Table = {
  representative: { ar: "موظف علاقات المستفيدين", en: "Representative" },
  researcher: { ar: "باحث اجتماعي", en: "Researcher" },
  admin: { ar: "مدير النظام", en: "Administrator" },
};

export const REASONS: Table = {
  same_national_id: { ar: "رقم الهوية نفسه", en: "Same national ID" },
  same_birth_date: { ar: "تاريخ الميلاد نفسه", en: "Same birth date" },
  same_mobile: { ar: "الجوال نفسه", en: "Same mobile" },
  same_name: { ar: "الاسم نفسه", en: "Same name" },
  similar_name: { ar: "اسم متشابه", en: "Similar name" },
  different_national_ids: { ar: "رقما هوية مختلفان", en: "Different national IDs" },
  different_birth_dates: { ar: "تاريخا ميلاد مختلفان", en: "Different birth dates" },
};

export const FIELDS: Table = {
  name: { ar: "الاسم الرباعي", en: "Four-part name" },
  national_id: { ar: "رقم الهوية", en: "National ID" },
  id_expiry: { ar: "انتهاء الهوية", en: "ID expiry" },
  nationality: { ar: "الجنسية", en: "Nationality" },
  gender: { ar: "الجنس", en: "Gender" },
  birth_date: { ar: "تاريخ الميلاد", en: "Birth date" },
  marital_status: { ar: "الحالة الاجتماعية", en: "Marital status" },
  mobile: { ar: "الجوال", en: "Mobile" },
  city: { ar: "المدينة", en: "City" },
  centre: { ar: "المركز", en: "Centre" },
  district: { ar: "الحي", en: "District" },
  preferred_channel: { ar: "قناة التواصل المفضلة", en: "Preferred channel" },
  household: { ar: "أفراد الأسرة", en: "Household" },
  household_size: { ar: "عدد أفراد الأسرة", en: "Household size" },
  incomes: { ar: "الدخل", en: "Income" },
  monthly_income: { ar: "الدخل الشهري", en: "Monthly income" },
  housing: { ar: "السكن", en: "Housing" },
  health_conditions: { ar: "الحالة الصحية", en: "Health" },
  categories: { ar: "الفئات", en: "Categories" },
  file_number: { ar: "رقم الملف", en: "File number" },
};

export const CONFLICT_REASONS: Table = {
  edited_at_hq: { ar: "عدّل المقر هذا الحقل قبل أن يصل تعديل الفرع", en: "HQ changed this field before the branch's edit arrived" },
  edited_elsewhere: { ar: "عُدّل هذا الحقل في المقر أو على جهاز آخر قبل أن يصل تعديل الفرع", en: "The field was changed at HQ or on another device before this branch's edit arrived" },
  merged: { ar: "السجل دُمج في سجل آخر بعد تعديل الفرع", en: "The record was merged into another before the branch's edit arrived" },
};

export const PURPOSES: Table = {
  inquiry: { ar: "استفسار", en: "Inquiry" },
  complaint: { ar: "شكوى", en: "Complaint" },
  suggestion: { ar: "اقتراح", en: "Suggestion" },
  follow_up: { ar: "متابعة", en: "Follow-up" },
  decision_notice: { ar: "إبلاغ بالقرار", en: "Decision notice" },
};

export function label(table: Table, code: string | null | undefined, lang: Lang): string {
  if (!code) return "—";
  return table[code]?.[lang] ?? code;
}
