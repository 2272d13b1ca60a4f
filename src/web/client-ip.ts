import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context } from "hono";

/**
 * The caller's address: the socket's peer, or, only when GATEHOUSE_TRUST_PROXY
 * is set, the last X-Forwarded-For hop — the one our proxy appended. Earlier
 * hops are whatever the client sent, so keying a limit on them lets it pick
 * a fresh address per request.
 */
export function clientIp(c: Context, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = c.req.header("x-forwarded-for")?.split(",").at(-1)?.trim();
    if (forwarded) return forwarded.slice(0, 64);
  }
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown";
  }
}
