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
  /** Whether a level is written at all; lets a caller skip building fields that would be dropped (optional for custom loggers). */
  enabled?(level: LogLevel): boolean;
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
    // Built in one pass: this runs once per request at the default level.
    let line = `${time} ${LABEL[lvl]} ${escapeUnsafe(message)}`;
    for (const key of Object.keys(fields)) {
      // As the copy through `serializable` used to drop it.
      if (key !== "__proto__") line += ` ${escapeUnsafe(key)}=${textValue(loggable(fields[key]))}`;
    }
    write(line);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    enabled: (lvl) => RANK[lvl] >= RANK[level],
  };
}

const LABEL: Record<LogLevel, string> = { debug: "DEBUG", info: "INFO ", warn: "WARN ", error: "ERROR" };
/** Printable ASCII: nothing in it needs escaping. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** Printable ASCII but space, `"` and `\`: safe to write bare. */
const BARE_ASCII = /^[!#-[\]-~]+$/;

/**
 * C0 controls (CR, LF, ESC, ...), DEL and C1 controls, the Unicode line and
 * paragraph separators, and bidi controls (CVE-2021-42574): each could start
 * a forged line, move the cursor, or make a line read as something else.
 */
const UNSAFE = /[\p{Cc}\u061C\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]/gu;
const SHORT: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

export function escapeUnsafe(text: string): string {
  if (PRINTABLE_ASCII.test(text)) return text;
  return text.replace(UNSAFE, (ch) => SHORT[ch] ?? `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Bare when it cannot be misread (no space, quote, backslash or unsafe character); otherwise quoted and escaped. */
function textValue(value: unknown): string {
  if (typeof value === "string" && BARE_ASCII.test(value)) return value;
  // What JSON.stringify writes for a finite number, and nothing in it to escape.
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "string" && value !== "" && !/[\s"\\]/.test(value) && escapeUnsafe(value) === value) return value;
  return escapeUnsafe(JSON.stringify(value) ?? String(value));
}

function loggable(value: unknown): unknown {
  return value instanceof Error ? { name: value.name, message: value.message, stack: value.stack } : value;
}

function serializable(fields: Fields): Fields {
  const out: Fields = {};
  for (const [key, value] of Object.entries(fields)) out[key] = loggable(value);
  return out;
}

export const silentLogger: Logger = createLogger({ level: "silent" });
