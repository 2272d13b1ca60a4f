import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { createLogger, type Logger } from "../logger.js";
import { requestLog } from "./request-log.js";

function appWith(logger: Logger): Hono {
  const app = new Hono();
  let tick = 0;
  app.use(requestLog(logger, () => (tick += 1.25)));
  app.get("/x", (c) => c.text("ok", 201));
  return app;
}

describe("requestLog", () => {
  it("writes one line per request with method, path (no query), status and time", async () => {
    const lines: string[] = [];
    const app = appWith(createLogger({ write: (line) => lines.push(line), now: () => 0 }));
    const res = await app.request("/x?code=secret");
    expect(res.status).toBe(201);
    expect(lines).toEqual(["1970-01-01T00:00:00.000Z INFO  request method=GET path=/x status=201 ms=1.3"]);
  });

  it("builds nothing per request when the logger drops info lines", async () => {
    const calls: string[] = [];
    const record = (level: string) => () => void calls.push(level);
    const quiet: Logger = { debug: record("debug"), info: record("info"), warn: record("warn"), error: record("error"), enabled: (level) => level !== "info" && level !== "debug" };
    const res = await appWith(quiet).request("/x");
    expect(res.status).toBe(201);
    expect(calls).toEqual([]);
  });

  it("still logs through a custom logger that cannot say which levels it writes", async () => {
    const calls: unknown[] = [];
    const custom: Logger = { debug() {}, info: (message, fields) => void calls.push([message, fields]), warn() {}, error() {} };
    await appWith(custom).request("/x");
    expect(calls).toEqual([["request", { method: "GET", path: "/x", status: 201, ms: 1.3 }]]);
  });
});
