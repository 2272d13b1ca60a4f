import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULT_MCP_LIMITS, loadConfig, normalizePublicUrl, parseDuration } from "./config.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Runs `fn` and returns the ConfigError it throws (fails the test if it throws anything else or nothing). */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError, nothing was thrown");
}

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["60s", 60_000],
    ["15m", 15 * 60_000],
    ["1h", HOUR],
    ["90d", 90 * DAY],
    ["30", 30_000],
    [" 5s ", 5_000],
  ])("parses %j as %d ms", (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(["", "soon", "0", "0s", "-5s", "1.5h", "1 h", "1w", "h", "1hh", "1e3"])("rejects %j", (input) => {
    expect(parseDuration(input)).toBeUndefined();
  });
});

describe("normalizePublicUrl", () => {
  it.each([
    ["https://example.com/", "https://example.com"],
    ["https://example.com//", "https://example.com"],
    ["https://Example.COM:443/", "https://example.com"],
    ["http://localhost:8787/", "http://localhost:8787"],
    ["http://127.0.0.1:9000", "http://127.0.0.1:9000"],
    ["http://[::1]:8787/", "http://[::1]:8787"],
  ])("normalises %j to %j", (input, output) => {
    expect(normalizePublicUrl(input)).toBe(output);
  });

  it.each([
    "http://example.com",
    "http://10.0.0.1:8787",
    "ftp://example.com",
    "example.com",
    "https://example.com/?a=1",
    "https://example.com/#frag",
    "https://user@example.com",
    "https://user:pw@example.com",
  ])("rejects %j naming the variable", (input) => {
    const error = configError(() => normalizePublicUrl(input));
    expect(error.variable).toBe("GATEHOUSE_PUBLIC_URL");
    expect(error.message.startsWith("GATEHOUSE_PUBLIC_URL: ")).toBe(true);
  });

  // Regression: an empty query or fragment ("?" / "#" with nothing after)
  // survives `url.search`/`url.hash` checks, so the issuer keeps a trailing "?" or "#"
  // (RFC 8414 §2: the issuer has no query or fragment).
  it.each(["https://example.com/?", "https://example.com/#"])("rejects the empty query/fragment in %j", (input) => {
    configError(() => normalizePublicUrl(input));
  });

  // RFC 8414 §3.1 / RFC 9728 §3.1: a path would move the discovery documents to path-inserted URLs we do not serve.
  it.each(["https://example.com/base", "https://example.com/base/", "https://example.com/mcp", "http://localhost:8787/gatehouse/", "https://example.com/%2F"])(
    "rejects the path in %j with one line naming the variable",
    (input) => {
      const error = configError(() => normalizePublicUrl(input));
      expect(error.message).toBe(`GATEHOUSE_PUBLIC_URL: must be an origin without a path (such as https://mcp.example.com), got "${input}"`);
    },
  );

  it("names the variable it was given", () => {
    expect(configError(() => normalizePublicUrl("nope", "ISSUER")).message).toMatch(/^ISSUER: /);
  });
});

describe("loadConfig defaults", () => {
  const config = loadConfig({});

  it("serves on 8787 with a loopback public URL, listening on loopback only", () => {
    expect(config.port).toBe(8787);
    expect(config.publicUrl).toBe("http://localhost:8787");
    expect(config.host).toBe("127.0.0.1");
  });

  it("uses PGlite under ./data", () => {
    expect(config.databaseUrl).toBeUndefined();
    expect(config.dataDir).toBe(path.resolve("./data"));
  });

  it("fronts no upstream servers unless GATEHOUSE_CONFIG names a file (resolved to an absolute path)", () => {
    expect(config.configFile).toBeUndefined();
    expect(loadConfig({ GATEHOUSE_CONFIG: "gatehouse.config.json" }).configFile).toBe(path.resolve("gatehouse.config.json"));
  });

  it("has the §4 token lifetimes", () => {
    expect(config.accessTokenTtlMs).toBe(HOUR);
    expect(config.refreshTokenTtlMs).toBe(90 * DAY);
    expect(config.authCodeTtlMs).toBe(60_000);
    expect(config.eventTtlMs).toBe(HOUR);
  });

  it("allows only the public URL's origin by default", () => {
    expect(config.allowedOrigins).toEqual(["http://localhost:8787"]);
    expect(loadConfig({ GATEHOUSE_PUBLIC_URL: "https://gate.example.com:8443/" }).allowedOrigins).toEqual([
      "https://gate.example.com:8443",
    ]);
  });

  it("trusts no proxy, allow-lists no CIMD host, logs text at info", () => {
    expect(config.trustProxy).toBe(false);
    expect(config.cimdAllowHosts).toEqual([]);
    expect(config.logFormat).toBe("text");
    expect(config.logLevel).toBe("info");
  });

  it("has the README's /mcp limits", () => {
    expect(config.mcpLimits).toEqual({
      maxBodyBytes: 4 * 1024 * 1024,
      maxSessionsPerUser: 100,
      maxGetStreamsPerUser: 20,
      maxClientInfoBytes: 8 * 1024,
      maxEventsPerStream: 10_000,
      maxNameChars: 200,
      maxUriChars: 2048,
      maxSubscriptionsPerSession: 100,
    });
  });

  it("treats empty variables as unset", () => {
    const empty = loadConfig({ PORT: "", DATABASE_URL: "", GATEHOUSE_ACCESS_TOKEN_TTL: "", GATEHOUSE_PUBLIC_URL: "" });
    expect(empty.port).toBe(8787);
    expect(empty.databaseUrl).toBeUndefined();
    expect(empty.accessTokenTtlMs).toBe(HOUR);
    expect(empty.publicUrl).toBe("http://localhost:8787");
  });
});

