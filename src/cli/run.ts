/**
 * `gatehouse` commands. Every command works whether or not a server runs on
 * the same data: on PGlite the CLI talks to the running server through its
 * admin socket, otherwise it opens the database itself.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { localAdmin, type AdminOps } from "../admin.js";
import { ConfigError, loadConfig, type Config } from "../config.js";
import { ApiError } from "../errors.js";
import { adminSocketAlive, adminSocketPath, remoteAdmin } from "../app/admin-socket.js";
import { createLogger, silentLogger } from "../logger.js";
import { openBus } from "../bus/open.js";
import { DataDirLockedError, type DataDirLock } from "../storage/data-dir-lock.js";
import { DatabaseUnavailableError } from "../storage/db.js";
import { PostgresKvStore } from "../storage/kv/postgres.js";
import { startServer, StartupError } from "../server.js";
import { openAndMigrate } from "../storage/open.js";
import { systemClock } from "../clock.js";
import { McpSessionStore } from "../mcp/sessions.js";
import { ConnectionStore } from "../oauth/connections.js";
import { Revocation } from "../oauth/revocation.js";
import { AccessTokenCache } from "../oauth/token-cache.js";
import { HELP, type CommandName } from "./help.js";

export interface CliIo {
  env: Record<string, string | undefined>;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readStdin: () => Promise<string>;
  /** Resolves when the process is asked to stop (SIGTERM/SIGINT). */
  stopSignal: () => Promise<string>;
}

class UsageError extends Error {
  constructor(
    message: string,
    readonly command: CommandName,
  ) {
    super(message);
  }
}

const GLOBAL_OPTIONS = { help: { type: "boolean", short: "h" } } satisfies ParseArgsConfig["options"];

type Options = NonNullable<ParseArgsConfig["options"]>;

function parse<O extends Options>(command: CommandName, args: string[], options: O, positionals: number) {
  try {
    const parsed = parseArgs({
      args,
      options: { ...GLOBAL_OPTIONS, ...options } as typeof GLOBAL_OPTIONS & O,
      allowPositionals: true,
      strict: true,
    });
    const wantsHelp = (parsed.values as { help?: boolean }).help === true;
    if (!wantsHelp && parsed.positionals.length !== positionals) {
      throw new UsageError(`expected ${positionals} argument${positionals === 1 ? "" : "s"}, got ${parsed.positionals.length}`, command);
    }
    return parsed;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError((error as Error).message, command);
  }
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [first, second, ...rest] = argv;
  try {
    if (first === undefined || first === "--help" || first === "-h" || first === "help") {
      io.stdout(HELP.main);
      return first === undefined ? 2 : 0;
    }
    if (first === "start") return await start(argv.slice(1), io);
    if (first === "migrate") return await migrateCommand(argv.slice(1), io);
    if (first === "user") {
      if (second === undefined || second === "--help" || second === "-h") {
        io.stdout(HELP.user);
        return second === undefined ? 2 : 0;
      }
      if (second === "add") return await userAdd(rest, io);
      if (second === "list") return await userList(rest, io);
      if (second === "remove") return await userRemove(rest, io);
      if (second === "disable") return await userSetDisabled("user disable", rest, io);
      if (second === "enable") return await userSetDisabled("user enable", rest, io);
      throw new UsageError(`unknown user command "${second}"`, "user");
    }
    if (first === "client") {
      if (second === undefined || second === "--help" || second === "-h") {
        io.stdout(HELP.client);
        return second === undefined ? 2 : 0;
      }
      if (second === "add") return await clientAdd(rest, io);
      if (second === "list") return await clientList(rest, io);
      if (second === "remove") return await clientRemove(rest, io);
      throw new UsageError(`unknown client command "${second}"`, "client");
    }
    if (first === "keys") {
      if (second === undefined || second === "--help" || second === "-h") {
        io.stdout(HELP.keys);
        return second === undefined ? 2 : 0;
      }
      if (second === "rotate") return await keysRotate(rest, io);
      if (second === "list") return await keysList(rest, io);
      throw new UsageError(`unknown keys command "${second}"`, "keys");
    }
    throw new UsageError(`unknown command "${first}"`, "main");
  } catch (error) {
    return report(error, io);
  }
}

function report(error: unknown, io: CliIo): number {
  if (error instanceof UsageError) {
    io.stderr(`gatehouse: ${error.message}\n${HELP[error.command]}`);
    return 2;
  }
  const known =
    error instanceof ConfigError ||
    error instanceof StartupError ||
    error instanceof DatabaseUnavailableError ||
    error instanceof ApiError ||
    error instanceof DataDirLockedError;
  const message = known ? (error as Error).message : `unexpected error: ${(error as Error)?.message ?? String(error)}`;
  io.stderr(`gatehouse: ${message}\n`);
  return 1;
}

