/**
 * The key pairs Gatehouse signs upstream identity tokens with: one per
 * algorithm in use, generated on first start and kept in the KV store
 * (`gateway:signing-key:<alg>`, no TTL), so every node signs with the same
 * key and publishes the same JWKS. Two nodes starting at once both generate
 * one, both write with `ifNotExists`, and both read back the one that won.
 *
 * The private JWK is stored as is: Gatehouse has no server-wide secret to
 * seal it under (every other secret is a hash, or sealed under a key only its
 * holder has), and whoever can read the database can already write users.
 * Rotation is left for later; `kid` (the RFC 7638 thumbprint) is there for it.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from "jose";
import type { KvStore } from "../storage/kv/kv.js";
import type { SigningAlgorithm } from "./config.js";

export interface SigningKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKey: CryptoKey;
  /** Only the public members: what the JWKS serves. */
  publicJwk: JWK;
}

export interface SigningKeys {
  get(alg: SigningAlgorithm): SigningKey;
  /** The JWKS document: public keys only. */
  jwks(): { keys: JWK[] };
}

const PUBLIC_MEMBERS = ["kty", "crv", "x", "y", "n", "e", "kid", "alg", "use"] as const;

export const signingKeyName = (alg: SigningAlgorithm) => `gateway:signing-key:${alg}`;

/** A whitelist, not a blacklist: a private member this code does not know of cannot reach the JWKS. */
export function publicJwk(jwk: JWK): JWK {
  const out: JWK = {};
  for (const name of PUBLIC_MEMBERS) if (jwk[name] !== undefined) out[name] = jwk[name];
  return out;
}

async function storedJwk(kv: KvStore, alg: SigningAlgorithm): Promise<JWK> {
  const name = signingKeyName(alg);
  const existing = await kv.get(name);
  if (existing) return JSON.parse(existing) as JWK;
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const fresh = { ...jwk, kid: await calculateJwkThumbprint(jwk), alg, use: "sig" };
  await kv.set(name, JSON.stringify(fresh), { ifNotExists: true });
  // Another node may have won the insert: sign with its key, not ours.
  const winner = await kv.get(name);
  if (!winner) throw new Error(`the signing key ${name} vanished after it was written`);
  return JSON.parse(winner) as JWK;
}

export async function loadSigningKeys(kv: KvStore, algorithms: Iterable<SigningAlgorithm>): Promise<SigningKeys> {
  const keys = new Map<SigningAlgorithm, SigningKey>();
  for (const alg of new Set(algorithms)) {
    const jwk = await storedJwk(kv, alg);
    keys.set(alg, { kid: jwk.kid!, alg, privateKey: (await importJWK(jwk, alg)) as CryptoKey, publicJwk: publicJwk(jwk) });
  }
  const document = { keys: [...keys.values()].map((key) => key.publicJwk) };
  return {
    get(alg) {
      const key = keys.get(alg);
      if (!key) throw new Error(`no ${alg} signing key was loaded`);
      return key;
    },
    jwks: () => document,
  };
}
