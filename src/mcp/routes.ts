/**
 * /mcp: DNS-rebinding protection (Origin, and Host when serving on
 * loopback), CORS for allowed browser origins, bearer authentication, then
 * the endpoint. The transport itself never sees a token it has to check.
 */
import { Hono } from "hono";
import { cors } from "hono/cors";
import { requireBearer, type BearerDeps, type BearerVariables } from "../oauth/bearer.js";
import type { McpEndpoint } from "./endpoint.js";
import { jsonRpcError } from "./json-rpc.js";
import type { GatehouseAuthInfo } from "./registry.js";

export interface McpRoutesDeps extends BearerDeps {
  endpoint: McpEndpoint;
  publicUrl: string;
  allowedOrigins: readonly string[];
}

const LOOPBACK = ["localhost", "127.0.0.1", "[::1]"];

/** Hosts a loopback server answers to: a rebinding attack arrives with the attacker's host name. */
function allowedHosts(publicUrl: string): Set<string> | null {
  const url = new URL(publicUrl);
  if (!LOOPBACK.includes(url.hostname)) return null;
  const port = url.port ? `:${url.port}` : "";
  return new Set(LOOPBACK.map((host) => `${host}${port}`));
}

export function mcpRoutes(deps: McpRoutesDeps) {
  const app = new Hono<{ Variables: BearerVariables }>();
  const hosts = allowedHosts(deps.publicUrl);
  const origins = new Set(deps.allowedOrigins);

  app.use("/mcp", async function checkOrigin(c, next) {
    const origin = c.req.header("origin");
    // MCP transports §Security: validate Origin on every request; absent (non-browser clients) is fine.
    if (origin !== undefined && !origins.has(origin)) return jsonRpcError(403, -32000, "Forbidden: origin not allowed");
    const host = c.req.header("host");
    if (hosts && host !== undefined && !hosts.has(host.toLowerCase())) return jsonRpcError(403, -32000, "Forbidden: host not allowed");
    await next();
  });
  const browserCors = cors({
    origin: (origin) => (origins.has(origin) ? origin : null),
    allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
    allowHeaders: ["Authorization", "Content-Type", "Accept", "Mcp-Session-Id", "MCP-Protocol-Version", "Last-Event-ID", "Mcp-Method", "Mcp-Name"],
    exposeHeaders: ["Mcp-Session-Id", "WWW-Authenticate"],
    maxAge: 600,
  });
  // CORS headers mean something only to a browser, and a browser's cross-origin request carries Origin
  // (Fetch §3.2), so requests without one skip the middleware: it sets headers before the handler runs,
  // which makes Hono rebuild every response around a stream — a fifth of a small 2026-07-28 call. Nor do
  // they get `Vary: Origin`, which protects cached responses (Fetch §3.2.5); /mcp answers POSTs and
  // event streams, which are not cached.
  app.use("/mcp", function corsForBrowsers(c, next) {
    return c.req.header("origin") === undefined ? next() : browserCors(c, next);
  });
  app.use("/mcp", requireBearer(deps));
  app.all("/mcp", (c) => {
    // c.get, not c.var: c.var copies every variable into a fresh object on each read.
    const auth = c.get("auth");
    const authInfo: GatehouseAuthInfo = {
      token: auth.token,
      clientId: auth.clientId,
      scopes: auth.scopes,
      expiresAt: Math.floor(auth.expiresAt / 1000),
      resource: new URL(auth.resource),
      resourceMetadataUrl: `${deps.publicUrl}/.well-known/oauth-protected-resource/mcp`,
      extra: { userId: auth.userId, email: auth.userEmail, clientName: auth.clientName, connectionId: auth.connectionId },
    };
    return deps.endpoint.handle(c.req.raw, authInfo);
  });
  return app;
}
