/**
 * Authorization codes in the KV store (`oauth:code:<sha256>`), taken with an
 * atomic getDel: of any number of concurrent redemptions exactly one gets
 * the record. The connection id is chosen when the code is issued, and a
 * small `oauth:code-grant:` record outlives the code, so a replay can find
 * and revoke what the first redemption issued (RFC 6749 §4.1.2) — even while
 * that redemption is still in flight (`oauth:grant-revoked:` marker).
 */
import { randomToken, sha256Hex } from "../crypto.js";
import type { KvStore } from "../storage/kv/kv.js";

export interface AuthorizationCodeRecord {
  connectionId: string;
  clientId: string;
  clientName: string;
  redirectUri: string;
  codeChallenge: string;
  resource: string;
  scopes: string[];
  userId: string;
}

export interface CodeGrant {
  connectionId: string;
  clientId: string;
  codeChallenge: string;
}

/** How long a redeemed code is remembered for replay detection. */
const GRANT_MEMORY_MS = 24 * 60 * 60 * 1000;

export class AuthorizationCodes {
  constructor(
    private readonly kv: KvStore,
    private readonly ttlMs: number,
  ) {}

  async issue(record: AuthorizationCodeRecord): Promise<string> {
    const code = randomToken(32);
    const hash = sha256Hex(code);
    const grant: CodeGrant = { connectionId: record.connectionId, clientId: record.clientId, codeChallenge: record.codeChallenge };
    await this.kv.set(`oauth:code-grant:${hash}`, JSON.stringify(grant), { ttlMs: GRANT_MEMORY_MS });
    await this.kv.set(`oauth:code:${hash}`, JSON.stringify(record), { ttlMs: this.ttlMs });
    return code;
  }

  async take(code: string): Promise<AuthorizationCodeRecord | null> {
    if (code.length > 256) return null;
    const raw = await this.kv.getDel(`oauth:code:${sha256Hex(code)}`);
    return raw ? (JSON.parse(raw) as AuthorizationCodeRecord) : null;
  }

  /** The grant of a code that existed (redeemed or expired), for replay handling. */
  async grantOf(code: string): Promise<CodeGrant | null> {
    if (code.length > 256) return null;
    const raw = await this.kv.get(`oauth:code-grant:${sha256Hex(code)}`);
    return raw ? (JSON.parse(raw) as CodeGrant) : null;
  }

  async markRevoked(connectionId: string): Promise<void> {
    await this.kv.set(`oauth:grant-revoked:${connectionId}`, "1", { ttlMs: GRANT_MEMORY_MS });
  }

  async isRevoked(connectionId: string): Promise<boolean> {
    return (await this.kv.get(`oauth:grant-revoked:${connectionId}`)) !== null;
  }
}
