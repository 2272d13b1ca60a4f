/** A small structured logger: one line per event, text or JSON. Never given tokens. */
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
      .map(([k, v]) => `${k}=${typeof v === "string" && !/\s/.test(v) ? v : JSON.stringify(v)}`)
      .join(" ");
    write(`${time} ${lvl.toUpperCase().padEnd(5)} ${message}${rest ? ` ${rest}` : ""}`);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

function serializable(fields: Fields): Fields {
  const out: Fields = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = value instanceof Error ? { name: value.name, message: value.message, stack: value.stack } : value;
  }
  return out;
}

export const silentLogger: Logger = createLogger({ level: "silent" });
