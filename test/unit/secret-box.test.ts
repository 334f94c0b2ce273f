import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import {
  createSecretBox,
  encryptWith,
  generateSecretKey,
  maskSecret,
  parseSecretKeys,
  SecretBoxError,
} from "../../src/platform/secret-box";

// Vectors copied from https://github.com/fernet/spec (generate.json, verify.json, invalid.json).
const SPEC_SECRET = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
const SPEC_TOKEN =
  "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==";

const generateVectors = [
  {
    token: SPEC_TOKEN,
    now: "1985-10-26T01:20:00-07:00",
    iv: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    src: "hello",
    secret: SPEC_SECRET,
  },
];

const verifyVectors = [
  { token: SPEC_TOKEN, now: "1985-10-26T01:20:01-07:00", ttl_sec: 60, src: "hello", secret: SPEC_SECRET },
];

const invalidVectors = [
  {
    desc: "incorrect mac",
    token:
      "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykQUFBQUFBQUFBQQ==",
    now: "1985-10-26T01:20:01-07:00",
  },
  {
    desc: "too short",
    token: "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPA==",
    now: "1985-10-26T01:20:01-07:00",
  },
  {
    desc: "invalid base64",
    token:
      "%%%%%%%%%%%%%AECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykRtfsH-p1YsUD2Q==",
    now: "1985-10-26T01:20:01-07:00",
  },
  {
    desc: "payload size not multiple of block size",
    token: "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPOm73QeoCk9uGib28Xe5vz6oxq5nmxbx_v7mrfyudzUm",
    now: "1985-10-26T01:20:01-07:00",
  },
  {
    desc: "payload padding error",
    token:
      "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0ODz4LEpdELGQAad7aNEHbf-JkLPIpuiYRLQ3RtXatOYREu2FWke6CnJNYIbkuKNqOhw==",
    now: "1985-10-26T01:20:01-07:00",
  },
  {
    desc: "far-future TS (unacceptable clock skew)",
    token:
      "gAAAAAAdwStRAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAnja1xKYyhd-Y6mSkTOyTGJmw2Xc2a6kBd-iX9b_qXQcw==",
    now: "1985-10-26T01:20:01-07:00",
  },
  {
    desc: "expired TTL",
    token:
      "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykRtfsH-p1YsUD2Q==",
    now: "1985-10-26T01:21:31-07:00",
  },
  {
    desc: "incorrect IV (causes padding error)",
    token:
      "gAAAAAAdwJ6xBQECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAkLhFLHpGtDBRLRTZeUfWgHSv49TF2AUEZ1TIvcZjK1zQ==",
    now: "1985-10-26T01:20:01-07:00",
  },
  {
    // Python's cryptography 48 accepts this one (its decoder drops the tail); we are stricter.
    desc: "trailing characters after b64 padding",
    token: `${SPEC_TOKEN}trailingdata`,
    now: "1985-10-26T01:20:01-07:00",
  },
  {
    desc: "invalid characters in b64",
    token:
      "*gAAAAAAdwJ6wAAECAwQFBgcI!CQoLDA0ODy021?cpGVWKZ_eEwC@GM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==",
    now: "1985-10-26T01:20:01-07:00",
  },
  {
    desc: "invalid non-urlsafe characters in b64",
    token:
      "gAAAAAAdwJ6wAAEC/AwQFBgcICQoLDA0ODy+021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==",
    now: "1985-10-26T01:20:01-07:00",
  },
].map((vector) => ({ ...vector, ttl_sec: 60, secret: SPEC_SECRET }));

// Produced once by hand with Python cryptography 48.0.0:
//   Fernet(PYTHON_KEY).encrypt_at_time(plaintext, 1767225600)
const PYTHON_KEY = "OZmwgFmPP8cbX6S76aOVBvgy_4ngmJKNjRM_JMPQp3I=";
const pythonTokens = [
  {
    plaintext: "sk-proj-abc123XYZ",
    token:
      "gAAAAABpVbkASBJ1ghMwa1L3bMJ4mOob_tJdwWteqmbDRzWIdGwNYFMCwuZkXOE3N1rxDLhQayOhdWcPTvrvC7WK8BmGKWzKH9Rv_v-nnZxwj17VksApIfs=",
  },
  {
    plaintext: "ключ 🔑 ß",
    token:
      "gAAAAABpVbkA09bJsnM9GfsgTBL6oY-NJgKNcaqtjUodcZnsmHRaJGJHjeEiwEgny0k8zk0CQeAgblw_xe9R7msyLCZ-OiZSJ7hIczTaNSTMmttfSiFS5WU=",
  },
  {
    plaintext: "",
    token:
      "gAAAAABpVbkANB6uJHHXTUX3BiMVLysj7Em-G86XlWKT4hpsIxpnT35mDbeMFHivtzptuKsy_oYNxQEb1GzDDmg5VeEN8-x9ow==",
  },
];

