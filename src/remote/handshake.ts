// Mutual challenge-response authentication with a shared secret. Each side sends a fresh
// 32-byte nonce; each proves it knows the secret with an HMAC-SHA256 over both nonces, both node
// names, the cluster name and its own role. The secret never crosses the wire, a proof is only
// good for this one pair of nonces, and a proof for one role cannot be replayed as the other.

const encoder = new TextEncoder();

/** The size of nonces and proofs, in bytes. */
export const NONCE_BYTES = 32;

/** A fresh random nonce. */
export function newNonce(): Uint8Array {
  const nonce = new Uint8Array(NONCE_BYTES);
  crypto.getRandomValues(nonce);
  return nonce;
}

/** The facts both sides of one handshake agree on. */
export interface HandshakeFacts {
  readonly cluster: string;
  readonly dialerNode: string;
  readonly listenerNode: string;
  readonly dialerNonce: Uint8Array;
  readonly listenerNonce: Uint8Array;
}

function hex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** Imports a secret as an HMAC-SHA256 key (done once per node). */
export function importSecret(secret: string): Promise<CryptoKey> {
  if (typeof secret !== "string" || secret.length < 8) {
    throw new RangeError(
      "Invalid cluster secret: use a string of at least 8 characters",
    );
  }
  return crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
}

/** The proof that `role` knows the secret. */
export async function prove(
  key: CryptoKey,
  role: "dialer" | "listener",
  facts: HandshakeFacts,
): Promise<Uint8Array> {
  const message = [
    "troupe-handshake-v1",
    role,
    facts.cluster,
    facts.dialerNode,
    facts.listenerNode,
    hex(facts.dialerNonce),
    hex(facts.listenerNonce),
  ].join("\n");
  return new Uint8Array(
    await crypto.subtle.sign("HMAC", key, encoder.encode(message)),
  );
}

/** Whether `proof` is the right proof for `role`, compared in constant time. */
export async function verify(
  key: CryptoKey,
  role: "dialer" | "listener",
  facts: HandshakeFacts,
  proof: Uint8Array,
): Promise<boolean> {
  const expected = await prove(key, role, facts);
  if (!(proof instanceof Uint8Array) || proof.length !== expected.length) {
    return false;
  }
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected[i] ^ proof[i];
  return diff === 0;
}
