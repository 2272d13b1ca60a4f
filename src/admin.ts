/**
 * What the CLI can do to a Gatehouse, whether it opened the database itself
 * or talks to the running server through its admin socket (PGlite lets one
 * process own the data directory, so the CLI must go through the server).
 */
import { issueSetupLink } from "./accounts/setup-links.js";
import { UserDirectory } from "./accounts/directory.js";
import { createUser, listUsers, removeUser, type User } from "./accounts/users.js";
import { systemClock, type Clock } from "./clock.js";
import {
  addStaticClient, listClients, removeClient, type AddedClient, type ClientInfo, type NewStaticClient,
} from "./oauth/static-clients.js";
import type { EventBus } from "./bus/bus.js";
import type { SigningAlgorithm } from "./gateway/config.js";
import { listSigningKeys, rotateSigningKeys, type SigningKeyInfo } from "./gateway/signing-keys.js";
import type { Database } from "./storage/db.js";
import type { Revocation } from "./oauth/revocation.js";
import type { KvStore } from "./storage/kv/kv.js";
import { migrate } from "./storage/migrate.js";

export interface AddedUser {
  user: User;
  /** Present when no password was given: a one-time link to set it. */
  setPasswordLink?: string;
}

export interface AdminOps {
  addUser(email: string, password?: string, options?: { admin?: boolean }): Promise<AddedUser>;
  listUsers(): Promise<User[]>;
  removeUser(email: string): Promise<User>;
  /** No sign-in, authorization or API key; every connection ends on every node. */
  disableUser(email: string): Promise<User>;
  enableUser(email: string): Promise<User>;
  migrate(): Promise<void>;
  /** A pre-registered client (`gatehouse client add`); the secret, for a confidential one, only here. */
  addClient(input: NewStaticClient): Promise<AddedClient>;
  listClients(): Promise<ClientInfo[]>;
  /** Removes any client with its connections, tokens and sessions. */
  removeClient(clientId: string): Promise<ClientInfo>;
  /** Publishes a new identity-token signing key, which signs after the JWKS cache lifetime (README "Identity tokens"). */
  rotateSigningKeys(alg?: SigningAlgorithm): Promise<SigningKeyInfo[]>;
  listSigningKeys(): Promise<SigningKeyInfo[]>;
}

export interface LocalAdminDeps {
  database: Database;
  kv: KvStore;
  publicUrl: string;
  /** config.consolePath: setup links are under it (default "", the root). */
  consolePath?: string;
  revocation: Revocation;
  /** Tells every node to reread the signing keys after a rotation. */
  bus?: EventBus;
  clock?: Clock;
}

export function localAdmin(deps: LocalAdminDeps): AdminOps {
  const { db } = deps.database;
  const clock = deps.clock ?? systemClock;
  const consoleUrl = `${deps.publicUrl}${deps.consolePath ?? ""}`;
  const directory = new UserDirectory({ db, kv: deps.kv, consoleUrl, clock, removal: deps.revocation, passwords: true });
  return {
    async addUser(email, password, options = {}) {
      const role = options.admin ? "admin" : "user";
      const user = await createUser(db, { email, role, ...(password === undefined ? {} : { password }) });
      if (password !== undefined) return { user };
      const setPasswordLink = await issueSetupLink(deps.kv, consoleUrl, { kind: "set-password", userId: user.id });
      return { user, setPasswordLink };
    },
    listUsers: () => listUsers(db),
    async removeUser(email) {
      const user = await removeUser(db, email);
      // Cached tokens, sessions and streams of this user end on every node.
      await deps.revocation.userRemoved(user.id);
      return user;
    },
    disableUser: (email) => directory.disable(email),
    enableUser: (email) => directory.enable(email),
    migrate: () => migrate(deps.database),
    addClient: (input) => addStaticClient(db, clock, input),
    listClients: () => listClients(db),
    async removeClient(clientId) {
      const { client, connections } = await removeClient(db, clientId);
      // Every node drops the connections' cached tokens and closes their MCP sessions and streams.
      await deps.revocation.clientRemoved(connections);
      return client;
    },
    async rotateSigningKeys(alg) {
      const keys = await rotateSigningKeys(deps.kv, clock, alg);
      // Nodes that miss it still reread the keys within a minute, well before the new key signs.
      await deps.bus?.publish({ type: "signing-keys-changed" }).catch(() => {});
      return keys;
    },
    listSigningKeys: () => listSigningKeys(deps.kv, clock),
  };
}
