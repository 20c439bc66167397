import { describe, expect, it, afterEach } from "vitest";
import { cleanup, render } from "@testing-library/react";
import { DualDate, Field, Ltr, Phone } from "./components";
import { I18nContext, makeI18n } from "./i18n";

afterEach(cleanup);

describe("numbers inside Arabic text", () => {
  it("isolates IDs and numbers in <bdi dir=ltr>", () => {
    const { container } = render(<p>رقم الهوية <Ltr>1000000008</Ltr> للمستفيد</p>);
    const bdi = container.querySelector("bdi")!;
    expect(bdi.textContent).toBe("1000000008");
    expect(bdi.getAttribute("dir")).toBe("ltr");
  });
  it("shows a phone as people write it, isolated", () => {
    const { container } = render(<p>الجوال <Phone e164="+966551234567" /></p>);
    expect(container.querySelector("bdi")!.textContent).toBe("055 123 4567");
  });
  it("shows dates in both calendars, each isolated", () => {
    const { container } = render(
      <I18nContext.Provider value={makeI18n("ar", () => {})}>
        <p>الموعد <DualDate iso="2026-02-18" /></p>
      </I18nContext.Provider>,
    );
    const bdis = container.querySelectorAll("bdi");
    expect(bdis).toHaveLength(2);
    expect(bdis[0].textContent).toContain("رمضان");
    expect(bdis[1].textContent).toContain("فبراير");
  });
});

describe("Field", () => {
  it("puts the error beside its field and links it for screen readers", () => {
    const { container, getByRole } = render(
      <Field id="identity-national_id" label="رقم الهوية" error="رقم الهوية غير صحيح">
        {(a) => <input {...a} />}
      </Field>,
    );
    const input = container.querySelector("input")!;
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect(input.getAttribute("aria-describedby")).toBe("identity-national_id-error");
    expect(getByRole("alert").textContent).toBe("رقم الهوية غير صحيح");
    expect(container.querySelector("label")!.getAttribute("for")).toBe("identity-national_id");
  });
});