describe("loadConfig from the environment", () => {
  it("derives the default public URL from PORT", () => {
    const config = loadConfig({ PORT: "9000" });
    expect(config.port).toBe(9000);
    expect(config.publicUrl).toBe("http://localhost:9000");
  });

  it("removes the trailing slash of GATEHOUSE_PUBLIC_URL", () => {
    expect(loadConfig({ GATEHOUSE_PUBLIC_URL: "https://gate.example.com/" }).publicUrl).toBe("https://gate.example.com");
  });

  it("reads durations in every unit", () => {
    const config = loadConfig({
      GATEHOUSE_ACCESS_TOKEN_TTL: "500ms",
      GATEHOUSE_REFRESH_TOKEN_TTL: "90d",
      GATEHOUSE_AUTH_CODE_TTL: "60s",
      GATEHOUSE_EVENT_TTL: "120",
    });
    expect(config.accessTokenTtlMs).toBe(500);
    expect(config.refreshTokenTtlMs).toBe(90 * DAY);
    expect(config.authCodeTtlMs).toBe(60_000);
    expect(config.eventTtlMs).toBe(120_000);
  });

  it("reads the database, data dir, flags and lists", () => {
    const config = loadConfig({
      DATABASE_URL: "postgresql://u@db:5432/g",
      GATEHOUSE_DATA_DIR: "/var/lib/gatehouse",
      GATEHOUSE_TRUST_PROXY: "yes",
      GATEHOUSE_ALLOWED_ORIGINS: "https://a.example/path, http://localhost:3000/",
      GATEHOUSE_CIMD_ALLOW_HOSTS: "Localhost, ,cimd.test",
      GATEHOUSE_LOG_FORMAT: "json",
      GATEHOUSE_LOG_LEVEL: "warn",
    });
    expect(config.databaseUrl).toBe("postgresql://u@db:5432/g");
    expect(config.dataDir).toBe("/var/lib/gatehouse");
    expect(config.trustProxy).toBe(true);
    expect(config.allowedOrigins).toEqual(["https://a.example", "http://localhost:3000"]);
    expect(config.cimdAllowHosts).toEqual(["localhost", "cimd.test"]);
    expect(config.logFormat).toBe("json");
    expect(config.logLevel).toBe("warn");
  });

  it("reads the /mcp limits operators tune", () => {
    const config = loadConfig({ GATEHOUSE_MAX_SESSIONS_PER_USER: "500", GATEHOUSE_MAX_STREAMS_PER_USER: " 40 ", GATEHOUSE_MAX_EVENTS_PER_STREAM: "1000" });
    expect(config.mcpLimits).toEqual({ ...DEFAULT_MCP_LIMITS, maxSessionsPerUser: 500, maxGetStreamsPerUser: 40, maxEventsPerStream: 1000 });
  });

  it.each(["1", "true", "on", "TRUE"])("GATEHOUSE_TRUST_PROXY=%s is true", (value) => {
    expect(loadConfig({ GATEHOUSE_TRUST_PROXY: value }).trustProxy).toBe(true);
  });

  it.each(["0", "false", "off", "no"])("GATEHOUSE_TRUST_PROXY=%s is false", (value) => {
    expect(loadConfig({ GATEHOUSE_TRUST_PROXY: value }).trustProxy).toBe(false);
  });
});

