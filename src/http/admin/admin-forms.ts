/**
 * The provider form ↔ the provider service's snake_case input. The form is all strings; numbers
 * and the extra JSON are parsed here so the operator sees a message next to the right field, and
 * the service's own schema issues are mapped back to fields too.
 */
import type { PersonalityFormValues } from "../../../admin-jsx/pages/personalities";
import type { ProviderFormValues } from "../../../admin-jsx/pages/provider-form";
import type { StartFormValues } from "../../../admin-jsx/pages/sessions";
import type { FieldIssue } from "../../catalog/catalog-errors";
import type { PersonalityView } from "../../catalog/personality-service";
import type { ProviderView } from "../../catalog/provider-service";
import { CONTINUE_ROUNDS_RANGE, ROUNDS_EXPECTED, roundsRule } from "../../config";
import { type DebateFormat, isDebateFormat } from "../../debate/debate-formats";
import { checked, type FormFields, field } from "./admin-http";

type FieldErrors = Record<string, string | undefined>;

const paramFields = [
  "temperature",
  "max_tokens",
  "price_input_per_1m",
  "price_cached_input_per_1m",
  "price_output_per_1m",
] as const;

const numberText = (value: unknown) => (typeof value === "number" ? String(value) : "");

/** The form as shown for a stored provider (or the defaults of a new one). */
export function providerFormFromView(view?: ProviderView): ProviderFormValues {
  const params = view?.params ?? {};
  return {
    name: view?.name ?? "",
    type: view?.type ?? "openai_compatible",
    base_url: view?.base_url ?? "",
    model_id: view?.model_id ?? "",
    temperature: numberText(params.temperature),
    max_tokens: numberText(params.max_tokens),
    price_input_per_1m: numberText(params.price_input_per_1m),
    price_cached_input_per_1m: numberText(params.price_cached_input_per_1m),
    price_output_per_1m: numberText(params.price_output_per_1m),
    extra: params.extra && Object.keys(params.extra).length > 0 ? JSON.stringify(params.extra, null, 2) : "",
    enabled: view?.enabled ?? true,
    default_personality_id: view?.default_personality_id == null ? "" : String(view.default_personality_id),
  };
}

/** The form as submitted (the API key is read separately and never kept in these values). */
export function readProviderForm(form: FormFields): ProviderFormValues {
  return {
    name: field(form, "name"),
    type: field(form, "type"),
    base_url: field(form, "base_url"),
    model_id: field(form, "model_id"),
    temperature: field(form, "temperature"),
    max_tokens: field(form, "max_tokens"),
    price_input_per_1m: field(form, "price_input_per_1m"),
    price_cached_input_per_1m: field(form, "price_cached_input_per_1m"),
    price_output_per_1m: field(form, "price_output_per_1m"),
    extra: field(form, "extra"),
    enabled: checked(form, "enabled"),
    default_personality_id: field(form, "default_personality_id"),
  };
}

/** Parses a decimal typed by a person ("0,8" is accepted as 0.8). */
function parseNumber(text: string): number | undefined | null {
  const trimmed = text.trim().replace(",", ".");
  if (trimmed === "") return undefined;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(trimmed)) return null;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : null;
}

/**
 * Builds the service input from the form. `api_key`: blank keeps the stored key (omitted), the
 * "remove" box sends null. Returns the field errors found before the service is even asked.
 */
export function providerInputFromForm(
  values: ProviderFormValues,
  form: FormFields,
): { input: Record<string, unknown>; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const params: Record<string, unknown> = {};
  for (const name of paramFields) {
    const parsed = parseNumber(values[name]);
    if (parsed === null) errors[name] = "Must be a number.";
    else if (parsed !== undefined) params[name] = parsed;
  }
  if (values.extra.trim() !== "") {
    try {
      const extra = JSON.parse(values.extra);
      if (!extra || typeof extra !== "object" || Array.isArray(extra)) {
        errors.extra = 'Must be a JSON object, e.g. {"top_p": 0.9}.';
      } else if (Object.keys(extra).length > 0) {
        params.extra = extra;
      }
    } catch (error) {
      errors.extra = `Not valid JSON: ${error instanceof Error ? error.message : "parse error"}.`;
    }
  }
  let defaultPersonality: number | null = null;
  if (values.default_personality_id !== "") {
    const id = Number(values.default_personality_id);
    if (Number.isSafeInteger(id) && id > 0) defaultPersonality = id;
    else errors.default_personality_id = "Choose a personality from the list.";
  }
  const input: Record<string, unknown> = {
    name: values.name,
    type: values.type,
    base_url: values.base_url,
    model_id: values.model_id,
    params,
    enabled: values.enabled,
    default_personality_id: defaultPersonality,
  };
  const apiKey = field(form, "api_key").trim();
  if (checked(form, "remove_api_key")) input.api_key = null;
  else if (apiKey !== "") input.api_key = apiKey;
  return { input, errors };
}

