/**
 * The key pairs Gatehouse signs upstream identity tokens with, per algorithm
 * in use: generated on first start and kept in the KV store
 * (`gateway:signing-key:<alg>`, no TTL) with their `notBefore` and
 * `retireAfter` (signing-key-set.ts), so every node signs with the same key
 * and publishes the same JWKS. Two nodes starting at once both generate one,
 * both write with `ifNotExists`, and both read back the one that won.
 * `gatehouse keys rotate` replaces the set; each node rereads it on a bus
 * message and on a timer (both set up in gatehouse.ts), and picks the signing
 * key by the clock at each signature.
 *
 * The private JWK is stored as is: Gatehouse has no server-wide secret to
 * seal it under (every other secret is a hash, or sealed under a key only its
 * holder has), and whoever can read the database can already write users.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from "jose";
import { systemClock, type Clock } from "../clock.js";
import type { KvStore } from "../storage/kv/kv.js";
import type { SigningAlgorithm } from "./config.js";
import {
  currentKey, parseKeySet, publishedKeys, rotated, serializeKeySet, stateOf, type KeyState, type StoredKey,
} from "./signing-key-set.js";

export interface SigningKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKey: CryptoKey;
  /** Only the public members: what the JWKS serves. */
  publicJwk: JWK;
}

export interface SigningKeys {
  /** The key that signs now. */
  get(alg: SigningAlgorithm): SigningKey;
  /** The JWKS document now: the public keys of every key not retired. */
  jwks(): { keys: JWK[] };
  /** Rereads the stored sets (after a rotation, here or on another node). */
  reload(): Promise<void>;
}

/** One key as `gatehouse keys list` shows it. */
export interface SigningKeyInfo {
  kid: string;
  alg: string;
  state: KeyState;
  notBefore: string;
  retireAfter: string | null;
}

const PUBLIC_MEMBERS = ["kty", "crv", "x", "y", "n", "e", "kid", "alg", "use"] as const;
const PREFIX = "gateway:signing-key:";
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ["ES256", "RS256"];

export const signingKeyName = (alg: SigningAlgorithm) => `${PREFIX}${alg}`;

/** A whitelist, not a blacklist: a private member this code does not know of cannot reach the JWKS. */
export function publicJwk(jwk: JWK): JWK {
  const out: JWK = {};
  for (const name of PUBLIC_MEMBERS) if (jwk[name] !== undefined) out[name] = jwk[name];
  return out;
}

async function freshJwk(alg: SigningAlgorithm): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg, use: "sig" };
}

async function storedSet(kv: KvStore, alg: SigningAlgorithm, clock: Clock): Promise<StoredKey[]> {
  const name = signingKeyName(alg);
  const existing = await kv.get(name);
  if (existing) return parseKeySet(existing);
  const first = [{ jwk: await freshJwk(alg), notBefore: clock.now(), retireAfter: null }];
  await kv.set(name, serializeKeySet(first), { ifNotExists: true });
  // Another node may have won the insert: sign with its key, not ours.
  const winner = await kv.get(name);
  if (!winner) throw new Error(`the signing key ${name} vanished after it was written`);
  return parseKeySet(winner);
}

export async function loadSigningKeys(kv: KvStore, algorithms: Iterable<SigningAlgorithm>, clock: Clock = systemClock): Promise<SigningKeys> {
  const wanted = [...new Set(algorithms)];
  // Imported once per kid: a reload that finds the same keys imports nothing.
  const imported = new Map<string, SigningKey>();
  let sets = new Map<SigningAlgorithm, { stored: StoredKey[]; keys: Map<StoredKey, SigningKey> }>();
  const load = async () => {
    const next: typeof sets = new Map();
    for (const alg of wanted) {
      const stored = await storedSet(kv, alg, clock);
      const keys = new Map<StoredKey, SigningKey>();
      for (const entry of stored) {
        const kid = entry.jwk.kid!;
        let key = imported.get(kid);
        if (!key) {
          key = { kid, alg, privateKey: (await importJWK(entry.jwk, alg)) as CryptoKey, publicJwk: publicJwk(entry.jwk) };
          imported.set(kid, key);
        }
        keys.set(entry, key);
      }
      next.set(alg, { stored, keys });
    }
    sets = next;
  };
  await load();
  return {
    get(alg) {
      const set = sets.get(alg);
      if (!set) throw new Error(`no ${alg} signing key was loaded`);
      return set.keys.get(currentKey(set.stored, clock.now()))!;
    },
    jwks() {
      const now = clock.now();
      return { keys: [...sets.values()].flatMap((set) => publishedKeys(set.stored, now).map((entry) => set.keys.get(entry)!.publicJwk)) };
    },
    reload: load,
  };
}

/** `gatehouse keys rotate`: a new key for each algorithm (default: each stored, or ES256 when none is). */
export async function rotateSigningKeys(kv: KvStore, clock: Clock, algorithm?: SigningAlgorithm): Promise<SigningKeyInfo[]> {
  const stored = (await storedSets(kv)).map(([alg]) => alg);
  const algorithms = algorithm ? [algorithm] : stored.length > 0 ? stored : (["ES256"] as const);
  const sets: [SigningAlgorithm, StoredKey[]][] = [];
  // All refused or none written: check every algorithm before writing any.
  for (const alg of algorithms) {
    const text = await kv.get(signingKeyName(alg));
    sets.push([alg, rotated(text ? parseKeySet(text) : [], await freshJwk(alg), clock.now())]);
  }
  await kv.setMany(sets.map(([alg, keys]) => ({ key: signingKeyName(alg), value: serializeKeySet(keys) })));
  return listSigningKeys(kv, clock);
}

/** `gatehouse keys list`: every stored key, retired ones included until the next rotation drops them. */
export async function listSigningKeys(kv: KvStore, clock: Clock): Promise<SigningKeyInfo[]> {
  const now = clock.now();
  const out: SigningKeyInfo[] = [];
  for (const [alg, keys] of await storedSets(kv)) {
    for (const key of keys) {
      out.push({
        kid: key.jwk.kid!, alg, state: stateOf(keys, key, now),
        notBefore: new Date(key.notBefore).toISOString(),
        retireAfter: key.retireAfter === null ? null : new Date(key.retireAfter).toISOString(),
      });
    }
  }
  return out;
}

async function storedSets(kv: KvStore): Promise<[SigningAlgorithm, StoredKey[]][]> {
  const { entries } = await kv.scanByPrefix(PREFIX, { limit: 100 });
  return entries
    .map((entry): [SigningAlgorithm, string] => [entry.key.slice(PREFIX.length) as SigningAlgorithm, entry.value])
    .filter(([alg]) => SIGNING_ALGORITHMS.includes(alg))
    .map(([alg, text]) => [alg, parseKeySet(text)]);
}
