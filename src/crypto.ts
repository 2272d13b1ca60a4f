/**
 * All cryptography goes through this module: random tokens, hashes at rest,
 * password hashing, constant-time comparison and the sealed boxes that keep
 * a refresh response readable only by whoever holds the refresh token.
 */
import * as nodeCrypto from "node:crypto";
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
  scrypt,
  timingSafeEqual,
  type ScryptOptions,
} from "node:crypto";

/** 256 bits of CSPRNG output, base64url (OAuth 2.1 §7.7 asks for at least 128). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

/** A token with a kind prefix, so a leaked token says what it is and kinds cannot be confused. */
export function prefixedToken(prefix: string, bytes = 32): string {
  return `${prefix}${randomToken(bytes)}`;
}

/** Node's one-shot `crypto.hash` (20.12+): no Hash stream object per call, a third of the time; /mcp hashes every bearer token. */
const oneShotHash = (nodeCrypto as { hash?: (algorithm: string, data: string, encoding: "hex") => string }).hash;

/** Tokens and secrets are stored only as SHA-256 hashes (hex). */
export function sha256Hex(value: string): string {
  return oneShotHash ? oneShotHash("sha256", value, "hex") : createHash("sha256").update(value, "utf8").digest("hex");
}

export function sha256Base64Url(value: string): string {
  return createHash("sha256").update(value, "ascii").digest("base64url");
}

export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, "utf8");
  const right = Buffer.from(b, "utf8");
  // Compare equal-length digests so the length of a secret does not leak either.
  const l = createHash("sha256").update(left).digest();
  const r = createHash("sha256").update(right).digest();
  return timingSafeEqual(l, r) && left.length === right.length;
}

const SCRYPT = { N: 16384, r: 8, p: 1, keyLen: 32 } as const;

function scryptAsync(password: string, salt: Buffer, keyLen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize("NFKC"), salt, keyLen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** `scrypt$N$r$p$salt$hash`, so parameters can be raised later without breaking old hashes. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, SCRYPT.keyLen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  return ["scrypt", SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString("base64url"), key.toString("base64url")].join("$");
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash, ...extra] = stored.split("$");
  if (scheme !== "scrypt" || !n || !r || !p || !salt || !hash || extra.length > 0) return false;
  const [N, R, P] = [Number(n), Number(r), Number(p)];
  const expected = Buffer.from(hash, "base64url");
  // A corrupt stored hash is a mismatch — never an exception, never an empty key (empty equals empty).
  if (!Number.isInteger(Math.log2(N)) || N < 2 || !Number.isSafeInteger(R) || R < 1 || !Number.isSafeInteger(P) || P < 1) return false;
  if (expected.length < 16) return false;
  try {
    const key = await scryptAsync(password, Buffer.from(salt, "base64url"), expected.length, { N, r: R, p: P, maxmem: 64 * 1024 * 1024 });
    return timingSafeEqual(key, expected);
  } catch {
    return false;
  }
}

/** A password hash to compare against when the account does not exist, so both paths cost the same. */
export const DUMMY_PASSWORD_HASH =
  "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

function boxKey(secret: string, context: string): Buffer {
  return Buffer.from(hkdfSync("sha256", Buffer.from(secret, "utf8"), Buffer.alloc(0), context, 32));
}

/** AES-256-GCM under a key derived (HKDF) from `secret`: only a holder of the secret can open it. */
export function seal(secret: string, context: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", boxKey(secret, context), iv);
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return [iv, cipher.getAuthTag(), body].map((b) => b.toString("base64url")).join(".");
}

export function open(secret: string, context: string, sealed: string): string | null {
  const parts = sealed.split(".");
  if (parts.length !== 3) return null;
  const [iv, tag, body] = parts.map((part) => Buffer.from(part, "base64url")) as [Buffer, Buffer, Buffer];
  // A full-length tag only: GCM would otherwise accept a truncated one (2^32 forgeries instead of 2^128).
  if (iv.length !== 12 || tag.length !== 16) return null;
  try {
    const decipher = createDecipheriv("aes-256-gcm", boxKey(secret, context), iv, { authTagLength: 16 });
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString("utf8");
  } catch {
    return null;
  }
}

/** HMAC-SHA256, base64url: CSRF tokens bound to a session secret and a purpose. */
export function hmac(secret: string, data: string): string {
  return createHmac("sha256", secret).update(data, "utf8").digest("base64url");
}
