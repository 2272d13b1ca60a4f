import { constantTimeEqual, sha256Base64Url } from "../crypto.js";

// RFC 7636 §4.1: code_verifier = 43*128unreserved; §4.2: the S256 challenge is its base64url SHA-256 (43 chars).
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
const CHALLENGE = /^[A-Za-z0-9\-_]{43}$/;

export function isValidVerifier(verifier: string): boolean {
  return VERIFIER.test(verifier);
}

export function isValidChallenge(challenge: string): boolean {
  return CHALLENGE.test(challenge);
}

export function verifyPkce(verifier: string, challenge: string): boolean {
  return isValidVerifier(verifier) && constantTimeEqual(sha256Base64Url(verifier), challenge);
}
