/**
 * Errors of the catalog (providers, personalities) and the one place that turns schema issues
 * into messages safe to show: a value under a secret-looking field is never echoed.
 */

/** One invalid field: a dotted path (`params.temperature`, `""` for the whole input) and a message. */
export interface FieldIssue {
  path: string;
  message: string;
}

export type CatalogErrorCode =
  | "provider_not_found"
  | "personality_not_found"
  | "name_taken"
  | "title_taken"
  | "invalid_input";

/** A refused catalog operation; each door maps `code` (not found, conflict, invalid) to its own answer. */
export class CatalogError extends Error {
  constructor(
    readonly code: CatalogErrorCode,
    message: string,
    /** For `invalid_input`: what is wrong, field by field. */
    readonly issues: FieldIssue[] = [],
  ) {
    super(message);
    this.name = "CatalogError";
  }
}

/** Field names whose values are secrets (same family as the audit log's redaction). */
const SECRET_FIELD_PATTERN = /(api_?key|apikey|token|password|secret|authorization|cookie)/i;
const MAX_ISSUES = 50;
const MAX_MESSAGE_LENGTH = 300;

export function isSecretField(name: string): boolean {
  return SECRET_FIELD_PATTERN.test(name);
}

/** The shape shared by arktype's `ArkError` and Standard Schema issues. */
export interface SchemaIssueLike {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
  /** arktype: what the value must be, e.g. "a string", "at most length 500". */
  readonly expected?: string | undefined;
}

/**
 * Turns schema issues into `{path, message}` pairs. arktype's messages end with the offending value
 * (`api_key must be a string (was "sk-…")` for unions, lengths, patterns): under a secret field the
 * message is rebuilt from the expectation alone, without the value.
 */
export function describeIssues(issues: Iterable<SchemaIssueLike>): FieldIssue[] {
  const result: FieldIssue[] = [];
  for (const issue of issues) {
    if (result.length >= MAX_ISSUES) break;
    // Array.from, not .map: arktype's path is an Array subclass whose species turns an empty map into [0].
    const segments = Array.from(issue.path ?? [], (segment) =>
      String(typeof segment === "object" && segment !== null ? segment.key : segment),
    );
    const path = segments.join(".");
    let message: string;
    if (segments.some(isSecretField)) {
      const expected =
        typeof issue.expected === "string" &&
        !/\(was\b/.test(issue.expected) &&
        !issue.expected.includes("\n")
          ? issue.expected
          : "valid";
      message = `${path} must be ${expected}`;
    } else {
      message = issue.message;
    }
    if (message.length > MAX_MESSAGE_LENGTH) message = `${message.slice(0, MAX_MESSAGE_LENGTH - 1)}…`;
    result.push({ path, message });
  }
  return result;
}