describe("default listening address (issue 9, 7e)", () => {
  it.each([
    [{}, "127.0.0.1"],
    [{ PORT: "9000" }, "127.0.0.1"],
    [{ GATEHOUSE_PUBLIC_URL: "http://localhost:8787" }, "127.0.0.1"],
    [{ GATEHOUSE_PUBLIC_URL: "http://127.0.0.1:8787" }, "127.0.0.1"],
    [{ GATEHOUSE_PUBLIC_URL: "http://[::1]:8787" }, "::1"],
    [{ GATEHOUSE_PUBLIC_URL: "https://gate.example.com" }, "0.0.0.0"],
    [{ GATEHOUSE_PUBLIC_URL: "https://localhost:8443" }, "0.0.0.0"],
  ])("%j listens on %s", (env, host) => {
    expect(loadConfig(env).host).toBe(host);
  });

  it("follows an overriding public URL", () => {
    expect(loadConfig({}, { publicUrl: "https://o.example" }).host).toBe("0.0.0.0");
  });

  it("HOST always wins", () => {
    expect(loadConfig({ HOST: "0.0.0.0" }).host).toBe("0.0.0.0");
    expect(loadConfig({ HOST: "::", GATEHOUSE_PUBLIC_URL: "https://gate.example.com" }).host).toBe("::");
  });
});

describe("GATEHOUSE_CIMD_ALLOW_HOSTS (issue 9, 7d)", () => {
  it("takes hosts and host:port, lower-cased, as the fetcher compares them", () => {
    const config = loadConfig({ GATEHOUSE_CIMD_ALLOW_HOSTS: "CIMD.Example.com, localhost:8443,127.0.0.1,[::1]:9443, intranet" });
    expect(config.cimdAllowHosts).toEqual(["cimd.example.com", "localhost:8443", "127.0.0.1", "[::1]:9443", "intranet"]);
  });

  it.each([
    "https://cimd.example.com",
    "cimd.example.com/path",
    "*.example.com",
    "user@cimd.example.com",
    "cimd.example.com:",
    "cimd.example.com:0",
    "cimd.example.com:70000",
    "cimd.example.com:https",
    "::1",
    "[::1",
    "[0:0::1]",
    "127.1",
    "0x7f.0.0.1",
    "cimd example.com",
    "cimd.example.com.",
    "-cimd.example.com",
    "bücher.example",
  ])("refuses %j with one line naming the variable", (entry) => {
    const error = configError(() => loadConfig({ GATEHOUSE_CIMD_ALLOW_HOSTS: `localhost, ${entry}` }));
    expect(error.variable).toBe("GATEHOUSE_CIMD_ALLOW_HOSTS");
    expect(error.message).toBe(
      `GATEHOUSE_CIMD_ALLOW_HOSTS: expected comma-separated host or host:port entries (such as cimd.example.com, localhost:8443), got "${entry}"`,
    );
  });
});

describe("loadConfig overrides", () => {
  it("take precedence over the environment without validating what they replace", () => {
    const config = loadConfig({ PORT: "abc" }, { port: 0, host: "127.0.0.1", dataDir: "/tmp/x" });
    expect(config.port).toBe(0);
    expect(config.host).toBe("127.0.0.1");
    expect(config.dataDir).toBe("/tmp/x");
  });

  it("normalise an overriding public URL and derive the origins from it", () => {
    const config = loadConfig({}, { publicUrl: "https://o.example/" });
    expect(config.publicUrl).toBe("https://o.example");
    expect(config.allowedOrigins).toEqual(["https://o.example"]);
  });

  it("refuse an overriding public URL with a path", () => {
    expect(configError(() => loadConfig({}, { publicUrl: "https://o.example/base" })).variable).toBe("GATEHOUSE_PUBLIC_URL");
  });

  it("ignore undefined values", () => {
    expect(loadConfig({ PORT: "9001" }, { port: undefined }).port).toBe(9001);
  });

  it("change only the /mcp limits they name, over the environment", () => {
    const config = loadConfig({ GATEHOUSE_MAX_EVENTS_PER_STREAM: "none", GATEHOUSE_MAX_STREAMS_PER_USER: "7" }, { mcpLimits: { maxEventsPerStream: 20, maxNameChars: undefined } });
    expect(config.mcpLimits).toEqual({ ...DEFAULT_MCP_LIMITS, maxEventsPerStream: 20, maxGetStreamsPerUser: 7 });
  });
});

