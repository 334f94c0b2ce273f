/**
 * A TypeScript client generated from the live OpenAPI document works: openapi-typescript turns
 * `/openapi/json` into types (in a temporary folder), `tsc` type-checks the client code of
 * test/openapi-client against them, and that client drives a debate against the API and the engine
 * with the fake OpenAI-compatible server.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import openapiTS, { astToString } from "openapi-typescript";
import { type ApiClient, createApiClient, type Json, TEST_API_TOKEN } from "../helpers/api-client";
import { createTestStack, type TestStack } from "../helpers/test-stack";

const repoRoot = join(import.meta.dir, "../..");
const clientFile = join(repoRoot, "test/openapi-client/debate-client.ts");

/**
 * The client module, loaded by path: its types exist only once generated, so the project's `tsc`
 * must not follow a static import into it (the first test type-checks it instead).
 */
interface DebateClientModule {
  createDebateClient(options: {
    baseUrl: string;
    token: string;
    fetch: (request: Request) => Promise<Response>;
  }): Json;
  runDebate(client: Json, topic: string, maxRounds: number, verdict?: boolean): Promise<Json>;
  createInvalidSession(client: Json): Promise<Json>;
  continueJudgeExport(client: Json, id: string): Promise<Json>;
}
const loadClient = () => import(clientFile) as Promise<DebateClientModule>;
/** A generated client calling the API in process. */
const createClient = async () =>
  (await loadClient()).createDebateClient({
    baseUrl: "http://localhost",
    token: TEST_API_TOKEN,
    fetch: (request) => api.app.handle(request),
  });

let stack: TestStack;
let api: ApiClient;
let workDir: string;

beforeAll(async () => {
  stack = await createTestStack({ settings: { MAX_ROUNDS: 2 } });
  api = await createApiClient(stack);
  workDir = mkdtempSync(join(tmpdir(), "rt-openapi-client-"));
});
afterAll(async () => {
  await stack?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe("a client generated from the document", () => {
  test("its types are generated from /openapi/json and the client code type-checks against them", async () => {
    const document = (await api.request("GET", "/openapi/json", { token: null })).json;
    const types = astToString(await openapiTS(document));
    expect(types).toContain('"/api/sessions/{id}/start"');
    expect(types).toMatch(/SessionDetail: \{/);
    writeFileSync(join(workDir, "api-types.ts"), types);
    // rootDirs merges the client's folder with this one, so its `./api-types` import resolves here.
    writeFileSync(
      join(workDir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ESNext",
          module: "ESNext",
          moduleResolution: "bundler",
          lib: ["ESNext", "DOM", "DOM.Iterable"],
          types: [],
          strict: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: true,
          noEmit: true,
          rootDirs: [join(repoRoot, "test/openapi-client"), workDir],
        },
        files: [clientFile, join(workDir, "api-types.ts")],
      }),
    );
    const tsc = Bun.spawn(
      [
        process.execPath,
        join(repoRoot, "node_modules/typescript/bin/tsc"),
        "-p",
        workDir,
        "--pretty",
        "false",
      ],
      { cwd: workDir, stdout: "pipe", stderr: "pipe" },
    );
    const [code, output] = await Promise.all([tsc.exited, new Response(tsc.stdout).text()]);
    expect(output).toBe("");
    expect(code).toBe(0);
  }, 60_000);

  test("drives a debate's life: create, start, follow until finished, read with messages, list", async () => {
    const { runDebate } = await loadClient();
    const client = await createClient();
    const run = await runDebate(client, "Is a typed client worth it?", 1);
    expect(run.created.status).toBe("created");
    expect(run.started.status).toBe("running");
    // Followed from after the start: the stream ends with the session's end (a fast debate may have
    // finished before the client subscribed, and then `session-end` is all there is).
    expect(run.events.at(-1)).toBe("session-end");
    expect(run.status).toBe("finished");
    expect(run.finished.stop_reason).toBe("max_rounds");
    const turns = run.finished.messages.filter((message: Json) => message.author_type === "model");
    expect(turns.length).toBe(run.finished.participants.length);
    expect(turns.every((turn: Json) => turn.content.length > 0)).toBe(true);
    expect(run.listedIds).toContain(run.created.id);
  });

  test("continues the debate, asks for the verdict and exports it, all through the generated types", async () => {
    const { runDebate, continueJudgeExport } = await loadClient();
    const client = await createClient();
    // Created without a verdict at the end (the API's default is one): it is asked for afterwards.
    const run = await runDebate(client, "Is a typed client worth it, really?", 1, false);
    expect(run.finished.verdict).toBe(false);
    const after = await continueJudgeExport(client, run.created.id);
    expect(after.continued).toMatchObject({ status: "running", max_rounds: 2 });
    expect(after.accepted.status).toBe("finished");
    expect(after.verdictEvents.at(-1)).toMatch(/^(message-created|session-end)$/);
    expect(after.verdicts.length).toBe(1);
    expect(after.exported).toMatchObject({ current_round: 2, status: "finished", verdict: false });
    expect(after.markdown).toStartWith("# Is a typed client worth it, really?");
    expect(after.markdown).toContain(after.verdicts[0].content);
    expect(after.disposition).toBe(`attachment; filename="roundtable-${run.created.id.slice(0, 8)}.md"`);
    expect(after.refusedStatus).toBe(401);
  });

  test("a refused call reads as the document's Error", async () => {
    const { createInvalidSession } = await loadClient();
    const client = await createClient();
    const refused = await createInvalidSession(client);
    expect(refused.status).toBe(422);
    expect(refused.body?.error.code).toBe("validation_failed");
    expect(refused.body?.error.details).toEqual([
      expect.objectContaining({ path: "max_rounds", message: expect.stringContaining("50") }),
    ]);
  });
});
