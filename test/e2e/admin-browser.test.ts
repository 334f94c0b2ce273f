/**
 * The admin in a real browser (Debian's Chromium through playwright-core): sign in, configure
 * providers, keys and PAYMENT_URL, run a debate and watch it live, force-stop one, prove hostile
 * persona titles and model answers stay text, and read it all back in the audit log.
 * Screenshots of the main pages land in test/e2e/screenshots/ (git-ignored) for review.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { eq } from "drizzle-orm";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { providers } from "../../src/db/schema";
import { ADMIN_PASSWORD, ADMIN_USERNAME } from "../helpers/admin-client";
import { sessionInStatus } from "../helpers/debate-test-utils";
import { createTestStack, type TestStack } from "../helpers/test-stack";

setDefaultTimeout(60_000);

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SCREENSHOTS = new URL("./screenshots/", import.meta.url).pathname;
const HOSTILE_PERSONA = "<img src=x onerror=alert(1)>";
const HOSTILE_ANSWER = "<script>alert(1)</script>";
const KEYS = {
  chatGpt: "sk-e2e-chatgpt-key-0123456789abcdef",
  deepSeek: "sk-e2e-deepseek-key-fedcba9876543210",
  extra: "sk-e2e-mistral-key-00112233445566778",
};

let stack: TestStack;
let baseUrl: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Every dialog the page opened; only confirm() of our own buttons is expected. */
const dialogs: { type: string; message: string }[] = [];
const consoleErrors: string[] = [];

async function shot(name: string) {
  await page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });
}

async function providerRow(name: string) {
  const [row] = await stack.db.select().from(providers).where(eq(providers.name, name));
  return row!;
}

const waitForStatus = (sessionId: string, wanted: string) =>
  sessionInStatus(stack, sessionId, [wanted], 20_000);

