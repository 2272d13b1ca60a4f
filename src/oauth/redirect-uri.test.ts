import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { checkRedirectUri, matchRedirectUri, type RedirectUriKind } from "./redirect-uri.js";

const accepted: [string, RedirectUriKind][] = [
  ["https://app.example/cb", "https"],
  ["https://app.example/cb?x=1", "https"],
  ["https://app.example/cb?next=%2Fhome&a=b", "https"],
  ["https://app.example", "https"],
  ["https://app.example/", "https"],
  ["https://app.example:8443/oauth/callback", "https"],
  ["https://claude.ai/api/mcp/auth_callback", "https"],
  // PRODUCT.md wins over THREATS.md 5: https is https, even to localhost.
  ["https://localhost/cb", "https"],
  ["https://127.0.0.1:8443/cb", "https"],
  ["http://localhost/cb", "loopback"],
  ["http://localhost:1234/cb", "loopback"],
  ["http://127.0.0.1:3000/cb", "loopback"],
  ["http://127.0.0.1:3000/cb/", "loopback"],
  ["http://127.0.0.1", "loopback"],
  ["http://[::1]:8080/cb", "loopback"],
  ["http://[::1]/cb?x=1", "loopback"],
  ["com.example.app:/cb", "private-use"],
  ["com.example.app:/oauth2redirect", "private-use"],
  ["com.example.app:/oauth2redirect/example-provider", "private-use"],
  ["com.example.app://cb", "private-use"],
  ["io.github.some-app:/callback", "private-use"],
  ["cursor://anysphere.cursor-retrieval/oauth/user-callback", "private-use"],
  ["vscode://vscode.github-authentication/did-authenticate", "private-use"],
  ["vscode-insiders://ms-vscode.mcp/callback", "private-use"],
  ["windsurf://codeium.windsurf/oauth/callback", "private-use"],
  ["claude://claude.ai/oauth/callback", "private-use"],
];