/** Whether the operator typed a new key (it is never echoed back into a re-rendered form). */
export function typedApiKey(form: FormFields): boolean {
  return field(form, "api_key").trim() !== "";
}

/** Maps service issues (`params.temperature`, `name`, …) to form fields with readable messages. */
export function issuesToFieldErrors(issues: FieldIssue[], knownFields: readonly string[]): FieldErrors {
  const errors: FieldErrors = {};
  for (const issue of issues) {
    const segments = issue.path.split(".").filter(Boolean);
    let name = segments[0] ?? "";
    if (name === "params" && segments[1]) name = segments[1];
    const target = knownFields.includes(name) ? name : "_form";
    // "params.temperature must be at most 2 (was 3)" → "Must be at most 2 (was 3)".
    let message = issue.message;
    for (const prefix of [`${issue.path} `, `${name} `, `${name}: `]) {
      if (issue.path && message.startsWith(prefix)) {
        message = message.slice(prefix.length);
        break;
      }
    }
    message = message.charAt(0).toUpperCase() + message.slice(1);
    if (target === "_form" && issue.path) message = `${issue.path}: ${message}`;
    errors[target] = errors[target] ? `${errors[target]} ${message}` : message;
  }
  return errors;
}

export const providerFormFields = [
  "name",
  "type",
  "base_url",
  "model_id",
  "api_key",
  ...paramFields,
  "extra",
  "enabled",
  "default_personality_id",
] as const;

export const personalityFormFields = ["title", "instructions", "style"] as const;

export function personalityFormFromView(view?: PersonalityView): PersonalityFormValues {
  return { title: view?.title ?? "", instructions: view?.instructions ?? "", style: view?.style ?? "" };
}

export function readPersonalityForm(form: FormFields): PersonalityFormValues {
  return {
    title: field(form, "title"),
    instructions: field(form, "instructions"),
    style: field(form, "style"),
  };
}

/** JSON text with object keys sorted at every depth (jsonb does not keep key order). */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, inner]) => inner !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${canonicalJson(inner)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** Deep equality of JSON values regardless of key order. */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** An integer typed into a form, checked against `rule` (`expected` words it for the message). */
function readIntegerField(
  raw: string,
  rule: { allows(value: unknown): boolean },
  expected: string,
): { text: string; value?: number; error?: string } {
  const text = raw.trim();
  if (text === "") return { text };
  const value = /^\d{1,6}$/.test(text) ? Number(text) : Number.NaN;
  if (!rule.allows(value)) return { text, error: `Must be ${expected}.` };
  return { text, value };
}

/** The optional rounds field of "start a debate": blank means the MAX_ROUNDS setting. */
export function readRoundsField(raw: string): { text: string; value?: number; error?: string } {
  return readIntegerField(raw, roundsRule, ROUNDS_EXPECTED);
}

const CONTINUE_EXPECTED = `an integer from ${CONTINUE_ROUNDS_RANGE.min} to ${CONTINUE_ROUNDS_RANGE.max}`;
const continueRule = {
  allows: (value: unknown) =>
    Number.isInteger(value) &&
    (value as number) >= CONTINUE_ROUNDS_RANGE.min &&
    (value as number) <= CONTINUE_ROUNDS_RANGE.max,
};

/** The rounds of "continue the debate": required, within CONTINUE_ROUNDS_RANGE. */
export function readContinueRoundsField(raw: string): { text: string; value?: number; error?: string } {
  const read = readIntegerField(raw, continueRule, CONTINUE_EXPECTED);
  return read.text === "" ? { text: "", error: `Must be ${CONTINUE_EXPECTED}.` } : read;
}

/** "Start a debate" as submitted, with what is wrong before the service is asked. */
export function readStartForm(form: FormFields): { values: StartFormValues; input?: StartInput } {
  const rounds = readRoundsField(field(form, "max_rounds"));
  const format = field(form, "format") || "roundtable";
  const language = field(form, "language");
  const values: StartFormValues = {
    topic: field(form, "topic"),
    max_rounds: rounds.text,
    format,
    verdict: checked(form, "verdict"),
    language,
    errors: {
      max_rounds: rounds.error,
      format: isDebateFormat(format) ? undefined : "Choose a format from the list.",
      language: ["", "ru", "en"].includes(language) ? undefined : "Choose a language from the list.",
    },
  };
  if (Object.values(values.errors).some(Boolean)) return { values };
  return {
    values,
    input: {
      topic: values.topic,
      maxRounds: rounds.value,
      format: format as DebateFormat,
      verdict: values.verdict,
      language: language === "" ? undefined : (language as "ru" | "en"),
    },
  };
}

/** What "start a debate" asks the debate service for. */
export interface StartInput {
  topic: string;
  maxRounds?: number;
  format: DebateFormat;
  verdict: boolean;
  /** Omitted: the topic's language. */
  language?: "ru" | "en";
}
