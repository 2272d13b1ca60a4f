/**
 * What a request handler throws reaches the client: the SDK answers with
 * the error's message (a tool's becomes the text of its error result). A
 * database error's message is the SQL with its parameters — and, for a
 * value the index cannot hold, the value itself — so it must never get
 * there (PRODUCT §8: no internal text to clients). Such errors become a
 * generic internal error and are reported to the log with their cause;
 * anything else a handler throws is the handler's own message and passes.
 */
import { ProtocolError, ProtocolErrorCode } from "@modelcontextprotocol/server";
import { DrizzleQueryError } from "drizzle-orm";
import { DatabaseUnavailableError } from "../storage/db.js";

export type ReportError = (error: unknown) => void;

/** An error from the database or its drivers, anywhere in the `cause` chain. */
export function isDatabaseError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof DrizzleQueryError || e instanceof DatabaseUnavailableError) return true;
    const { code, severity, message } = e as { code?: unknown; severity?: unknown; message?: unknown };
    // pg's and PGlite's DatabaseError: a SQLSTATE and a severity.
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) && typeof severity === "string") return true;
    if (typeof message === "string" && message.startsWith("Failed query:")) return true;
  }
  return false;
}

/** JSON-RPC 2.0 §5.1 internal error, with nothing of its cause. */
export function internalError(): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InternalError, "Internal error");
}

/** Runs a handler; a database error it throws is reported and replaced by a generic internal error. */
export async function hidingDatabaseErrors<T>(report: ReportError | undefined, run: () => T | Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!isDatabaseError(error)) throw error;
    report?.(error);
    throw internalError();
  }
}
