/**
 * Fernet secret box (https://github.com/fernet/spec) for provider API keys at rest.
 *
 * Tokens interoperate with Python's `cryptography.fernet`, so keys and stored values can be
 * inspected or migrated with standard tooling. Nothing in this module ever puts a key or a
 * plaintext into an error message.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** Why a key or token was refused. */
export type SecretBoxErrorCode = "invalid_key" | "invalid_token";

/** Raised for bad keys and for tokens that fail any check; the message never carries secret material. */
export class SecretBoxError extends Error {
  readonly code: SecretBoxErrorCode;

  constructor(code: SecretBoxErrorCode, message: string) {
    super(message);
    this.name = "SecretBoxError";
    this.code = code;
  }
}

/** Encrypts and decrypts short secrets as Fernet tokens. */
export interface SecretBox {
  /** Encrypts with the first configured key; the result is urlsafe base64 with `=` padding. */
  encrypt(plaintext: string): string;
  /** Decrypts with whichever configured key signed the token (key rotation). */
  decrypt(token: string): string;
}

/** Options for {@link createSecretBox}. */
export interface SecretBoxOptions {
  /** Clock in milliseconds since the epoch; tests pin it. Defaults to `Date.now`. */
  now?: () => number;
  /** Reject tokens older than this many seconds. Default: no age limit (stored keys never expire). */
  ttlSeconds?: number;
}

const VERSION = 0x80;
const KEY_BYTES = 32;
const HALF_KEY_BYTES = 16;
const IV_BYTES = 16;
const BLOCK_BYTES = 16;
const HMAC_BYTES = 32;
// version (1) + timestamp (8) + IV (16)
const HEADER_BYTES = 1 + 8 + IV_BYTES;
// An empty plaintext still pads to one full block, so no valid token is shorter.
const MIN_TOKEN_BYTES = HEADER_BYTES + BLOCK_BYTES + HMAC_BYTES;
/** Same allowance as the reference implementations for tokens stamped slightly in the future. */
const MAX_CLOCK_SKEW_SECONDS = 60;

// Strict alphabets: Node's decoder silently skips junk, and the spec's invalid vectors
// include tokens with foreign characters and data after the padding.
const URLSAFE_BASE64 = /^[A-Za-z0-9_-]*={0,2}$/;
const ANY_BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes base64 with or without padding, refusing anything a careful decoder would not
 * produce unambiguously (stray characters, impossible lengths, misplaced padding).
 */
function decodeBase64(value: string, alphabet: RegExp): Buffer | undefined {
  if (!alphabet.test(value)) return undefined;
  const body = value.replace(/=+$/, "");
  const padding = value.length - body.length;
  if (body.length % 4 === 1) return undefined;
  if (padding > 0 && value.length % 4 !== 0) return undefined;
  return Buffer.from(body.replace(/-/g, "+").replace(/_/g, "/"), "base64");
}

