// Checks the UI makes as a person types, for instant feedback beside the field. They are only the
// shape of an answer (present, digits, length): the rules that decide (the ID checksum, a real
// date, an expired ID at submission) are the domain's, asked through `validate_intake`.
import { toLatinDigits } from "./format";

export type Problem = { code: string; message: string } | null;

export function required(value: string): Problem {
  return value.trim() === "" ? { code: "required", message: "هذا الحقل مطلوب" } : null;
}

/** A national ID or iqama number as typed: ten digits starting with 1 or 2 (checksum: the domain's). */
export function nationalIdShape(value: string): Problem {
  const v = toLatinDigits(value).replace(/[\s-]/g, "");
  if (v === "") return null;
  if (!/^\d+$/.test(v)) return { code: "id_not_digits", message: "رقم الهوية يجب أن يحتوي على أرقام فقط" };
  if (v.length !== 10) return { code: "id_wrong_length", message: "رقم الهوية يجب أن يتكون من 10 أرقام" };
  if (v[0] !== "1" && v[0] !== "2")
    return { code: "id_bad_prefix", message: "رقم الهوية يجب أن يبدأ بالرقم 1 للمواطن أو 2 للمقيم" };
  return null;
}

/** A Saudi mobile in any usual form: 05XXXXXXXX, 5XXXXXXXX, +9665XXXXXXXX, 009665XXXXXXXX. */
export function mobileShape(value: string): Problem {
  const v = toLatinDigits(value).replace(/[\s\-().]/g, "");
  if (v === "") return null;
  if (!/^(\+|00)?\d+$/.test(v)) return { code: "phone_not_digits", message: "رقم الجوال يجب أن يحتوي على أرقام فقط" };
  if (!/^(?:(?:\+|00)?9660?|0)?5\d{8}$/.test(v))
    return { code: "phone_shape", message: "رقم الجوال يجب أن يكون رقم جوال سعودي يبدأ بـ 05" };
  return null;
}

/** A date as typed, Hijri or Gregorian, day/month/year or year/month/day. */
export function dateShape(value: string): Problem {
  const v = toLatinDigits(value).trim().replace(/\s*(هـ|ه|م)\.?$/, "");
  if (v === "") return null;
  if (!/^(\d{4}[/.-]\d{1,2}[/.-]\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{4})$/.test(v))
    return { code: "date_unrecognised", message: "صيغة التاريخ غير معروفة، اكتبه مثل 1410/05/12 أو 31/01/1990" };
  return null;
}

/** An amount of riyals: digits with an optional thousands comma and up to two decimals. */
export function amountShape(value: string): Problem {
  const v = toLatinDigits(value).replace(/[,\s]|ريال|ر\.س/g, "").replace("٫", ".");
  if (v === "") return null;
  if (!/^\d+(\.\d{1,2})?$/.test(v)) return { code: "invalid_amount", message: "اكتب المبلغ بالأرقام، مثل 3500" };
  return null;
}
