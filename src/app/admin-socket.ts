/**
 * The admin API on a Unix socket inside the data directory (mode 0600: only
 * the owner of the data can use it). The CLI uses it while a server holds
 * the PGlite data directory.
 */
import { chmod, rm } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { createAdaptorServer } from "@hono/node-server";
import { Hono } from "hono";
import { z } from "zod";
import type { AdminOps, AddedUser } from "../admin.js";
import type { User } from "../accounts/users.js";
import type { SigningKeyInfo } from "../gateway/signing-keys.js";
import type { AddedClient, ClientInfo } from "../oauth/static-clients.js";
import { ApiError } from "../errors.js";
import type { Logger } from "../logger.js";
import { errorHandler, notFound } from "./errors.js";

export const adminSocketPath = (dataDir: string) => path.join(dataDir, "gatehouse.sock");

export function adminRoutes(ops: AdminOps, logger: Logger): Hono {
  const app = new Hono();
  const addUser = z.object({ email: z.string(), password: z.string().optional(), admin: z.boolean().optional() });
  app.post("/users", async (c) => {
    const body = addUser.safeParse(await c.req.json().catch(() => null));
    if (!body.success) throw new ApiError(400, "invalid_request", "expected {email, password?}");
    return c.json(await ops.addUser(body.data.email, body.data.password, { admin: body.data.admin === true }), 201);
  });
  app.get("/users", async (c) => c.json(await ops.listUsers()));
  app.delete("/users/:email", async (c) => c.json(await ops.removeUser(c.req.param("email"))));
  app.post("/users/:email/disable", async (c) => c.json(await ops.disableUser(c.req.param("email"))));
  app.post("/users/:email/enable", async (c) => c.json(await ops.enableUser(c.req.param("email"))));
  const addClient = z.object({ name: z.string(), redirectUris: z.array(z.string()), confidential: z.boolean() });
  app.post("/clients", async (c) => {
    const body = addClient.safeParse(await c.req.json().catch(() => null));
    if (!body.success) throw new ApiError(400, "invalid_request", "expected {name, redirectUris, confidential}");
    return c.json(await ops.addClient(body.data), 201);
  });
  app.get("/clients", async (c) => c.json(await ops.listClients()));
  app.delete("/clients/:clientId", async (c) => c.json(await ops.removeClient(c.req.param("clientId"))));
  const rotate = z.object({ alg: z.enum(["ES256", "RS256"]).optional() });
  app.post("/signing-keys/rotate", async (c) => {
    const body = rotate.safeParse(await c.req.json().catch(() => null));
    if (!body.success) throw new ApiError(400, "invalid_request", "expected {alg?: ES256|RS256}");
    return c.json(await ops.rotateSigningKeys(body.data.alg));
  });
  app.get("/signing-keys", async (c) => c.json(await ops.listSigningKeys()));
  app.post("/migrate", async (c) => {
    await ops.migrate();
    return c.json({ ok: true });
  });
  app.notFound(notFound);
  app.onError(errorHandler(logger));
  return app;
}

export async function listenAdminSocket(dataDir: string, ops: AdminOps, logger: Logger): Promise<() => Promise<void>> {
  const socketPath = adminSocketPath(dataDir);
  if (Buffer.byteLength(socketPath) > 103) {
    throw new Error(`the path is too long for a Unix socket (${Buffer.byteLength(socketPath)} bytes, at most 103): use a shorter GATEHOUSE_DATA_DIR`);
  }
  await rm(socketPath, { force: true });
  const server = createAdaptorServer({ fetch: adminRoutes(ops, logger).fetch });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve());
  });
  await chmod(socketPath, 0o600);
  return async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(socketPath, { force: true });
  };
}

/** The client side: the same operations, over the socket. */
export function remoteAdmin(socketPath: string): AdminOps {
  const call = <T>(method: string, route: string, body?: unknown) =>
    new Promise<T>((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request(
        { socketPath, method, path: route, headers: payload ? { "content-type": "application/json" } : {} },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: T & { error?: string; error_description?: string };
            try {
              parsed = (text ? JSON.parse(text) : {}) as typeof parsed;
            } catch {
              reject(new ApiError(502, "admin_error", `the admin socket answered ${res.statusCode} with no JSON`));
              return;
            }
            const status = res.statusCode ?? 500;
            if (status >= 400) {
              reject(new ApiError(status as 400, parsed.error ?? "admin_error", parsed.error_description ?? `admin socket answered ${status}`));
            } else resolve(parsed);
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  return {
    addUser: (email, password, options = {}) => call<AddedUser>("POST", "/users", { email, password, admin: options.admin === true }),
    listUsers: () => call<User[]>("GET", "/users"),
    removeUser: (email) => call<User>("DELETE", `/users/${encodeURIComponent(email)}`),
    disableUser: (email) => call<User>("POST", `/users/${encodeURIComponent(email)}/disable`),
    enableUser: (email) => call<User>("POST", `/users/${encodeURIComponent(email)}/enable`),
    migrate: () => call<void>("POST", "/migrate"),
    addClient: (input) => call<AddedClient>("POST", "/clients", input),
    listClients: () => call<ClientInfo[]>("GET", "/clients"),
    removeClient: (clientId) => call<ClientInfo>("DELETE", `/clients/${encodeURIComponent(clientId)}`),
    rotateSigningKeys: (alg) => call<SigningKeyInfo[]>("POST", "/signing-keys/rotate", alg ? { alg } : {}),
    listSigningKeys: () => call<SigningKeyInfo[]>("GET", "/signing-keys"),
  };
}

/** Whether a server answers on the socket. */
export function adminSocketAlive(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath, method: "GET", path: "/users", timeout: 2000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}
