import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * A failure with a stable machine-readable code, for the console API and the
 * CLI. OAuth errors have their own type (oauth/errors.ts); both are turned
 * into responses only by app/errors.ts.
 */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** Start-up cannot go on (port taken, socket refused): one clear line for the operator, exit 1. */
export class StartupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StartupError";
  }
}
