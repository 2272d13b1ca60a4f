import { describe, expect, it } from "vitest";
import {
  DUMMY_PASSWORD_HASH,
  constantTimeEqual,
  hashPassword,
  hmac,
  open,
  prefixedToken,
  randomToken,
  seal,
  sha256Base64Url,
  sha256Hex,
  verifyPassword,
} from "./crypto.js";

describe("randomToken", () => {
  it("encodes 32 bytes as 43 base64url characters by default", () => {
    const token = randomToken();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token, "base64url")).toHaveLength(32);
  });

  it("honours the byte count", () => {
    expect(Buffer.from(randomToken(16), "base64url")).toHaveLength(16);
    expect(randomToken(64)).toMatch(/^[A-Za-z0-9_-]{86}$/);
  });

  it("never repeats over 1000 draws and uses the whole alphabet", () => {
    const tokens = Array.from({ length: 1000 }, () => randomToken());
    expect(new Set(tokens).size).toBe(1000);
    // 43,000 characters over a 64-symbol alphabet: every symbol shows up.
    expect(new Set(tokens.join("")).size).toBe(64);
  });

  it("prefixes a kind", () => {
    expect(prefixedToken("gh_at_")).toMatch(/^gh_at_[A-Za-z0-9_-]{43}$/);
  });
});

