import type { MiddlewareHandler } from "hono";
import type { Logger } from "../logger.js";
import { wasUnrouted } from "./unrouted.js";

/** One line per request. Only the path is logged: query strings can carry codes and tokens. */
export function requestLog(logger: Logger, now: () => number = () => performance.now()): MiddlewareHandler {
  // Below info (warn, silent) the line would be dropped: then there is nothing to time or build per request.
  if (logger.enabled?.("info") === false) return (_c, next) => next();
  return async function logRequest(c, next) {
    const started = now();
    await next();
    // Handed on to the host app (node-handler.ts): its request, not ours.
    if (wasUnrouted(c.env)) return;
    logger.info("request", {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round((now() - started) * 10) / 10,
    });
  };
}
