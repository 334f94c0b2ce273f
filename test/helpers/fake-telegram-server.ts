/**
 * A small real HTTP server imitating the Telegram Bot API, for tests that run the GramIO bot end to
 * end. It listens on 127.0.0.1 on a free port and answers `POST|GET /bot<token>/<method>` the way
 * Telegram does: `{ ok: true, result }` or `{ ok: false, error_code, description, parameters? }`
 * with the HTTP status equal to `error_code`.
 *
 * Requests may carry JSON (`Content-Type: application/json`, what GramIO sends for every method
 * without file uploads), `multipart/form-data` or `application/x-www-form-urlencoded` bodies (what
 * GramIO sends with uploads), and query parameters; form and query values are decoded like
 * Telegram does (numbers, booleans, JSON-serialized objects and arrays).
 *
 * Tests play the users with {@link FakeTelegramServer.sendText} & co., which queue updates for
 * `getUpdates` (long polling with `offset`, `limit`, `timeout`), and assert on what the bot did
 * through {@link FakeTelegramServer.calls} (every request, in arrival order, with timestamps) and
 * {@link FakeTelegramServer.sent} (the text messages the bot posted).
 *
 * Realism that catches real bugs:
 * - `sendMessage`/`editMessageText` count the 4096 limit in UTF-16 code units after entity parsing
 *   (`parse_mode` HTML and MarkdownV2 are parsed, with Telegram-like errors for unbalanced tags and
 *   unescaped reserved characters); explicit `entities` must lie within the text;
 * - `editMessageText` with identical content answers "message is not modified";
 * - `sendMessageDraft` only works in private chats (400 `TEXTDRAFT_PEER_INVALID` elsewhere), its text
 *   is held to the same 4096 limit after entity parsing, and a draft sent with `can_stop` can be
 *   stopped by the user ({@link FakeTelegramServer.stopDraft}: a `stopped_message_generation` update);
 * - `answerCallbackQuery` rejects unknown or already answered query ids;
 * - `getChatMember` answers each user's status (`member` once they wrote in the chat, `left`
 *   otherwise, or what {@link FakeTelegramServer.setChatMember} set) with the fields of that status;
 * - inline keyboard `callback_data` must be 1-64 bytes;
 * - a second concurrent `getUpdates` terminates the first with 409 (two bot instances), and
 *   `getUpdates` answers 409 while a webhook is set;
 * - optional rate limits (per chat per second, per group per minute, global per second) answer 429
 *   with `retry_after` and record the violation.
 */
import type {
  TelegramBotCommand,
  TelegramCallbackQuery,
  TelegramChat,
  TelegramMessage,
  TelegramMessageEntity,
  TelegramUpdate,
  TelegramUser,
} from "gramio";

/** An update as delivered by `getUpdates` (GramIO's `TelegramUpdate`). */
export type Update = TelegramUpdate;

/** The chat a simulated user writes in. */
export interface ChatSpec {
  /** Chat id: positive for private chats (the user's id), negative for groups. */
  id: number;
  type: "private" | "group" | "supergroup";
  /** Group title; defaults to "Test group". */
  title?: string;
  /** Public username of the chat (without `@`), lets the bot address it as `@username`. */
  username?: string;
}

/** The simulated user. Defaults: in private chats the chat id, elsewhere 1000; first name "Tester". */
export interface UserSpec {
  id: number;
  first_name?: string;
  last_name?: string;
  username?: string;
  language_code?: string;
}

/** A user's status in a chat, as `getChatMember` reports it. */
export type ChatMemberStatus = "creator" | "administrator" | "member" | "restricted" | "left" | "kicked";

/** An error answer, as Telegram sends it. */
export interface TelegramErrorBody {
  ok: false;
  error_code: number;
  description: string;
  parameters?: { retry_after?: number; migrate_to_chat_id?: number };
}

/** Any answer the server gave. */
export type TelegramResponseBody = { ok: true; result: unknown } | TelegramErrorBody;

/** One Bot API request as the server saw it. */
export interface ApiCall {
  /** Method name, canonical spelling for known methods (Telegram's names are case-insensitive). */
  method: string;
  /** Decoded parameters: query, then JSON or form body. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary parameters without ceremony.
  params: Record<string, any>;
  /** `Date.now()` when the request arrived. */
  at: number;
  /** Position among all calls (0-based). */
  seq: number;
  /** Numeric `chat_id` parameter, when there is one. */
  chatId?: number;
  /** How the parameters came in. */
  encoding: "json" | "multipart" | "urlencoded" | "query" | "none";
  /** The answer, set once the request was answered (long polls are answered late). */
  response?: TelegramResponseBody;
  /** `Date.now()` when the request was answered. */
  answeredAt?: number;
  /** Accepted but suspicious things, e.g. `parse_mode` mixed with `entities`. */
  warnings: string[];
}

/** A text message the bot posted with `sendMessage` (kept up to date by edits and deletions). */
export interface SentMessage {
  message_id: number;
  chat_id: number;
  /** The message text as Telegram stores it: after `parse_mode` parsing, current version after edits. */
  text: string;
  /** The `text` parameter as the bot sent it (markup included), current version after edits. */
  rawText: string;
  /** Entities: the `entities` parameter, or those produced by parsing HTML/MarkdownV2. */
  entities?: TelegramMessageEntity[];
  // biome-ignore lint/suspicious/noExplicitAny: reply markups are arbitrary JSON for tests.
  reply_markup?: any;
  parse_mode?: string;
  /** `Date.now()` when the message was sent. */
  at: number;
  /** `Date.now()` of the last successful edit. */
  editedAt?: number;
  /** Every text the message had, first one first (edits append). */
  versions: string[];
  /** True once deleted with `deleteMessage`. */
  deleted: boolean;
}

/** A file the bot uploaded with `sendDocument` (multipart), its content read as text. */
export interface SentDocument {
  message_id: number;
  chat_id: number;
  file_name: string;
  mime_type: string;
  content: string;
  caption?: string;
  at: number;
}

/** A draft the bot streamed with `sendMessageDraft`. */
export interface SentDraft {
  chat_id: number;
  draft_id: number;
  /** Text after `parse_mode` parsing. */
  text: string;
  entities?: TelegramMessageEntity[];
  /** The user was offered a stop button (Bot API 10.3). */
  can_stop?: boolean;
  keep_on_stop?: boolean;
  at: number;
}

/** An answer to a callback query. */
export interface CallbackAnswer {
  callback_query_id: string;
  text?: string;
  show_alert?: boolean;
  at: number;
}

/** What {@link FakeTelegramServer.failNext} makes the server answer. */
export interface InjectedError {
  error_code: number;
  description: string;
  /** Sent as `parameters.retry_after`. */
  retry_after?: number;
  /** Sent as `parameters.migrate_to_chat_id`. */
  migrate_to_chat_id?: number;
}

/**
 * Flood limits. Unset limits are off; `setRateLimit({})` turns them all off. Windows slide:
 * a send is over the per-chat limit when the chat already got `perChatPerSecond` accepted sends
 * within the last second (minus `toleranceMs`), and likewise for the others.
 */
export interface RateLimitOptions {
  perChatPerSecond?: number;
  /** Applies to chats of type group/supergroup (unknown chats: negative ids). */
  perGroupPerMinute?: number;
  globalPerSecond?: number;
  /** Fixed `retry_after` (seconds) to answer; default: seconds until the window frees up, at least 1. */
  retryAfter?: number;
  /** Methods that count as sends. Default `["sendMessage"]`. */
  methods?: string[];
  /** When false, violations are only recorded and the send succeeds. Default true. */
  enforce?: boolean;
  /** Slack for timer jitter, subtracted from each window. Default 50 ms. */
  toleranceMs?: number;
}

/** A send that broke a rate limit. */
export interface RateLimitViolation {
  method: string;
  chatId: number;
  at: number;
  rule: "perChatPerSecond" | "perGroupPerMinute" | "globalPerSecond";
  /** The `retry_after` answered (also recorded when not enforced). */
  retryAfter: number;
}

/** Extra options for simulated messages. */
export interface SimulatedMessageOptions {
  /** Entities of the user's text; default: `bot_command` entities detected like Telegram does. */
  entities?: TelegramMessageEntity[];
  /** Makes the message a reply to this message id of the same chat. */
  replyTo?: number;
}

/** Custom handler for a method (see {@link FakeTelegramServer.onMethod}). Throw {@link FakeApiError} to fail. */
// biome-ignore lint/suspicious/noExplicitAny: parameters are arbitrary JSON.
export type MethodHandler = (params: Record<string, any>, call: ApiCall) => unknown | Promise<unknown>;