async function start(args: string[], io: CliIo): Promise<number> {
  const { values } = parse("start", args, { port: { type: "string" }, "log-format": { type: "string" }, config: { type: "string" } }, 0);
  if (values.help) return help("start", io);
  const env = { ...io.env };
  if (values.port !== undefined) env.PORT = String(values.port);
  if (values["log-format"] !== undefined) env.GATEHOUSE_LOG_FORMAT = String(values["log-format"]);
  // The flag is GATEHOUSE_CONFIG spelled on the command line: config.ts stays the one place that reads it.
  if (values.config !== undefined) env.GATEHOUSE_CONFIG = String(values.config);
  const config = loadConfig(env);
  const logger = createLogger({ level: config.logLevel, format: config.logFormat, write: (line) => io.stderr(`${line}\n`) });
  const server = await startServer({
    config,
    logger,
    onSetupLink: (url) => io.stdout(`\nNo accounts yet. Create the first one here (single use, valid 24 hours):\n\n  ${url}\n\n`),
  });
  io.stdout(`Gatehouse is listening on ${config.publicUrl} (MCP endpoint: ${config.publicUrl}/mcp)\n`);
  const signal = await io.stopSignal();
  logger.info("shutting down", { signal });
  await server.close();
  return 0;
}

function help(command: CommandName, io: CliIo): number {
  io.stdout(HELP[command]);
  return 0;
}

