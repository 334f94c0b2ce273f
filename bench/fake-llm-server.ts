/**
 * The fake OpenAI-compatible LLM server of the throughput benchmark, run in its own process
 * (spawned by `debate-throughput.ts` with IPC) so its CPU is not counted as orchestration.
 *
 * Every reply waits `--latency` ms before its headers, then streams the fake's default text.
 * On top of the plain fake it keeps, per debate, what a naive client resending the whole
 * history every turn would send, and simulates an ideal provider prefix cache, so the
 * benchmark can compare input tokens billed, naive full-history tokens, and cached tokens.
 *
 * IPC: sends `{ type: "ready", url }` once listening; answers `{ type: "stats" }` with
 * `{ type: "stats", stats }`. Exits on `{ type: "stop" }`, SIGTERM, or when the parent goes away.
 */
import { defaultReplyText, type FakeReply, startFakeOpenAiServer } from "../test/helpers/fake-openai-server";

export interface FakeLlmStats {
  requests: number;
  turnRequests: number;
  summaryRequests: number;
  /** Prompt tokens reported to the client (what a provider bills as input). */
  promptTokens: number;
  /** Prompt tokens a client resending the full history every turn would have sent. */
  naivePromptTokens: number;
  /** Prompt tokens reported as cached by the simulated prefix cache. */
  cachedTokens: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  maxRssBytes: number;
}

function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : Number.NaN;
  return Number.isFinite(value) ? value : fallback;
}

const latencyMs = flag("latency", 0);
const jitterMs = flag("jitter", 0);
/** Simulated cache granularity (DeepSeek caches in 64-token units). */
const CACHE_BLOCK = 64;

/** The same estimate the fake server uses for usage: 4 tokens of framing + 1 per 4 characters. */
const tokensOf = (content: string) => 4 + Math.ceil(content.length / 4);

interface Conversation {
  /** Replies so far, in order: who said what (as the engine stores it, trimmed). */
  turns: { speaker: string; text: string }[];
  /** Previous prompt per speaker, for the simulated prefix cache. */
  previous: Map<string, string[]>;
}

const conversations = new Map<string, Conversation>();
const stats: FakeLlmStats = {
  requests: 0,
  turnRequests: 0,
  summaryRequests: 0,
  promptTokens: 0,
  naivePromptTokens: 0,
  cachedTokens: 0,
  cpuUserMs: 0,
  cpuSystemMs: 0,
  maxRssBytes: 0,
};
let replyCounter = 0;

const TOPIC_PREFIX = "Topic of the debate: ";
const TURN_CALL = /Your turn, (.+)\.$/;

const fake = await startFakeOpenAiServer({
  responder(request): FakeReply {
    stats.requests += 1;
    const messages = request.messages;
    const billed = messages.reduce((sum, message) => sum + tokensOf(message.content), 3);
    stats.promptTokens += billed;
    replyCounter += 1;
    const text = defaultReplyText(request.model || "model", replyCounter);
    const delayMs = latencyMs + (jitterMs > 0 ? Math.random() * jitterMs : 0);
    const topic = messages[1]?.content ?? "";
    const speaker = TURN_CALL.exec(messages.at(-1)?.content ?? "")?.[1];
    if (!topic.startsWith(TOPIC_PREFIX) || speaker === undefined) {
      // A summary request (context compression): billed, and a naive client never makes it.
      stats.summaryRequests += 1;
      return { text, delayMs, promptTokens: billed };
    }
    stats.turnRequests += 1;
    let conversation = conversations.get(topic);
    if (!conversation) {
      conversation = { turns: [], previous: new Map() };
      conversations.set(topic, conversation);
    }
    // Naive: system, topic, every earlier turn verbatim, the call to speak.
    let naive =
      3 + tokensOf(messages[0]?.content ?? "") + tokensOf(topic) + tokensOf(messages.at(-1)!.content);
    for (const turn of conversation.turns) {
      naive += tokensOf(turn.speaker === speaker ? turn.text : `${turn.speaker}: ${turn.text}`);
    }
    stats.naivePromptTokens += naive;
    // Ideal prefix cache: the leading messages identical to this speaker's previous prompt.
    const keyed = messages.map((message) => `${message.role}\u0000${message.content}`);
    const previous = conversation.previous.get(speaker) ?? [];
    let prefix = 0;
    for (let i = 0; i < Math.min(previous.length, keyed.length) && previous[i] === keyed[i]; i++) {
      prefix += tokensOf(messages[i]!.content);
    }
    const cached = Math.floor(prefix / CACHE_BLOCK) * CACHE_BLOCK;
    stats.cachedTokens += cached;
    conversation.previous.set(speaker, keyed);
    conversation.turns.push({ speaker, text: text.trim() });
    return { text, delayMs, promptTokens: billed, cachedTokens: cached };
  },
});

// The fake records every request; the benchmark never reads them, so keep memory flat.
const trim = setInterval(() => {
  fake.requests.length = 0;
  stats.maxRssBytes = Math.max(stats.maxRssBytes, process.memoryUsage.rss());
}, 200);

let stopping = false;
async function stop(): Promise<never> {
  if (!stopping) {
    stopping = true;
    clearInterval(trim);
    await fake.stop().catch(() => {});
  }
  process.exit(0);
}

function currentStats(): FakeLlmStats {
  const cpu = process.cpuUsage();
  stats.cpuUserMs = cpu.user / 1000;
  stats.cpuSystemMs = cpu.system / 1000;
  stats.maxRssBytes = Math.max(stats.maxRssBytes, process.memoryUsage.rss());
  return { ...stats };
}

process.on("message", (message: { type?: string }) => {
  if (message?.type === "stats") process.send?.({ type: "stats", stats: currentStats() });
  if (message?.type === "stop") void stop();
});
process.on("disconnect", () => void stop());
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());

process.send?.({ type: "ready", url: fake.url });
