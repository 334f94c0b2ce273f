/** @jsxImportSource @kitajs/html */
/** One message of a transcript as the admin shows it: a card by kind (model, summary, verdict, user, system). */

import type { Message, SessionParticipant } from "../../src/db/schema";
import { formatDuration, formatInt, formatTimeSeconds, formatUsd } from "./format";
import { Markdown } from "./markdown";

/** How each kind of message is shown: its card's class and who the head names. */
function messageLook(message: Message, participant: SessionParticipant | undefined) {
  switch (message.authorType) {
    case "model":
      return { className: `speaker-${(participant?.orderIndex ?? 0) % 4}`, speaker: message.authorName };
    case "summary":
      return { className: "summary", speaker: "Summary of earlier turns" };
    case "verdict":
      return { className: "verdict", speaker: "Moderator's verdict" };
    case "user":
      return { className: "interjection", speaker: message.authorName };
    default:
      return { className: "system", speaker: "System" };
  }
}

export function MessageCard(props: {
  message: Message;
  participant: SessionParticipant | undefined;
}): JSX.Element {
  const { message, participant } = props;
  const kind = message.authorType;
  const look = messageLook(message, participant);
  const hasUsage = message.tokensIn + message.tokensOut > 0;
  return (
    <article
      class={`turn ${look.className}`}
      id={`message-${message.id}`}
      data-turn={message.turnIndex}
      data-author-type={kind}
    >
      <div class="turn-head">
        {kind === "verdict" ? <span class="verdict-mark">Verdict</span> : ""}
        <span class="speaker" safe>
          {look.speaker}
        </span>
        {kind === "model" && participant?.personaTitle ? (
          <span class="muted small" safe>
            {participant.personaTitle}
          </span>
        ) : kind === "verdict" ? (
          <span class="muted small" safe>{`by ${message.authorName}`}</span>
        ) : kind === "user" ? (
          <span class="muted small">interjection</span>
        ) : (
          ""
        )}
        <span class="muted small" safe>{`round ${message.round} · turn ${message.turnIndex + 1}`}</span>
        {message.flagged ? (
          <span class="badge badge-stopped" safe>
            {`flagged: ${message.flagged}`}
          </span>
        ) : (
          ""
        )}
      </div>
      {kind === "model" || kind === "summary" || kind === "verdict" ? (
        <Markdown text={message.content} />
      ) : (
        <div class="md">
          <p safe>{message.content}</p>
        </div>
      )}
      {hasUsage ? (
        <div class="turn-stats">
          <span safe>{`tokens in ${formatInt(message.tokensIn)}`}</span>
          <span safe>{`cached ${formatInt(message.cachedTokens)}`}</span>
          <span safe>{`out ${formatInt(message.tokensOut)}`}</span>
          <span safe>{`cost ${formatUsd(message.cost)}`}</span>
          <span safe>{`latency ${formatDuration(message.latencyMs)}`}</span>
          {message.estimated ? <span title="The provider reported no usage">estimated</span> : ""}
          <span class="hide-sm" safe>
            {formatTimeSeconds(message.createdAt)}
          </span>
        </div>
      ) : (
        ""
      )}
    </article>
  );
}
