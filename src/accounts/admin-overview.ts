/**
 * What /admin shows: every account with its MCP connections, and every
 * registered OAuth client with how many connections it has. Read-only; the
 * actions go through UserDirectory and oauth/revocation.ts.
 */
import { asc, isNotNull, eq } from "drizzle-orm";
import type { Db } from "../storage/db.js";
import { oauthClients, userApiTokens, users } from "../storage/schema.js";
import type { Role } from "./users.js";

export interface AdminConnection {
  id: string;
  clientId: string;
  clientName: string | null;
  scopes: string[];
  createdAt: Date;
  lastUsedAt: Date | null;
}

export interface AdminUserRow {
  id: string;
  email: string;
  role: Role;
  disabled: boolean;
  connections: AdminConnection[];
  /** The latest use of any of the account's connections. */
  lastUsedAt: Date | null;
}

export interface AdminClientRow {
  clientId: string;
  name: string | null;
  source: string;
  createdAt: Date;
  connections: number;
}

export interface AdminOverview {
  users: AdminUserRow[];
  clients: AdminClientRow[];
}

export async function adminOverview(db: Db): Promise<AdminOverview> {
  const accountRows = await db.select().from(users).orderBy(asc(users.createdAt), asc(users.email));
  const connectionRows = await db
    .select({ token: userApiTokens, clientName: oauthClients.clientName })
    .from(userApiTokens)
    .innerJoin(oauthClients, eq(oauthClients.clientId, userApiTokens.oauthClientId))
    .where(isNotNull(userApiTokens.oauthClientId))
    .orderBy(asc(userApiTokens.createdAt));
  const clientRows = await db.select().from(oauthClients).orderBy(asc(oauthClients.createdAt), asc(oauthClients.clientId));

  const byUser = new Map<string, AdminConnection[]>();
  const perClient = new Map<string, number>();
  for (const { token, clientName } of connectionRows) {
    const clientId = token.oauthClientId!;
    const list = byUser.get(token.userId) ?? [];
    list.push({ id: token.id, clientId, clientName, scopes: token.scopes, createdAt: token.createdAt, lastUsedAt: token.lastUsedAt });
    byUser.set(token.userId, list);
    perClient.set(clientId, (perClient.get(clientId) ?? 0) + 1);
  }
  return {
    users: accountRows.map((row) => {
      const connections = byUser.get(row.id) ?? [];
      const used = connections.map((c) => c.lastUsedAt?.getTime() ?? 0).filter((t) => t > 0);
      return {
        id: row.id,
        email: row.email,
        role: row.role === "admin" ? "admin" : "user",
        disabled: row.disabledAt !== null,
        connections,
        lastUsedAt: used.length ? new Date(Math.max(...used)) : null,
      };
    }),
    clients: clientRows.map((row) => ({
      clientId: row.clientId,
      name: row.clientName,
      source: row.source,
      createdAt: row.createdAt,
      connections: perClient.get(row.clientId) ?? 0,
    })),
  };
}