const at = (iso: string) => () => Date.parse(iso);
const specKey = () => parseSecretKeys(SPEC_SECRET)[0]!;

function toBytes(token: string): Buffer {
  return Buffer.from(token, "base64url");
}

function toToken(bytes: Buffer): string {
  return bytes.toString("base64").replace(/\+/g, "-").replace(/\//g, "_");
}

function mutate(token: string, change: (bytes: Buffer) => void): string {
  const bytes = toBytes(token);
  change(bytes);
  return toToken(bytes);
}

function rejection(run: () => unknown): SecretBoxError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SecretBoxError);
    return error as SecretBoxError;
  }
  throw new Error("expected a SecretBoxError, nothing was thrown");
}

describe("Fernet spec vectors", () => {
  for (const vector of generateVectors) {
    test(`generate: ${vector.src}`, () => {
      const seconds = Date.parse(vector.now) / 1000;
      const key = parseSecretKeys(vector.secret)[0]!;
      expect(encryptWith(key, Buffer.from(vector.src), Buffer.from(vector.iv), seconds)).toBe(vector.token);
    });
  }

  for (const vector of verifyVectors) {
    test(`verify: ${vector.src}`, () => {
      const box = createSecretBox(vector.secret, { now: at(vector.now), ttlSeconds: vector.ttl_sec });
      expect(box.decrypt(vector.token)).toBe(vector.src);
    });
  }

  for (const vector of invalidVectors) {
    test(`invalid: ${vector.desc}`, () => {
      const box = createSecretBox(vector.secret, { now: at(vector.now), ttlSeconds: vector.ttl_sec });
      expect(rejection(() => box.decrypt(vector.token)).code).toBe("invalid_token");
    });
  }
});

