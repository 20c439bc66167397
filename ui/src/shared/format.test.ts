import { describe, expect, it } from "vitest";
import { formatGregorian, formatHalalas, formatHijri, formatHijriNumeric, formatMobile, isoToDate, toLatinDigits } from "./format";

describe("digits", () => {
  it("folds Arabic-Indic and Persian digits to ASCII and leaves the rest", () => {
    expect(toLatinDigits("٠٥٥١٢٣٤٥٦٧")).toBe("0551234567");
    expect(toLatinDigits("۱۴۱۰/۰۵/۱۲")).toBe("1410/05/12");
    expect(toLatinDigits("رقم ١٢ abc")).toBe("رقم 12 abc");
  });
});

describe("dates", () => {
  it("reads ISO dates at noon UTC so no zone moves the day", () => {
    expect(isoToDate("2026-11-25")!.toISOString()).toBe("2026-11-25T12:00:00.000Z");
    expect(isoToDate("2026-11-25T23:59:00+03:00")!.getUTCDate()).toBe(25);
    expect(isoToDate("not a date")).toBeNull();
  });

  it("shows Umm al-Qura Hijri with Latin digits, not the Gregorian calendar", () => {
    // 1 Ramadan 1447 = 18 February 2026 (Umm al-Qura).
    const h = formatHijri("2026-02-18", "ar");
    expect(h).toContain("1447");
    expect(h).toContain("رمضان");
    expect(h).not.toMatch(/[٠-٩]/);
    // The same pairs the domain's Rust (icu_calendar) is checked against: both sides must agree.
    for (const [g, h] of [
      ["2024-07-07", "1446/01/01"], ["2024-03-11", "1445/09/01"], ["2023-04-21", "1444/10/01"],
      ["2025-03-01", "1446/09/01"], ["2025-03-30", "1446/10/01"],
    ]) expect(formatHijriNumeric(g), g).toBe(h);
  });

  it("shows Gregorian in Arabic month names with Latin digits", () => {
    const g = formatGregorian("2026-11-25", "ar");
    expect(g).toContain("2026");
    expect(g).toContain("نوفمبر");
    expect(formatGregorian("2026-11-25", "en")).toBe("25 November 2026");
  });
});

describe("money and phones", () => {
  it("formats halalas as riyals with two decimals", () => {
    expect(formatHalalas(350000)).toBe("3,500.00");
    expect(formatHalalas(1250)).toBe("12.50");
    expect(formatHalalas(5)).toBe("0.05");
  });
  it("shows a stored E.164 mobile the way people write it", () => {
    expect(formatMobile("+966551234567")).toBe("055 123 4567");
    expect(formatMobile(null)).toBe("");
    expect(formatMobile("+14155550100")).toBe("+14155550100");
  });
});
