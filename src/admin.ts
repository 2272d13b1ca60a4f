/**
 * What the CLI can do to a Gatehouse, whether it opened the database itself
 * or talks to the running server through its admin socket (PGlite lets one
 * process own the data directory, so the CLI must go through the server).
 */
import { issueSetupLink } from "./accounts/setup-links.js";
import { createUser, listUsers, removeUser, type User } from "./accounts/users.js";
import { systemClock, type Clock } from "./clock.js";
import {
  addStaticClient, listClients, removeClient, type AddedClient, type ClientInfo, type NewStaticClient,
} from "./oauth/static-clients.js";
import type { Database } from "./storage/db.js";
import type { EventBus } from "./bus/bus.js";
import type { KvStore } from "./storage/kv/kv.js";
import { migrate } from "./storage/migrate.js";

export interface AddedUser {
  user: User;
  /** Present when no password was given: a one-time link to set it. */
  setPasswordLink?: string;
}

export interface AdminOps {
  addUser(email: string, password?: string): Promise<AddedUser>;
  listUsers(): Promise<User[]>;
  removeUser(email: string): Promise<User>;
  migrate(): Promise<void>;
  /** A pre-registered client (`gatehouse client add`); the secret, for a confidential one, only here. */
  addClient(input: NewStaticClient): Promise<AddedClient>;
  listClients(): Promise<ClientInfo[]>;
  /** Removes any client with its connections, tokens and sessions. */
  removeClient(clientId: string): Promise<ClientInfo>;
}

export function localAdmin(deps: { database: Database; kv: KvStore; publicUrl: string; bus: EventBus; clock?: Clock }): AdminOps {
  const { db } = deps.database;
  const clock = deps.clock ?? systemClock;
  return {
    async addUser(email, password) {
      const user = await createUser(db, { email, ...(password === undefined ? {} : { password }) });
      if (password !== undefined) return { user };
      const setPasswordLink = await issueSetupLink(deps.kv, deps.publicUrl, { kind: "set-password", userId: user.id });
      return { user, setPasswordLink };
    },
    listUsers: () => listUsers(db),
    async removeUser(email) {
      const user = await removeUser(db, email);
      // Cached tokens, sessions and streams of this user end on every node.
      await deps.bus.publish({ type: "user-removed", userId: user.id });
      return user;
    },
    migrate: () => migrate(deps.database),
    addClient: (input) => addStaticClient(db, clock, input),
    listClients: () => listClients(db),
    async removeClient(clientId) {
      const { client, connections } = await removeClient(db, clientId);
      // Every node drops the connections' cached tokens and closes their MCP sessions and streams.
      for (const connection of connections) await deps.bus.publish({ type: "connection-revoked", ...connection, closeSessions: true });
      return client;
    },
  };
}
