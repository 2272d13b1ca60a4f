/**
 * A small structured logger: one line per event, text or JSON. Never given
 * tokens. Fields carry request data (paths, client ids, addresses), so the
 * text format escapes whatever could end a line or rewrite the terminal: a
 * request must never forge a log line.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
type Fields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
}

const RANK: Record<LogLevel | "silent", number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export interface LoggerOptions {
  level?: LogLevel | "silent";
  format?: "text" | "json";
  write?: (line: string) => void;
  now?: () => number;
}

export function createLogger({
  level = "info",
  format = "text",
  write = (line) => process.stderr.write(`${line}\n`),
  now = Date.now,
}: LoggerOptions = {}): Logger {
  const emit = (lvl: LogLevel, message: string, fields: Fields = {}) => {
    if (RANK[lvl] < RANK[level]) return;
    const time = new Date(now()).toISOString();
    if (format === "json") {
      write(JSON.stringify({ time, level: lvl, msg: message, ...serializable(fields) }));
      return;
    }
    const rest = Object.entries(serializable(fields))
      .map(([k, v]) => `${escapeUnsafe(k)}=${textValue(v)}`)
      .join(" ");
    write(`${time} ${lvl.toUpperCase().padEnd(5)} ${escapeUnsafe(message)}${rest ? ` ${rest}` : ""}`);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

/**
 * C0 controls (CR, LF, ESC, ...), DEL and C1 controls, the Unicode line and
 * paragraph separators, and bidi controls (CVE-2021-42574): each could start
 * a forged line, move the cursor, or make a line read as something else.
 */
const UNSAFE = /[\p{Cc}\u061C\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]/gu;
const SHORT: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

export function escapeUnsafe(text: string): string {
  return text.replace(UNSAFE, (ch) => SHORT[ch] ?? `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Bare when it cannot be misread (no space, quote, backslash or unsafe character); otherwise quoted and escaped. */
function textValue(value: unknown): string {
  if (typeof value === "string" && value !== "" && !/[\s"\\]/.test(value) && escapeUnsafe(value) === value) return value;
  return escapeUnsafe(JSON.stringify(value) ?? String(value));
}

function serializable(fields: Fields): Fields {
  const out: Fields = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = value instanceof Error ? { name: value.name, message: value.message, stack: value.stack } : value;
  }
  return out;
}

export const silentLogger: Logger = createLogger({ level: "silent" });
