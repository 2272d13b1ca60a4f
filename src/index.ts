/** The library entry: embed Gatehouse in an existing app. */
export { createGatehouse, type Gatehouse, type GatehouseOptions } from "./gatehouse.js";
export { toNodeHandler, type FetchApp, type NodeHandler, type NodeNext } from "./web/node-handler.js";
export { defineTool, defineResource, definePrompt, type McpContext, type ToolDefinition, type ResourceDefinition, type PromptDefinition } from "./mcp/define.js";
export type { Notifier } from "./mcp/endpoint.js";
export { oidc, type OidcOptions } from "./identity/oidc.js";
export { host, local, type HostIdentityOptions, type HostUser, type IdentityOption } from "./identity/host.js";
export type { UserDirectory } from "./accounts/directory.js";
export type { User } from "./accounts/users.js";
export { startServer, type RunningServer, type StartOptions } from "./server.js";
export { loadConfig, parseDuration, ConfigError, type Branding, type Config } from "./config.js";
export { openDatabase, type Database, type OpenDatabaseOptions } from "./storage/db.js";
export { migrate } from "./storage/migrate.js";
export type { KvStore, KvSetOptions, KvScanPage, KvEntry } from "./storage/kv/kv.js";
export { MemoryKvStore } from "./storage/kv/memory.js";
export { PostgresKvStore } from "./storage/kv/postgres.js";
export { ApiError } from "./errors.js";
export { systemClock, ManualClock, type Clock } from "./clock.js";
export { createLogger, type Logger } from "./logger.js";