// [input, reason fragment, why]
const rejected: [unknown, RegExp, string][] = [
  [undefined, /string/, "undefined"],
  [null, /string/, "null"],
  [42, /string/, "number"],
  [{ href: "https://app.example/cb" }, /string/, "object"],
  [["https://app.example/cb"], /string/, "array"],
  [new URL("https://app.example/cb"), /string/, "URL object"],
  ["", /empty/, "empty"],
  [`https://app.example/${"a".repeat(2000)}`, /too long/, "over 2000 chars"],
  // Fragments (DCR-5, DCR-6)
  ["https://a.example/cb#frag", /fragment/, "fragment"],
  ["https://a.example/cb#", /fragment/, "empty fragment"],
  ["com.example.app:/cb#x", /fragment/, "fragment on private-use"],
  ["http://localhost/cb#", /fragment/, "fragment on loopback"],
  // Userinfo (THREATS 5)
  ["https://user@a.example/cb", /userinfo/, "user@"],
  ["https://:pass@a.example/cb", /userinfo/, ":pass@"],
  ["https://user:pass@a.example/cb", /userinfo/, "user:pass@"],
  ["http://localhost:8090%25@evil.com", /userinfo/, "percent-encoded port trick (zitadel #12559)"],
  ["http://localhost@evil.com/cb", /userinfo/, "loopback as userinfo"],
  ["http://evil.com@localhost/cb", /userinfo/, "userinfo before loopback"],
  ["https://app.example%40evil.com@evil.com/cb", /userinfo/, "encoded @ in userinfo"],
  ["cursor://user@anysphere.cursor-retrieval/cb", /userinfo/, "userinfo on IDE scheme"],
  ["https://@a.example/cb", /canonical/, "empty userinfo"],
  // Dangerous schemes, plain and disguised (THREATS 4)
  ["javascript:alert(1)", /scheme/, "javascript:"],
  ["JavaScript:alert(1)", /scheme/, "JavaScript:"],
  ["JaVaScRiPt:alert(1)", /scheme/, "mixed case"],
  [" javascript:alert(1)", /ASCII/, "leading space"],
  ["javascript:alert(1) ", /ASCII/, "trailing space"],
  ["java\tscript:alert(1)", /ASCII/, "embedded tab"],
  ["java\nscript:alert(1)", /ASCII/, "embedded newline"],
  ["java\rscript:alert(1)", /ASCII/, "embedded CR"],
  ["\x00javascript:alert(1)", /ASCII/, "leading NUL"],
  ["\x01javascript:alert(1)", /ASCII/, "leading C0"],
  ["javascript\x7f:alert(1)", /ASCII/, "DEL"],
  ["\u00a0javascript:alert(1)", /ASCII/, "no-break space"],
  ["\ufeffjavascript:alert(1)", /ASCII/, "BOM"],
  ["data:text/html,<script>alert(1)</script>", /scheme/, "data:"],
  ["DATA:text/html,x", /scheme/, "DATA:"],
  ["file:///etc/passwd", /scheme/, "file:"],
  ["vbscript:msgbox(1)", /scheme/, "vbscript:"],
  ["VBScript:msgbox(1)", /scheme/, "VBScript:"],
  ["blob:https://a.example/0b7e4c1a", /scheme/, "blob:"],
  ["about:blank", /scheme/, "about:"],
  ["ftp://a.example/cb", /scheme/, "ftp:"],
  ["ws://localhost/cb", /scheme/, "ws:"],
  ["wss://a.example/cb", /scheme/, "wss:"],
  // http to anything but a literal loopback host (DCR-6, THREATS 5)
  ["http://evil.example/cb", /loopback/, "http to a public host"],
  ["http://localhost.evil.com/cb", /loopback/, "localhost as a label"],
  ["http://127.0.0.1.nip.io/cb", /loopback/, "wildcard DNS to 127.0.0.1"],
  ["http://localhost./cb", /loopback/, "trailing dot"],
  ["http://127.0.0.2/cb", /loopback/, "other 127/8 address"],
  ["http://0.0.0.0/cb", /loopback/, "0.0.0.0"],
  ["http://[::ffff:127.0.0.1]/cb", /canonical|loopback/, "v4-mapped v6"],
  ["http://127.1/cb", /canonical/, "short IPv4"],
  ["http://0x7f.0.0.1/cb", /canonical/, "hex IPv4"],
  ["http://2130706433/cb", /canonical/, "decimal IPv4"],
  ["http://017700000001/cb", /canonical/, "octal IPv4"],
  ["http://LOCALHOST/cb", /canonical/, "upper-case localhost"],
  ["http://[0:0:0:0:0:0:0:1]/cb", /canonical/, "long-form ::1"],
  ["http://localhost:80/cb", /canonical/, "explicit default port"],
  ["http://localhost:/cb", /canonical/, "empty port"],
  ["http:/localhost/cb", /canonical/, "single slash"],
  // Other non-canonical spellings: what is stored must be what the browser visits
  ["HTTPS://app.example/cb", /canonical/, "upper-case scheme"],
  ["https://App.Example/cb", /canonical/, "upper-case host"],
  ["https://app.example:443/cb", /canonical/, "explicit default port"],
  ["https://app.example?x=1", /canonical/, "query on empty path"],
  ["https://app%2eexample/cb", /canonical/, "percent-encoded host"],
  ["https://app.example/c{b}", /canonical/, "characters the parser encodes"],
  ["https:app.example/cb", /canonical/, "no authority slashes"],
  ["https:///app.example/cb", /canonical/, "three slashes"],
  ["Com.Example.App:/cb", /canonical/, "upper-case private-use scheme"],
  // Relative and unparsable
  ["/cb", /absolute/, "path only"],
  ["//app.example/cb", /absolute/, "scheme-relative"],
  ["app.example/cb", /absolute/, "no scheme"],
  ["?x=1", /absolute/, "query only"],
  [":/cb", /absolute/, "empty scheme"],
  ["1app:/cb", /absolute/, "scheme starting with a digit"],
  ["https://", /valid/, "no host"],
  ["http://[::1/cb", /valid/, "unclosed IPv6"],
  ["https://app.example:99999/cb", /valid/, "port out of range"],
  // Dot segments (THREATS 5, Keycloak CVE-2026-3872)
  ["https://a.example/a/../cb", /canonical/, "/../"],
  ["https://a.example/./cb", /canonical/, "/./"],
  ["https://a.example/cb/..", /canonical/, "trailing /.."],
  ["https://a.example/%2e%2e/cb", /canonical/, "encoded .."],
  ["https://a.example/a/..;/cb", /dot segments/, "..;/"],
  ["http://localhost/..;/admin", /dot segments/, "..;/ on loopback"],
  ["https://a.example/a/.;x/cb", /dot segments/, ".;param"],
  ["com.example.app:/../cb", /canonical/, "/../ on private-use"],
  ["com.example.app:../cb", /dot segments/, "opaque ../"],
  ["com.example.app:/a/..;/cb", /dot segments/, "..;/ on private-use"],
  ["com.example.app:%2E%2e/cb", /dot segments/, "encoded opaque .."],
  // Backslashes
  ["https://app.example\\@evil.com/cb", /backslash/, "backslash before @"],
  ["https://app.example/cb\\x", /backslash/, "backslash in path"],
  ["http://localhost\\.evil.com/cb", /backslash/, "backslash in host"],
  // Non-ASCII
  ["https://exämple.com/cb", /ASCII/, "IDN"],
  ["https://аpple.com/cb", /ASCII/, "Cyrillic homograph"],
  ["https://app.example/cb\u200b", /ASCII/, "zero-width space"],
  ["https://app.example/c b", /ASCII/, "space in path"],
  // Private-use schemes
  ["myapp:/cb", /scheme/, "single-label scheme (DCR-6)"],
  ["myapp://cb", /scheme/, "single-label scheme with authority"],
  ["intent://cb#Intent;end", /fragment/, "Android intent"],
  ["intent://cb", /scheme/, "Android intent without fragment"],
  ["web+app:/cb", /scheme/, "web+ scheme"],
  ["cursorx://cb", /scheme/, "near-miss IDE scheme"],
  ["com..example:/cb", /scheme/, "empty label"],
  ["com.example.:/cb", /scheme/, "trailing dot in scheme"],
];