describe("bad configuration names the variable", () => {
  it.each([
    ["PORT", { PORT: "abc" }],
    ["PORT", { PORT: "70000" }],
    ["PORT", { PORT: "-1" }],
    ["PORT", { PORT: "80.5" }],
    ["GATEHOUSE_ACCESS_TOKEN_TTL", { GATEHOUSE_ACCESS_TOKEN_TTL: "soon" }],
    ["GATEHOUSE_REFRESH_TOKEN_TTL", { GATEHOUSE_REFRESH_TOKEN_TTL: "0d" }],
    ["GATEHOUSE_AUTH_CODE_TTL", { GATEHOUSE_AUTH_CODE_TTL: "1.5m" }],
    ["GATEHOUSE_EVENT_TTL", { GATEHOUSE_EVENT_TTL: "forever" }],
    ["GATEHOUSE_PUBLIC_URL", { GATEHOUSE_PUBLIC_URL: "http://example.com" }],
    ["GATEHOUSE_PUBLIC_URL", { GATEHOUSE_PUBLIC_URL: "https://example.com/?x=1" }],
    ["GATEHOUSE_PUBLIC_URL", { GATEHOUSE_PUBLIC_URL: "https://example.com/#top" }],
    ["GATEHOUSE_PUBLIC_URL", { GATEHOUSE_PUBLIC_URL: "https://admin:secret@example.com" }],
    ["GATEHOUSE_PUBLIC_URL", { GATEHOUSE_PUBLIC_URL: "not a url" }],
    ["GATEHOUSE_PUBLIC_URL", { GATEHOUSE_PUBLIC_URL: "https://example.com/gatehouse" }],
    ["DATABASE_URL", { DATABASE_URL: "mysql://x" }],
    ["DATABASE_URL", { DATABASE_URL: "127.0.0.1:5432" }],
    ["GATEHOUSE_TRUST_PROXY", { GATEHOUSE_TRUST_PROXY: "maybe" }],
    ["GATEHOUSE_ALLOWED_ORIGINS", { GATEHOUSE_ALLOWED_ORIGINS: "notaurl" }],
    ["GATEHOUSE_ALLOWED_ORIGINS", { GATEHOUSE_ALLOWED_ORIGINS: "https://ok.example, mailto:x@example.com" }],
    ["GATEHOUSE_LOG_FORMAT", { GATEHOUSE_LOG_FORMAT: "xml" }],
    ["GATEHOUSE_ERROR_REDIRECTS", { GATEHOUSE_ERROR_REDIRECTS: "never" }],
    ["GATEHOUSE_LOG_LEVEL", { GATEHOUSE_LOG_LEVEL: "verbose" }],
    ["GATEHOUSE_MAX_SESSIONS_PER_USER", { GATEHOUSE_MAX_SESSIONS_PER_USER: "0" }],
    ["GATEHOUSE_MAX_STREAMS_PER_USER", { GATEHOUSE_MAX_STREAMS_PER_USER: "2.5" }],
    ["GATEHOUSE_MAX_EVENTS_PER_STREAM", { GATEHOUSE_MAX_EVENTS_PER_STREAM: "lots" }],
    ...["gatehouse", "/", "/gatehouse/", "/a/../b", "/..", "/a/./b", "/a//b", "/console?x=1", "/console#top", "/con sole", "/caf%C3%A9",
      "/mcp", "/MCP", "/oauth", "/oauth/console", "/.well-known", "/healthz", "/readyz"].map(
      (value): [string, Record<string, string>] => ["GATEHOUSE_CONSOLE_PATH", { GATEHOUSE_CONSOLE_PATH: value }],
    ),
  ])("%s in %j", (variable, env) => {
    const error = configError(() => loadConfig(env));
    expect(error.variable).toBe(variable);
    expect(error.message.startsWith(`${variable}: `)).toBe(true);
    expect(error.message).not.toContain("\n");
  });

  it("quotes the offending value so the line is actionable", () => {
    expect(configError(() => loadConfig({ PORT: "abc" })).message).toBe('PORT: expected a port number 0-65535, got "abc"');
    expect(configError(() => loadConfig({ GATEHOUSE_ACCESS_TOKEN_TTL: "soon" })).message).toContain('"soon"');
  });
});