/** Python's `urlsafe_b64encode` keeps `=` padding; Node's `base64url` drops it. */
function encodeUrlsafeBase64(bytes: Buffer): string {
  return bytes.toString("base64").replace(/\+/g, "-").replace(/\//g, "_");
}

function assertKey(key: Buffer): void {
  if (key.length !== KEY_BYTES) {
    throw new SecretBoxError("invalid_key", `Fernet key must be ${KEY_BYTES} bytes`);
  }
}

function sign(key: Buffer, data: Buffer): Buffer {
  return createHmac("sha256", key.subarray(0, HALF_KEY_BYTES)).update(data).digest();
}

/**
 * Parses `SECRETS_KEY`: one or more comma-separated Fernet keys, newest first.
 * Accepts urlsafe or standard base64, padded or not; each must decode to exactly 32 bytes.
 */
export function parseSecretKeys(value: string): Buffer[] {
  if (value.trim() === "") throw new SecretBoxError("invalid_key", "SECRETS_KEY is empty");
  return value.split(",").map((entry, index) => {
    const key = decodeBase64(entry.trim(), ANY_BASE64);
    if (!key || key.length !== KEY_BYTES) {
      throw new SecretBoxError(
        "invalid_key",
        `SECRETS_KEY entry ${index + 1} is not a valid Fernet key (urlsafe base64 of ${KEY_BYTES} bytes)`,
      );
    }
    return key;
  });
}

/** A fresh random key in the same format as Python's `Fernet.generate_key()`. */
export function generateSecretKey(): string {
  return encodeUrlsafeBase64(randomBytes(KEY_BYTES));
}

/**
 * Builds one token from explicit parts. Production code goes through {@link createSecretBox};
 * this exists so the spec's fixed-IV vectors can be checked byte for byte.
 */
export function encryptWith(key: Buffer, plaintext: Buffer, iv: Buffer, timestampSeconds: number): string {
  assertKey(key);
  if (iv.length !== IV_BYTES) throw new RangeError(`IV must be ${IV_BYTES} bytes`);
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new RangeError("timestamp must be a non-negative integer number of seconds");
  }
  const cipher = createCipheriv("aes-128-cbc", key.subarray(HALF_KEY_BYTES), iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const header = Buffer.alloc(1 + 8);
  header.writeUInt8(VERSION, 0);
  header.writeBigUInt64BE(BigInt(timestampSeconds), 1);
  const signed = Buffer.concat([header, iv, ciphertext]);
  return encodeUrlsafeBase64(Buffer.concat([signed, sign(key, signed)]));
}

function invalidToken(reason: string): SecretBoxError {
  return new SecretBoxError("invalid_token", `Fernet token rejected: ${reason}`);
}

/**
 * Creates a secret box from `SECRETS_KEY` text or already parsed keys. The first key encrypts;
 * all keys are tried on decrypt so old tokens stay readable during a rotation.
 */
export function createSecretBox(keys: string | Buffer[], options: SecretBoxOptions = {}): SecretBox {
  const parsed = typeof keys === "string" ? parseSecretKeys(keys) : [...keys];
  if (parsed.length === 0) throw new SecretBoxError("invalid_key", "SECRETS_KEY is empty");
  for (const key of parsed) assertKey(key);
  // Copies, so a caller zeroing or reusing its buffers cannot change the box underneath.
  const ring = parsed.map((key) => Buffer.from(key));
  const primary = ring[0]!;
  const now = options.now ?? Date.now;
  const ttlSeconds = options.ttlSeconds;
  if (ttlSeconds !== undefined && (!Number.isFinite(ttlSeconds) || ttlSeconds < 0)) {
    throw new RangeError("ttlSeconds must be a non-negative number");
  }
  const currentSeconds = () => Math.floor(now() / 1000);

  return {
    encrypt(plaintext) {
      return encryptWith(primary, Buffer.from(plaintext, "utf8"), randomBytes(IV_BYTES), currentSeconds());
    },

    decrypt(token) {
      const data = decodeBase64(token, URLSAFE_BASE64);
      if (!data) throw invalidToken("not urlsafe base64");
      if (data.length < MIN_TOKEN_BYTES) throw invalidToken("too short");
      if (data[0] !== VERSION) throw invalidToken("unknown version");
      if ((data.length - HEADER_BYTES - HMAC_BYTES) % BLOCK_BYTES !== 0) {
        throw invalidToken("ciphertext is not a whole number of blocks");
      }

      // Like Python's Fernet, the timestamp only matters when an age limit is set: stored
      // API keys have none, and a server clock stepping backwards must not make them unreadable.
      if (ttlSeconds !== undefined) {
        // Number() loses precision only far beyond any real date, where both checks still hold.
        const issuedAt = Number(data.readBigUInt64BE(1));
        const current = currentSeconds();
        if (issuedAt + ttlSeconds < current) throw invalidToken("expired");
        if (current + MAX_CLOCK_SKEW_SECONDS < issuedAt) throw invalidToken("timestamp is in the future");
      }

      const signed = data.subarray(0, data.length - HMAC_BYTES);
      const mac = data.subarray(data.length - HMAC_BYTES);
      const key = ring.find((candidate) => timingSafeEqual(sign(candidate, signed), mac));
      if (!key) throw invalidToken("signature does not match any configured key");

      let plaintext: Buffer;
      try {
        const decipher = createDecipheriv(
          "aes-128-cbc",
          key.subarray(HALF_KEY_BYTES),
          data.subarray(1 + 8, HEADER_BYTES),
        );
        plaintext = Buffer.concat([
          decipher.update(data.subarray(HEADER_BYTES, signed.length)),
          decipher.final(),
        ]);
      } catch {
        // OpenSSL's own message is dropped: it adds nothing and must not leak anything either.
        throw invalidToken("bad padding");
      }
      try {
        return utf8.decode(plaintext);
      } catch {
        throw invalidToken("plaintext is not UTF-8 text");
      }
    },
  };
}

/** Shows only the last 4 characters (`••••abcd`), and nothing at all of short secrets. */
export function maskSecret(secret: string): string {
  const characters = Array.from(secret);
  if (characters.length < 8) return "••••";
  return `••••${characters.slice(-4).join("")}`;
}
