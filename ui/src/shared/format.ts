// Formatting shared by every screen: digits, Hijri (Umm al-Qura) and Gregorian dates, money,
// phone numbers. Stored dates are ISO Gregorian ("2026-11-25"); people see both calendars.

export type Lang = "ar" | "en";

const ARABIC_INDIC = "٠١٢٣٤٥٦٧٨٩";
const PERSIAN = "۰۱۲۳۴۵۶۷۸۹";

/** Arabic-Indic and Persian digits to ASCII, so "٠٥٥١" and "0551" are the same input. */
export function toLatinDigits(s: string): string {
  let out = "";
  for (const ch of s) {
    const a = ARABIC_INDIC.indexOf(ch);
    const p = PERSIAN.indexOf(ch);
    out += a >= 0 ? String(a) : p >= 0 ? String(p) : ch;
  }
  return out;
}

/** An ISO date (or date-time) as a Date at noon UTC, so no time zone moves it to another day. */
export function isoToDate(iso: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso);
  if (!m) return null;
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 12));
}

const hijriFmt: Record<Lang, Intl.DateTimeFormat> = {
  // "ar-SA" alone is Gregorian in some engines: the calendar and Latin digits are explicit.
  ar: new Intl.DateTimeFormat("ar-SA-u-ca-islamic-umalqura-nu-latn", {
    day: "numeric", month: "long", year: "numeric", timeZone: "UTC",
  }),
  en: new Intl.DateTimeFormat("en-u-ca-islamic-umalqura-nu-latn", {
    day: "numeric", month: "long", year: "numeric", timeZone: "UTC",
  }),
};
const gregFmt: Record<Lang, Intl.DateTimeFormat> = {
  ar: new Intl.DateTimeFormat("ar-SA-u-ca-gregory-nu-latn", {
    day: "numeric", month: "long", year: "numeric", timeZone: "UTC",
  }),
  en: new Intl.DateTimeFormat("en-GB-u-ca-gregory", {
    day: "numeric", month: "long", year: "numeric", timeZone: "UTC",
  }),
};
const hijriNumeric = new Intl.DateTimeFormat("en-u-ca-islamic-umalqura-nu-latn", {
  day: "2-digit", month: "2-digit", year: "numeric", timeZone: "UTC",
});

/** "4 جمادى الآخرة 1448 هـ" */
export function formatHijri(iso: string, lang: Lang = "ar"): string {
  const d = isoToDate(iso);
  return d ? hijriFmt[lang].format(d) : "";
}

/** "25 نوفمبر 2026" */
export function formatGregorian(iso: string, lang: Lang = "ar"): string {
  const d = isoToDate(iso);
  return d ? gregFmt[lang].format(d) : "";
}

/** "1448/06/04" — the way Saudi forms write Hijri dates. */
export function formatHijriNumeric(iso: string): string {
  const d = isoToDate(iso);
  if (!d) return "";
  const parts = hijriNumeric.formatToParts(d);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
  return `${get("year")}/${get("month")}/${get("day")}`;
}

/** A time of day from an RFC 3339 date-time, in the device's zone, "14:05". */
export function formatTime(isoDateTime: string): string {
  const d = new Date(isoDateTime);
  if (Number.isNaN(d.getTime())) return "";
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/** The local calendar day of an RFC 3339 date-time, as ISO. */
export function localDay(isoDateTime: string): string {
  const d = new Date(isoDateTime);
  if (Number.isNaN(d.getTime())) return isoDateTime.slice(0, 10);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

/** Halalas to "1,500.00" (the currency word is the caller's, in the right language). */
export function formatHalalas(halalas: number): string {
  const sign = halalas < 0 ? "-" : "";
  const abs = Math.abs(halalas);
  const whole = Math.floor(abs / 100).toLocaleString("en-US");
  return `${sign}${whole}.${String(abs % 100).padStart(2, "0")}`;
}

/** "+966551234567" → "055 123 4567"; anything else is shown as it is. */
export function formatMobile(e164: string | null | undefined): string {
  if (!e164) return "";
  const m = /^\+9665(\d{8})$/.exec(e164);
  if (!m) return e164;
  const n = "05" + m[1];
  return `${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}`;
}