describe("checkRedirectUri", () => {
  it.each(accepted)("accepts %s as %s", (uri, kind) => {
    expect(checkRedirectUri(uri)).toEqual({ ok: true, kind, uri });
  });

  it.each(rejected)("rejects %j (%s, %s)", (input, reason) => {
    const result = checkRedirectUri(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  it("never echoes the input in the reason", () => {
    for (const [input] of rejected) {
      const result = checkRedirectUri(input);
      if (!result.ok && typeof input === "string" && input !== "") expect(result.reason).not.toContain(input);
    }
  });

  it("accepts exactly 2000 characters", () => {
    const base = "https://app.example/";
    expect(checkRedirectUri(base + "a".repeat(2000 - base.length)).ok).toBe(true);
  });
});

// [registered, presented, expected match]
const matches: [string[], string, string | null][] = [
  [["https://app.example/cb"], "https://app.example/cb", "https://app.example/cb"],
  [["https://app.example/cb"], "https://app.example/cb?x=1", null],
  [["https://app.example/cb?x=1"], "https://app.example/cb", null],
  [["https://app.example/cb?x=1"], "https://app.example/cb?x=2", null],
  [["https://app.example/cb"], "https://app.example/cb/", null],
  [["https://app.example/cb/"], "https://app.example/cb", null],
  [["https://app.example/cb"], "https://app.example/CB", null],
  [["https://app.example/cb"], "https://APP.example/cb", null],
  [["https://app.example/c%62"], "https://app.example/cb", null],
  [["https://app.example/cb"], "https://app.example/c%62", null],
  [["https://app.example/cb"], "https://app.example/cb#x", null],
  [["https://app.example/cb"], "https://app.example.evil.com/cb", null],
  [["https://app.example"], "https://app.example/", null],
  [["https://app.example:8443/cb"], "https://app.example:9443/cb", null],
  [["https://localhost:3000/cb"], "https://localhost:4000/cb", null],
  [["https://localhost:3000/cb"], "http://localhost:3000/cb", null],
  // RFC 8252 §7.3: loopback port may differ
  [["http://127.0.0.1:3000/cb"], "http://127.0.0.1:49152/cb", "http://127.0.0.1:3000/cb"],
  [["http://127.0.0.1:3000/cb"], "http://127.0.0.1/cb", "http://127.0.0.1:3000/cb"],
  [["http://127.0.0.1/cb"], "http://127.0.0.1:8080/cb", "http://127.0.0.1/cb"],
  [["http://localhost:3000/cb"], "http://localhost:5555/cb", "http://localhost:3000/cb"],
  [["http://[::1]:8080/cb"], "http://[::1]:9999/cb", "http://[::1]:8080/cb"],
  [["http://[::1]:8080/cb"], "http://[::1]/cb", "http://[::1]:8080/cb"],
  [["http://127.0.0.1:3000/cb?a=1"], "http://127.0.0.1:4000/cb?a=1", "http://127.0.0.1:3000/cb?a=1"],
  [["http://127.0.0.1:3000"], "http://127.0.0.1:4000", "http://127.0.0.1:3000"],
  [["http://127.0.0.1:3000"], "http://127.0.0.1:4000/", null],
  [["http://127.0.0.1:3000/cb"], "http://127.0.0.1:3000/cb/", null],
  [["http://127.0.0.1:3000/cb/"], "http://127.0.0.1:3000/cb", null],
  [["http://127.0.0.1:3000/cb"], "http://127.0.0.1:4000/cb/", null],
  [["http://127.0.0.1:3000/cb"], "http://127.0.0.1:4000/CB", null],
  [["http://127.0.0.1:3000/cb"], "http://127.0.0.1:3000/cb?x=1", null],
  [["http://127.0.0.1:3000/cb"], "http://127.0.0.1:4000/cb#x", null],
  [["http://127.0.0.1:3000/cb"], "http://localhost:3000/cb", null],
  [["http://localhost:3000/cb"], "http://127.0.0.1:3000/cb", null],
  [["http://[::1]:3000/cb"], "http://127.0.0.1:3000/cb", null],
  [["http://127.0.0.1:3000/cb"], "https://127.0.0.1:3000/cb", null],
  [["http://127.0.0.1:3000/cb"], "http://127.1:3000/cb", null],
  [["http://127.0.0.1:3000/cb"], "http://127.0.0.1.nip.io:3000/cb", null],
  [["http://localhost:3000/cb"], "http://localhost.evil.com:3000/cb", null],
  [["http://localhost:3000/cb"], "http://localhost:3000@evil.com/cb", null],
  [["http://localhost:8090/cb"], "http://localhost:8090%25@evil.com/cb", null],
  [["http://localhost:3000/cb"], "http://localhost:4000/x/../cb", null],
  [["http://localhost:3000/cb"], "http://localhost:4000/cb/..;/x", null],
  [["http://localhost/cb"], "http://LOCALHOST:4000/cb", null],
  // A non-canonical registered entry (never stored, but be defensive) does not match by port.
  [["http://127.1:3000/cb"], "http://127.0.0.1:4000/cb", null],
  [["com.example.app:/cb"], "com.example.app:/cb", "com.example.app:/cb"],
  [["com.example.app:/cb"], "com.example.app:/cb/", null],
  [["com.example.app:/cb"], "com.example.other:/cb", null],
  [["cursor://anysphere.cursor-retrieval/cb"], "cursor://anysphere.cursor-retrieval/cb", "cursor://anysphere.cursor-retrieval/cb"],
  [["vscode://a.b/cb"], "vscode-insiders://a.b/cb", null],
  [["https://a.example/cb", "http://127.0.0.1:3000/cb"], "http://127.0.0.1:1/cb", "http://127.0.0.1:3000/cb"],
  [["http://127.0.0.1:1/a", "http://127.0.0.1:2/b"], "http://127.0.0.1:3/b", "http://127.0.0.1:2/b"],
  [["https://a.example/cb", "https://b.example/cb"], "https://b.example/cb", "https://b.example/cb"],
  [[], "https://a.example/cb", null],
  [["javascript:alert(1)"], "javascript:alert(1)", null],
  [["myapp:/cb"], "myapp:/cb", null],
  [["https://a.example/cb#"], "https://a.example/cb#", null],
  [[""], "", null],
];

describe("matchRedirectUri", () => {
  it.each(matches)("registered %j, presented %s → %s", (registered, presented, expected) => {
    expect(matchRedirectUri(registered, presented)).toBe(expected);
  });
});

// URI-shaped strings assembled from pieces that matter (mostly benign, so some are accepted).
const pick = (common: string[], rare: string[]) =>
  fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...common) }, { weight: 1, arbitrary: fc.constantFrom(...rare) });
