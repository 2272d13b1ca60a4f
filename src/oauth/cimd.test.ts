import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CimdError,
  checkClientIdUrl,
  fetchClientMetadataDocument,
  isClientIdUrl,
  isPrivateAddress,
  parseClientMetadataDocument,
  type CimdFetchOptions,
} from "./cimd.js";

async function cimdError(p: Promise<unknown> | (() => unknown)): Promise<CimdError> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(CimdError);
    return e as CimdError;
  }
  throw new Error("expected a CimdError");
}

describe("isPrivateAddress", () => {
  const blocked = [
    "0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255", "100.64.0.1", "100.127.255.254", "127.0.0.1", "127.255.0.9",
    "169.254.169.254", "172.16.0.1", "172.31.255.255", "192.0.0.8", "192.0.2.1", "192.88.99.1", "192.168.1.1",
    "198.18.0.1", "198.19.255.255", "198.51.100.7", "203.0.113.9", "224.0.0.1", "239.255.255.250", "240.0.0.1",
    "255.255.255.255", "::", "::1", "[::1]", "fc00::1", "fdff:ffff::1", "fe80::1", "fe80::1%eth0", "febf::1", "ff02::1",
    "2001:db8::1", "64:ff9b::a00:1", "64:ff9b::8.8.8.8", "100::1", "::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:10.1.2.3",
    "::ffff:169.254.169.254", "::127.0.0.1", "::10.0.0.1", "2002:7f00:1::1", "2002:a00:1::", "2002:c0a8:101::1",
    "2001::1", "fec0::1", "", "localhost", "not-an-ip", "1.2.3", "01.2.3.4", "1.2.3.4.5", "::ffff:999.1.1.1",
  ];
  const allowed = [
    "1.1.1.1", "8.8.8.8", "9.255.255.255", "11.0.0.1", "100.63.255.255", "100.128.0.0", "126.255.255.255",
    "128.0.0.1", "169.253.255.255", "172.15.255.255", "172.32.0.0", "192.0.1.1", "192.88.98.1", "192.167.1.1",
    "192.169.0.1", "198.17.255.255", "198.20.0.0", "203.0.114.1", "223.255.255.255", "93.184.215.14",
    "2606:4700:4700::1111", "2a00:1450:4001::200e", "::ffff:8.8.8.8", "::ffff:808:808", "2002:808:808::1",
    "2001:4860:4860::8888", "2001:db9::1", "64:ff9c::1", "100:0:0:1::1", "fbff::1", "fe00::1",
  ];
  it.each(blocked)("blocks %j", (ip) => expect(isPrivateAddress(ip)).toBe(true));
  it.each(allowed)("allows %j", (ip) => expect(isPrivateAddress(ip)).toBe(false));
});