/** Handle of a running fake Telegram Bot API server. */
export interface FakeTelegramServer {
  /** Pass as `TELEGRAM_API_URL`: the bot uses `${url}/bot` as GramIO's `api.baseURL`. No trailing slash. */
  url: string;
  /** The only token accepted; others get 401 Unauthorized. */
  token: string;
  /** `getMe` username. */
  botUsername: string;
  /** The bot user, as `getMe` returns it and as `from` of the bot's messages. */
  botUser: TelegramUser;
  /** Every request to `/bot<token>/<method>` (right token or not), in arrival order. */
  calls: ApiCall[];
  /** Text messages posted by the bot, in order (edits update them in place). */
  sent: SentMessage[];
  /** Drafts streamed with `sendMessageDraft`, in order. */
  drafts: SentDraft[];
  /** Documents uploaded with `sendDocument`, in order. */
  documents: SentDocument[];
  /** Answers to callback queries, in order. */
  callbackAnswers: CallbackAnswer[];
  /** Rate limit violations, in order. */
  violations: RateLimitViolation[];
  /** Updates not queued because the last `allowed_updates` excluded their type. */
  droppedUpdates: Update[];

  /** A user sends `text` (bot commands get `bot_command` entities). Returns the queued update. */
  sendText(chat: ChatSpec, text: string, from?: UserSpec, options?: SimulatedMessageOptions): Update;
  /** A user sends a sticker. */
  sendSticker(chat: ChatSpec, from?: UserSpec, emoji?: string): Update;
  /** A user edits their message `messageId` (an `edited_message` update). Throws if there is no such message. */
  editText(chat: ChatSpec, messageId: number, text: string, from?: UserSpec): Update;
  /**
   * A user presses the inline button with `data` under message `messageId` (a `callback_query`
   * update). Throws if the message has no such button, unless `options.force`.
   */
  pressButton(
    chat: ChatSpec,
    messageId: number,
    data: string,
    from?: UserSpec,
    options?: { force?: boolean },
  ): Update;
  /**
   * The user presses the stop button under draft `draftId` of a private chat (the latest draft
   * there when omitted), as a Telegram client does: a `stopped_message_generation` update. Throws
   * when there is no such draft or it was sent without `can_stop` (the client shows no button).
   */
  stopDraft(chatId: number, draftId?: number): Update;
  /** Queues any update (the `update_id` is assigned). */
  queueUpdate(update: Omit<Update, "update_id">): Update;
  /**
   * Sets a user's status in a chat, as `getChatMember` answers it (a user who wrote in a chat is a
   * `member` until set otherwise; anyone else is `left`).
   */
  setChatMember(chat: ChatSpec, user: UserSpec, status: ChatMemberStatus): void;

  /** First *answered* call of `method` matching `predicate`, already recorded or future. Default timeout 3000 ms. */
  waitForCall(method: string, predicate?: (call: ApiCall) => boolean, timeoutMs?: number): Promise<ApiCall>;
  /** Resolves with the `getUpdates` call once one is held open (the bot is waiting for updates). */
  waitForPoll(timeoutMs?: number): Promise<ApiCall>;
  /** First sent message matching `predicate` (re-checked on every send, edit and deletion). */
  waitForSent(predicate: (message: SentMessage) => boolean, timeoutMs?: number): Promise<SentMessage>;
  /** Resolves once `count` messages were sent to `chatId`; returns all sent there (deleted ones too). */
  waitForSentCount(chatId: number, count: number, timeoutMs?: number): Promise<SentMessage[]>;

  /**
   * The next `times` (default 1; `Infinity` allowed) calls of `method` fail with this error; with
   * `when`, only the calls whose parameters it accepts (others are answered as usual).
   */
  failNext(method: string, response: InjectedError, times?: number, when?: (params: Params) => boolean): void;
  /** Drops all pending injected failures. */
  clearFailures(): void;
  /** Replaces the rate limits (see {@link RateLimitOptions}); `{}` turns them off. */
  setRateLimit(options: RateLimitOptions): void;
  /** Adds or overrides a method. */
  onMethod(method: string, handler: MethodHandler): void;
  /** Commands set with `setMyCommands` for a language code ("" = default) and scope (default scope). */
  getCommands(
    languageCode?: string,
    scope?: { type: string; chat_id?: number | string; user_id?: number },
  ): TelegramBotCommand[] | undefined;
  /** Ids of callback queries the bot has not answered yet. */
  unansweredCallbackQueries(): string[];
  /** Ids of updates queued and not yet confirmed by a `getUpdates` offset. */
  pendingUpdateIds(): number[];
  /**
   * Answers a held long poll with `[]`, rejects pending waits, and closes the server. Stop the bot
   * first (`bot.stop()`): GramIO's polling loop then sees the empty answer and exits.
   */
  stop(): Promise<void>;
}

/** Options of {@link startFakeTelegramServer}. */
export interface FakeTelegramServerOptions {
  /** Accepted token; default "123456789:TEST-fake-telegram-token". The bot id is the part before ":". */
  token?: string;
  /** Default "roundtable_test_bot". */
  botUsername?: string;
  /** Bot's first name; default "Round Table Test". */
  botName?: string;
  /** When true, sending to a chat no simulated user wrote in answers 400 "chat not found". Default false. */
  strictChats?: boolean;
}

/** Throw from a {@link MethodHandler} to answer with an error. */
export class FakeApiError extends Error {
  constructor(
    readonly errorCode: number,
    readonly description: string,
    readonly parameters?: { retry_after?: number; migrate_to_chat_id?: number },
  ) {
    super(description);
  }
}

/** Texts (after parse_mode parsing, current versions) the bot sent to `chatId`, in order, deleted ones excluded. */
export function textsOf(server: Pick<FakeTelegramServer, "sent">, chatId: number): string[] {
  return server.sent.filter((m) => m.chat_id === chatId && !m.deleted).map((m) => m.text);
}

/** The next message the bot sends to `chatId` (after the last one sent there so far) matching `predicate`. */
export function nextSentTo(
  server: Pick<FakeTelegramServer, "sent" | "waitForSent">,
  chatId: number,
  predicate: (text: string) => boolean = () => true,
  timeoutMs = 20_000,
): Promise<SentMessage> {
  const after = server.sent.filter((message) => message.chat_id === chatId).at(-1)?.message_id ?? 0;
  return server.waitForSent(
    (message) => message.chat_id === chatId && message.message_id > after && predicate(message.text),
    timeoutMs,
  );
}

/** A user writes `text` in `chat`; resolves with the text of the bot's next message there matching `predicate`. */
export async function replyTo(
  server: FakeTelegramServer,
  chat: ChatSpec,
  from: UserSpec,
  text: string,
  predicate?: (text: string) => boolean,
): Promise<string> {
  const reply = nextSentTo(server, chat.id, predicate);
  server.sendText(chat, text, from);
  return (await reply).text;
}

/** Starts a fake Telegram Bot API server on 127.0.0.1 on a free port. */
export async function startFakeTelegramServer(
  options: FakeTelegramServerOptions = {},
): Promise<FakeTelegramServer> {
  const fake = new FakeTelegram(options);
  await fake.listen();
  return fake;
}

// ---------------------------------------------------------------------------------------------
// Implementation

const MAX_TEXT_LENGTH = 4096;
const DEFAULT_WAIT_MS = 3000;

const KNOWN_METHODS = [
  "getMe",
  "logOut",
  "close",
  "getUpdates",
  "setWebhook",
  "deleteWebhook",
  "getWebhookInfo",
  "setMyCommands",
  "getMyCommands",
  "deleteMyCommands",
  "sendMessage",
  "editMessageText",
  "deleteMessage",
  "sendChatAction",
  "sendMessageDraft",
  "sendDocument",
  "answerCallbackQuery",
  "getChatMember",
];

/** Update types Telegram sends when `allowed_updates` is empty or unset. */
const OPT_IN_UPDATE_TYPES = new Set(["chat_member", "message_reaction", "message_reaction_count"]);

const CHAT_ACTIONS = new Set([
  "typing",
  "upload_photo",
  "record_video",
  "upload_video",
  "record_voice",
  "upload_voice",
  "upload_document",
  "choose_sticker",
  "find_location",
  "record_video_note",
  "upload_video_note",
]);

/** Form/query fields that stay strings even when they look like numbers or JSON. */
const STRING_FIELDS = new Set([
  "text",
  "caption",
  "callback_query_id",
  "inline_message_id",
  "description",
  "short_description",
  "name",
  "url",
  "secret_token",
  "language_code",
  "parse_mode",
  "action",
  "data",
  "title",
  "emoji",
  "file_id",
  "ip_address",
]);

