import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";

/** Every line a text logger writes for one event. */
function textLines(message: string, fields: Record<string, unknown>): string[] {
  const lines: string[] = [];
  const logger = createLogger({ format: "text", write: (line) => lines.push(line), now: () => 0 });
  logger.info(message, fields);
  return lines;
}

const FORGED = "1970-01-01T00:00:00.000Z INFO  request method=GET path=/admin status=200";

describe("text logs escape request data (issue 9, 7b)", () => {
  it.each([
    ["LF", `/x\n${FORGED}`],
    ["CR", `/x\r${FORGED}`],
    ["CRLF", `/x\r\n${FORGED}`],
    ["NEL", `/x\u0085${FORGED}`],
    ["LINE SEPARATOR", `/x\u2028${FORGED}`],
    ["PARAGRAPH SEPARATOR", `/x\u2029${FORGED}`],
    ["vertical tab and form feed", `/x\u000b\u000c${FORGED}`],
  ])("a %s in a field stays on one line", (_name, path) => {
    const lines = textLines("request", { method: "GET", path, status: 404 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/[\p{Cc}\u2028\u2029]/u);
    expect(lines[0]).toMatch(/ status=404$/);
  });

  it("escapes ESC, DEL, C1 and bidi controls, even in values without spaces", () => {
    const [line] = textLines("request", { path: "/a\u001b[2J\u001b[1;1H\u007f\u009b31m\u202egpj.exe" });
    expect(line).not.toMatch(/[\p{Cc}\u202a-\u202e\u2066-\u2069]/u);
    expect(line).toContain("\\u001b[2J");
    expect(line).toContain("\\u007f");
    expect(line).toContain("\\u009b");
    expect(line).toContain("\\u202e");
  });

  it("a field cannot add a field of its own: values with spaces or quotes are quoted", () => {
    const [line] = textLines("request", { path: '/x status=200 user="admin"', status: 404 });
    expect(line).toBe('1970-01-01T00:00:00.000Z INFO  request path="/x status=200 user=\\"admin\\"" status=404');
  });

  it("escapes the message and nested values too", () => {
    const [line] = textLines("bad\nline", { error: { message: "boom\r\nINFO forged", detail: ["a\u001bb"] } });
    expect(line).not.toMatch(/\p{Cc}/u);
    expect(line).toContain("bad\\nline");
    expect(line).toContain("\\u001b");
  });

  it("leaves ordinary values bare and readable", () => {
    const [line] = textLines("request", { method: "GET", path: "/oauth/authorize", status: 200, ms: 1.5, name: "Café" });
    expect(line).toBe("1970-01-01T00:00:00.000Z INFO  request method=GET path=/oauth/authorize status=200 ms=1.5 name=Café");
  });

  it("JSON lines stay one line per event", () => {
    const lines: string[] = [];
    createLogger({ format: "json", write: (l) => lines.push(l) }).info("request", { path: `/x\r\n${FORGED}` });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/[\n\r]/);
    expect((JSON.parse(lines[0]!) as { path: string }).path).toBe(`/x\r\n${FORGED}`);
  });
});

describe("enabled", () => {
  it("says which levels a logger writes", () => {
    const warn = createLogger({ level: "warn", write: () => {} });
    expect([warn.enabled?.("debug"), warn.enabled?.("info"), warn.enabled?.("warn"), warn.enabled?.("error")]).toEqual([false, false, true, true]);
    expect(createLogger({ level: "silent" }).enabled?.("error")).toBe(false);
    expect(createLogger({ write: () => {} }).enabled?.("info")).toBe(true);
  });

  it("writes numbers as JSON does, and non-finite ones as null", () => {
    expect(textLines("m", { a: 0, b: -0, c: 1e21, d: Number.NaN, e: -Infinity, f: 2.5 })).toEqual([
      "1970-01-01T00:00:00.000Z INFO  m a=0 b=0 c=1e+21 d=null e=null f=2.5",
    ]);
  });
});