describe("GATEHOUSE_CONSOLE_PATH (issue 11, 3)", () => {
  it("is the root by default, and takes a path of one or more segments", () => {
    expect(loadConfig({}).consolePath).toBe("");
    expect(loadConfig({ GATEHOUSE_CONSOLE_PATH: "" }).consolePath).toBe("");
    expect(loadConfig({ GATEHOUSE_CONSOLE_PATH: "/gatehouse" }).consolePath).toBe("/gatehouse");
    expect(loadConfig({ GATEHOUSE_CONSOLE_PATH: "/apps/mcp-console.v2" }).consolePath).toBe("/apps/mcp-console.v2");
    expect(loadConfig({ GATEHOUSE_CONSOLE_PATH: "/mcp-console" }).consolePath).toBe("/mcp-console");
  });

  it("says what is wrong in one line naming the variable, with the value", () => {
    expect(configError(() => loadConfig({ GATEHOUSE_CONSOLE_PATH: "/gatehouse/" })).message).toBe(
      'GATEHOUSE_CONSOLE_PATH: must not end with "/" (leave it empty for the root), got "/gatehouse/"',
    );
    expect(configError(() => loadConfig({ GATEHOUSE_CONSOLE_PATH: "/oauth" })).message).toBe(
      'GATEHOUSE_CONSOLE_PATH: must not be /oauth or under it (/mcp, /oauth, /.well-known, /healthz, /readyz stay at the root), got "/oauth"',
    );
  });

  it("checks an embedder's override like the variable, naming consolePath", () => {
    expect(loadConfig({ GATEHOUSE_CONSOLE_PATH: "/a" }, { consolePath: "/b" }).consolePath).toBe("/b");
    const error = configError(() => loadConfig({}, { consolePath: "/.well-known" }));
    expect(error.variable).toBe("consolePath");
    expect(error.message).not.toContain("\n");
  });
});

describe("the oidc identity source (GATEHOUSE_IDENTITY=oidc)", () => {
  const base = { GATEHOUSE_IDENTITY: "oidc", GATEHOUSE_OIDC_ISSUER: "https://id.example.com/realms/main", GATEHOUSE_OIDC_CLIENT_ID: "gatehouse" };

  it("is off by default", () => {
    expect(loadConfig({}).oidc).toBeUndefined();
  });

  it("reads issuer (kept as given), client, secret, domains and groups", () => {
    expect(
      loadConfig({
        ...base,
        GATEHOUSE_OIDC_CLIENT_SECRET: "s3cret",
        GATEHOUSE_OIDC_ALLOWED_DOMAINS: "Example.com, corp.example.org",
        GATEHOUSE_OIDC_GROUPS_CLAIM: "roles",
        GATEHOUSE_OIDC_ALLOWED_GROUPS: "mcp, admins",
      }).oidc,
    ).toEqual({
      issuer: "https://id.example.com/realms/main",
      clientId: "gatehouse",
      clientSecret: "s3cret",
      allowedDomains: ["example.com", "corp.example.org"],
      groupsClaim: "roles",
      allowedGroups: ["mcp", "admins"],
    });
  });

  it("is a public client without a secret, with the default groups claim", () => {
    expect(loadConfig(base).oidc).toMatchObject({ clientSecret: undefined, groupsClaim: "groups", allowedGroups: [], allowedDomains: [] });
  });

  it.each([
    [{ GATEHOUSE_IDENTITY: "saml" }, "GATEHOUSE_IDENTITY"],
    [{ GATEHOUSE_OIDC_ISSUER: "https://id.example.com" }, "GATEHOUSE_OIDC_ISSUER"],
    [{ ...base, GATEHOUSE_OIDC_ISSUER: "" }, "GATEHOUSE_OIDC_ISSUER"],
    [{ ...base, GATEHOUSE_OIDC_CLIENT_ID: "" }, "GATEHOUSE_OIDC_CLIENT_ID"],
    [{ ...base, GATEHOUSE_OIDC_ISSUER: "http://id.example.com" }, "GATEHOUSE_OIDC_ISSUER"],
    [{ ...base, GATEHOUSE_OIDC_ISSUER: "https://id.example.com/?x=1" }, "GATEHOUSE_OIDC_ISSUER"],
    [{ ...base, GATEHOUSE_OIDC_ISSUER: "id.example.com" }, "GATEHOUSE_OIDC_ISSUER"],
    [{ ...base, GATEHOUSE_OIDC_ALLOWED_DOMAINS: "@example.com" }, "GATEHOUSE_OIDC_ALLOWED_DOMAINS"],
    [{ ...base, GATEHOUSE_OIDC_GROUPS_CLAIM: "roles" }, "GATEHOUSE_OIDC_GROUPS_CLAIM"],
  ])("refuses %j naming %s", (env, variable) => {
    expect(configError(() => loadConfig(env)).variable).toBe(variable);
  });

  it("allows an http issuer on loopback only (development)", () => {
    expect(loadConfig({ ...base, GATEHOUSE_OIDC_ISSUER: "http://localhost:9000" }).oidc?.issuer).toBe("http://localhost:9000");
  });
});