describe("rejections derived from the valid spec token", () => {
  const box = createSecretBox(SPEC_SECRET, { now: at("1985-10-26T01:20:01-07:00"), ttlSeconds: 60 });

  // Three blocks of ciphertext, so truncations can stay above the minimum token size.
  const longToken = encryptWith(specKey(), Buffer.from("x".repeat(40)), Buffer.alloc(16), 499162800);

  test("the untouched tokens are accepted (control)", () => {
    expect(box.decrypt(SPEC_TOKEN)).toBe("hello");
    expect(box.decrypt(longToken)).toBe("x".repeat(40));
  });

  const cases: Array<[string, string, RegExp]> = [
    [
      "bad version byte",
      mutate(SPEC_TOKEN, (bytes) => {
        bytes[0] = 0x81;
      }),
      /version/,
    ],
    [
      "tampered HMAC",
      mutate(SPEC_TOKEN, (bytes) => {
        bytes[bytes.length - 1]! ^= 0x01;
      }),
      /signature/,
    ],
    [
      "tampered ciphertext",
      mutate(SPEC_TOKEN, (bytes) => {
        bytes[25]! ^= 0x01;
      }),
      /signature/,
    ],
    [
      "tampered timestamp",
      mutate(SPEC_TOKEN, (bytes) => {
        bytes[8]! ^= 0x01;
      }),
      /signature/,
    ],
    ["truncated by one block", toToken(toBytes(longToken).subarray(0, -16)), /signature/],
    ["truncated below the minimum size", toToken(toBytes(SPEC_TOKEN).subarray(0, 40)), /too short/],
    ["truncated mid-block", toToken(toBytes(longToken).subarray(0, -5)), /blocks/],
    ["empty", "", /too short/],
    ["bad base64 character", `${SPEC_TOKEN.slice(0, 10)}.${SPEC_TOKEN.slice(11)}`, /base64/],
    ["impossible base64 length", SPEC_TOKEN.slice(0, 97), /base64/],
    ["padding in the middle", `${SPEC_TOKEN.slice(0, 8)}==${SPEC_TOKEN.slice(8)}`, /base64/],
    ["surrounding whitespace", ` ${SPEC_TOKEN}`, /base64/],
  ];
  for (const [name, token, reason] of cases) {
    test(name, () => {
      const error = rejection(() => box.decrypt(token));
      expect(error.code).toBe("invalid_token");
      expect(error.message).toMatch(reason);
    });
  }

  test("expired by ttl", () => {
    const late = createSecretBox(SPEC_SECRET, { now: at("1985-10-26T01:21:01-07:00"), ttlSeconds: 60 });
    expect(rejection(() => late.decrypt(SPEC_TOKEN)).message).toMatch(/expired/);
    // Exactly ttl seconds old is still fine, as in the reference implementations.
    const edge = createSecretBox(SPEC_SECRET, { now: at("1985-10-26T01:21:00-07:00"), ttlSeconds: 60 });
    expect(edge.decrypt(SPEC_TOKEN)).toBe("hello");
  });

  test("too far in the future, but within 60 s of skew is fine", () => {
    const early = createSecretBox(SPEC_SECRET, { now: at("1985-10-26T01:18:59-07:00"), ttlSeconds: 60 });
    expect(rejection(() => early.decrypt(SPEC_TOKEN)).message).toMatch(/future/);
    const skewed = createSecretBox(SPEC_SECRET, { now: at("1985-10-26T01:19:00-07:00"), ttlSeconds: 60 });
    expect(skewed.decrypt(SPEC_TOKEN)).toBe("hello");
  });

  test("without a ttl the timestamp is not checked (stored keys never expire)", () => {
    const years = createSecretBox(SPEC_SECRET, { now: at("2030-01-01T00:00:00Z") });
    expect(years.decrypt(SPEC_TOKEN)).toBe("hello");
    const before = createSecretBox(SPEC_SECRET, { now: at("1970-01-01T00:00:00Z") });
    expect(before.decrypt(SPEC_TOKEN)).toBe("hello");
  });

  test("validly signed but badly padded plaintext is rejected", () => {
    const key = specKey();
    // Re-sign a ciphertext whose last block was altered so the HMAC passes and unpadding fails.
    const forged = toBytes(encryptWith(key, Buffer.from("hello"), Buffer.alloc(16), 499162800));
    forged[forged.length - 33]! ^= 0xff;
    const signed = forged.subarray(0, -32);
    const hmac = createHmac("sha256", key.subarray(0, 16)).update(signed).digest();
    const token = toToken(Buffer.concat([signed, hmac]));
    expect(rejection(() => createSecretBox(SPEC_SECRET).decrypt(token)).message).toMatch(/padding/);
  });
});

describe("Python compatibility", () => {
  for (const { plaintext, token } of pythonTokens) {
    test(`decrypts a token made by cryptography.fernet (${JSON.stringify(plaintext)})`, () => {
      expect(createSecretBox(PYTHON_KEY).decrypt(token)).toBe(plaintext);
    });
  }

  test("our tokens use urlsafe base64 with padding and round-trip", () => {
    const box = createSecretBox(SPEC_SECRET, { now: at("2026-01-01T00:00:00Z") });
    for (const plaintext of ["", "x", "sk-or-v1-0123456789abcdef", "ключ 🔑", "a".repeat(1000)]) {
      const token = box.encrypt(plaintext);
      expect(token).toMatch(/^gAAAAA[A-Za-z0-9_-]*={0,2}$/);
      expect(token.length % 4).toBe(0);
      expect(box.decrypt(token)).toBe(plaintext);
    }
  });

  test("the timestamp field records the clock in seconds", () => {
    const box = createSecretBox(SPEC_SECRET, { now: () => 1767225600999 });
    expect(toBytes(box.encrypt("hi")).readBigUInt64BE(1)).toBe(1767225600n);
  });

  test("tokens with the padding stripped still decrypt", () => {
    const stripped = SPEC_TOKEN.replace(/=+$/, "");
    expect(stripped).not.toBe(SPEC_TOKEN);
    expect(createSecretBox(SPEC_SECRET).decrypt(stripped)).toBe("hello");
    const python = pythonTokens[0]!;
    expect(createSecretBox(PYTHON_KEY).decrypt(python.token.replace(/=+$/, ""))).toBe(python.plaintext);
  });

  test("two encryptions of the same text differ (random IV)", () => {
    const box = createSecretBox(SPEC_SECRET);
    expect(box.encrypt("same")).not.toBe(box.encrypt("same"));
  });
});