/** Entity types Telegram knows (unknown ones are accepted with a warning). */
const ENTITY_TYPES = new Set([
  "mention",
  "hashtag",
  "cashtag",
  "bot_command",
  "url",
  "email",
  "phone_number",
  "bold",
  "italic",
  "underline",
  "strikethrough",
  "spoiler",
  "blockquote",
  "expandable_blockquote",
  "code",
  "pre",
  "text_link",
  "text_mention",
  "custom_emoji",
  "date_time",
]);

interface StoredMessage {
  message: TelegramMessage;
  fromBot: boolean;
  sent?: SentMessage;
}

interface ChatState {
  chat: TelegramChat;
  nextMessageId: number;
  messages: Map<number, StoredMessage>;
  /** Users who wrote in the chat or were set with `setChatMember`, with their status. */
  members: Map<number, { user: TelegramUser; status: ChatMemberStatus }>;
}

interface HeldPoll {
  call: ApiCall;
  limit: number;
  timer: ReturnType<typeof setTimeout>;
  settle: (response: TelegramResponseBody) => void;
}

interface Waiter {
  check(): void;
  fail(error: Error): void;
}

interface PreparedText {
  text: string;
  entities?: TelegramMessageEntity[];
}

// biome-ignore lint/suspicious/noExplicitAny: parameters are arbitrary JSON.
type Params = Record<string, any>;

function badRequest(description: string): FakeApiError {
  return new FakeApiError(400, `Bad Request: ${description}`);
}

function parseError(description: string): FakeApiError {
  return badRequest(`can't parse entities: ${description}`);
}

function utf8Offset(source: string, index: number): number {
  return Buffer.byteLength(source.slice(0, index), "utf8");
}

function jsonResponse(body: TelegramResponseBody | { ok: false; error_code: number; description: string }) {
  const status = body.ok ? 200 : body.error_code;
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

function errorBody(error: FakeApiError): TelegramErrorBody {
  const body: TelegramErrorBody = { ok: false, error_code: error.errorCode, description: error.description };
  if (error.parameters && Object.keys(error.parameters).length > 0) body.parameters = error.parameters;
  return body;
}

/** Decodes a form or query value like Telegram: numbers, booleans and JSON where they make sense. */
function decodeFormValue(key: string, value: string): unknown {
  if (STRING_FIELDS.has(key)) return value;
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (value === "true") return true;
  if (value === "false") return false;
  if (value.startsWith("{") || value.startsWith("[")) {
    try {
      return JSON.parse(value);
    } catch {
      return value;
    }
  }
  return value;
}

function toInteger(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return Math.trunc(value);
  if (typeof value === "string" && /^-?\d+$/.test(value)) return Number(value);
  return undefined;
}

/** JSON-ish values may arrive serialized (a JSON string inside JSON); accept both like Telegram. */
function maybeJson(value: unknown): unknown {
  if (typeof value === "string" && (value.startsWith("{") || value.startsWith("["))) {
    try {
      return JSON.parse(value);
    } catch {
      return value;
    }
  }
  return value;
}

function sortEntities(entities: TelegramMessageEntity[]): TelegramMessageEntity[] {
  return entities.sort((a, b) => a.offset - b.offset || b.length - a.length);
}

// --- HTML parse mode ---------------------------------------------------------------------------

const HTML_TAGS: Record<string, TelegramMessageEntity["type"]> = {
  b: "bold",
  strong: "bold",
  i: "italic",
  em: "italic",
  u: "underline",
  ins: "underline",
  s: "strikethrough",
  strike: "strikethrough",
  del: "strikethrough",
  "tg-spoiler": "spoiler",
  span: "spoiler",
  a: "text_link",
  code: "code",
  pre: "pre",
  blockquote: "blockquote",
  "tg-emoji": "custom_emoji",
};

function htmlAttribute(attributes: string, name: string): string | undefined {
  const match = new RegExp(`(?:^|\\s)${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s"'>]+))`, "i").exec(
    attributes,
  );
  if (!match) return new RegExp(`(?:^|\\s)${name}(?:\\s|$)`, "i").test(attributes) ? "" : undefined;
  return decodeHtmlEntities(match[1] ?? match[2] ?? match[3] ?? "");
}

function decodeHtmlEntities(source: string): string {
  return source.replace(/&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);/g, (_whole, name: string) =>
    decodeEntity(name),
  );
}

function decodeEntity(name: string): string {
  switch (name) {
    case "lt":
      return "<";
    case "gt":
      return ">";
    case "amp":
      return "&";
    case "quot":
      return '"';
    default: {
      const code = name.startsWith("#x")
        ? Number.parseInt(name.slice(2), 16)
        : Number.parseInt(name.slice(1), 10);
      try {
        return String.fromCodePoint(code);
      } catch {
        return "";
      }
    }
  }
}

/** Parses Telegram's HTML subset into plain text and entities, with Telegram-like errors. */
export function parseTelegramHtml(source: string): PreparedText {
  interface Open {
    tag: string;
    entity: TelegramMessageEntity;
    /** Tags that produce no entity (`<a>` without href, `<code>` inside `<pre>`). */
    silent: boolean;
  }
  const tagPattern = /<(\/?)([a-zA-Z][a-zA-Z0-9-]*)([^<>]*)>/y;
  const entityPattern = /&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);/y;
  const stack: Open[] = [];
  const entities: TelegramMessageEntity[] = [];
  let text = "";
  let i = 0;
  while (i < source.length) {
    const ch = source[i];
    if (ch === "<") {
      tagPattern.lastIndex = i;
      const match = tagPattern.exec(source);
      if (!match) throw parseError(`Unsupported start tag "" at byte offset ${utf8Offset(source, i)}`);
      const closing = match[1] === "/";
      const tag = (match[2] ?? "").toLowerCase();
      const attributes = match[3] ?? "";
      if (closing) {
        const open = stack.pop();
        if (!open || open.tag !== tag) {
          throw parseError(
            `Unmatched end tag at byte offset ${utf8Offset(source, i)}, expected "</${open?.tag ?? ""}>", found "</${tag}>"`,
          );
        }
        const entity = { ...open.entity, length: text.length - open.entity.offset };
        if (entity.length > 0 && !open.silent) entities.push(entity);
      } else {
        const type = HTML_TAGS[tag];
        if (!type) throw parseError(`Unsupported start tag "${tag}" at byte offset ${utf8Offset(source, i)}`);
        const entity: TelegramMessageEntity = { type, offset: text.length, length: 0 };
        let silent = false;
        if (tag === "span" && htmlAttribute(attributes, "class") !== "tg-spoiler") {
          throw parseError(`Tag "span" must have class "tg-spoiler" at byte offset ${utf8Offset(source, i)}`);
        }
        if (tag === "a") {
          const href = htmlAttribute(attributes, "href");
          if (href) entity.url = href;
          else silent = true;
        }
        if (tag === "blockquote" && htmlAttribute(attributes, "expandable") !== undefined) {
          entity.type = "expandable_blockquote";
        }
        if (tag === "tg-emoji") entity.custom_emoji_id = htmlAttribute(attributes, "emoji-id") ?? "";
        const parent = stack.at(-1);
        if (tag === "code" && parent?.tag === "pre") {
          const language = htmlAttribute(attributes, "class")?.match(/^language-(.+)$/)?.[1];
          if (language) parent.entity.language = language;
          silent = true;
        }
        stack.push({ tag, entity, silent });
      }
      i += match[0].length;
      continue;
    }
    if (ch === "&") {
      entityPattern.lastIndex = i;
      const match = entityPattern.exec(source);
      if (match) {
        text += decodeEntity(match[1] ?? "");
        i += match[0].length;
        continue;
      }
    }
    text += ch;
    i++;
  }
  const open = stack.at(-1);
  if (open) throw parseError(`Can't find end tag corresponding to start tag "${open.tag}"`);
  return entities.length > 0 ? { text, entities: sortEntities(entities) } : { text };
}

// --- MarkdownV2 parse mode ---------------------------------------------------------------------

const MARKDOWN_RESERVED = new Set("_*[]()~`>#+-=|{}.!".split(""));
const MARKDOWN_NAMES: Record<string, string> = {
  "*": "Bold",
  _: "Italic",
  __: "Underline",
  "~": "Strikethrough",
  "||": "Spoiler",
  "[": "TextUrl",
};