/** Runs `fn` against the data: through the server's socket on PGlite when one is running, else directly. */
async function withAdmin<T>(config: Config, fn: (ops: AdminOps) => Promise<T>): Promise<T> {
  if (!config.databaseUrl) {
    const socket = adminSocketPath(config.dataDir);
    for (let attempt = 0; ; attempt++) {
      if (await adminSocketAlive(socket)) return fn(remoteAdmin(socket));
      try {
        return await direct(config, fn);
      } catch (error) {
        // A server is starting and holds the lock, but its socket is not up yet: wait for it.
        if (!(error instanceof DataDirLockedError) || attempt >= 40) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }
  return direct(config, fn);
}

async function direct<T>(config: Config, fn: (ops: AdminOps) => Promise<T>): Promise<T> {
  const database = await openAndMigrate(config);
  try {
    const kv = new PostgresKvStore(database.db, systemClock);
    // With no server holding the data, only PostgreSQL has other nodes to tell.
    const bus = await openBus(database, kv, silentLogger, { listen: false });
    // No token cache of its own to drop from: other nodes hear of each revocation on the bus.
    const connections = new ConnectionStore(database.db, systemClock);
    const revocation = new Revocation({
      connections,
      tokenCache: new AccessTokenCache(() => Promise.resolve(null), () => false, systemClock),
      sessions: new McpSessionStore(database.db, systemClock),
      bus,
      logger: silentLogger,
    });
    try {
      return await fn(localAdmin({ database, kv, publicUrl: config.publicUrl, consolePath: config.consolePath, revocation, bus }));
    } finally {
      revocation.close();
    }
  } finally {
    await database.close();
  }
}

async function migrateCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parse("migrate", args, {}, 0);
  if (values.help) return help("migrate", io);
  await withAdmin(loadConfig(io.env), (ops) => ops.migrate());
  io.stdout("Migrations applied.\n");
  return 0;
}

async function userAdd(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse("user add", args, { "password-stdin": { type: "boolean" }, admin: { type: "boolean" } }, 1);
  if (values.help) return help("user add", io);
  const password = values["password-stdin"] ? (await io.readStdin()).replace(/\r?\n$/, "") : undefined;
  const config = loadConfig(io.env);
  const added = await withAdmin(config, (ops) => ops.addUser(positionals[0]!, password, { admin: values.admin === true }));
  io.stdout(`Created ${added.user.role === "admin" ? "admin " : ""}${added.user.email} (${added.user.id}).\n`);
  if (added.setPasswordLink) io.stdout(`Set the password here (single use, valid 24 hours):\n\n  ${added.setPasswordLink}\n\n`);
  return 0;
}

async function userList(args: string[], io: CliIo): Promise<number> {
  const { values } = parse("user list", args, { json: { type: "boolean" } }, 0);
  if (values.help) return help("user list", io);
  const users = await withAdmin(loadConfig(io.env), (ops) => ops.listUsers());
  if (values.json) io.stdout(`${JSON.stringify(users, null, 2)}\n`);
  else if (users.length === 0) io.stdout("No accounts.\n");
  else {
    for (const user of users) {
      const state = user.disabled ? "disabled" : "active";
      io.stdout(`${user.email}\t${user.id}\t${user.role}\t${state}\t${new Date(user.createdAt).toISOString()}\n`);
    }
  }
  return 0;
}

async function userRemove(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse("user remove", args, {}, 1);
  if (values.help) return help("user remove", io);
  const removed = await withAdmin(loadConfig(io.env), (ops) => ops.removeUser(positionals[0]!));
  io.stdout(`Removed ${removed.email} with its keys, connections and sessions.\n`);
  return 0;
}

async function userSetDisabled(command: "user disable" | "user enable", args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(command, args, {}, 1);
  if (values.help) return help(command, io);
  const disable = command === "user disable";
  const user = await withAdmin(loadConfig(io.env), (ops) => (disable ? ops.disableUser(positionals[0]!) : ops.enableUser(positionals[0]!)));
  io.stdout(disable ? `Disabled ${user.email}: its connections and sessions ended.\n` : `Enabled ${user.email}: it can sign in again.\n`);
  return 0;
}

async function clientAdd(args: string[], io: CliIo): Promise<number> {
  const { values } = parse(
    "client add",
    args,
    { name: { type: "string" }, "redirect-uri": { type: "string", multiple: true }, public: { type: "boolean" }, confidential: { type: "boolean" } },
    0,
  );
  if (values.help) return help("client add", io);
  if (values.name === undefined) throw new UsageError("--name is required", "client add");
  const redirectUris = values["redirect-uri"] ?? [];
  if (redirectUris.length === 0) throw new UsageError("at least one --redirect-uri is required", "client add");
  if (values.public && values.confidential) throw new UsageError("--public and --confidential exclude each other", "client add");
  const confidential = values.confidential === true;
  const added = await withAdmin(loadConfig(io.env), (ops) => ops.addClient({ name: values.name!, redirectUris, confidential }));
  const { client } = added;
  io.stdout(`Added ${client.name} (${confidential ? "confidential" : "public"} client).\n`);
  io.stdout(`client_id: ${client.clientId}\n`);
  if (added.clientSecret) io.stdout(`client_secret: ${added.clientSecret}\n`);
  io.stdout(`token_endpoint_auth_method: ${client.tokenEndpointAuthMethod}\n`);
  for (const uri of client.redirectUris) io.stdout(`redirect_uri: ${uri}\n`);
  if (added.clientSecret) io.stdout("The secret is shown only now; it is stored as a hash.\n");
  return 0;
}

async function clientList(args: string[], io: CliIo): Promise<number> {
  const { values } = parse("client list", args, { json: { type: "boolean" } }, 0);
  if (values.help) return help("client list", io);
  const clients = await withAdmin(loadConfig(io.env), (ops) => ops.listClients());
  if (values.json) io.stdout(`${JSON.stringify(clients, null, 2)}\n`);
  else if (clients.length === 0) io.stdout("No clients.\n");
  else {
    for (const c of clients) {
      const kind = c.tokenEndpointAuthMethod === "none" ? "public" : "confidential";
      io.stdout(`${c.clientId}\t${c.source}\t${kind}\t${JSON.stringify(c.name ?? "")}\t${c.redirectUris.join(" ")}\n`);
    }
  }
  return 0;
}

async function clientRemove(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse("client remove", args, {}, 1);
  if (values.help) return help("client remove", io);
  const removed = await withAdmin(loadConfig(io.env), (ops) => ops.removeClient(positionals[0]!));
  io.stdout(`Removed ${removed.clientId} (${removed.name ?? "unnamed"}) with its connections.\n`);
  return 0;
}

async function keysRotate(args: string[], io: CliIo): Promise<number> {
  const { values } = parse("keys rotate", args, { alg: { type: "string" } }, 0);
  if (values.help) return help("keys rotate", io);
  const alg = values.alg;
  if (alg !== undefined && alg !== "ES256" && alg !== "RS256") throw new UsageError(`--alg must be ES256 or RS256, not "${alg}"`, "keys rotate");
  // Only the rotated algorithms: with --alg, another's earlier rotation is not this one's news.
  const keys = (await withAdmin(loadConfig(io.env), (ops) => ops.rotateSigningKeys(alg))).filter((k) => !alg || k.alg === alg);
  for (const key of keys.filter((k) => k.state === "next")) {
    io.stdout(`Published ${key.alg} key ${key.kid}; it signs from ${key.notBefore}.\n`);
  }
  for (const key of keys.filter((k) => k.state === "current" && !k.retireAfter && !keys.some((o) => o.alg === k.alg && o.state === "next"))) {
    io.stdout(`Created ${key.alg} key ${key.kid}; it signs now.\n`);
  }
  for (const key of keys.filter((k) => k.state === "current" && k.retireAfter)) {
    io.stdout(`${key.alg} key ${key.kid} signs until then and leaves the JWKS at ${key.retireAfter}.\n`);
  }
  return 0;
}

async function keysList(args: string[], io: CliIo): Promise<number> {
  const { values } = parse("keys list", args, { json: { type: "boolean" } }, 0);
  if (values.help) return help("keys list", io);
  const keys = await withAdmin(loadConfig(io.env), (ops) => ops.listSigningKeys());
  if (values.json) io.stdout(`${JSON.stringify(keys, null, 2)}\n`);
  else if (keys.length === 0) io.stdout("No signing keys.\n");
  else for (const k of keys) io.stdout(`${k.kid}\t${k.alg}\t${k.state}\t${k.notBefore}\t${k.retireAfter ?? "-"}\n`);
  return 0;
}

export type { DataDirLock };
