/**
 * Export through the service: a finished debate with an interjection and a verdict as a Markdown
 * document (topic, format, participants, every turn with speaker and round, the interjection, the
 * verdict, totals) and as JSON (the full detail).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { modelTurns, setLimits, startDebate } from "../helpers/debate-test-utils";
import { createTestStack, type TestStack } from "../helpers/test-stack";

let stack: TestStack;

beforeAll(async () => {
  stack = await createTestStack();
  await setLimits(stack);
});
afterAll(async () => {
  await stack.stop();
});

describe("export", () => {
  test("Markdown and JSON carry the whole debate", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    stack.fakeLlm.setResponder(async (request) => {
      if (request.index === 1) await gate;
      return request.messages[0]!.content.startsWith("You are the impartial moderator")
        ? { text: "## Consensus\nmedium — they agree on trams." }
        : {};
    });
    const { id, recorder } = await startDebate(stack, {
      topic: "Trams\nor buses?",
      maxRounds: 2,
      language: "en",
      format: "pro_contra",
      verdict: true,
    });
    await stack.fakeLlm.waitForRequests(2);
    await stack.debate.interject(id, { content: "And the cost?", by: "operator" });
    release();
    await recorder.waitFor("session-end");
    const detail = await stack.debate.getSession(id);

    const md = await stack.debate.exportSession(id, "md");
    expect(md.filename).toBe(`roundtable-${id.slice(0, 8)}.md`);
    expect(md.contentType).toBe("text/markdown; charset=utf-8");
    const lines = md.body.split("\n");
    expect(lines[0]).toBe("# Trams or buses?");
    expect(md.body).toContain("- Format: pro and contra");
    expect(md.body).toContain("- Status: finished (max_rounds)");
    expect(md.body).toContain("- Rounds: 2/2");
    expect(md.body).toContain("1. **ChatGPT** — Optimist, for");
    expect(md.body).toContain("2. **DeepSeek** — Skeptic, against");
    // Every turn under its speaker and round, in order.
    let position = 0;
    for (const turn of modelTurns(detail.messages)) {
      const heading = `### ${turn.authorName} (${turn.authorName === "ChatGPT" ? "Optimist" : "Skeptic"}) · round ${turn.round}`;
      const at = md.body.indexOf(`${heading}\n\n${turn.content}`, position);
      expect(at).toBeGreaterThan(position);
      position = at;
    }
    expect(md.body).toContain("> **Question (Operator):** And the cost?");
    expect(md.body).toContain(
      "## ⚖️ Moderator's verdict (ChatGPT)\n\n## Consensus\nmedium — they agree on trams.",
    );
    const totals = detail.totals;
    expect(md.body).toContain(`- tokens in: ${totals.tokensIn} (cached: ${totals.cachedTokens})`);
    expect(md.body).toContain(`- tokens out: ${totals.tokensOut}`);
    expect(md.body).toContain(`- cost: $${totals.cost}`);

    const json = await stack.debate.exportSession(id, "json");
    expect(json.filename).toBe(`roundtable-${id.slice(0, 8)}.json`);
    expect(json.contentType).toBe("application/json; charset=utf-8");
    const parsed = JSON.parse(json.body);
    expect(parsed).toMatchObject({
      id,
      topic: "Trams\nor buses?",
      format: "pro_contra",
      language: "en",
      verdict: true,
      status: "finished",
      stop_reason: "max_rounds",
      max_rounds: 2,
      totals: { tokens_in: totals.tokensIn, tokens_out: totals.tokensOut, cost: totals.cost },
    });
    expect(
      parsed.participants.map((participant: { display_name: string }) => participant.display_name),
    ).toEqual(["ChatGPT", "DeepSeek"]);
    expect(parsed.messages.map((message: { author_type: string }) => message.author_type)).toEqual(
      detail.messages.map((message) => message.authorType),
    );
    expect(
      parsed.messages.find((message: { author_type: string }) => message.author_type === "user").content,
    ).toBe("And the cost?");

    await expect(stack.debate.exportSession(id, "pdf" as "md")).rejects.toMatchObject({
      code: "invalid_input",
    });
    await expect(stack.debate.exportSession("not-a-uuid", "md")).rejects.toMatchObject({
      code: "session_not_found",
    });
  });
});
