import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../config.js";
import { exposedName, loadGatewayConfig, parseGatewayConfig, toolAllowed } from "./config.js";

function errorOf(value: unknown): string {
  try {
    parseGatewayConfig(value, "gatehouse.config.json");
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("gateway config", () => {
  it("accepts stdio and HTTP upstreams, filling defaults", () => {
    const upstreams = parseGatewayConfig({
      upstreams: [
        { name: "files", command: "npx", args: ["-y", "server-files"], scopes: ["files:read"], tools: { deny: ["rm"] } },
        { name: "crm", url: "https://crm.internal/mcp", headers: { "X-Api-Key": "k" }, identityHeaders: { userId: "X-Gatehouse-User-Id" }, prefix: "" },
      ],
    });
    expect(upstreams[0]).toMatchObject({ kind: "stdio", name: "files", command: "npx", args: ["-y", "server-files"], env: {} });
    expect(upstreams[1]).toMatchObject({ kind: "http", url: "https://crm.internal/mcp", identityHeaders: { userId: "X-Gatehouse-User-Id" } });
    expect(exposedName(upstreams[0]!, "read")).toBe("files_read");
    expect(exposedName(upstreams[1]!, "read")).toBe("read");
  });

  it.each([
    [{}, "gatehouse.config.json: upstreams: expected an array"],
    [{ upstreams: [{ name: "a", command: "x" }, { name: "b", command: 3 }] }, "gatehouse.config.json: upstreams[1].command: expected a string"],
    [{ upstreams: [{ name: "b" }] }, "gatehouse.config.json: upstreams[0].command: expected a string"],
    [{ upstreams: [{ name: "b", command: "x", args: "y" }] }, "gatehouse.config.json: upstreams[0].args: expected an array"],
    [{ upstreams: [{ name: "b", command: "x", env: { A: 1 } }] }, "gatehouse.config.json: upstreams[0].env.A: expected a string"],
    [{ upstreams: [{ name: "b", url: "ftp://x" }] }, "gatehouse.config.json: upstreams[0].url: expected an http or https URL"],
    [{ upstreams: [{ name: "b", url: "http://x", identityHeaders: { userId: "bad header" } }] }, "gatehouse.config.json: upstreams[0].identityHeaders.userId: expected an HTTP header name"],
    [{ upstreams: [{ name: "b", url: "http://x", identityHeaders: { phone: "X-P" } }] }, 'gatehouse.config.json: upstreams[0].identityHeaders: unknown field "phone"'],
    [{ upstreams: [{ name: "b", command: "x", url: "http://x" }] }, 'gatehouse.config.json: upstreams[0]: unknown field "command"'],
    [{ upstreams: [{ name: "b c", command: "x" }] }, "gatehouse.config.json: upstreams[0].name: expected 1-64 letters, digits, _ or -"],
    [{ upstreams: [{ name: "b", command: "x", tools: { allow: "echo" } }] }, "gatehouse.config.json: upstreams[0].tools.allow: expected an array"],
    [{ upstreams: [{ name: "b", command: "x" }, { name: "b", command: "y" }] }, 'gatehouse.config.json: upstreams[1].name: "b" is used twice'],
    [{ upstreams: [{ name: "b", url: "http://x", identityToken: { ttlSeconds: 0 } }] }, "gatehouse.config.json: upstreams[0].identityToken.ttlSeconds: expected at least 1"],
    [{ upstreams: [{ name: "b", url: "http://x", identityToken: { ttlSeconds: 86400 } }] }, "gatehouse.config.json: upstreams[0].identityToken.ttlSeconds: expected at most 3600"],
    [{ upstreams: [{ name: "b", url: "http://x", identityToken: { header: "a b" } }] }, "gatehouse.config.json: upstreams[0].identityToken.header: expected an HTTP header name"],
    [{ upstreams: [{ name: "b", url: "http://x", identityToken: { scheme: "Bearer x" } }] }, 'gatehouse.config.json: upstreams[0].identityToken.scheme: expected an auth scheme such as Bearer, or ""'],
    [{ upstreams: [{ name: "b", url: "http://x", identityToken: { algorithm: "HS256" } }] }, 'gatehouse.config.json: upstreams[0].identityToken.algorithm: Invalid option: expected one of "ES256"|"RS256"'],
    [{ upstreams: [{ name: "b", url: "http://x", identityToken: { kid: "k" } }] }, 'gatehouse.config.json: upstreams[0].identityToken: unknown field "kid"'],
    [{ upstreams: [{ name: "b", url: "http://x", headers: { authorization: "Basic x" }, identityToken: {} }] }, 'gatehouse.config.json: upstreams[0].identityToken.header: "authorization" is also set in headers or identityHeaders'],
    [{ upstreams: [{ name: "b", command: "x", identityToken: {} }] }, 'gatehouse.config.json: upstreams[0]: unknown field "identityToken"'],
  ])("rejects %j naming the field", (value, expected) => {
    expect(errorOf(value)).toBe(expected);
  });

  it("fills the identity token's defaults: Authorization, Bearer, 60 s, ES256, audience from the URL", () => {
    const [crm] = parseGatewayConfig({ upstreams: [{ name: "crm", url: "https://crm.internal/mcp", identityToken: {} }] });
    expect(crm).toMatchObject({ identityToken: { header: "Authorization", scheme: "Bearer", ttlSeconds: 60, algorithm: "ES256" } });
    expect(crm?.kind === "http" && crm.identityToken?.audience).toBeUndefined();
  });

  it("names the file when it is missing or not JSON", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "gw-config-"));
    const file = path.join(dir, "gatehouse.config.json");
    expect(() => loadGatewayConfig(file)).toThrow(`${file}: cannot read the file: ENOENT`);
    writeFileSync(file, "{ nope");
    expect(() => loadGatewayConfig(file)).toThrow(`${file}: not valid JSON`);
    writeFileSync(file, JSON.stringify({ upstreams: [{ name: "a", command: "node" }] }));
    expect(loadGatewayConfig(file)).toHaveLength(1);
  });

  it("accepts the README's example (examples/gateway.json)", () => {
    const upstreams = loadGatewayConfig(path.join(import.meta.dirname, "../../examples/gateway.json"));
    expect(upstreams.map((u) => [u.name, u.kind])).toEqual([["everything", "stdio"], ["crm", "http"]]);
    expect(exposedName(upstreams[0]!, "echo")).toBe("everything_echo");
    expect(exposedName(upstreams[1]!, "find_contact")).toBe("crm.find_contact");
    // The README shows the file as it is.
    const readme = readFileSync(path.join(import.meta.dirname, "../../README.md"), "utf8");
    expect(readme).toContain(readFileSync(path.join(import.meta.dirname, "../../examples/gateway.json"), "utf8"));
  });

  it("filters tools: deny wins, an allow list allows only what it names", () => {
    expect(toolAllowed({}, "x")).toBe(true);
    expect(toolAllowed({ tools: { allow: ["a"] } }, "x")).toBe(false);
    expect(toolAllowed({ tools: { allow: ["a"], deny: ["a"] } }, "a")).toBe(false);
    expect(toolAllowed({ tools: { deny: ["b"] } }, "a")).toBe(true);
  });
});
