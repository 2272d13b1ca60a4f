/**
 * What the CLI can do to a Gatehouse, whether it opened the database itself
 * or talks to the running server through its admin socket (PGlite lets one
 * process own the data directory, so the CLI must go through the server).
 */
import { issueSetupLink } from "./accounts/setup-links.js";
import { createUser, listUsers, removeUser, type User } from "./accounts/users.js";
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
}

export function localAdmin(deps: { database: Database; kv: KvStore; publicUrl: string; bus: EventBus }): AdminOps {
  const { db } = deps.database;
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
  };
}
