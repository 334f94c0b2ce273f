import { asc } from "drizzle-orm";
import { type Provider, providers } from "../db/schema";
import type { ChatMessage } from "../llm/chat-model";
import type { Db } from "../platform/db";
import type { Logger } from "../platform/logger";
import type { SecretBox } from "../platform/secret-box";
import type { SettingsService } from "../settings/settings-service";
import { fitMessages } from "./context-compression";
import { debateTexts } from "./debate-texts";
import { formatOf } from "./formats";
import { providerProblem } from "./model-factory";
import { interjectionText, messageTokens } from "./prompt";
import type { MessageDraft } from "./step-writer";

/** How many tokens the verdict may take. */
export const VERDICT_MAX_TOKENS = 1200;

/** Where the runs get the moderator's provider: the setting's, or the first that can answer. */
export type ModeratorSource = () => Promise<Provider | null>;

/**
 * The moderator is the provider `MODERATOR_PROVIDER_ID` names, when it can answer (enabled, with a
 * usable key); otherwise (unset, deleted, disabled, keyless) the first such provider in admin order.
 * Read when a verdict is due (once a debate), so a setting changed mid-debate applies to it.
 */
export function createModeratorSource(deps: {
  db: Db;
  settings: SettingsService;
  secretBox: SecretBox;
  logger: Logger;
}): ModeratorSource {
  return async () => {
    const [current, rows] = await Promise.all([
      deps.settings.getAll(),
      deps.db.select().from(providers).orderBy(asc(providers.orderIndex), asc(providers.id)),
    ]);
    const usable = rows.filter((row) => providerProblem(row, deps.secretBox) === null);
    const wanted = current.MODERATOR_PROVIDER_ID;
    if (wanted !== "") {
      const chosen = usable.find((row) => row.id === wanted);
      if (chosen) return chosen;
      deps.logger.warn("moderator provider unavailable; using the first usable provider", {
        provider: wanted,
      });
    }
    return usable[0] ?? null;
  };
}

/**
 * The moderator's request: what the debate was (topic, format, who took part), the transcript with
 * speakers, rounds and interjections, and the sections of the synthesis, in the session's language.
 * Over the context limit, the oldest turns go first (the latest summary stands for them when there is one).
 */
export function buildVerdictRequest(input: {
  topic: string;
  language: string;
  format: string;
  participants: readonly { name: string; personaTitle: string | null; excluded: boolean }[];
  messages: readonly MessageDraft[];
  contextTokenLimit: number;
}): ChatMessage[] {
  const texts = debateTexts(input.language);
  const sections = texts.verdictSections;
  const format = formatOf(input.format);
  const names = input.participants
    .map(
      (participant) =>
        `- ${participant.name}${participant.personaTitle ? ` (${participant.personaTitle})` : ""}${
          participant.excluded ? " — excluded before the end" : ""
        }`,
    )
    .join("\n");
  const system = [
    "You are the impartial moderator of a debate between AI models on a topic given by a user. The debate is over: write its verdict, a synthesis for the user.",
    `Format of the debate: ${format.name}.`,
    `Participants:\n${names}`,
    `Write in ${texts.languageName}, in Markdown, under exactly these headings, in this order:`,
    [
      `## ${sections.agreement} — the points the participants share.`,
      `## ${sections.differences} — the points of disagreement and the reasons behind each position.`,
      `## ${sections.strongest} — one line per participant, by name: their strongest argument.`,
      `## ${sections.open} — what the debate left unresolved.`,
      `## ${sections.consensus} — one of: ${sections.levels.join(", ")}; then one sentence why.`,
    ].join("\n"),
    "Be fair to every participant, quote nobody at length, add no opinion of your own, and stay under 400 words.",
  ].join("\n\n");
  const summary = input.messages.findLast((message) => message.authorType === "summary");
  const transcript = (from: number) =>
    input.messages
      .filter(
        (message) =>
          message.turnIndex > from &&
          ((message.authorType === "model" && !message.flagged) || message.authorType === "user"),
      )
      .map(
        (message): ChatMessage => ({
          role: "user",
          content:
            message.authorType === "user"
              ? `[round ${message.round}] ${interjectionText(message.content)}`
              : `[round ${message.round}] ${message.authorName}: ${message.content}`,
        }),
      );
  const head: ChatMessage[] = [
    { role: "system", content: system },
    { role: "user", content: `Topic of the debate: ${input.topic}` },
  ];
  const call: ChatMessage = { role: "user", content: "The transcript is above. Write the verdict now." };
  const full = [...head, ...transcript(-1), call];
  const tokensOf = (message: ChatMessage) => messageTokens(message.content);
  const limit = input.contextTokenLimit;
  if (!summary || full.reduce((sum, message) => sum + tokensOf(message), 0) <= limit) {
    return fitMessages(full, limit, tokensOf);
  }
  const summarized = [
    ...head,
    { role: "user" as const, content: `Summary of the earlier turns:\n${summary.content}` },
    ...transcript(summary.summaryUntil ?? -1),
    call,
  ];
  return fitMessages(summarized, limit, tokensOf, 3);
}