describe("key rotation", () => {
  const oldKey = generateSecretKey();
  const newKey = generateSecretKey();

  test("a token from the old key decrypts with new,old", () => {
    const token = createSecretBox(oldKey).encrypt("legacy");
    expect(createSecretBox(`${newKey},${oldKey}`).decrypt(token)).toBe("legacy");
    expect(createSecretBox(` ${newKey} , ${oldKey} `).decrypt(token)).toBe("legacy");
  });

  test("new tokens are encrypted with the first key", () => {
    const token = createSecretBox(`${newKey},${oldKey}`).encrypt("fresh");
    expect(createSecretBox(newKey).decrypt(token)).toBe("fresh");
    const error = rejection(() => createSecretBox(oldKey).decrypt(token));
    expect(error.code).toBe("invalid_token");
  });

  test("accepts parsed keys as buffers", () => {
    const keys = parseSecretKeys(`${newKey},${oldKey}`);
    const token = createSecretBox(oldKey).encrypt("buffers");
    expect(createSecretBox(keys).decrypt(token)).toBe("buffers");
  });
});

describe("parseSecretKeys", () => {
  test("parses one or several keys, urlsafe or standard base64, padded or not", () => {
    const key = generateSecretKey();
    const standard = Buffer.from(key, "base64url").toString("base64");
    const keys = parseSecretKeys(`${key}, ${standard} ,${key.replace(/=$/, "")}`);
    expect(keys).toHaveLength(3);
    for (const parsed of keys) expect(parsed.equals(Buffer.from(key, "base64url"))).toBe(true);
  });

  test.each(["", "   "])("empty value %p", (value) => {
    const error = rejection(() => parseSecretKeys(value));
    expect(error.code).toBe("invalid_key");
    expect(error.message).toBe("SECRETS_KEY is empty");
  });

  const bad: Array<[string, string, number]> = [
    ["too short (16 bytes)", Buffer.alloc(16, 7).toString("base64url"), 1],
    ["too long (33 bytes)", Buffer.alloc(33, 7).toString("base64url"), 1],
    ["garbage text", "not-a-key!!", 1],
    ["hex instead of base64", "ab".repeat(32), 1],
    ["second entry broken", `${SPEC_SECRET},hunter2hunter2`, 2],
    ["empty second entry", `${SPEC_SECRET},`, 2],
    ["trailing junk after padding", `${SPEC_SECRET}xyz`, 1],
  ];
  for (const [name, value, entry] of bad) {
    test(`rejects ${name} without echoing it`, () => {
      const error = rejection(() => parseSecretKeys(value));
      expect(error.code).toBe("invalid_key");
      expect(error.message).toBe(
        `SECRETS_KEY entry ${entry} is not a valid Fernet key (urlsafe base64 of 32 bytes)`,
      );
      for (const part of value.split(",")) {
        if (part.trim() !== "") expect(error.message).not.toContain(part.trim());
      }
    });
  }

  test("createSecretBox surfaces the same key error", () => {
    expect(rejection(() => createSecretBox("nope")).code).toBe("invalid_key");
    expect(rejection(() => createSecretBox([])).code).toBe("invalid_key");
    expect(rejection(() => createSecretBox([Buffer.alloc(16)])).code).toBe("invalid_key");
  });
});

describe("no secret material in errors", () => {
  test("decrypt failures mention neither key nor plaintext", () => {
    const plaintext = "sk-live-SUPERSECRET-0000";
    const token = createSecretBox(SPEC_SECRET).encrypt(plaintext);
    const other = generateSecretKey();
    const error = rejection(() => createSecretBox(other).decrypt(token));
    for (const secret of [plaintext, other, SPEC_SECRET, token]) {
      expect(error.message).not.toContain(secret);
      expect(String(error.stack)).not.toContain(secret);
    }
  });
});

describe("generateSecretKey", () => {
  test("is urlsafe base64 of 32 random bytes with padding, like Fernet.generate_key()", () => {
    const key = generateSecretKey();
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}=$/);
    expect(parseSecretKeys(key)[0]).toHaveLength(32);
    expect(generateSecretKey()).not.toBe(key);
  });
});

describe("maskSecret", () => {
  test("shows only the last four characters", () => {
    expect(maskSecret("sk-proj-abcdefgh1234abcd")).toBe("••••abcd");
    expect(maskSecret("12345678")).toBe("••••5678");
  });

  test("hides short secrets entirely", () => {
    for (const secret of ["", "a", "abc", "1234567"]) expect(maskSecret(secret)).toBe("••••");
  });

  test("never splits a surrogate pair", () => {
    expect(maskSecret("secret-key-🔑🔑🔑🔑")).toBe("••••🔑🔑🔑🔑");
  });
});