describe("checkClientIdUrl", () => {
  const valid = [
    "https://c.example/client.json",
    "https://c.example:8443/a/b/c.json",
    "https://127.0.0.1/c.json",
    "https://[::1]:4443/c",
    "https://c.example/.well-known/oauth-client",
    "https://c.example/a..b/c.d",
  ];
  const invalid: [string, RegExp][] = [
    ["http://c.example/client.json", /https/],
    ["HTTPS://c.example/client.json", /https/],
    ["https://c.example", /path/],
    ["https://c.example/./c.json", /dot segments/],
    ["https://c.example/a/../c.json", /dot segments/],
    ["https://c.example/a/%2e%2e/c.json", /dot segments/],
    ["https://c.example/a/%2E/c.json", /dot segments/],
    ["https://c.example/a/.%2e", /dot segments/],
    ["https://c.example/a/..;/c.json", /dot segments/],
    ["https://c.example/c.json#frag", /fragment/],
    ["https://c.example/c.json#", /fragment/],
    ["https://user@c.example/c.json", /userinfo/],
    ["https://user:pw@c.example/c.json", /userinfo/],
    ["https://c.example/c.json?x=1", /query/],
    ["https://c.example/c.json?", /query/],
    ["https://c.example/c json", /whitespace/],
    ["https://c.example/c.json\n", /whitespace/],
    [" https://c.example/c.json", /whitespace/],
    ["https://c.example/c\u0000.json", /whitespace/],
    ["https://c.example/c\u200b.json", /whitespace/],
    ["https://c.example\\@evil.example/c.json", /backslash/],
    ["https://c.example\\..\\c.json", /backslash/],
    ["https://ex\u0430mple.com/c.json", /printable ASCII/],
    ["https://c.example/c\u202e.json", /printable ASCII/],
    [`https://c.example/${"a".repeat(2000)}`, /too long/],
    ["https:///c.json", /./],
    ["https://exa mple/c", /whitespace/],
    ["https://[::1/c", /valid/],
    ["", /https/],
  ];
  it.each(valid)("accepts %j", (u) => {
    expect(checkClientIdUrl(u).href).toBe(new URL(u).href);
  });
  it("rejects a root-only path", async () => {
    expect((await cimdError(() => checkClientIdUrl("https://c.example/"))).kind).toBe("invalid_url");
  });
  it.each(invalid)("rejects %j", async (u, why) => {
    const e = await cimdError(() => checkClientIdUrl(u));
    expect(e.kind).toBe("invalid_url");
    expect(e.message).toMatch(why);
  });
  it("isClientIdUrl is a case-sensitive https:// prefix test", () => {
    expect(isClientIdUrl("https://c.example/x")).toBe(true);
    expect(isClientIdUrl("HTTPS://c.example/x")).toBe(false);
    expect(isClientIdUrl("my-dcr-client-id")).toBe(false);
    expect(isClientIdUrl("http://c.example/x")).toBe(false);
  });
});

