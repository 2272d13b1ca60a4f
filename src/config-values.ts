/**
 * Reading one environment variable into a value, or a `ConfigError` naming
 * it: the pieces `config.ts` (the only module that reads the environment)
 * is built from.
 */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = "ConfigError";
  }
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Parses `500ms`, `60s`, `15m`, `1h`, `90d` (or a bare number of seconds). */
export function parseDuration(value: string): number | undefined {
  const match = /^(\d{1,9})(ms|s|m|h|d)?$/.exec(value.trim());
  if (!match) return undefined;
  const unit = (match[2] ?? "s") as keyof typeof UNIT_MS;
  const ms = Number(match[1]) * UNIT_MS[unit];
  return ms > 0 ? ms : undefined;
}

export type Env = Record<string, string | undefined>;

export function duration(env: Env, name: string, fallback: string): number {
  const raw = env[name] || fallback;
  const ms = parseDuration(raw);
  if (ms === undefined) throw new ConfigError(name, `expected a positive duration such as 60s, 15m, 1h or 90d, got "${raw}"`);
  return ms;
}

export function count(env: Env, name: string, fallback: number): number {
  const raw = (env[name] ?? "").trim();
  if (raw === "") return fallback;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1) throw new ConfigError(name, `expected a whole number of at least 1, got "${env[name]}"`);
  return Number(raw);
}

export function port(env: Env): number {
  const raw = env.PORT;
  if (raw === undefined || raw === "") return 8787;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535) throw new ConfigError("PORT", `expected a port number 0-65535, got "${raw}"`);
  return n;
}

export function flag(env: Env, name: string): boolean {
  const raw = (env[name] ?? "").trim().toLowerCase();
  if (["", "0", "false", "no", "off"].includes(raw)) return false;
  if (["1", "true", "yes", "on"].includes(raw)) return true;
  throw new ConfigError(name, `expected true or false, got "${env[name]}"`);
}

export function list(env: Env, name: string): string[] {
  return (env[name] ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}


/** An absolute https URL, or http on a loopback host (OAuth 2.1 §1.5 allows only that). */
export function secureUrl(raw: string, variable: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(variable, `not an absolute URL: "${raw}"`);
  }
  const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
    throw new ConfigError(variable, "must be https (http is allowed only for localhost, 127.0.0.1 or [::1])");
  }
  return url;
}
