import type { Message } from "../db/schema";
import { debateTexts } from "./debate-texts";
import { formatOf } from "./formats";
import type { SessionDetail } from "./session-reader";

/** A session ready to download: what the doors send as a file. */
export interface SessionExport {
  filename: string;
  contentType: string;
  body: string;
}

const oneLine = (text: string) => text.replace(/\s+/g, " ").trim();

/** What a participant's role is in the session's format, when it has one (pro/contra sides, the questioner). */
function roleOf(detail: SessionDetail, participantId: number): string | null {
  const labels = debateTexts(detail.session.language).exportLabels;
  const position = detail.participants.findIndex((participant) => participant.id === participantId);
  switch (formatOf(detail.session.format).name) {
    case "pro_contra":
      return position % 2 === 0 ? labels.pro : labels.contra;
    case "socratic":
      return position === 0 ? labels.questioner : null;
    default:
      return null;
  }
}

function markdownOf(detail: SessionDetail): string {
  const { session, participants, messages, totals } = detail;
  const texts = debateTexts(session.language);
  const labels = texts.exportLabels;
  const personaOf = new Map(participants.map((participant) => [participant.id, participant.personaTitle]));
  const lines: string[] = [
    `# ${oneLine(session.topic)}`,
    "",
    `- ${labels.format}: ${labels.formats[formatOf(session.format).name]}`,
    `- ${labels.status}: ${session.status}${session.stopReason ? ` (${session.stopReason})` : ""}`,
    `- ${labels.rounds}: ${session.currentRound}/${session.maxRounds}`,
    `- ${labels.created}: ${session.createdAt.toISOString()}`,
    "",
    `## ${labels.participants}`,
    "",
    ...participants.map((participant) => {
      const role = roleOf(detail, participant.id);
      const details = [
        participant.personaTitle,
        role,
        participant.status === "excluded" ? labels.excluded : null,
      ]
        .filter(Boolean)
        .join(", ");
      return `${participant.orderIndex + 1}. **${participant.displayName}**${details ? ` — ${details}` : ""}`;
    }),
    "",
    `## ${labels.transcript}`,
  ];
  for (const message of messages)
    lines.push("", ...messageLines(message, labels, personaOf, texts.verdictHeading));
  lines.push(
    "",
    `## ${labels.totals}`,
    "",
    `- ${labels.tokensIn}: ${totals.tokensIn} (${labels.cachedTokens}: ${totals.cachedTokens})`,
    `- ${labels.tokensOut}: ${totals.tokensOut}`,
    `- ${labels.cost}: $${totals.cost}`,
    "",
  );
  return lines.join("\n");
}

function messageLines(
  message: Message,
  labels: ReturnType<typeof debateTexts>["exportLabels"],
  personaOf: Map<number, string | null>,
  verdictHeading: string,
): string[] {
  switch (message.authorType) {
    case "model": {
      if (message.flagged) return [];
      const persona = message.participantId === null ? null : personaOf.get(message.participantId);
      return [
        `### ${message.authorName}${persona ? ` (${persona})` : ""} · ${labels.round} ${message.round}`,
        "",
        message.content,
      ];
    }
    case "user":
      return [`> **${labels.interjection} (${message.authorName}):** ${oneLine(message.content)}`];
    case "verdict":
      return [`## ${verdictHeading} (${message.authorName})`, "", message.content];
    case "system":
      return [`_${oneLine(message.content)}_`];
    case "summary":
      // The running summary is the models' working memory, not part of the debate.
      return [];
  }
}

const snakeCase = (key: string) => key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);

/** A row's fields under snake_case names, like the API's (`turnIndex` → `turn_index`). */
function snakeKeys(value: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).map(([key, field]) => [snakeCase(key), field]));
}

/** The full session detail as JSON: every column of the session, its participants and messages, the totals. */
function jsonOf(detail: SessionDetail): string {
  return JSON.stringify(
    {
      ...snakeKeys(detail.session),
      participants: detail.participants.map(snakeKeys),
      messages: detail.messages.map(snakeKeys),
      totals: snakeKeys(detail.totals),
    },
    null,
    2,
  );
}

/** The session as a downloadable Markdown document or JSON file. */
export function exportSession(detail: SessionDetail, format: "md" | "json"): SessionExport {
  const base = `roundtable-${detail.session.id.slice(0, 8)}`;
  return format === "md"
    ? { filename: `${base}.md`, contentType: "text/markdown; charset=utf-8", body: markdownOf(detail) }
    : { filename: `${base}.json`, contentType: "application/json; charset=utf-8", body: jsonOf(detail) };
}
