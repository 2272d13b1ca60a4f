/**
 * startServer: Gatehouse (gatehouse.ts, the composition root) behind a Node
 * HTTP listener. This file only listens: socket timeouts, errors Node answers
 * before the app sees a request, and a graceful stop on close().
 */
import type http from "node:http";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import type { Clock } from "./clock.js";
import type { Config } from "./config.js";
import { StartupError } from "./errors.js";
import { createGatehouse, type Gatehouse, type GatehouseOptions } from "./gatehouse.js";
import { createLogger, type Logger } from "./logger.js";
import type { ServiceDeps, Services } from "./services.js";
import type { Database } from "./storage/db.js";

export { StartupError } from "./errors.js";

export interface StartOptions {
  config: Config;
  logger?: Logger;
  clock?: Clock;
  /** Called with the one-time first-account link when the database has no users, once the server listens. */
  onSetupLink?: (url: string) => void;
  /** How long SIGTERM waits for open requests and streams before closing them. */
  drainMs?: number;
  /** An already open database (tests, embedding); closed with the server. Otherwise opened from config. */
  database?: Database;
  /** Test and advanced overrides for the services (see createGatehouse). */
  appDeps?: GatehouseOptions["appDeps"];
  /** Tools, resources, prompts and server options (see createGatehouse). */
  gatehouse?: Omit<GatehouseOptions, "config" | "database" | "clock" | "logger" | "appDeps" | "onSetupLink">;
}

export interface RunningServer {
  url: string;
  port: number;
  deps: ServiceDeps;
  services: Services;
  gatehouse: Gatehouse;
  close(): Promise<void>;
}

/** Requests Node refuses before they reach the app (oversized headers, malformed HTTP) still get a JSON error. */
function answerClientErrors(server: http.Server): void {
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const status = error.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
    const body = JSON.stringify({ error: "invalid_request", error_description: status === 431 ? "Request headers too large." : "Malformed HTTP request." });
    socket.end(
      `HTTP/1.1 ${status} ${status === 431 ? "Request Header Fields Too Large" : "Bad Request"}\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}

function listenError(error: unknown, config: Config): StartupError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "EADDRINUSE") return new StartupError(`port ${config.port} is already in use (set PORT or --port)`);
  if (code === "EACCES") return new StartupError(`no permission to listen on port ${config.port}`);
  return new StartupError(`cannot listen on ${config.host}:${config.port}: ${(error as Error).message}`);
}

export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { config } = options;
  const logger = options.logger ?? createLogger({ level: config.logLevel, format: config.logFormat });
  // The link is handed out once the server answers it.
  let setupLink: string | null = null;
  const gatehouse = await createGatehouse({
    ...options.gatehouse,
    config,
    logger,
    onSetupLink: (url) => (setupLink = url),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.database ? { database: options.database } : {}),
    ...(options.appDeps ? { appDeps: options.appDeps } : {}),
  });
  const { database, deps, services } = gatehouse;
  const closeAll = async () => {
    await gatehouse.close();
    if (options.database) await database.close();
  };

  let closing: Promise<void> | null = null;
  // Once shutting down, a request on a kept-alive connection (one that just finished a response or stream)
  // is turned away and the socket closed, so the client retries on another node instead of this one.
  const fetch: typeof gatehouse.app.fetch = (request, ...rest) =>
    closing
      ? Response.json(
          { error: "temporarily_unavailable", error_description: "The server is shutting down." },
          { status: 503, headers: { "Retry-After": "1", Connection: "close", "Cache-Control": "no-store" } },
        )
      : gatehouse.app.fetch(request, ...rest);
  const server = createAdaptorServer({ fetch }) as http.Server;
  // Keep idle connections longer than clients and load balancers do (undici 4 s, ALB 60 s), so a client never
  // reuses a socket the server is closing at that moment ("other side closed" on a healthy request).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  answerClientErrors(server);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(config.port, config.host, () => resolve());
    });
  } catch (error) {
    await closeAll();
    throw listenError(error, config);
  }
  const port = (server.address() as AddressInfo).port;

  const close = () =>
    (closing ??= (async () => {
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      services.mcp.legacy.closeListeningStreams();
      // Open streams get a grace period, then their MCP sessions are closed cleanly.
      const timer = setTimeout(() => {
        void services.mcp.close().finally(() => server.closeAllConnections());
      }, options.drainMs ?? 5000);
      await drained;
      clearTimeout(timer);
      await closeAll();
    })());

  const url = `http://${config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host}:${port}`;
  logger.info("listening", { url, publicUrl: config.publicUrl, database: database.driver });
  if (setupLink) (options.onSetupLink ?? ((link) => logger.info(`no accounts yet: open ${link} to create the first one`)))(setupLink);
  return { url, port, deps, services, gatehouse, close };
}