describe("parseClientMetadataDocument", () => {
  const id = "https://c.example/client.json";
  const base = { client_id: id, client_name: "Example Client", redirect_uris: ["https://c.example/cb"] };

  it("parses a minimal document with RFC 7591 defaults", () => {
    expect(parseClientMetadataDocument(id, base)).toEqual({
      clientId: id,
      clientName: "Example Client",
      redirectUris: ["https://c.example/cb"],
      tokenEndpointAuthMethod: "none",
      grantTypes: ["authorization_code"],
      responseTypes: ["code"],
    });
  });

  it("maps every optional field and ignores unknown ones", () => {
    const doc = parseClientMetadataDocument(id, {
      ...base,
      redirect_uris: ["http://127.0.0.1/cb", "com.example.app:/cb", "https://c.example/cb"],
      client_uri: "https://c.example/",
      logo_uri: "https://c.example/logo.png",
      tos_uri: "https://c.example/tos",
      policy_uri: "https://c.example/privacy",
      scope: "mcp:tools",
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      application_type: "native",
      software_id: "whatever",
      contacts: ["a@example.com"],
    });
    expect(doc).toMatchObject({
      redirectUris: ["http://127.0.0.1/cb", "com.example.app:/cb", "https://c.example/cb"],
      clientUri: "https://c.example/",
      logoUri: "https://c.example/logo.png",
      tosUri: "https://c.example/tos",
      policyUri: "https://c.example/privacy",
      scope: "mcp:tools",
      grantTypes: ["authorization_code", "refresh_token"],
      responseTypes: ["code"],
      applicationType: "native",
    });
    expect(doc).not.toHaveProperty("software_id");
    expect(doc).not.toHaveProperty("softwareId");
  });

  const rejected: [string, unknown, RegExp][] = [
    ["not an object (array)", [base], /JSON object/],
    ["not an object (null)", null, /JSON object/],
    ["not an object (string)", "hello", /JSON object/],
    ["client_id mismatch", { ...base, client_id: "https://c.example/other.json" }, /client_id does not match/],
    ["client_id differs only by case", { ...base, client_id: "https://C.example/client.json" }, /client_id does not match/],
    ["client_id with trailing slash", { ...base, client_id: `${id}/` }, /client_id does not match/],
    ["client_id missing", { client_name: "x", redirect_uris: ["https://c.example/cb"] }, /client_id/],
    ["client_id not a string", { ...base, client_id: 42 }, /client_id/],
    ["client_name missing", { client_id: id, redirect_uris: ["https://c.example/cb"] }, /client_name/],
    ["client_name empty", { ...base, client_name: "" }, /client_name/],
    ["client_name blank", { ...base, client_name: "   " }, /client_name/],
    ["client_name too long", { ...base, client_name: "x".repeat(201) }, /client_name/],
    ["client_name with bidi override", { ...base, client_name: "Good\u202eliameG" }, /client_name/],
    ["client_name with newline", { ...base, client_name: "a\nb" }, /client_name/],
    ["redirect_uris missing", { client_id: id, client_name: "x" }, /redirect_uris/],
    ["redirect_uris empty", { ...base, redirect_uris: [] }, /redirect_uris/],
    ["redirect_uris not array", { ...base, redirect_uris: "https://c.example/cb" }, /redirect_uris/],
    ["redirect_uris too many", { ...base, redirect_uris: Array.from({ length: 21 }, (_, i) => `https://c.example/${i}`) }, /redirect_uris/],
    ["redirect_uris non-string", { ...base, redirect_uris: [1] }, /redirect_uris/],
    ["redirect_uri javascript:", { ...base, redirect_uris: ["https://c.example/cb", "javascript:alert(1)"] }, /redirect_uris\.1/],
    ["redirect_uri http non-loopback", { ...base, redirect_uris: ["http://evil.example/cb"] }, /redirect_uris\.0/],
    ["redirect_uri fragment", { ...base, redirect_uris: ["https://c.example/cb#x"] }, /redirect_uris\.0/],
    ["client_secret", { ...base, client_secret: "s3cret" }, /client_secret/],
    ["client_secret null", { ...base, client_secret: null }, /client_secret/],
    ["client_secret_expires_at", { ...base, client_secret_expires_at: 0 }, /client_secret/],
    ["client_secret_basic", { ...base, token_endpoint_auth_method: "client_secret_basic" }, /must be none/],
    ["client_secret_post", { ...base, token_endpoint_auth_method: "client_secret_post" }, /must be none/],
    ["client_secret_jwt", { ...base, token_endpoint_auth_method: "client_secret_jwt" }, /must be none/],
    ["auth method not a string", { ...base, token_endpoint_auth_method: 1 }, /must be none/],
    ["private_key_jwt", { ...base, token_endpoint_auth_method: "private_key_jwt" }, /confidential CIMD clients/],
    ["jwks", { ...base, jwks: { keys: [] } }, /not supported/],
    ["jwks_uri", { ...base, jwks_uri: "https://c.example/jwks" }, /not supported/],
    ["grant_types without authorization_code", { ...base, grant_types: ["refresh_token"] }, /grant_types/],
    ["grant_types empty", { ...base, grant_types: [] }, /grant_types/],
    ["grant_types client_credentials", { ...base, grant_types: ["authorization_code", "client_credentials"] }, /grant_types/],
    ["grant_types implicit", { ...base, grant_types: ["implicit", "authorization_code"] }, /grant_types/],
    ["response_types token", { ...base, response_types: ["token"] }, /response_types/],
    ["response_types code+token", { ...base, response_types: ["code", "token"] }, /response_types/],
    ["response_types empty", { ...base, response_types: [] }, /response_types/],
    ["response_types string", { ...base, response_types: "code" }, /response_types/],
    ["logo_uri http", { ...base, logo_uri: "http://c.example/logo.png" }, /logo_uri/],
    ["logo_uri data:", { ...base, logo_uri: "data:image/png;base64,AAAA" }, /logo_uri/],
    ["client_uri javascript:", { ...base, client_uri: "javascript:alert(1)" }, /client_uri/],
    ["tos_uri relative", { ...base, tos_uri: "/tos" }, /tos_uri/],
    ["policy_uri number", { ...base, policy_uri: 7 }, /policy_uri/],
    ["application_type bogus", { ...base, application_type: "desktop" }, /application_type/],
    ["scope not a string", { ...base, scope: ["a"] }, /scope/],
  ];
  it.each(rejected)("rejects: %s", async (_name, json, why) => {
    const e = await cimdError(() => parseClientMetadataDocument(id, json));
    expect(e.kind).toBe("invalid_document");
    expect(e.message).toMatch(why);
  });

  it("does not echo attacker-controlled values in the error", async () => {
    const evil = "<script>alert(1)</script>";
    const cases = [
      { ...base, client_id: evil },
      { ...base, client_name: `${evil}\u202e` },
      { ...base, redirect_uris: [`javascript:${evil}`] },
      { ...base, token_endpoint_auth_method: evil },
      { ...base, logo_uri: evil },
      { ...base, grant_types: [evil] },
    ];
    for (const json of cases) {
      const e = await cimdError(() => parseClientMetadataDocument(id, json));
      expect(e.message).not.toContain("script");
    }
  });
});

