// A small W3C WebDriver client over fetch, enough to drive the real app through tauri-driver:
// sessions, elements, typing, clicks, pointer actions, scripts and screenshots. Every wait is a
// condition polled against a deadline, never a bare sleep.
import { writeFileSync } from "node:fs";

const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

export class WebDriver {
  constructor(base) {
    this.base = base;
    this.session = null;
  }

  async req(method, path, body) {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      // A WebDriver command that never answers is a failure, not a hang.
      signal: AbortSignal.timeout(path.endsWith("/screenshot") ? 8000 : 45000),
    }).catch((e) => {
      throw new Error(`${method} ${path}: ${e.message}`);
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) {
      const v = json.value ?? {};
      throw new Error(`${method} ${path}: ${v.error ?? res.status} ${v.message ?? ""}`.slice(0, 500));
    }
    return json.value;
  }

  async start(capabilities) {
    const v = await this.req("POST", "/session", { capabilities: { alwaysMatch: capabilities } });
    this.session = v.sessionId;
    return v;
  }

  async quit() {
    if (!this.session) return;
    const s = this.session;
    this.session = null;
    await this.req("DELETE", `/session/${s}`).catch(() => {});
  }

  s(path) {
    return `/session/${this.session}${path}`;
  }

  async find(css) {
    const v = await this.req("POST", this.s("/element"), { using: "css selector", value: css });
    return v[ELEMENT];
  }

  async findAll(css) {
    const v = await this.req("POST", this.s("/elements"), { using: "css selector", value: css });
    return v.map((e) => e[ELEMENT]);
  }

  /** Wait until `css` matches a displayed element; returns it. */
  async waitFor(css, timeoutMs = 15000) {
    const deadline = Date.now() + timeoutMs;
    let last;
    while (Date.now() < deadline) {
      try {
        const id = await this.find(css);
        if (await this.req("GET", this.s(`/element/${id}/displayed`))) return id;
      } catch (e) {
        last = e;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${css}: ${last?.message ?? "not displayed"}`);
  }

  /** Wait until a script returns a truthy value; returns it. */
  async until(what, script, args = [], timeoutMs = 15000) {
    const deadline = Date.now() + timeoutMs;
    let v;
    while (Date.now() < deadline) {
      v = await this.exec(script, args).catch(() => null);
      if (v) return v;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(v)})`);
  }

  async click(css) {
    const id = await this.waitFor(css);
    await this.req("POST", this.s(`/element/${id}/click`), {});
  }

  async text(css) {
    const id = await this.waitFor(css);
    return this.req("GET", this.s(`/element/${id}/text`));
  }

  async value(css) {
    return this.exec("return document.querySelector(arguments[0]).value", [css]);
  }

  /** Type into a field as a person would (clearing it first). */
  async type(css, text) {
    const id = await this.waitFor(css);
    await this.req("POST", this.s(`/element/${id}/clear`), {});
    await this.req("POST", this.s(`/element/${id}/value`), { text });
    let got = await this.value(css);
    if (got !== text) {
      // A cleared React input can keep its old state; select all and type over it instead.
      await this.exec(`const el = document.querySelector(arguments[0]); el.focus(); el.select();`, [css]);
      await this.req("POST", this.s(`/element/${id}/value`), { text });
      got = await this.value(css);
    }
    if (got !== text) throw new Error(`typed ${JSON.stringify(text)} into ${css} but it holds ${JSON.stringify(got)}`);
  }

  /** Choose an option of a <select> by its value (as the keyboard or mouse would, firing change). */
  async choose(css, value) {
    await this.waitFor(css);
    await this.exec(
      `const el = document.querySelector(arguments[0]);
       const set = Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, "value").set;
       set.call(el, arguments[1]);
       el.dispatchEvent(new Event("change", { bubbles: true }));`,
      [css, value],
    );
    const got = await this.value(css);
    if (got !== value) throw new Error(`could not choose ${value} in ${css}`);
  }

  /**
   * Hand a file to an <input type=file> as the file dialog would (a File in its FileList and a
   * change event). WebKitWebDriver's send-keys to a file input opens the GTK dialog instead.
   */
  async attachFile(css, name, mime, bytes) {
    await this.waitFor(`${css}, label[for]`);
    await this.exec(
      `const [css, name, mime, b64] = arguments;
       const bin = atob(b64);
       const u = new Uint8Array(bin.length);
       for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
       const dt = new DataTransfer();
       dt.items.add(new File([u], name, { type: mime }));
       const el = document.querySelector(css);
       el.files = dt.files;
       el.dispatchEvent(new Event("change", { bubbles: true }));`,
      [css, name, mime, Buffer.from(bytes).toString("base64")],
    );
  }

  async exec(script, args = []) {
    return this.req("POST", this.s("/execute/sync"), { script, args });
  }

  async actions(actions) {
    await this.req("POST", this.s("/actions"), { actions });
    await this.req("DELETE", this.s("/actions")).catch(() => {});
  }

  async screenshot(path) {
    // WebKitWebDriver answers a screenshot after the page's next presentation; a page that has
    // finished drawing makes none (the app runs without WebKit's DMA-BUF renderer, where this
    // shows), so a one-pixel ticker keeps frames coming while the picture is taken.
    await this.exec(`if (!window.__silaTick) {
        const d = document.createElement('div');
        d.style.cssText = 'position:fixed;inset-inline-end:0;inset-block-end:0;inline-size:1px;block-size:1px;pointer-events:none';
        document.body.appendChild(d);
        let on = false;
        window.__silaTick = { d, t: setInterval(() => { on = !on; d.style.background = on ? 'rgba(0,0,0,0.01)' : 'transparent'; }, 30) };
      }`).catch(() => {});
    try {
      return await this.screenshotNow(path);
    } finally {
      await this.exec(`if (window.__silaTick) { clearInterval(window.__silaTick.t); window.__silaTick.d.remove(); window.__silaTick = null; }`).catch(() => {});
    }
  }

  async screenshotNow(path) {
    let b64;
    try {
      b64 = await this.req("GET", this.s("/screenshot"));
    } catch (e) {
      // WebKitWebDriver sometimes never answers a viewport screenshot; the page's root element
      // screenshot is the same picture by another road.
      const root = await this.find("#root");
      b64 = await this.req("GET", this.s(`/element/${root}/screenshot`)).catch(() => {
        throw e;
      });
    }
    writeFileSync(path, Buffer.from(b64, "base64"));
  }

  static elementRef(id) {
    return { [ELEMENT]: id };
  }
}
