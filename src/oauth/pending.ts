/**
 * Authorization requests waiting for the user's decision, in the KV store
 * (`oauth:pending:<id>`, 10 minutes). The consent form posts back only the
 * id, so nothing the browser sends can change where the code goes
 * (THREATS 3); `take` is an atomic getDel, so a decision counts once.
 */
import { randomToken } from "../crypto.js";
import type { KvStore } from "../storage/kv/kv.js";
import type { OAuthClient } from "./clients.js";

export const PENDING_TTL_MS = 10 * 60 * 1000;

export interface PendingAuthorization {
  id: string;
  clientId: string;
  clientName: string;
  clientSource: OAuthClient["source"];
  clientRegisteredAt: string;
  clientUri: string | null;
  redirectUri: string;
  state: string | undefined;
  codeChallenge: string;
  resource: string;
  scopes: string[];
}

export class PendingAuthorizations {
  constructor(private readonly kv: KvStore) {}

  async put(request: Omit<PendingAuthorization, "id">): Promise<PendingAuthorization> {
    const pending = { id: randomToken(24), ...request };
    await this.kv.set(`oauth:pending:${pending.id}`, JSON.stringify(pending), { ttlMs: PENDING_TTL_MS });
    return pending;
  }

  /** Single use: a second submission (double click, replay) finds nothing. */
  async take(id: string): Promise<PendingAuthorization | null> {
    if (id.length > 64) return null;
    const raw = await this.kv.getDel(`oauth:pending:${id}`);
    return raw ? (JSON.parse(raw) as PendingAuthorization) : null;
  }
}