describe("fetchClientMetadataDocument (real HTTPS on 127.0.0.1)", () => {
  let dir: string;
  let cert: string;
  let server: https.Server;
  let port: number;
  let connections = 0;
  const hits = new Map<string, number>();
  const seen: { host?: string; servername?: string; accept?: string } = {};
  const drips = new Set<NodeJS.Timeout>();

  const url = (path: string, host = "localhost") => `https://${host}:${port}${path}`;
  const doc = (clientId: string) => ({ client_id: clientId, client_name: "Local", redirect_uris: ["http://127.0.0.1/cb"] });
  const loopback = async () => [{ address: "127.0.0.1", family: 4 as const }];
  const opts = (extra: Partial<CimdFetchOptions> = {}): CimdFetchOptions => ({
    allowHosts: ["localhost"], lookup: loopback, ca: cert, ...extra,
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "cimd-test-"));
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
      "-addext", "subjectAltName=DNS:localhost,DNS:cimd.test,IP:127.0.0.1", "-days", "1",
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
    ], { stdio: "ignore" });
    cert = readFileSync(join(dir, "cert.pem"), "utf8");
    server = https.createServer({ key: readFileSync(join(dir, "key.pem")), cert }, (req, res) => {
      const path = req.url ?? "";
      hits.set(path, (hits.get(path) ?? 0) + 1);
      const self = `https://${req.headers.host ?? ""}${path}`;
      const json = (body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(200, { "content-type": "application/json", ...headers });
        res.end(JSON.stringify(body));
      };
      switch (path) {
        case "/good.json":
          seen.host = req.headers.host;
          seen.servername = (req.socket as TLSSocket).servername || undefined;
          seen.accept = req.headers.accept;
          return json(doc(self), { "cache-control": "public, max-age=300" });
        case "/nostore.json":
          return json(doc(self), { "cache-control": "no-store" });
        case "/redirect.json":
          res.writeHead(302, { location: url("/target.json") });
          return res.end();
        case "/target.json":
          return json(doc(url("/redirect.json")));
        case "/404.json":
          res.writeHead(404);
          return res.end("not found");
        case "/500.json":
          res.writeHead(500);
          return res.end();
        case "/204.json":
          res.writeHead(204);
          return res.end();
        case "/big.json":
          return json({ ...doc(self), padding: "x".repeat(6 * 1024) });
        case "/big-chunked.json": {
          res.writeHead(200, { "content-type": "application/json" });
          res.write(`{"client_id":${JSON.stringify(self)},"pad":"`);
          for (let i = 0; i < 64; i++) res.write("y".repeat(1024));
          return res.end(`"}`);
        }
        case "/exactly-limit.json": {
          const body = JSON.stringify({ ...doc(self), padding: "" });
          return json({ ...doc(self), padding: "z".repeat(5120 - body.length) });
        }
        case "/slow.json": {
          res.writeHead(200, { "content-type": "application/json" });
          res.write("{");
          const t = setInterval(() => res.write(" "), 50);
          drips.add(t);
          res.on("close", () => {
            clearInterval(t);
            drips.delete(t);
          });
          return;
        }
        case "/hang.json":
          return; // never answers
        case "/notjson.json":
          res.writeHead(200, { "content-type": "application/json" });
          return res.end("<html>not json</html>");
        case "/badutf8.json":
          res.writeHead(200, { "content-type": "application/json" });
          return res.end(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]));
        case "/mismatch.json":
          return json(doc(url("/other.json")));
        case "/secret.json":
          return json({ ...doc(self), token_endpoint_auth_method: "client_secret_basic", client_secret: "s" });
        default:
          res.writeHead(404);
          return res.end();
      }
    });
    server.on("connection", () => connections++);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    for (const t of drips) clearInterval(t);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it("fetches and parses a valid document, with SNI, Host, Accept and max-age", async () => {
    const d = await fetchClientMetadataDocument(url("/good.json"), opts());
    expect(d).toMatchObject({ clientId: url("/good.json"), clientName: "Local", redirectUris: ["http://127.0.0.1/cb"], maxAgeSeconds: 300 });
    expect(seen).toEqual({ host: `localhost:${port}`, servername: "localhost", accept: "application/json" });
  });

  it("connects to the checked address even when the name does not resolve publicly (pinned lookup)", async () => {
    const calls: string[] = [];
    // Rebinding attempt: first answer is checked and used; a later different answer must never be asked for.
    const rebinding = async (h: string) => {
      calls.push(h);
      return calls.length === 1 ? [{ address: "127.0.0.1", family: 4 as const }] : [{ address: "10.0.0.1", family: 4 as const }];
    };
    const d = await fetchClientMetadataDocument(url("/good.json", "cimd.test"), opts({ allowHosts: ["cimd.test"], lookup: rebinding }));
    expect(d.clientId).toBe(url("/good.json", "cimd.test"));
    expect(calls).toEqual(["cimd.test"]);
    expect(seen.servername).toBe("cimd.test");
    expect(seen.host).toBe(`cimd.test:${port}`);
  });

  it("honours host:port allow-list entries only for that port", async () => {
    await expect(fetchClientMetadataDocument(url("/good.json"), opts({ allowHosts: [`localhost:${port}`] }))).resolves.toBeTruthy();
    const e = await cimdError(fetchClientMetadataDocument(url("/good.json"), opts({ allowHosts: [`localhost:${port + 1}`] })));
    expect(e.kind).toBe("blocked_address");
  });

  it("accepts an IP-literal URL when allow-listed (no lookup needed)", async () => {
    const d = await fetchClientMetadataDocument(url("/good.json", "127.0.0.1"), opts({ allowHosts: ["127.0.0.1"], lookup: () => Promise.reject(new Error("unused")) }));
    expect(d.clientId).toBe(url("/good.json", "127.0.0.1"));
  });

  it("reports Cache-Control no-store as max-age 0", async () => {
    expect((await fetchClientMetadataDocument(url("/nostore.json"), opts())).maxAgeSeconds).toBe(0);
  });

  it("does not follow redirects: 302 → fetch_failed and the Location target is never hit", async () => {
    const e = await cimdError(fetchClientMetadataDocument(url("/redirect.json"), opts()));
    expect(e.kind).toBe("fetch_failed");
    expect(e.message).toMatch(/302/);
    expect(hits.get("/redirect.json")).toBe(1);
    expect(hits.get("/target.json")).toBeUndefined();
  });

  it.each(["/404.json", "/500.json", "/204.json"])("only 200 counts: %s → fetch_failed", async (path) => {
    expect((await cimdError(fetchClientMetadataDocument(url(path), opts()))).kind).toBe("fetch_failed");
  });

  it("rejects a 6 KB document (Content-Length)", async () => {
    const e = await cimdError(fetchClientMetadataDocument(url("/big.json"), opts()));
    expect(e.kind).toBe("fetch_failed");
    expect(e.message).toMatch(/exceeds 5120 bytes/);
  });

  it("rejects an oversized chunked body without Content-Length", async () => {
    const e = await cimdError(fetchClientMetadataDocument(url("/big-chunked.json"), opts()));
    expect(e.message).toMatch(/exceeds 5120 bytes/);
  });

  it("accepts a document of exactly maxBytes", async () => {
    await expect(fetchClientMetadataDocument(url("/exactly-limit.json"), opts())).resolves.toBeTruthy();
  });

  it("aborts a slow-drip body at the overall timeout", async () => {
    const started = Date.now();
    const e = await cimdError(fetchClientMetadataDocument(url("/slow.json"), opts({ timeoutMs: 300 })));
    expect(e.kind).toBe("fetch_failed");
    expect(e.message).toMatch(/timed out/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("aborts when the server never answers", async () => {
    const e = await cimdError(fetchClientMetadataDocument(url("/hang.json"), opts({ timeoutMs: 300 })));
    expect(e.message).toMatch(/timed out/);
  });

  it("applies the timeout to DNS resolution too", async () => {
    const never = () => new Promise<never>(() => undefined);
    const e = await cimdError(fetchClientMetadataDocument(url("/good.json"), opts({ timeoutMs: 200, lookup: never })));
    expect(e.kind).toBe("fetch_failed");
  });

  it.each(["/notjson.json", "/badutf8.json"])("%s → invalid_document", async (path) => {
    expect((await cimdError(fetchClientMetadataDocument(url(path), opts()))).kind).toBe("invalid_document");
  });

  it("rejects a document whose client_id differs from the URL", async () => {
    const e = await cimdError(fetchClientMetadataDocument(url("/mismatch.json"), opts()));
    expect(e.kind).toBe("invalid_document");
    expect(e.message).toMatch(/client_id does not match/);
  });

  it("rejects a fetched document with shared-secret fields", async () => {
    expect((await cimdError(fetchClientMetadataDocument(url("/secret.json"), opts()))).kind).toBe("invalid_document");
  });

  it("blocks loopback when not allow-listed, before any connection", async () => {
    const before = connections;
    for (const host of ["localhost", "127.0.0.1"]) {
      const e = await cimdError(fetchClientMetadataDocument(url("/good.json", host), opts({ allowHosts: [] })));
      expect(e.kind).toBe("blocked_address");
    }
    expect(connections).toBe(before);
  });

  it.each([
    [["93.184.215.14", "10.0.0.1"]],
    [["169.254.169.254"]],
    [["2606:4700:4700::1111", "::ffff:127.0.0.1"]],
    [["fd00::1"]],
  ])("blocks when any resolved address is special-use: %j", async (addrs) => {
    const before = connections;
    const lookup = async () => addrs.map((address) => ({ address, family: address.includes(":") ? (6 as const) : (4 as const) }));
    const e = await cimdError(fetchClientMetadataDocument("https://cimd.example/c.json", opts({ allowHosts: [], lookup })));
    expect(e.kind).toBe("blocked_address");
    expect(connections).toBe(before);
  });

  it("fails closed when resolution fails or returns nothing", async () => {
    const fails = () => Promise.reject(new Error("ENOTFOUND"));
    expect((await cimdError(fetchClientMetadataDocument(url("/good.json"), opts({ lookup: fails })))).kind).toBe("fetch_failed");
    const empty = async () => [];
    expect((await cimdError(fetchClientMetadataDocument(url("/good.json"), opts({ lookup: empty })))).kind).toBe("fetch_failed");
  });

  it("verifies the certificate: self-signed without ca → fetch_failed", async () => {
    const { ca: _ca, ...noCa } = opts();
    const e = await cimdError(fetchClientMetadataDocument(url("/good.json"), noCa));
    expect(e.kind).toBe("fetch_failed");
  });

  it("verifies the certificate name: a host not in the SAN → fetch_failed", async () => {
    const e = await cimdError(fetchClientMetadataDocument(url("/good.json", "other.test"), opts({ allowHosts: ["other.test"] })));
    expect(e.kind).toBe("fetch_failed");
  });

  it("does no network work for an invalid URL", async () => {
    let lookups = 0;
    const before = connections;
    const lookup = async () => {
      lookups++;
      return [{ address: "127.0.0.1", family: 4 as const }];
    };
    for (const bad of [`http://localhost:${port}/good.json`, url("/a/../good.json"), `${url("/good.json")}?x=1`]) {
      expect((await cimdError(fetchClientMetadataDocument(bad, opts({ lookup })))).kind).toBe("invalid_url");
    }
    expect(lookups).toBe(0);
    expect(connections).toBe(before);
  });
});
