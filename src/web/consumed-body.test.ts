import type { IncomingHttpHeaders } from "node:http";
import { describe, expect, it } from "vitest";
import { rebuildBody, type ParsedIncoming } from "./consumed-body.js";

function parsed(contentType: string | undefined, fields: { body?: unknown; rawBody?: unknown }): ParsedIncoming {
  const headers: IncomingHttpHeaders = contentType ? { "content-type": contentType } : {};
  return { headers, ...fields } as ParsedIncoming;
}

const text = (bytes: Uint8Array | null) => (bytes === null ? null : Buffer.from(bytes).toString("utf8"));

describe("rebuildBody", () => {
  it("prefers the kept bytes over the parsed value", () => {
    expect(text(rebuildBody(parsed("application/json", { rawBody: Buffer.from('{ "a" : 1 }'), body: { a: 1 } })))).toBe('{ "a" : 1 }');
    expect(text(rebuildBody(parsed("application/json", { rawBody: '{"b":2}', body: { b: 2 } })))).toBe('{"b":2}');
  });

  it("hands on express.raw() bytes and express.text() text as they are", () => {
    expect(text(rebuildBody(parsed("application/octet-stream", { body: Buffer.from([0x68, 0x69]) })))).toBe("hi");
    expect(text(rebuildBody(parsed("text/plain", { body: "héllo" })))).toBe("héllo");
  });

  it("re-serializes JSON, including +json types and non-object values of a non-strict parser", () => {
    expect(text(rebuildBody(parsed("application/json; charset=utf-8", { body: { jsonrpc: "2.0", id: 1 } })))).toBe('{"jsonrpc":"2.0","id":1}');
    expect(text(rebuildBody(parsed("application/merge-patch+json", { body: [1, null] })))).toBe("[1,null]");
    expect(text(rebuildBody(parsed("application/json", { body: null })))).toBe("null");
  });

  it("re-encodes a form: repeated fields repeated, extended-parser objects in brackets, empty values kept", () => {
    const body = { grant_type: "refresh_token", scope: ["a", "b"], "y[]": ["3"], nested: { k: "v", deeper: { z: "1" } }, empty: "" };
    expect(text(rebuildBody(parsed("application/x-www-form-urlencoded", { body })))).toBe(
      "grant_type=refresh_token&scope=a&scope=b&y%5B%5D=3&nested%5Bk%5D=v&nested%5Bdeeper%5D%5Bz%5D=1&empty=",
    );
    const spaced = rebuildBody(parsed("application/x-www-form-urlencoded", { body: { redirect_uri: "http://x/cb?a=1&b=2", name: "a b+c" } }));
    expect(Object.fromEntries(new URLSearchParams(text(spaced)!))).toEqual({ redirect_uri: "http://x/cb?a=1&b=2", name: "a b+c" });
  });

  it("gives up (null) on what it cannot stand for: multipart fields, or nothing kept at all", () => {
    expect(rebuildBody(parsed("multipart/form-data; boundary=x", { body: { field: "v" } }))).toBeNull();
    expect(rebuildBody(parsed("application/json", {}))).toBeNull();
    expect(rebuildBody(parsed(undefined, { body: { a: 1 } }))).toBeNull();
  });
});