const sessionIdFromUrl = () => /\/admin\/sessions\/([0-9a-f-]{36})/.exec(page.url())?.[1] ?? "";

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install Debian's package (apt-get install -y chromium)`,
    );
  }
  mkdirSync(SCREENSHOTS, { recursive: true });
  stack = await createTestStack({ settings: { MAX_ROUNDS: 2 } });
  // The stack's own app, served: every door as in production (stopped with the stack).
  baseUrl = stack.app.listen({ port: 0, hostname: "127.0.0.1" });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, baseURL: baseUrl });
  page = await context.newPage();
  page.on("dialog", (dialog) => {
    dialogs.push({ type: dialog.type(), message: dialog.message() });
    void (dialog.type() === "confirm" ? dialog.accept() : dialog.dismiss());
  });
  page.on("console", (message) => {
    // Forms answered with 401/422 on purpose are logged by Chromium as failed loads: not errors here.
    if (message.type() === "error" && !/status of (401|422)\b/.test(message.text())) {
      consoleErrors.push(message.text());
    }
  });
  page.on("pageerror", (error) => consoleErrors.push(error.message));
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe("admin in a browser", () => {
  test("sign in", async () => {
    await page.goto("/admin");
    expect(new URL(page.url()).pathname).toBe("/admin/login");
    await shot("01-login");
    await page.getByLabel("Username").fill(ADMIN_USERNAME);
    await page.getByLabel("Password").fill("wrong password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("Wrong username or password.").waitFor();
    await page.getByLabel("Password").fill(ADMIN_PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/admin");
    const cookies = await context.cookies();
    const session = cookies.find((cookie) => cookie.name === "rt_admin_session");
    expect(session).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/admin" });
    await shot("02-dashboard-empty");
  });

  test("add a provider, set ChatGPT and DeepSeek keys and models, test a connection", async () => {
    await page.goto("/admin/providers");
    await page.getByRole("link", { name: "Add provider" }).click();
    await page.getByLabel("Name").fill("Mistral Local");
    await page.getByLabel("Type").selectOption("openai_compatible");
    await page.getByLabel("Base URL").fill(stack.fakeLlm.url);
    await page.getByLabel("Model", { exact: true }).fill("mistral-small");
    await page.getByLabel("API key", { exact: true }).fill(KEYS.extra);
    await page.getByLabel("Temperature").fill("0.7");
    await page.getByLabel("Extra request fields (JSON object)").fill("{oops");
    await page.getByRole("button", { name: "Add provider" }).click();
    await page.locator("#field-extra-error").waitFor();
    expect(await page.locator("#field-extra-error").textContent()).toContain("Not valid JSON");
    // The typed key is not echoed back: it has to be typed again.
    expect(await page.getByLabel("API key", { exact: true }).inputValue()).toBe("");
    await shot("03-provider-form-errors");
    await page.getByLabel("Extra request fields (JSON object)").fill('{"top_p": 0.9}');
    await page.getByLabel("API key", { exact: true }).fill(KEYS.extra);
    await page.getByRole("button", { name: "Add provider" }).click();
    await page.getByText("Provider added.").waitFor();
    expect(await page.content()).not.toContain(KEYS.extra);
    const added = await providerRow("Mistral Local");
    expect(stack.secretBox.decrypt(added.apiKeyEncrypted!)).toBe(KEYS.extra);
    expect(added.params).toMatchObject({ temperature: 0.7, extra: { top_p: 0.9 } });

    // Keep the debate between the two seeded models: disable the new one from the list.
    await page.locator("tr", { hasText: "Mistral Local" }).getByRole("button", { name: "Disable" }).click();
    await page.getByText("Provider disabled.").waitFor();
    expect((await providerRow("Mistral Local")).enabled).toBe(false);

    for (const [name, key, model] of [
      ["ChatGPT", KEYS.chatGpt, "gpt-4o-mini"],
      ["DeepSeek", KEYS.deepSeek, "deepseek-flash"],
    ] as const) {
      await page.goto("/admin/providers");
      await page.locator("tr", { hasText: name }).getByRole("link", { name: "Edit" }).click();
      await page.getByLabel("API key", { exact: true }).fill(key);
      await page.getByLabel("Model", { exact: true }).fill(model);
      await page.getByRole("button", { name: "Save changes" }).click();
      await page.getByText("Provider saved.").waitFor();
      const row = await providerRow(name);
      expect(row.modelId).toBe(model);
      expect(stack.secretBox.decrypt(row.apiKeyEncrypted!)).toBe(key);
      const text = await page.content();
      expect(text).toContain(`••••${key.slice(-4)}`);
      expect(text).not.toContain(key);
    }
    // Blank key on edit keeps the stored one.
    await page.locator("tr", { hasText: "ChatGPT" }).getByRole("link", { name: "Edit" }).click();
    expect(
      await page.getByText(`Stored key: ••••${KEYS.chatGpt.slice(-4)}. Leave blank to keep it.`).count(),
    ).toBe(1);
    await shot("04-provider-edit");
    await page.getByLabel("Temperature").fill("0.9");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByText("Provider saved.").waitFor();
    expect(stack.secretBox.decrypt((await providerRow("ChatGPT")).apiKeyEncrypted!)).toBe(KEYS.chatGpt);

    // The test runs in the background: progress on the button, the result in place, no reload.
    await page.evaluate(() => {
      (window as unknown as { marker: string }).marker = "same page";
    });
    stack.fakeLlm.enqueue({ text: "ok", delayMs: 800 });
    const testButton = page
      .locator("tr", { hasText: "ChatGPT" })
      .getByRole("button", { name: "Test connection" });
    await testButton.click();
    const testing = page.locator("tr", { hasText: "ChatGPT" }).getByRole("button", { name: "Testing…" });
    await testing.waitFor();
    expect(await testing.isDisabled()).toBe(true);
    expect(await page.locator("#test-result").textContent()).toBe("Testing the connection…");
    await page
      .locator("#test-result", { hasText: /ChatGPT: connected in \d+ ms \(model gpt-4o-mini\)/ })
      .waitFor();
    expect(await testButton.isEnabled()).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe("same page");
    expect(stack.fakeLlm.requests.at(-1)?.headers.authorization).toBe(`Bearer ${KEYS.chatGpt}`);
    await shot("05-providers");
  });

  test("set PAYMENT_URL (the error is shown next to the field first)", async () => {
    await page.goto("/admin/settings");
    await page.getByLabel("Payment URL").fill("http://not-https.example.com");
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.locator("#field-PAYMENT_URL-error").waitFor();
    expect(await page.locator("#field-PAYMENT_URL-error").textContent()).toContain("must be an https URL");
    await shot("06-settings-error");
    await page.getByLabel("Payment URL").fill("https://pay.example.com/round-table");
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.getByText("Settings saved.").waitFor();
    expect((await stack.settings.getAll()).PAYMENT_URL).toBe("https://pay.example.com/round-table");
    await shot("07-settings");
  });

  test("a persona with an HTML title stays text and becomes ChatGPT's default", async () => {
    await page.goto("/admin/personalities");
    await page.getByRole("link", { name: "Add personality" }).click();
    await page.getByLabel("Title").fill(HOSTILE_PERSONA);
    await page.getByLabel("Instructions").fill("Argue briefly. <b>Never</b> use HTML.");
    await page.getByRole("button", { name: "Add personality" }).click();
    await page.getByText("Personality added.").waitFor();
    await page.getByLabel("ChatGPT").selectOption({ label: HOSTILE_PERSONA });
    await page.getByRole("button", { name: "Save defaults" }).click();
    await page.getByText("Default personalities saved.").waitFor();
    // Shown literally: as a link in the list and as the title of the row.
    expect(await page.getByText(HOSTILE_PERSONA, { exact: true }).first().isVisible()).toBe(true);
    expect(await page.locator("img").count()).toBe(0);
    await shot("08-personalities");
  });

  test("run a debate and watch its history appear live on the session page", async () => {
    // Each turn streams for a moment so the page is open before the turns are written.
    stack.fakeLlm.setResponder(() => ({ chunkDelayMs: 120 }));
    stack.fakeLlm.enqueue({
      text: `Here is my answer: ${HOSTILE_ANSWER} and **bold** text.`,
      chunkDelayMs: 250,
    });
    await page.goto("/admin/sessions");
    await page.getByLabel("Topic").fill("Should cities ban cars from the centre?");
    await page.getByRole("button", { name: "Start debate" }).click();
    await page.getByText("Debate started").waitFor();
    const sessionId = sessionIdFromUrl();
    // A marker proves the page is never reloaded while turns arrive.
    await page.evaluate(() => {
      (window as unknown as { marker: string }).marker = "same page";
    });
    await page.waitForFunction(
      () => document.querySelectorAll("#transcript article.turn").length >= 2,
      null,
      {
        timeout: 20_000,
      },
    );
    await shot("09-session-live");
    await page.waitForFunction(
      () => document.querySelector("#live [data-status]")?.getAttribute("data-status") === "finished",
      null,
      { timeout: 20_000 },
    );
    expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe("same page");
    // Four turns and the moderator's verdict (on by default).
    expect(await page.locator("#transcript article.turn").count()).toBe(5);
    // The model's <script> is visible as text, Markdown still rendered.
    expect(await page.getByText(HOSTILE_ANSWER).first().isVisible()).toBe(true);
    expect(await page.locator("#transcript strong", { hasText: "bold" }).count()).toBe(1);
    expect(await page.locator("#transcript script").count()).toBe(0);
    // The hostile persona is the speaker's persona, shown as text.
    expect(
      await page.locator("#transcript").getByText(HOSTILE_PERSONA, { exact: true }).first().isVisible(),
    ).toBe(true);
    expect(await page.locator("img").count()).toBe(0);
    expect(await page.getByText("round limit reached").isVisible()).toBe(true);
    expect(await page.getByText("Force stop").count()).toBe(0);
    await waitForStatus(sessionId, "finished");
    await shot("10-session-finished");
  });

  test("force-stop a running debate", async () => {
    stack.fakeLlm.setResponder(() => ({ delayMs: 2000 }));
    try {
      await page.goto("/admin/sessions");
      await page.getByLabel("Topic").fill("A slow debate to stop");
      await page.getByLabel("Rounds").fill("5");
      await page.getByRole("button", { name: "Start debate" }).click();
      await page.getByText("Debate started").waitFor();
      const sessionId = sessionIdFromUrl();
      await page.getByText("live", { exact: false }).first().waitFor();
      await shot("11-session-running");
      await page.getByRole("button", { name: "Force stop" }).click();
      await page.getByText("Debate stopped.").waitFor();
      expect(
        dialogs.some((dialog) => dialog.type === "confirm" && dialog.message === "Stop this debate now?"),
      ).toBe(true);
      const row = await waitForStatus(sessionId, "stopped");
      expect(row.stopReason).toBe("admin");
      expect(await page.getByText("stopped by an admin").isVisible()).toBe(true);
      await shot("12-session-stopped");
    } finally {
      stack.fakeLlm.setResponder(() => ({}));
    }
  });

  test("the sessions list and dashboard show the debates", async () => {
    await page.goto("/admin/sessions");
    expect(await page.locator("tr[data-session]").count()).toBe(2);
    await page.getByLabel("Status").selectOption("stopped");
    await page.getByRole("button", { name: "Filter" }).click();
    expect(await page.locator("tr[data-session]").count()).toBe(1);
    expect(new URL(page.url()).searchParams.get("status")).toBe("stopped");
    await shot("13-sessions");
    await page.goto("/admin");
    expect(await page.locator("#stat-today").textContent()).toBe("2");
    expect(await page.locator("td", { hasText: "ChatGPT" }).count()).toBeGreaterThan(0);
    await shot("14-dashboard");
  });

  test("the audit log shows each action", async () => {
    await page.goto("/admin/audit");
    for (const action of [
      "admin.login",
      "provider.create",
      "provider.update",
      "settings.update",
      "personality.create",
      "session.start",
      "session.stop",
    ]) {
      expect({ action, rows: (await page.locator(`tr[data-audit-action="${action}"]`).count()) > 0 }).toEqual(
        {
          action,
          rows: true,
        },
      );
    }
    expect(await page.locator("td.mono", { hasText: "admin:admin" }).count()).toBeGreaterThan(5);
    const text = await page.content();
    for (const key of Object.values(KEYS)) expect(text).not.toContain(key);
    await shot("15-audit");
  });

  test("readable on a phone", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [path, name] of [
      ["/admin", "16-phone-dashboard"],
      ["/admin/sessions", "17-phone-sessions"],
      ["/admin/providers", "18-phone-providers"],
    ] as const) {
      await page.goto(path);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect({ path, overflow: overflow <= 1 }).toEqual({ path, overflow: true });
      await shot(name);
    }
    await page.goto("/admin/sessions");
    await page.locator("tr[data-session] a").first().click();
    await shot("19-phone-session");
    // The dashboard's charts at 375 px: present, drawn, inside the screen.
    await page.setViewportSize({ width: 375, height: 812 });
    await page.goto("/admin");
    const charts = page.locator("svg.chart");
    expect(await charts.count()).toBe(4);
    for (const box of await charts.evaluateAll((nodes) =>
      nodes.map((node) => {
        const rect = node.getBoundingClientRect();
        return { left: rect.left, right: rect.right, width: rect.width, height: rect.height };
      }),
    )) {
      expect(box.width).toBeGreaterThan(200);
      expect(box.height).toBeGreaterThan(20);
      expect(box.left).toBeGreaterThanOrEqual(0);
      expect(box.right).toBeLessThanOrEqual(375);
    }
    expect(
      await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth),
    ).toBeLessThanOrEqual(0);
    await page.locator("#chart-debates").scrollIntoViewIfNeeded();
    await shot("20-phone-dashboard-charts");
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  test("log out", async () => {
    await page.goto("/admin");
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByText("You are signed out.").waitFor();
    await page.goto("/admin/settings");
    expect(new URL(page.url()).pathname).toBe("/admin/login");
  });

  test("nothing hostile ever ran and the page raised no errors", () => {
    expect(dialogs.filter((dialog) => dialog.type !== "confirm")).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});
