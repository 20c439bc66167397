// What the branch tests put between a laptop and HQ, and the `sila` command line they prepare
// stores with. The link is a real HTTP relay to the real `sila-hq`: it can be slow (a branch on a
// poor connection, so a new laptop's progress bar is seen moving), cut (HQ unreachable), or answer
// as an HQ one protocol ahead would (426 `update_required`, the answer an older Sila gets).
import http from "node:http";
import { Transform } from "node:stream";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

const TARGET = process.env.CARGO_TARGET_DIR ?? join(import.meta.dirname, "../../target");
export const SILA_BIN = process.env.SILA_BIN ?? join(TARGET, "debug/sila");

/** Run `sila` on `dataDir` as `user`; returns its standard output. */
export function sila(dataDir, user, ...args) {
  if (!existsSync(SILA_BIN)) throw new Error(`sila is not built: ${SILA_BIN} (cargo build -p sila-cli)`);
  return execFileSync(SILA_BIN, ["--data-dir", dataDir, ...args], {
    encoding: "utf8",
    env: { ...process.env, SILA_USER: user.user, SILA_PASSWORD: user.password },
  }).trim();
}

/** Pass bytes on at most `rate` bytes a second (the link, not the test, waits). */
function throttle(rate) {
  let sent = 0;
  const began = Date.now();
  return new Transform({
    transform(chunk, _enc, done) {
      sent += chunk.length;
      const due = began + (sent / rate) * 1000;
      setTimeout(() => done(null, chunk), Math.max(0, due - Date.now()));
    },
  });
}

/**
 * A link to HQ at `target`: `url` is what a laptop is given as HQ's address. `set("up" | "down" |
 * "upgraded")`; `rate` (bytes a second, HQ to laptop) may change at any time.
 */
export async function startLink(target, { rate = Infinity } = {}) {
  const to = new URL(target);
  const link = { mode: "up", rate, url: "", set: null, stop: null };
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    if (link.mode === "down") {
      req.socket.destroy();
      return;
    }
    if (link.mode === "upgraded" && req.url.startsWith("/v1/")) {
      res.writeHead(426, { "content-type": "application/json" });
      res.end(JSON.stringify({ code: "update_required", message: "this HQ speaks a newer protocol" }));
      return;
    }
    const up = http.request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        const body = Number.isFinite(link.rate) ? answer.pipe(throttle(link.rate)) : answer;
        body.pipe(res);
      },
    );
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  link.url = `http://127.0.0.1:${server.address().port}`;
  link.set = (mode) => {
    link.mode = mode;
    if (mode === "down") for (const s of sockets) s.destroy();
  };
  link.stop = () => {
    for (const s of sockets) s.destroy();
    server.close();
  };
  return link;
}
