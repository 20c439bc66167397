import { describe, expect, it } from "vitest";
import { emptyDraft, fid, identityFromQuery } from "./Wizard";

describe("wizard helpers", () => {
  it("names DOM ids after the domain's field names", () => {
    expect(fid("identity.national_id")).toBe("identity-national_id");
    expect(fid("household[2].birth_date")).toBe("household-2-birth_date");
    expect(fid("documents.family_card")).toBe("documents-family_card");
  });
  it("starts a new registration from what the search query already says", () => {
    expect(identityFromQuery("١٠٠٠٠٠٠٠٠٨")).toEqual({ national_id: "1000000008" });
    expect(identityFromQuery("0551234567")).toEqual({ mobile: "0551234567" });
    expect(identityFromQuery("محمد عبد الله سعد الدوسري")).toEqual({
      first: "محمد", father: "عبد الله", grandfather: "سعد", family: "الدوسري",
    });
    expect(identityFromQuery("نورة بنت فهد العتيبي")).toEqual({ first: "نورة", father: "فهد", family: "العتيبي" });
  });
  it("an empty draft starts at the first step with nothing chosen", () => {
    const d = emptyDraft();
    expect(d.step).toBe(0);
    expect(d.existing_beneficiary_id).toBeNull();
    expect(d.household).toEqual([]);
  });
});
