import { type Logger as PinoLogger, pino } from "pino";

/** Structured JSON-lines logger on pino: `{"level":"info","time":"…",…base,"msg":"…",…fields}`. */
export type LogLevel = "debug" | "info" | "warn" | "error";

type Fields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
  child(fields: Fields): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go (one call per line, without the newline, synchronously); defaults to stdout. */
  write?: (line: string) => void;
  base?: Fields;
}

/**
 * Field names whose values are secrets, at any depth and in any casing: `apiKey`, `api_key`,
 * `x-api-key`, `SECRETS_KEY`, `webhookSecret`, `password`, `token`, `botToken`, `authorization`,
 * `cookie`, `set-cookie`… (`token$`, so `tokens_in` stays). A key pattern walked by hand rather
 * than pino's `redact`: its paths are exact names at fixed depths, and each wildcard path
 * (`*.apiKey`) is re-parsed and tried on every field of every line — with these names at depths
 * 1–3 (≈110 paths) an `llm call` line took ≈1.5 ms instead of ≈15 µs (pino 10.4 on Bun 1.4).
 */
const SECRET_KEY =
  /api[-_]?key|private[-_]?key|token$|password|passwd|secret|credential|authorization|cookie/i;
const REDACTED = "[redacted]";

/** Nesting kept in a line (objects, arrays and error causes all count); deeper values are cut. */
const MAX_DEPTH = 8;

/**
 * An error as a plain object: name, message, stack, `code`/`status` when set (a Telegram error's
 * `code` is the HTTP status and its message Telegram's description), the API `method` it came
 * from, and its `cause`.
 * Only these: other enumerable properties of library errors (request options, headers, SQL
 * parameters) are not ours to vouch for.
 */
function serializeError(error: Error, ancestors: object[]): Fields {
  const { code, status, method } = error as { code?: unknown; status?: unknown; method?: unknown };
  const serialized: Fields = { name: error.name, message: error.message, stack: error.stack };
  if (code !== undefined) serialized.code = code;
  if (status !== undefined) serialized.status = status;
  if (typeof method === "string") serialized.method = method;
  if (error.cause !== undefined) serialized.cause = prepare(error.cause, ancestors);
  return serialized;
}

/**
 * A value ready for JSON: errors serialized, secrets redacted, cycles and nesting cut.
 * `ancestors` are the objects above it (a cycle back to one of them becomes "[Circular]").
 */
function prepare(value: unknown, ancestors: object[]): unknown {
  if (value === null || typeof value !== "object") return value;
  if (ancestors.includes(value)) return "[Circular]";
  if (ancestors.length >= MAX_DEPTH) return "[Truncated]";
  // Dates, Buffers, URLs… serialize themselves.
  if (!(value instanceof Error) && typeof (value as { toJSON?: unknown }).toJSON === "function") return value;
  ancestors.push(value);
  try {
    if (value instanceof Error) return serializeError(value, ancestors);
    if (Array.isArray(value)) return value.map((item) => prepare(item, ancestors));
    return prepareFields(value as Fields, ancestors);
  } finally {
    ancestors.pop();
  }
}

function prepareFields(fields: Fields, ancestors: object[]): Fields {
  const prepared: Fields = {};
  for (const [key, value] of Object.entries(fields))
    prepared[key] = SECRET_KEY.test(key) ? REDACTED : prepare(value, ancestors);
  return prepared;
}

const prepareTopLevel = (fields: Fields): Fields => prepareFields(fields, []);

function wrap(instance: PinoLogger): Logger {
  const at = (level: LogLevel) => (message: string, fields?: Fields) => {
    // `msg` goes in the object, not as pino's message argument, so it is written before the
    // fields (as before pino), not after them: `"msg":"http listening",…,"url":…`.
    if (instance.isLevelEnabled(level)) instance[level]({ msg: message, ...fields });
  };
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    // Pino runs no formatter on child bindings: they are prepared here, once per child.
    child: (fields) => wrap(instance.child(prepareTopLevel(fields))),
  };
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const write = options.write;
  const destination = write
    ? { write: (line: string) => write(line.endsWith("\n") ? line.slice(0, -1) : line) }
    : { write: (line: string) => process.stdout.write(line) };
  return wrap(
    pino(
      {
        level: options.level ?? "info",
        base: options.base ? prepareTopLevel(options.base) : null,
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: {
          level: (label) => ({ level: label }),
          log: prepareTopLevel,
        },
        // Errors are already plain objects by now (`formatters.log`); pino's own `err`
        // serializer would serialize them a second time.
        serializers: { err: (value: unknown) => value },
      },
      destination,
    ),
  );
}

/** A logger that drops everything (tests that do not look at logs). */
export const silentLogger: Logger = wrap(pino({ level: "silent" }, { write: () => {} }));