describe("sha256", () => {
  it("matches the FIPS 180-2 test vector", () => {
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });

  it("hashes UTF-8", () => {
    expect(sha256Hex("é")).toBe(sha256Hex("\u00e9"));
    expect(sha256Hex("é")).not.toBe(sha256Hex("e\u0301"));
  });

  it("gives the RFC 7636 Appendix B S256 challenge", () => {
    expect(sha256Base64Url("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  });
});

describe("hmac", () => {
  it("matches RFC 4231 test case 2 (HMAC-SHA256), base64url", () => {
    // 5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843
    expect(hmac("Jefe", "what do ya want for nothing?")).toBe("W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM");
  });
});

describe("constantTimeEqual", () => {
  it.each([
    ["secret", "secret", true],
    ["", "", true],
    ["ünïcødé", "ünïcødé", true],
    ["secret", "secreT", false],
    ["secret", "secret2", false],
    ["secret", "", false],
    ["", "x", false],
    ["a".repeat(1000), "a".repeat(999), false],
  ])("%j vs %j → %s", (a, b, equal) => {
    expect(constantTimeEqual(a, b)).toBe(equal);
    expect(constantTimeEqual(b, a)).toBe(equal);
  });
});

describe("passwords", () => {
  it("round-trips and records its parameters", async () => {
    const stored = await hashPassword("correct horse battery staple");
    expect(stored).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    await expect(verifyPassword("correct horse battery staple", stored)).resolves.toBe(true);
  });

  it("rejects a wrong password", async () => {
    const stored = await hashPassword("correct horse battery staple");
    await expect(verifyPassword("correct horse battery stapler", stored)).resolves.toBe(false);
    await expect(verifyPassword("", stored)).resolves.toBe(false);
  });

  it("salts every hash", async () => {
    const [a, b] = await Promise.all([hashPassword("same password"), hashPassword("same password")]);
    expect(a).not.toBe(b);
  });

  it("normalises unicode with NFKC", async () => {
    const stored = await hashPassword("\ufb01sh-and-chips"); // "ﬁ" ligature
    await expect(verifyPassword("fish-and-chips", stored)).resolves.toBe(true);
    const composed = await hashPassword("caf\u00e9-au-lait");
    await expect(verifyPassword("cafe\u0301-au-lait", composed)).resolves.toBe(true);
  });

  it.each(["", "plain", "bcrypt$2b$10$abc", "scrypt$16384$8$1$salt", "scrypt$$8$1$AAAA$AAAA", "scrypt$16384$8$1$AAAA$"])(
    "treats the malformed stored hash %j as a mismatch",
    async (stored) => {
      await expect(verifyPassword("whatever", stored)).resolves.toBe(false);
    },
  );

  // Regression: parameters that scrypt refuses make verifyPassword throw
  // instead of answering false.
  it.each(["scrypt$abc$8$1$AAAA$AAAA", "scrypt$3$8$1$AAAA$AAAA", "scrypt$1099511627776$8$1$AAAA$AAAA"])(
    "treats the stored hash %j with bad parameters as a mismatch",
    async (stored) => {
      await expect(verifyPassword("whatever", stored)).resolves.toBe(false);
    },
  );

  // Regression (was fail-open): a stored hash part that decodes to zero bytes
  // makes scrypt derive an empty key, and two empty buffers compare equal, so any
  // password verifies.
  it.each(["scrypt$16384$8$1$AAAA$!", "scrypt$16384$8$1$AAAA$="])("rejects any password against %j", async (stored) => {
    await expect(verifyPassword("whatever", stored)).resolves.toBe(false);
  });

  it("DUMMY_PASSWORD_HASH is well-formed, costs a real verification and never matches", async () => {
    expect(DUMMY_PASSWORD_HASH.split("$")).toHaveLength(6);
    await expect(verifyPassword("", DUMMY_PASSWORD_HASH)).resolves.toBe(false);
    await expect(verifyPassword("password", DUMMY_PASSWORD_HASH)).resolves.toBe(false);
  });
});

describe("seal / open", () => {
  const secret = randomToken();
  const context = "refresh-response";

  it("round-trips", () => {
    const plaintext = JSON.stringify({ access_token: "a", refresh_token: "r", note: "ünïcødé" });
    const sealed = seal(secret, context, plaintext);
    expect(sealed).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain("access_token");
    expect(open(secret, context, sealed)).toBe(plaintext);
  });

  it("uses a fresh IV every time", () => {
    expect(seal(secret, context, "same")).not.toBe(seal(secret, context, "same"));
  });

  // Regression: the empty plaintext seals to an empty body, which
  // `open` mistakes for a malformed box.
  it("round-trips the empty string", () => {
    expect(open(secret, context, seal(secret, context, ""))).toBe("");
  });

  // Regression: anything after a third "." is ignored.
  it("accepts exactly three parts", () => {
    expect(open(secret, context, `${seal(secret, context, "hello")}.extra`)).toBeNull();
  });

  it("does not open with the wrong secret", () => {
    expect(open(randomToken(), context, seal(secret, context, "hello"))).toBeNull();
  });

  it("does not open under another context", () => {
    expect(open(secret, "other-context", seal(secret, context, "hello"))).toBeNull();
  });

  it("does not open tampered boxes", () => {
    const [iv, tag, body] = seal(secret, context, "hello world").split(".") as [string, string, string];
    const flip = (part: string) => {
      const bytes = Buffer.from(part, "base64url");
      bytes[0] = bytes[0]! ^ 1;
      return bytes.toString("base64url");
    };
    expect(open(secret, context, [flip(iv), tag, body].join("."))).toBeNull();
    expect(open(secret, context, [iv, flip(tag), body].join("."))).toBeNull();
    expect(open(secret, context, [iv, tag, flip(body)].join("."))).toBeNull();
    expect(open(secret, context, [iv, tag].join("."))).toBeNull();
    expect(open(secret, context, "")).toBeNull();
    expect(open(secret, context, "not.a.box")).toBeNull();
  });

  // Regression: without `authTagLength`, GCM accepts a tag truncated to
  // 4 bytes, so a forgery needs ~2^32 tries instead of 2^128.
  it("does not accept a truncated authentication tag", () => {
    const [iv, tag, body] = seal(secret, context, "hello").split(".") as [string, string, string];
    const short = Buffer.from(tag, "base64url").subarray(0, 4).toString("base64url");
    expect(open(secret, context, [iv, short, body].join("."))).toBeNull();
  });
});
