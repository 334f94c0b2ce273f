/** Formatting helpers of the admin views. They return plain text: views still escape it. */
import type { DebateFormat } from "../../src/debate/debate-formats";

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** 12345 → "12,345". */
export function formatInt(value: number | null | undefined): string {
  return value == null ? "—" : integer.format(value);
}

/**
 * A USD amount stored as a decimal string (8 places) → "$0.0123". Keeps up to 6 significant
 * decimals for tiny per-turn costs, never goes through a float for the digits shown.
 */
export function formatUsd(value: string | null | undefined): string {
  if (value == null || value === "") return "—";
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(value.trim());
  if (!match) return value;
  const [, sign, whole, fraction = ""] = match;
  const trimmed = fraction.replace(/0+$/, "");
  if (trimmed === "") return `${sign}$${integer.format(Number(whole))}.00`;
  // At least 2 decimals, at most 6 (fractions of a cent matter for single turns).
  const shown = trimmed.length <= 2 ? trimmed.padEnd(2, "0") : trimmed.slice(0, 6);
  return `${sign}$${integer.format(Number(whole))}.${shown}`;
}

/** ISO-like, UTC, minute precision: "2026-07-14 09:30 UTC". */
export function formatTime(value: Date | string | null | undefined): string {
  if (value == null) return "—";
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return "—";
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** Same, with seconds. */
export function formatTimeSeconds(value: Date | string | null | undefined): string {
  if (value == null) return "—";
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return "—";
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** Milliseconds → "850 ms", "12.3 s", "4 min 5 s". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms == null) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes} min ${seconds} s`;
}

/** Shortens long text for table cells. */
export function truncate(text: string, max: number): string {
  const characters = Array.from(text);
  return characters.length <= max ? text : `${characters.slice(0, max - 1).join("")}…`;
}

/** Human wording of a session stop reason. */
export function describeStopReason(reason: string | null | undefined): string {
  switch (reason) {
    case null:
    case undefined:
      return "—";
    case "user":
      return "stopped by the user";
    case "admin":
      return "stopped by an admin";
    case "max_rounds":
      return "round limit reached";
    case "turn_timeout":
      return "turn timeout";
    case "session_timeout":
      return "session time limit";
    case "token_limit":
      return "token limit";
    case "cost_limit":
      return "cost limit";
    case "no_participants":
      return "fewer than two participants left";
    case "error":
      return "error";
    default:
      return reason;
  }
}

/** Each debate format's name and what it means, as the start form and the session page show them. */
export const formatLabels: Record<DebateFormat, { name: string; hint: string }> = {
  roundtable: { name: "Round table", hint: "each speaks in turn" },
  pro_contra: { name: "Pro and contra", hint: "sides, openings and closings" },
  socratic: { name: "Socratic", hint: "the first asks, the others answer" },
  delphi: { name: "Delphi", hint: "anonymous rounds towards agreement" },
};

/** The languages a session's system texts can have ("": the topic's, as the core decides). */
export const languageLabels = { "": "The topic's language", en: "English", ru: "Russian" } as const;

/** The name of a session's format (an unknown value is shown as is). */
export function describeFormat(format: string): string {
  return (formatLabels as Record<string, { name: string } | undefined>)[format]?.name ?? format;
}
