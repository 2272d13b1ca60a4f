/**
 * The gateway's configuration file (`gatehouse.config.json`): which MCP
 * servers Gatehouse fronts and what it exposes of each. Validated with zod;
 * a bad file stops start-up with one line naming the field
 * (`upstreams[1].command: expected a string`), as `ConfigError` does for
 * environment variables.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { ConfigError } from "../config.js";

/** A tool-name prefix stays in the characters MCP tool names allow (SEP-986: A-Z a-z 0-9 _ - .). */
const TOOL_NAME_PART = /^[A-Za-z0-9_.-]*$/;

const allowDeny = z
  .object({ allow: z.array(z.string()).optional(), deny: z.array(z.string()).optional() })
  .strict()
  .optional();

const common = {
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "expected 1-64 letters, digits, _ or -"),
  /** Scopes a token needs to call this upstream's tools (tools/list shows every tool, as for our own; step-up names these). */
  scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, "expected an OAuth scope token")).optional(),
  tools: allowDeny,
  /** Upstream prompts by their upstream name. */
  prompts: allowDeny,
  /** Upstream resources by URI, and resource templates by URI template. */
  resources: allowDeny,
  prefix: z.string().max(64).regex(TOOL_NAME_PART, "expected letters, digits, _, - or .").optional(),
  /** How long one call may take before it answers with an error (default 60 s; progress resets it). */
  timeoutMs: z.number().int().positive().max(3_600_000).optional(),
};

const stdioUpstream = z
  .object({
    ...common,
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.string()).default({}),
    cwd: z.string().optional(),
  })
  .strict();

/** Header names as RFC 9110 tokens; the caller's identity travels in these, never its bearer token. */
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "expected an HTTP header name");

/**
 * A short-lived JWT naming the caller, signed by Gatehouse, on each request to an HTTP upstream
 * (README "Gateway"); the upstream checks it against Gatehouse's JWKS instead of trusting a header.
 */
const identityToken = z
  .object({
    header: headerName.default("Authorization"),
    /** Written before the token with a space; "" sends the bare token. */
    scheme: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]*$/, "expected an auth scheme such as Bearer, or \"\"").default("Bearer"),
    ttlSeconds: z.number().int().min(1, "expected at least 1").max(3600, "expected at most 3600").default(60),
    /** `aud`; default: the upstream's `url`. */
    audience: z.string().min(1).optional(),
    algorithm: z.enum(["ES256", "RS256"]).default("ES256"),
  })
  .strict();

const httpUpstream = z
  .object({
    ...common,
    url: z.url({ protocol: /^https?$/, error: "expected an http or https URL" }),
    headers: z.record(headerName, z.string()).default({}),
    identityHeaders: z
      .object({ userId: headerName.optional(), email: headerName.optional(), scopes: headerName.optional(), clientId: headerName.optional() })
      .strict()
      .default({}),
    identityToken: identityToken.optional(),
  })
  .strict()
  .superRefine((upstream, ctx) => {
    const header = upstream.identityToken?.header.toLowerCase();
    if (header === undefined) return;
    // One header, two writers: which value the upstream saw would depend on the order they are set in.
    const clash = [...Object.keys(upstream.headers), ...Object.values(upstream.identityHeaders)].find((name) => name?.toLowerCase() === header);
    if (clash) ctx.addIssue({ code: "custom", path: ["identityToken", "header"], message: `"${clash}" is also set in headers or identityHeaders` });
  });

const gatewayFile = z
  .object({
    $schema: z.string().optional(),
    upstreams: z.array(z.unknown()),
  })
  .strict();

/** An upstream as an embedder writes it (`createGatehouse({ upstreams })`): the file's shape, validated the same way. */
export type UpstreamOptions = z.input<typeof stdioUpstream> | z.input<typeof httpUpstream>;

export type StdioUpstreamConfig = z.infer<typeof stdioUpstream> & { kind: "stdio" };
export type HttpUpstreamConfig = z.infer<typeof httpUpstream> & { kind: "http" };
export type IdentityTokenConfig = z.infer<typeof identityToken>;
export type SigningAlgorithm = IdentityTokenConfig["algorithm"];
export type UpstreamConfig = StdioUpstreamConfig | HttpUpstreamConfig;

/** `upstreams[1].command` — the path zod reports, written the way the file reads. */
function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, part) => (typeof part === "number" ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part)), "");
}

function message(issue: z.core.$ZodIssue): string {
  // zod's own texts ("Invalid input: expected array, received string") read as library output; these read as the file does.
  if (issue.code === "invalid_type") return `expected ${/^[aeiou]/.test(issue.expected) ? "an" : "a"} ${issue.expected}`;
  if (issue.code === "unrecognized_keys") return `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
  return issue.message;
}

/**
 * Validates a parsed configuration. `source` names it in errors (the file
 * path, or `upstreams` for one given in code).
 */
export function parseGatewayConfig(value: unknown, source = "gateway config"): UpstreamConfig[] {
  const fail = (issue: z.core.$ZodIssue, prefix: PropertyKey[] = []): never => {
    const where = fieldPath([...prefix, ...issue.path]);
    throw new ConfigError(source, `${where ? `${where}: ` : ""}${message(issue)}`);
  };
  const file = gatewayFile.safeParse(value);
  if (!file.success) return fail(file.error.issues[0]!);
  const seen = new Set<string>();
  return file.data.upstreams.map((entry, i) => {
    // The shape is chosen by `url`, not by a zod union: a union would report a stdio entry without `command` against the HTTP shape.
    const isHttp = typeof entry === "object" && entry !== null && "url" in entry;
    const parsed = (isHttp ? httpUpstream : stdioUpstream).safeParse(entry);
    if (!parsed.success) return fail(parsed.error.issues[0]!, ["upstreams", i]);
    if (seen.has(parsed.data.name)) throw new ConfigError(source, `upstreams[${i}].name: "${parsed.data.name}" is used twice`);
    seen.add(parsed.data.name);
    return { ...parsed.data, kind: isHttp ? "http" : "stdio" } as UpstreamConfig;
  });
}

/** Reads and validates the file at `path` (GATEHOUSE_CONFIG or `gatehouse start --config`). */
export function loadGatewayConfig(path: string): UpstreamConfig[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(path, `cannot read the file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(path, `not valid JSON: ${(error as Error).message}`);
  }
  return parseGatewayConfig(value, path);
}

/** The Gatehouse name of an upstream tool: `<prefix><name>`, the prefix defaulting to `<upstream>_`. */
export function exposedName(upstream: Pick<UpstreamConfig, "name" | "prefix">, tool: string): string {
  return `${upstream.prefix ?? `${upstream.name}_`}${tool}`;
}

/** Whether the allow/deny lists let an upstream tool through (deny wins; no allow list allows all). */
export function toolAllowed(upstream: Pick<UpstreamConfig, "tools">, tool: string): boolean {
  return allowed(upstream.tools, tool);
}

/** The same rule for any allow/deny list: deny wins; no allow list allows all. */
export function allowed(filter: { allow?: string[] | undefined; deny?: string[] | undefined } | undefined, name: string): boolean {
  if (filter?.deny?.includes(name)) return false;
  return filter?.allow ? filter.allow.includes(name) : true;
}