function findUnescaped(source: string, token: string, from: number): number {
  let j = from;
  while (j < source.length) {
    if (source[j] === "\\") j += 2;
    else if (source.startsWith(token, j)) return j;
    else j++;
  }
  return -1;
}

function unescapeMarkdown(source: string): string {
  return source.replace(/\\([\s\S])/g, (whole, ch: string) => {
    const code = ch.charCodeAt(0);
    return code >= 1 && code <= 126 ? ch : whole;
  });
}

/** Parses MarkdownV2 into plain text and entities, with Telegram-like errors (reserved characters, unclosed entities). */
export function parseTelegramMarkdownV2(source: string): PreparedText {
  interface Open {
    marker: string;
    at: number;
    entity: TelegramMessageEntity;
  }
  const stack: Open[] = [];
  const entities: TelegramMessageEntity[] = [];
  let text = "";
  let i = 0;
  const toggle = (marker: string, type: TelegramMessageEntity["type"]) => {
    const top = stack.at(-1);
    if (top?.marker === marker) {
      stack.pop();
      const length = text.length - top.entity.offset;
      if (length > 0) entities.push({ ...top.entity, length });
    } else if (stack.some((open) => open.marker === marker)) {
      const open = stack.find((o) => o.marker === marker);
      throw parseError(
        `Can't find end of ${MARKDOWN_NAMES[marker] ?? "the"} entity at byte offset ${utf8Offset(source, open?.at ?? i)}`,
      );
    } else {
      stack.push({ marker, at: i, entity: { type, offset: text.length, length: 0 } });
    }
    i += marker.length;
  };
  while (i < source.length) {
    const ch = source[i] ?? "";
    const next = source[i + 1];
    if (ch === "\\") {
      const code = next?.charCodeAt(0) ?? 0;
      if (next !== undefined && code >= 1 && code <= 126) {
        text += next;
        i += 2;
      } else {
        text += ch;
        i++;
      }
      continue;
    }
    if (ch === "`") {
      const isPre = source.startsWith("```", i);
      const token = isPre ? "```" : "`";
      const end = findUnescaped(source, token, i + token.length);
      if (end < 0) {
        throw parseError(
          `Can't find end of ${isPre ? "Pre" : "Code"} entity at byte offset ${utf8Offset(source, i)}`,
        );
      }
      let body = source.slice(i + token.length, end);
      const entity: TelegramMessageEntity = { type: isPre ? "pre" : "code", offset: text.length, length: 0 };
      if (isPre) {
        const newline = body.indexOf("\n");
        if (newline >= 0) {
          const language = body.slice(0, newline);
          if (/^[^\s`\\]+$/.test(language)) entity.language = language;
          if (language === "" || entity.language) body = body.slice(newline + 1);
        }
      }
      text += unescapeMarkdown(body);
      entity.length = text.length - entity.offset;
      if (entity.length > 0) entities.push(entity);
      i = end + token.length;
      continue;
    }
    if (ch === "*") {
      toggle("*", "bold");
      continue;
    }
    if (ch === "_") {
      if (next === "_") toggle("__", "underline");
      else toggle("_", "italic");
      continue;
    }
    if (ch === "~") {
      toggle("~", "strikethrough");
      continue;
    }
    if (ch === "|" && next === "|") {
      toggle("||", "spoiler");
      continue;
    }
    if (ch === "[" || (ch === "!" && next === "[")) {
      const type = ch === "!" ? "custom_emoji" : "text_link";
      stack.push({ marker: "[", at: i, entity: { type, offset: text.length, length: 0 } });
      i += ch === "!" ? 2 : 1;
      continue;
    }
    if (ch === "]" && stack.at(-1)?.marker === "[") {
      const open = stack.pop();
      if (!open || next !== "(") {
        throw parseError(`Can't find end of a url at byte offset ${utf8Offset(source, i)}`);
      }
      const end = findUnescaped(source, ")", i + 2);
      if (end < 0) throw parseError(`Can't find end of a url at byte offset ${utf8Offset(source, i)}`);
      const url = unescapeMarkdown(source.slice(i + 2, end));
      const entity = { ...open.entity, length: text.length - open.entity.offset };
      if (entity.type === "custom_emoji") entity.custom_emoji_id = url.replace(/^tg:\/\/emoji\?id=/, "");
      else entity.url = url;
      if (entity.length > 0) entities.push(entity);
      i = end + 1;
      continue;
    }
    if (ch === ">" && (i === 0 || source[i - 1] === "\n")) {
      i++;
      continue;
    }
    if (MARKDOWN_RESERVED.has(ch)) {
      throw parseError(`Character '${ch}' is reserved and must be escaped with the preceding '\\'`);
    }
    text += ch;
    i++;
  }
  const open = stack.at(-1);
  if (open) {
    throw parseError(
      `Can't find end of ${MARKDOWN_NAMES[open.marker] ?? "the"} entity at byte offset ${utf8Offset(source, open.at)}`,
    );
  }
  return entities.length > 0 ? { text, entities: sortEntities(entities) } : { text };
}

/** Legacy Markdown: only stripped, not validated. */
function parseLegacyMarkdown(source: string): PreparedText {
  return {
    text: source
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .replace(/```[^\n`]*\n?/g, "")
      .replace(/[*_`]/g, ""),
  };
}

function validateEntities(
  text: string,
  raw: unknown,
  warnings: string[],
): TelegramMessageEntity[] | undefined {
  const value = maybeJson(raw);
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw parseError("entities must be an array");
  value.forEach((entity: unknown, index) => {
    if (typeof entity !== "object" || entity === null) throw parseError(`entity ${index} is not an object`);
    const { type, offset, length } = entity as Record<string, unknown>;
    if (typeof type !== "string") throw parseError(`entity ${index} has no type`);
    if (!ENTITY_TYPES.has(type)) warnings.push(`unknown entity type "${type}"`);
    if (
      !Number.isInteger(offset) ||
      !Number.isInteger(length) ||
      (offset as number) < 0 ||
      (length as number) < 1
    ) {
      throw parseError(`entity ${index} (${type}) has a bad offset or length`);
    }
    const end = (offset as number) + (length as number);
    if (end > text.length) {
      throw parseError(
        `entity ${index} (${type}) at offset ${offset} with length ${length} ends beyond the text of length ${text.length} (UTF-16 code units)`,
      );
    }
    const record = entity as Record<string, unknown>;
    if (type === "text_link" && typeof record.url !== "string")
      throw parseError(`text_link entity ${index} has no url`);
    if (type === "text_mention" && typeof record.user !== "object") {
      throw parseError(`text_mention entity ${index} has no user`);
    }
    if (type === "custom_emoji" && typeof record.custom_emoji_id !== "string") {
      throw parseError(`custom_emoji entity ${index} has no custom_emoji_id`);
    }
  });
  return value as TelegramMessageEntity[];
}

/** Applies parse_mode / entities and the length rules of sendMessage-like methods. */
function prepareText(params: Params, warnings: string[], allowEmpty: boolean): PreparedText {
  const raw = params.text;
  const source = raw === undefined || raw === null ? "" : String(raw);
  const parseMode = params.parse_mode;
  let prepared: PreparedText;
  if (parseMode !== undefined && parseMode !== null && parseMode !== "") {
    if (params.entities !== undefined) warnings.push("parse_mode and entities both given: entities ignored");
    if (parseMode === "HTML") prepared = parseTelegramHtml(source);
    else if (parseMode === "MarkdownV2") prepared = parseTelegramMarkdownV2(source);
    else if (parseMode === "Markdown") prepared = parseLegacyMarkdown(source);
    else throw badRequest(`unsupported parse_mode "${String(parseMode)}"`);
  } else {
    const entities = validateEntities(source, params.entities, warnings);
    prepared = entities ? { text: source, entities } : { text: source };
  }
  if (!allowEmpty && prepared.text.trim() === "") throw badRequest("message text is empty");
  if (prepared.text.length > MAX_TEXT_LENGTH) throw badRequest("message is too long");
  return prepared;
}

function validateReplyMarkup(raw: unknown): unknown {
  const markup = maybeJson(raw);
  if (markup === undefined || markup === null) return undefined;
  if (typeof markup !== "object") throw badRequest("can't parse reply keyboard markup JSON object");
  const keyboard = (markup as { inline_keyboard?: unknown }).inline_keyboard;
  if (keyboard !== undefined) {
    if (!Array.isArray(keyboard) || !keyboard.every((row) => Array.isArray(row))) {
      throw badRequest('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays');
    }
    for (const row of keyboard as unknown[][]) {
      for (const button of row) {
        const b = button as Record<string, unknown>;
        if (typeof b?.text !== "string" || b.text === "") throw badRequest("BUTTON_TEXT_INVALID");
        if ("callback_data" in b) {
          const bytes = typeof b.callback_data === "string" ? Buffer.byteLength(b.callback_data, "utf8") : 0;
          if (bytes < 1 || bytes > 64) throw badRequest("BUTTON_DATA_INVALID");
        }
      }
    }
  }
  return markup;
}

function detectCommandEntities(text: string): TelegramMessageEntity[] {
  const entities: TelegramMessageEntity[] = [];
  const pattern = /(^|\s)(\/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,})?)/g;
  for (const match of text.matchAll(pattern)) {
    const prefix = match[1] ?? "";
    const command = match[2] ?? "";
    entities.push({
      type: "bot_command",
      offset: (match.index ?? 0) + prefix.length,
      length: command.length,
    });
  }
  return entities;
}

function updateType(update: Omit<Update, "update_id">): string {
  return Object.keys(update).find((key) => key !== "update_id") ?? "unknown";
}

class FakeTelegram implements FakeTelegramServer {
  url = "";
  readonly token: string;
  readonly botUsername: string;
  readonly botUser: TelegramUser;
  readonly calls: ApiCall[] = [];
  readonly sent: SentMessage[] = [];
  readonly drafts: SentDraft[] = [];
  readonly documents: SentDocument[] = [];
  readonly callbackAnswers: CallbackAnswer[] = [];
  readonly violations: RateLimitViolation[] = [];
  readonly droppedUpdates: Update[] = [];

  private server: ReturnType<typeof Bun.serve> | undefined;
  private readonly strictChats: boolean;
  private readonly chats = new Map<number, ChatState>();
  private updates: Update[] = [];
  private nextUpdateId = 100_000;
  private nextCallbackId = 1;
  private readonly callbackQueries = new Map<string, { answered: boolean }>();
  private poll: HeldPoll | undefined;
  private allowedUpdates: string[] | undefined;
  private webhookUrl = "";
  private readonly commands = new Map<string, TelegramBotCommand[]>();
  private readonly failures = new Map<
    string,
    { response: InjectedError; remaining: number; when?: (params: Params) => boolean }[]
  >();
  private rateLimit: RateLimitOptions = {};
  private readonly sendLog: { chatId: number; at: number; group: boolean }[] = [];
  private readonly handlers = new Map<string, MethodHandler>();
  private readonly waiters = new Set<Waiter>();
  private stopped = false;
  private stopping: Promise<void> | undefined;

  constructor(options: FakeTelegramServerOptions) {
    this.token = options.token ?? "123456789:TEST-fake-telegram-token";
    this.botUsername = options.botUsername ?? "roundtable_test_bot";
    this.strictChats = options.strictChats ?? false;
    const id = Number(this.token.split(":")[0]);
    this.botUser = {
      id: Number.isSafeInteger(id) && id > 0 ? id : 123456789,
      is_bot: true,
      first_name: options.botName ?? "Round Table Test",
      username: this.botUsername,
    };
    this.installDefaultHandlers();
  }

  async listen(): Promise<void> {
    this.server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      // Long polls hold requests open longer than Bun's default 10 s idle timeout.
      idleTimeout: 0,
      fetch: (request) => this.handleRequest(request),
    });
    this.url = `http://127.0.0.1:${this.server.port}`;
  }

  // --- HTTP ----------------------------------------------------------------------------------

  private async handleRequest(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const match = /^\/bot([^/]+)\/(?:test\/)?([^/]+)\/?$/.exec(url.pathname);
    if (!match) return jsonResponse({ ok: false, error_code: 404, description: "Not Found" });
    const token = decodeURIComponent(match[1] ?? "");
    const method = this.canonicalMethod(decodeURIComponent(match[2] ?? ""));
    const call: ApiCall = {
      method,
      params: {},
      at: Date.now(),
      seq: this.calls.length,
      encoding: "none",
      warnings: [],
    };
    this.calls.push(call);
    let response: TelegramResponseBody;
    try {
      await this.readParams(request, url, call);
      const chatId = toInteger(call.params.chat_id);
      if (chatId !== undefined) call.chatId = chatId;
      if (token !== this.token) throw new FakeApiError(401, "Unauthorized");
      response = { ok: true, result: await this.dispatch(call) };
    } catch (error) {
      if (error instanceof FakeApiError) response = errorBody(error);
      else {
        const message = error instanceof Error ? error.message : String(error);
        response = { ok: false, error_code: 500, description: `Internal Server Error: ${message}` };
      }
    }
    call.response = response;
    call.answeredAt = Date.now();
    this.notify();
    return jsonResponse(response);
  }

  private async readParams(request: Request, url: URL, call: ApiCall): Promise<void> {
    const params: Params = {};
    for (const [key, value] of url.searchParams) params[key] = decodeFormValue(key, value);
    if (url.searchParams.size > 0) call.encoding = "query";
    const contentType = (request.headers.get("content-type") ?? "").toLowerCase();
    if (contentType.includes("application/json")) {
      const body = await request.text();
      if (body.trim() !== "") {
        let parsed: unknown;
        try {
          parsed = JSON.parse(body);
        } catch {
          throw badRequest("can't parse JSON object");
        }
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
          throw badRequest("JSON object expected");
        }
        Object.assign(params, parsed);
        call.encoding = "json";
      }
    } else if (contentType.includes("multipart/form-data") || contentType.includes("x-www-form-urlencoded")) {
      const form = await request.formData();
      const uploads: Promise<void>[] = [];
      form.forEach((value, key) => {
        if (typeof value === "string") params[key] = decodeFormValue(key, value);
        else {
          const file = { file_name: value.name, size: value.size, mime_type: value.type, content: "" };
          params[key] = file;
          uploads.push(
            value.text().then((content) => {
              file.content = content;
            }),
          );
        }
      });
      await Promise.all(uploads);
      call.encoding = contentType.includes("multipart") ? "multipart" : "urlencoded";
    }
    call.params = params;
  }

  private canonicalMethod(name: string): string {
    const lower = name.toLowerCase();
    for (const method of this.handlers.keys()) if (method.toLowerCase() === lower) return method;
    return KNOWN_METHODS.find((method) => method.toLowerCase() === lower) ?? name;
  }

  private async dispatch(call: ApiCall): Promise<unknown> {
    const key = call.method.toLowerCase();
    const queue = this.failures.get(key);
    const index = queue?.findIndex((entry) => !entry.when || entry.when(call.params)) ?? -1;
    const failure = queue?.[index];
    if (queue && failure) {
      failure.remaining--;
      if (failure.remaining <= 0) queue.splice(index, 1);
      const parameters: { retry_after?: number; migrate_to_chat_id?: number } = {};
      if (failure.response.retry_after !== undefined) parameters.retry_after = failure.response.retry_after;
      if (failure.response.migrate_to_chat_id !== undefined) {
        parameters.migrate_to_chat_id = failure.response.migrate_to_chat_id;
      }
      throw new FakeApiError(failure.response.error_code, failure.response.description, parameters);
    }
    const handler = this.handlers.get(call.method);
    if (!handler) throw new FakeApiError(404, "Not Found: method not found");
    return handler(call.params, call);
  }

  // --- Bot API methods -----------------------------------------------------------------------

  private installDefaultHandlers(): void {
    const on = (method: string, handler: MethodHandler) => this.handlers.set(method, handler);
    on("getMe", () => ({
      ...this.botUser,
      can_join_groups: true,
      can_read_all_group_messages: false,
      supports_inline_queries: false,
      can_connect_to_business: false,
      has_main_web_app: false,
    }));
    on("logOut", () => true);
    on("close", () => true);
    on("getUpdates", (params, call) => this.getUpdates(params, call));
    on("setWebhook", (params) => {
      if (typeof params.url !== "string") throw badRequest("bad webhook: URL is empty");
      this.webhookUrl = params.url;
      if (params.drop_pending_updates === true) this.updates = [];
      return true;
    });
    on("deleteWebhook", (params) => {
      this.webhookUrl = "";
      if (params.drop_pending_updates === true) this.updates = [];
      return true;
    });
    on("getWebhookInfo", () => ({
      url: this.webhookUrl,
      has_custom_certificate: false,
      pending_update_count: this.updates.length,
    }));
    on("setMyCommands", (params) => {
      const commands = maybeJson(params.commands);
      if (!Array.isArray(commands)) throw badRequest('parameter "commands" is required');
      if (commands.length > 100) throw badRequest("too many commands");
      for (const command of commands as Record<string, unknown>[]) {
        if (typeof command?.command !== "string" || !/^[a-z0-9_]{1,32}$/.test(command.command)) {
          throw badRequest("BOT_COMMAND_INVALID");
        }
        const description = command.description;
        if (typeof description !== "string" || description.length < 1 || description.length > 256) {
          throw badRequest("command description must be 1-256 characters");
        }
      }
      this.commands.set(
        this.commandsKey(params.language_code, params.scope),
        commands as TelegramBotCommand[],
      );
      return true;
    });
    on(
      "getMyCommands",
      (params) => this.commands.get(this.commandsKey(params.language_code, params.scope)) ?? [],
    );
    on("deleteMyCommands", (params) => {
      this.commands.delete(this.commandsKey(params.language_code, params.scope));
      return true;
    });
    on("sendMessage", (params, call) => this.sendMessage(params, call));
    on("editMessageText", (params, call) => this.editMessageText(params, call));
    on("deleteMessage", (params) => {
      const state = this.chatFor(params.chat_id);
      const messageId = toInteger(params.message_id);
      const stored = messageId === undefined ? undefined : state.messages.get(messageId);
      if (!stored || messageId === undefined) throw badRequest("message to delete not found");
      state.messages.delete(messageId);
      if (stored.sent) stored.sent.deleted = true;
      return true;
    });
    on("sendChatAction", (params) => {
      this.chatFor(params.chat_id);
      if (!CHAT_ACTIONS.has(String(params.action))) throw badRequest("wrong parameter action in request");
      return true;
    });
    on("sendMessageDraft", (params, call) => {
      const state = this.chatFor(params.chat_id);
      // What Telegram answers for a group, supergroup or channel.
      if (state.chat.type !== "private") throw badRequest("TEXTDRAFT_PEER_INVALID");
      const draftId = toInteger(params.draft_id);
      if (!draftId) throw badRequest("draft_id must be non-zero");
      const prepared = prepareText(params, call.warnings, true);
      const draft: SentDraft = {
        chat_id: state.chat.id,
        draft_id: draftId,
        text: prepared.text,
        at: call.at,
      };
      if (prepared.entities) draft.entities = prepared.entities;
      for (const flag of ["can_stop", "keep_on_stop"] as const) {
        const value = params[flag];
        if (value === undefined) continue;
        if (typeof value !== "boolean") throw badRequest(`parameter "${flag}" must be a Boolean`);
        draft[flag] = value;
      }
      this.drafts.push(draft);
      return true;
    });
    on("sendDocument", (params, call) => {
      const state = this.chatFor(params.chat_id);
      const file = params.document as
        | { file_name?: string; mime_type?: string; content?: string }
        | undefined;
      // A file_id or URL string is not an upload: this fake only keeps uploaded files.
      if (!file || typeof file !== "object" || typeof file.content !== "string") {
        throw badRequest("there is no document in the request");
      }
      if (file.content.length === 0) throw badRequest("file must be non-empty");
      const caption = params.caption === undefined ? undefined : String(params.caption);
      if (caption !== undefined && caption.length > 1024) throw badRequest("message caption is too long");
      this.checkRateLimit(call, state);
      const message: TelegramMessage = {
        ...this.botMessage(state, call),
        document: {
          file_id: `BQACAgIAAx-doc${this.documents.length + 1}`,
          file_unique_id: `doc${this.documents.length + 1}`,
          file_name: file.file_name ?? "document",
          mime_type: file.mime_type || "application/octet-stream",
          file_size: Buffer.byteLength(file.content, "utf8"),
        },
        ...(caption !== undefined ? { caption } : {}),
      };
      state.messages.set(message.message_id, { message, fromBot: true });
      this.documents.push({
        message_id: message.message_id,
        chat_id: state.chat.id,
        file_name: message.document!.file_name!,
        mime_type: message.document!.mime_type!,
        content: file.content,
        ...(caption !== undefined ? { caption } : {}),
        at: call.at,
      });
      return message;
    });
    on("getChatMember", (params) => {
      const state = this.chatFor(params.chat_id);
      const userId = toInteger(params.user_id);
      if (userId === undefined) throw badRequest("user_id is empty");
      const member = state.members.get(userId);
      const user = member?.user ?? { id: userId, is_bot: false, first_name: "Unknown" };
      const status = member?.status ?? "left";
      // The fields Telegram adds per status (ChatMemberOwner, ChatMemberAdministrator, …).
      if (status === "creator") return { status, user, is_anonymous: false };
      if (status === "administrator") {
        return {
          status,
          user,
          can_be_edited: false,
          is_anonymous: false,
          can_manage_chat: true,
          can_delete_messages: true,
          can_manage_video_chats: false,
          can_restrict_members: true,
          can_promote_members: false,
          can_change_info: true,
          can_invite_users: true,
          can_post_stories: false,
          can_edit_stories: false,
          can_delete_stories: false,
        };
      }
      if (status === "kicked") return { status, user, until_date: 0 };
      return { status, user };
    });
    on("answerCallbackQuery", (params, call) => {
      const id = String(params.callback_query_id ?? "");
      const query = this.callbackQueries.get(id);
      if (!query || query.answered) {
        throw badRequest("query is too old and response timeout expired or query ID is invalid");
      }
      query.answered = true;
      const answer: CallbackAnswer = { callback_query_id: id, at: call.at };
      if (typeof params.text === "string") answer.text = params.text;
      if (typeof params.show_alert === "boolean") answer.show_alert = params.show_alert;
      this.callbackAnswers.push(answer);
      return true;
    });
  }

  private commandsKey(languageCode: unknown, scope: unknown): string {
    const parsed = maybeJson(scope) as Record<string, unknown> | undefined;
    const scopeKey =
      parsed && typeof parsed === "object"
        ? JSON.stringify(Object.fromEntries(Object.entries(parsed).sort(([a], [b]) => a.localeCompare(b))))
        : JSON.stringify({ type: "default" });
    return `${scopeKey}|${typeof languageCode === "string" ? languageCode : ""}`;
  }

  private getUpdates(params: Params, call: ApiCall): unknown[] | Promise<unknown[]> {
    if (this.webhookUrl) {
      throw new FakeApiError(
        409,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
      );
    }
    const offset = toInteger(params.offset) ?? 0;
    const limit = Math.min(100, Math.max(1, toInteger(params.limit) ?? 100));
    const timeout = Math.max(0, Math.min(50, toInteger(params.timeout) ?? 0));
    const allowed = maybeJson(params.allowed_updates);
    if (Array.isArray(allowed)) this.allowedUpdates = allowed.map(String);
    if (offset > 0) this.updates = this.updates.filter((update) => update.update_id >= offset);
    else if (offset < 0) this.updates = this.updates.slice(offset);
    if (this.updates.length > 0 || timeout === 0 || this.stopped) return this.updates.slice(0, limit);
    const previous = this.poll;
    if (previous) {
      this.poll = undefined;
      clearTimeout(previous.timer);
      previous.settle(
        errorBody(
          new FakeApiError(
            409,
            "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
          ),
        ),
      );
    }
    return new Promise<unknown[]>((resolve, reject) => {
      const held: HeldPoll = {
        call,
        limit,
        timer: setTimeout(() => this.releasePoll(), timeout * 1000),
        settle: (response) => {
          if (response.ok) resolve(response.result as unknown[]);
          else reject(new FakeApiError(response.error_code, response.description, response.parameters));
        },
      };
      this.poll = held;
      this.notify();
    });
  }

  /** Answers the held long poll with whatever is queued now. */
  private releasePoll(): void {
    const held = this.poll;
    if (!held) return;
    this.poll = undefined;
    clearTimeout(held.timer);
    held.settle({ ok: true, result: this.updates.slice(0, held.limit) });
  }

  /** The fields every message the bot sends starts with: the next id in the chat, sender, date. */
  private botMessage(
    state: ChatState,
    call: ApiCall,
  ): Pick<TelegramMessage, "message_id" | "from" | "chat" | "date"> {
    return {
      message_id: state.nextMessageId++,
      from: this.botUser,
      chat: state.chat,
      date: Math.floor(call.at / 1000),
    };
  }

  private sendMessage(params: Params, call: ApiCall): TelegramMessage {
    const state = this.chatFor(params.chat_id);
    const prepared = prepareText(params, call.warnings, false);
    const replyMarkup = validateReplyMarkup(params.reply_markup);
    const replyTo = this.replyTarget(state, params);
    this.checkRateLimit(call, state);
    const message: TelegramMessage = { ...this.botMessage(state, call), text: prepared.text };
    if (prepared.entities) message.entities = prepared.entities;
    if (replyTo) message.reply_to_message = replyTo;
    if (replyMarkup && typeof replyMarkup === "object" && "inline_keyboard" in replyMarkup) {
      message.reply_markup = replyMarkup as TelegramMessage["reply_markup"];
    }
    const sent: SentMessage = {
      message_id: message.message_id,
      chat_id: state.chat.id,
      text: prepared.text,
      rawText: String(params.text),
      at: call.at,
      versions: [prepared.text],
      deleted: false,
    };
    if (prepared.entities) sent.entities = prepared.entities;
    if (replyMarkup !== undefined) sent.reply_markup = replyMarkup;
    if (typeof params.parse_mode === "string") sent.parse_mode = params.parse_mode;
    state.messages.set(message.message_id, { message, fromBot: true, sent });
    this.sent.push(sent);
    return message;
  }

  private replyTarget(state: ChatState, params: Params): TelegramMessage | undefined {
    const parameters = maybeJson(params.reply_parameters) as Record<string, unknown> | undefined;
    const id = toInteger(parameters?.message_id ?? params.reply_to_message_id);
    if (id === undefined) return undefined;
    const target = state.messages.get(id);
    const allowWithout = parameters?.allow_sending_without_reply ?? params.allow_sending_without_reply;
    if (!target && allowWithout !== true) throw badRequest("message to be replied not found");
    return target?.message;
  }

  private editMessageText(params: Params, call: ApiCall): TelegramMessage | true {
    if (params.inline_message_id !== undefined) {
      prepareText(params, call.warnings, false);
      validateReplyMarkup(params.reply_markup);
      return true;
    }
    const state = this.chatFor(params.chat_id);
    const messageId = toInteger(params.message_id);
    const stored = messageId === undefined ? undefined : state.messages.get(messageId);
    if (!stored) throw badRequest("message to edit not found");
    if (!stored.fromBot) throw badRequest("message can't be edited");
    const prepared = prepareText(params, call.warnings, false);
    const replyMarkup = validateReplyMarkup(params.reply_markup);
    const message = stored.message;
    const sameText = message.text === prepared.text;
    const sameEntities = JSON.stringify(message.entities ?? []) === JSON.stringify(prepared.entities ?? []);
    const oldMarkup = stored.sent?.reply_markup;
    const sameMarkup = JSON.stringify(oldMarkup ?? null) === JSON.stringify(replyMarkup ?? null);
    if (sameText && sameEntities && sameMarkup) {
      throw badRequest(
        "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
      );
    }
    this.checkRateLimit(call, state);
    message.text = prepared.text;
    if (prepared.entities) message.entities = prepared.entities;
    else delete message.entities;
    if (replyMarkup && typeof replyMarkup === "object" && "inline_keyboard" in replyMarkup) {
      message.reply_markup = replyMarkup as TelegramMessage["reply_markup"];
    } else delete message.reply_markup;
    message.edit_date = Math.floor(call.at / 1000);
    const sent = stored.sent;
    if (sent) {
      sent.text = prepared.text;
      sent.rawText = String(params.text);
      if (prepared.entities) sent.entities = prepared.entities;
      else delete sent.entities;
      if (replyMarkup !== undefined) sent.reply_markup = replyMarkup;
      else delete sent.reply_markup;
      if (typeof params.parse_mode === "string") sent.parse_mode = params.parse_mode;
      else delete sent.parse_mode;
      sent.editedAt = call.at;
      sent.versions.push(prepared.text);
    }
    return { ...message };
  }

  private checkRateLimit(call: ApiCall, state: ChatState): void {
    const limits = this.rateLimit;
    const methods = limits.methods ?? ["sendMessage"];
    if (!methods.includes(call.method)) return;
    const now = call.at;
    const tolerance = limits.toleranceMs ?? 50;
    const chatId = state.chat.id;
    const group = state.chat.type === "group" || state.chat.type === "supergroup";
    const check = (
      rule: RateLimitViolation["rule"],
      limit: number | undefined,
      windowMs: number,
      applies: (entry: { chatId: number; group: boolean }) => boolean,
    ): RateLimitViolation | undefined => {
      if (limit === undefined) return undefined;
      const recent = this.sendLog.filter(
        (entry) => entry.at > now - (windowMs - tolerance) && applies(entry),
      );
      if (recent.length < limit) return undefined;
      const oldest = recent[0]?.at ?? now;
      const retryAfter = limits.retryAfter ?? Math.max(1, Math.ceil((oldest + windowMs - now) / 1000));
      return { method: call.method, chatId, at: now, rule, retryAfter };
    };
    const violation =
      check("perChatPerSecond", limits.perChatPerSecond, 1000, (entry) => entry.chatId === chatId) ??
      (group
        ? check("perGroupPerMinute", limits.perGroupPerMinute, 60_000, (entry) => entry.chatId === chatId)
        : undefined) ??
      check("globalPerSecond", limits.globalPerSecond, 1000, () => true);
    if (violation) {
      this.violations.push(violation);
      if (limits.enforce !== false) {
        throw new FakeApiError(429, `Too Many Requests: retry after ${violation.retryAfter}`, {
          retry_after: violation.retryAfter,
        });
      }
    }
    this.sendLog.push({ chatId, at: now, group });
    // Keep a minute of history at most.
    while (this.sendLog.length > 0 && (this.sendLog[0]?.at ?? now) < now - 60_000) this.sendLog.shift();
  }

  /** Resolves the target chat of a method; unknown chats are created unless `strictChats`. */
  private chatFor(rawChatId: unknown): ChatState {
    if (rawChatId === undefined || rawChatId === null || rawChatId === "")
      throw badRequest("chat_id is empty");
    const id = toInteger(rawChatId);
    if (id === undefined) {
      const username = String(rawChatId).replace(/^@/, "").toLowerCase();
      for (const state of this.chats.values()) {
        if (state.chat.username?.toLowerCase() === username) return state;
      }
      throw badRequest("chat not found");
    }
    const known = this.chats.get(id);
    if (known) return known;
    if (this.strictChats) throw badRequest("chat not found");
    return this.registerChat({ id, type: id > 0 ? "private" : "supergroup" });
  }

  // --- Simulated users -----------------------------------------------------------------------

  private registerChat(spec: ChatSpec, from?: UserSpec): ChatState {
    const existing = this.chats.get(spec.id);
    const chat: TelegramChat =
      spec.type === "private"
        ? { id: spec.id, type: "private", first_name: from?.first_name ?? "Tester" }
        : { id: spec.id, type: spec.type, title: spec.title ?? existing?.chat.title ?? "Test group" };
    if (spec.type === "private" && from?.last_name) chat.last_name = from.last_name;
    const username = spec.username ?? (spec.type === "private" ? from?.username : undefined);
    if (username) chat.username = username;
    if (existing) {
      existing.chat = chat;
      return existing;
    }
    const state: ChatState = { chat, nextMessageId: 1, messages: new Map(), members: new Map() };
    this.chats.set(spec.id, state);
    return state;
  }

  private userFor(chat: ChatSpec, from?: UserSpec): TelegramUser {
    const user: TelegramUser = {
      id: from?.id ?? (chat.type === "private" ? chat.id : 1000),
      is_bot: false,
      first_name: from?.first_name ?? "Tester",
    };
    if (from?.last_name) user.last_name = from.last_name;
    if (from?.username) user.username = from.username;
    if (from?.language_code) user.language_code = from.language_code;
    return user;
  }

  private userMessage(
    chat: ChatSpec,
    from: UserSpec | undefined,
    fields: Partial<TelegramMessage>,
  ): TelegramMessage {
    this.assertRunning();
    const state = this.registerChat(chat, from);
    const sender = this.userFor(chat, from);
    if (!state.members.has(sender.id)) state.members.set(sender.id, { user: sender, status: "member" });
    const message: TelegramMessage = {
      message_id: state.nextMessageId++,
      from: sender,
      chat: state.chat,
      date: Math.floor(Date.now() / 1000),
      ...fields,
    };
    state.messages.set(message.message_id, { message, fromBot: false });
    return message;
  }

  setChatMember(chat: ChatSpec, user: UserSpec, status: ChatMemberStatus): void {
    const state = this.registerChat(chat, user);
    state.members.set(user.id, { user: this.userFor(chat, user), status });
  }

  sendText(chat: ChatSpec, text: string, from?: UserSpec, options: SimulatedMessageOptions = {}): Update {
    const entities = options.entities ?? detectCommandEntities(text);
    const fields: Partial<TelegramMessage> = { text };
    if (entities.length > 0) fields.entities = entities;
    if (options.replyTo !== undefined) {
      const target = this.chats.get(chat.id)?.messages.get(options.replyTo);
      if (!target) throw new Error(`sendText: no message ${options.replyTo} in chat ${chat.id} to reply to`);
      fields.reply_to_message = target.message;
    }
    return this.queueUpdate({ message: this.userMessage(chat, from, fields) });
  }

  sendSticker(chat: ChatSpec, from?: UserSpec, emoji = "👍"): Update {
    const unique = `sticker${this.nextUpdateId}`;
    const message = this.userMessage(chat, from, {
      sticker: {
        file_id: `CAACAgIAAx-${unique}`,
        file_unique_id: unique,
        type: "regular",
        width: 512,
        height: 512,
        is_animated: false,
        is_video: false,
        emoji,
      },
    });
    return this.queueUpdate({ message });
  }

  editText(chat: ChatSpec, messageId: number, text: string, from?: UserSpec): Update {
    this.assertRunning();
    const stored = this.chats.get(chat.id)?.messages.get(messageId);
    if (!stored || stored.fromBot)
      throw new Error(`editText: no user message ${messageId} in chat ${chat.id}`);
    stored.message.text = text;
    const entities = detectCommandEntities(text);
    if (entities.length > 0) stored.message.entities = entities;
    else delete stored.message.entities;
    stored.message.edit_date = Math.floor(Date.now() / 1000);
    const edited: TelegramMessage = { ...stored.message };
    if (from) edited.from = this.userFor(chat, from);
    return this.queueUpdate({ edited_message: edited });
  }

  pressButton(
    chat: ChatSpec,
    messageId: number,
    data: string,
    from?: UserSpec,
    options: { force?: boolean } = {},
  ): Update {
    this.assertRunning();
    const state = this.registerChat(chat, chat.type === "private" ? from : undefined);
    const stored = state.messages.get(messageId);
    if (!stored && !options.force) throw new Error(`pressButton: no message ${messageId} in chat ${chat.id}`);
    if (stored && !options.force) {
      const keyboard = (
        stored.message.reply_markup as { inline_keyboard?: { callback_data?: string }[][] } | undefined
      )?.inline_keyboard;
      const found = keyboard?.some((row) => row.some((button) => button.callback_data === data)) ?? false;
      if (!found)
        throw new Error(`pressButton: message ${messageId} in chat ${chat.id} has no button "${data}"`);
    }
    const id = `${this.botUser.id}${String(this.nextCallbackId++).padStart(8, "0")}`;
    const query: TelegramCallbackQuery = {
      id,
      from: this.userFor(chat, from),
      chat_instance: String(chat.id),
      data,
    };
    query.message = stored?.message ?? {
      message_id: messageId,
      from: this.botUser,
      chat: state.chat,
      date: Math.floor(Date.now() / 1000),
    };
    this.callbackQueries.set(id, { answered: false });
    return this.queueUpdate({ callback_query: query });
  }

  stopDraft(chatId: number, draftId?: number): Update {
    this.assertRunning();
    const drafts = this.drafts.filter(
      (draft) => draft.chat_id === chatId && (draftId === undefined || draft.draft_id === draftId),
    );
    const draft = drafts.at(-1);
    if (!draft) throw new Error(`stopDraft: no draft${draftId ? ` ${draftId}` : ""} in chat ${chatId}`);
    if (!draft.can_stop) throw new Error(`stopDraft: draft ${draft.draft_id} was sent without can_stop`);
    const chat = this.chats.get(chatId)!.chat;
    return this.queueUpdate({ stopped_message_generation: { chat, draft_id: draft.draft_id } });
  }

  queueUpdate(body: Omit<Update, "update_id">): Update {
    this.assertRunning();
    // GramIO reads the update type as the second key: `update_id` must come first.
    const update = { update_id: this.nextUpdateId++, ...body } as Update;
    const type = updateType(body);
    const allowed =
      this.allowedUpdates && this.allowedUpdates.length > 0
        ? this.allowedUpdates.includes(type)
        : !OPT_IN_UPDATE_TYPES.has(type);
    if (!allowed) {
      this.droppedUpdates.push(update);
      return update;
    }
    this.updates.push(update);
    // Let updates queued in the same tick go out in one batch, like Telegram does.
    queueMicrotask(() => this.releasePoll());
    return update;
  }

  // --- Test controls -------------------------------------------------------------------------

  failNext(method: string, response: InjectedError, times = 1, when?: (params: Params) => boolean): void {
    const key = method.toLowerCase();
    const queue = this.failures.get(key) ?? [];
    queue.push({ response, remaining: times, ...(when ? { when } : {}) });
    this.failures.set(key, queue);
  }

  clearFailures(): void {
    this.failures.clear();
  }

  setRateLimit(options: RateLimitOptions): void {
    this.rateLimit = { ...options };
  }

  onMethod(method: string, handler: MethodHandler): void {
    const canonical = KNOWN_METHODS.find((known) => known.toLowerCase() === method.toLowerCase()) ?? method;
    this.handlers.set(canonical, handler);
  }

  getCommands(
    languageCode = "",
    scope: { type: string; chat_id?: number | string; user_id?: number } = { type: "default" },
  ): TelegramBotCommand[] | undefined {
    return this.commands.get(this.commandsKey(languageCode, scope));
  }

  unansweredCallbackQueries(): string[] {
    return [...this.callbackQueries].filter(([, query]) => !query.answered).map(([id]) => id);
  }

  pendingUpdateIds(): number[] {
    return this.updates.map((update) => update.update_id);
  }

  waitForCall(
    method: string,
    predicate: (call: ApiCall) => boolean = () => true,
    timeoutMs = DEFAULT_WAIT_MS,
  ) {
    const canonical = this.canonicalMethod(method);
    return this.waitUntil(
      () =>
        this.calls.find(
          (call) => call.method === canonical && call.response !== undefined && predicate(call),
        ),
      timeoutMs,
      () =>
        `a ${canonical} call; calls so far: ${this.calls.map((call) => call.method).join(", ") || "none"}`,
    );
  }

  waitForPoll(timeoutMs = DEFAULT_WAIT_MS): Promise<ApiCall> {
    return this.waitUntil(
      () => this.poll?.call,
      timeoutMs,
      () => "a held getUpdates long poll",
    );
  }

  waitForSent(
    predicate: (message: SentMessage) => boolean,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<SentMessage> {
    return this.waitUntil(
      () => this.sent.find(predicate),
      timeoutMs,
      () =>
        `a matching sent message; sent so far: ${JSON.stringify(this.sent.map((m) => [m.chat_id, m.text]))}`,
    );
  }

  waitForSentCount(chatId: number, count: number, timeoutMs = DEFAULT_WAIT_MS): Promise<SentMessage[]> {
    const inChat = () => this.sent.filter((message) => message.chat_id === chatId);
    return this.waitUntil(
      () => {
        const messages = inChat();
        return messages.length >= count ? messages : undefined;
      },
      timeoutMs,
      () => `${count} messages in chat ${chatId}; got ${inChat().length}`,
    );
  }

  private waitUntil<T>(find: () => T | undefined, timeoutMs: number, describe: () => string): Promise<T> {
    try {
      const found = find();
      if (found !== undefined) return Promise.resolve(found);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.stopped) return Promise.reject(new Error("fake Telegram server is stopped"));
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        check: () => {
          let found: T | undefined;
          try {
            found = find();
          } catch (error) {
            waiter.fail(error instanceof Error ? error : new Error(String(error)));
            return;
          }
          if (found === undefined) return;
          cleanup();
          resolve(found);
        },
        fail: (error) => {
          cleanup();
          reject(error);
        },
      };
      const timer = setTimeout(
        () =>
          waiter.fail(new Error(`fake Telegram: timed out after ${timeoutMs} ms waiting for ${describe()}`)),
        timeoutMs,
      );
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      this.waiters.add(waiter);
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter.check();
  }

  private assertRunning(): void {
    if (this.stopped) throw new Error("fake Telegram server is stopped");
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.stopped = true;
    this.releasePoll();
    for (const waiter of [...this.waiters]) waiter.fail(new Error("fake Telegram server stopped"));
    const server = this.server;
    if (!server) return;
    // Graceful first: it waits for answered requests (the released long poll) to reach the client
    // and closes idle keep-alive connections. Force it if a request is stuck (e.g. a custom handler).
    let timer: ReturnType<typeof setTimeout> | undefined;
    const graceful = server.stop(false).then(() => true);
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), 1000);
    });
    const done = await Promise.race([graceful, timedOut]);
    clearTimeout(timer);
    if (!done) await server.stop(true);
  }
}