const uriLike = fc
  .tuple(
    pick(["https", "http", "com.example.app", "cursor", "vscode"], ["HTTP", "javascript", "JaVaScRiPt", "data",
      "file", "blob", "ws", "claude", "myapp", "java\tscript", " https", ""]),
    pick(["://"], [":", ":/", ":///", ":\\\\", ""]),
    pick([""], ["user@", ":pass@", "u:p@", "@", "%40@", "localhost:8090%25@", "a\\@"]),
    pick(["localhost", "127.0.0.1", "[::1]", "app.example"], ["127.1", "LOCALHOST", "localhost.evil.com",
      "evil.com", "0x7f.0.0.1", "[0::1]", "localhost.", ""]),
    pick(["", ":3000"], [":0", ":443", ":80", ":", ":99999"]),
    fc.array(pick(["/", "cb", "?", "x=1"], ["..", ".", "..;", "%2e", "%2E%2e", "@", "#", "\\", "\t", " ", "é",
      "&", "%25", "%40", ";"]), { maxLength: 6 }).map((a) => a.join("")),
  )
  .map((parts) => parts.join(""));
const anyString = fc.oneof(
  uriLike,
  fc.string(),
  fc.string({ unit: "binary" }),
  fc.webUrl({ withFragments: true, withQueryParameters: true }),
);

