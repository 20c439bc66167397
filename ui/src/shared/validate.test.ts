import { describe, expect, it } from "vitest";
import { amountShape, dateShape, mobileShape, nationalIdShape, required } from "./validate";

const code = (p: { code: string } | null) => p?.code ?? null;

describe("field shapes (instant feedback beside the field)", () => {
  it("required", () => {
    expect(code(required("  "))).toBe("required");
    expect(required("محمد")).toBeNull();
  });
  it("national ID: ten digits starting with 1 or 2, Arabic digits accepted", () => {
    expect(nationalIdShape("")).toBeNull();
    expect(nationalIdShape("1000000008")).toBeNull();
    expect(nationalIdShape("١٠٠٠٠٠٠٠٠٨")).toBeNull();
    expect(code(nationalIdShape("10000"))).toBe("id_wrong_length");
    expect(code(nationalIdShape("3000000008"))).toBe("id_bad_prefix");
    expect(code(nationalIdShape("10000a0008"))).toBe("id_not_digits");
  });
  it("mobile: every usual Saudi form", () => {
    for (const ok of ["0551234567", "551234567", "+966551234567", "00966551234567", "٠٥٥ ١٢٣ ٤٥٦٧", "+966 0551234567"])
      expect(mobileShape(ok), ok).toBeNull();
    expect(code(mobileShape("0112345678"))).toBe("phone_shape");
    expect(code(mobileShape("05x"))).toBe("phone_not_digits");
  });
  it("dates: Hijri or Gregorian, either order, with or without a calendar suffix", () => {
    for (const ok of ["1410/05/12", "12/05/1410", "1990-01-31", "31.01.1990", "1410/5/12 هـ", "١٤١٠/٠٥/١٢"])
      expect(dateShape(ok), ok).toBeNull();
    expect(code(dateShape("12 May"))).toBe("date_unrecognised");
  });
  it("amounts", () => {
    expect(amountShape("3,500")).toBeNull();
    expect(amountShape("٣٥٠٠ ريال")).toBeNull();
    expect(amountShape("12.50")).toBeNull();
    expect(code(amountShape("12.505"))).toBe("invalid_amount");
  });
});
