/**
 * The accounts an embedder manages in-process (`gatehouse.users`): what the
 * `gatehouse user …` commands do, for an app that owns its PGlite data
 * directory and so cannot be reached by the CLI.
 */
import { ApiError } from "../errors.js";
import type { Db } from "../storage/db.js";
import type { KvStore } from "../storage/kv/kv.js";
import { issueSetupLink } from "./setup-links.js";
import type { Clock } from "../clock.js";
import { countUsers, createUser, findUserByEmail, listUsers, removeUser, setDisabled, type Role, type User } from "./users.js";

/** What must happen everywhere when an account goes (oauth/revocation.ts: cached tokens, live sessions, other nodes). */
export interface AccountRemoval {
  userRemoved(userId: string): Promise<void>;
  /** Ends every connection of the user on every node. */
  revokeUser(userId: string): Promise<unknown>;
}

export interface UserDirectoryDeps {
  db: Db;
  kv: KvStore;
  /** The console's base URL (public URL + console path): setup links are under it. */
  consoleUrl: string;
  clock: Clock;
  removal: AccountRemoval;
  /** False when the embedding app signs people in (`host` identity): no Gatehouse passwords, no /setup. */
  passwords: boolean;
}

export class UserDirectory {
  constructor(private readonly deps: UserDirectoryDeps) {}

  /** A new account; without a password it can sign in once a `setupLink` has set one. */
  async create(input: { email: string; password?: string; role?: Role }): Promise<User> {
    // With the host's sign-in, accounts are made on first sight and linked by the host's id; one made here
    // would only hold that email against the host user.
    this.needPasswords();
    return createUser(this.deps.db, input);
  }

  async find(email: string): Promise<User | null> {
    const found = await findUserByEmail(this.deps.db, email);
    if (!found) return null;
    const { passwordHash: _, ...user } = found;
    return user;
  }

  list(): Promise<User[]> {
    return listUsers(this.deps.db);
  }

  /**
   * A one-time `/setup` link (24 h): with an email, sets that account's
   * password; without, creates the first account (only while there is none).
   */
  async setupLink(input: { email?: string } = {}): Promise<string> {
    this.needPasswords();
    if (input.email === undefined) {
      if ((await countUsers(this.deps.db)) > 0) throw new ApiError(409, "accounts_exist", "The first account exists already; give an email.");
      return issueSetupLink(this.deps.kv, this.deps.consoleUrl, { kind: "first-account" });
    }
    const user = await findUserByEmail(this.deps.db, input.email);
    if (!user) throw new ApiError(404, "user_not_found", `No account for ${input.email.trim()}.`);
    return issueSetupLink(this.deps.kv, this.deps.consoleUrl, { kind: "set-password", userId: user.id });
  }

  /** Removes the account with its keys and connections; its tokens stop working on every node. */
  async remove(email: string): Promise<User> {
    const user = await removeUser(this.deps.db, email);
    await this.deps.removal.userRemoved(user.id);
    return user;
  }

  /**
   * Disables the account: no sign-in, no authorization, no API key; its
   * console sessions end and every connection ends on every node.
   */
  async disable(email: string): Promise<User> {
    const user = await setDisabled(this.deps.db, email, true, new Date(this.deps.clock.now()));
    await this.deps.removal.revokeUser(user.id);
    return user;
  }

  /** The account can sign in again; the connections it had stay gone. */
  enable(email: string): Promise<User> {
    return setDisabled(this.deps.db, email, false, new Date(this.deps.clock.now()));
  }

  private needPasswords(): void {
    if (!this.deps.passwords) {
      throw new ApiError(409, "host_identity", "People sign in through the embedding app: their accounts are made when they first sign in, without passwords.");
    }
  }
}