describe("properties", () => {
  it("checkRedirectUri never throws and only accepts safe URIs", () => {
    fc.assert(
      fc.property(anyString, (raw) => {
        const result = checkRedirectUri(raw);
        if (!result.ok) return;
        expect(result.uri).toBe(raw);
        expect(raw).not.toContain("#");
        expect(raw).toMatch(/^[\x21-\x7e]+$/);
        // Nothing between "//" and the end of the authority may be an "@".
        expect(/^[^:]*:\/\/[^/?]*@/.test(raw)).toBe(false);
        const url = new URL(raw);
        expect(url.username + url.password).toBe("");
        const scheme = url.protocol.slice(0, -1);
        if (scheme === "http") expect(["localhost", "127.0.0.1", "[::1]"]).toContain(url.hostname);
        expect(
          scheme === "https" || scheme === "http" || scheme.includes(".") ||
            ["cursor", "vscode", "vscode-insiders", "windsurf", "claude"].includes(scheme),
        ).toBe(true);
        expect(checkRedirectUri(result.uri)).toEqual(result);
      }),
      { numRuns: 2000 },
    );
  });

  it("checkRedirectUri never throws on arbitrary values", () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const result = checkRedirectUri(value);
        if (typeof value !== "string") expect(result.ok).toBe(false);
      }),
    );
  });

  it("matchRedirectUri only returns a registered entry, and only for a valid presented URI", () => {
    fc.assert(
      fc.property(fc.array(anyString, { maxLength: 4 }), anyString, (registered, presented) => {
        const hit = matchRedirectUri([...registered, presented], presented);
        const none = matchRedirectUri(registered, presented);
        for (const result of [hit, none]) {
          if (result === null) continue;
          expect(checkRedirectUri(presented).ok).toBe(true);
          expect([...registered, presented]).toContain(result);
        }
        expect(hit !== null).toBe(checkRedirectUri(presented).ok);
      }),
      { numRuns: 2000 },
    );
  });

  it("a loopback URI matches on any port, and nothing else about it may change", () => {
    const loopback = fc.tuple(
      fc.constantFrom("localhost", "127.0.0.1", "[::1]"),
      fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
      fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
      fc.constantFrom("/cb", "/oauth/callback", "/cb?x=1", ""),
    );
    fc.assert(
      fc.property(loopback, ([host, p1, p2, rest]) => {
        const uri = (port?: number) => (port === undefined || port === 80 ? `http://${host}${rest}` : `http://${host}:${port}${rest}`);
        expect(matchRedirectUri([uri(p1)], uri(p2))).toBe(uri(p1));
        expect(matchRedirectUri([uri(p1)], `${uri(p2)}${rest === "" ? "/x" : "/"}`)).toBeNull();
        expect(matchRedirectUri([uri(p1)], uri(p2).replace("http:", "https:"))).toBeNull();
      }),
    );
  });

  it("a non-loopback URI matches only itself", () => {
    fc.assert(
      fc.property(anyString, anyString, (registered, presented) => {
        const result = matchRedirectUri([registered], presented);
        const check = checkRedirectUri(presented);
        if (result !== null && !(check.ok && check.kind === "loopback")) expect(presented).toBe(registered);
      }),
      { numRuns: 2000 },
    );
  });
});
