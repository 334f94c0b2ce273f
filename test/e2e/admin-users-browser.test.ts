/**
 * The admin's Users page in a real browser (Debian's Chromium through playwright-core): from the
 * navigation to the list with usage, search, block, a user's own limits (with an error first), the
 * link to their sessions, and the switch to allowlist mode in Settings; every change audited.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { eq } from "drizzle-orm";
import { type Browser, chromium, type Page } from "playwright-core";
import { users } from "../../src/db/schema";
import { ADMIN_PASSWORD, ADMIN_USERNAME } from "../helpers/admin-client";
import { startDebate } from "../helpers/debate-test-utils";
import { createTestStack, type TestStack } from "../helpers/test-stack";

setDefaultTimeout(60_000);

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SCREENSHOTS = new URL("./screenshots/", import.meta.url).pathname;

let stack: TestStack;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

const userRow = async (telegramId: number) =>
  (await stack.db.select().from(users).where(eq(users.telegramId, telegramId)))[0]!;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}`);
  mkdirSync(SCREENSHOTS, { recursive: true });
  stack = await createTestStack({ settings: { MAX_ROUNDS: 1 } });
  const ann = await stack.app.services.users.touch({
    id: 9101,
    username: "ann_debates",
    language_code: "en",
  });
  await stack.app.services.users.touch({ id: 9102, username: "<b>mallory</b>" });
  const { recorder } = await startDebate(stack, {
    topic: "Ann's only debate",
    userId: ann.id,
    chatId: 9101,
    source: "telegram",
    language: "en",
  });
  await recorder.waitFor("session-end");
  const baseURL = stack.app.listen({ port: 0, hostname: "127.0.0.1" });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, baseURL });
  page = await context.newPage();
  page.on("dialog", (dialog) => void dialog.accept());
  page.on("pageerror", (error) => pageErrors.push(error.message));
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe("the Users page", () => {
  test("from the navigation: every user with today's usage against the limits and usage in all", async () => {
    await page.goto("/admin/login");
    await page.getByLabel("Username").fill(ADMIN_USERNAME);
    await page.getByLabel("Password").fill(ADMIN_PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" }).click();
    await page.getByRole("heading", { name: "Users" }).waitFor();
    const ann = page.locator("tr[data-user='9101']");
    expect(await ann.textContent()).toContain("@ann_debates");
    expect(await ann.textContent()).toMatch(/1 \/ 20/);
    expect(await ann.textContent()).toContain("1 debate");
    // A hostile username stays text.
    expect(await page.locator("tr[data-user='9102'] strong").textContent()).toBe("@<b>mallory</b>");
    expect(await page.locator("tr[data-user='9102'] b").count()).toBe(0);
    await page.screenshot({ path: `${SCREENSHOTS}users-list.png`, fullPage: true });
  });

  test("search, then block from the list (confirmed), and the filter of blocked users", async () => {
    await page.getByLabel("Search").fill("ann");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/q=ann/);
    expect(await page.locator("tbody tr").count()).toBe(1);
    await page.locator("tr[data-user='9101']").getByRole("button", { name: "Block" }).click();
    await page.getByText("User blocked: they will not start debates any more.").waitFor();
    expect((await userRow(9101)).blocked).toBe(true);
    expect(await page.locator("tr[data-user='9101'] .badge").first().textContent()).toBe("blocked");
    await page.getByLabel("Blocked").selectOption("yes");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/blocked=yes/);
    expect(await page.locator("tbody tr").count()).toBe(1);
    expect((await stack.lastAudit("user.update"))?.actor).toBe(`admin:${ADMIN_USERNAME}`);
  });

  test("a user's own limits: an invalid value is shown next to its field, then saved; their sessions", async () => {
    await page.goto("/admin/users");
    await page.locator("tr[data-user='9101']").getByRole("link", { name: "@ann_debates" }).click();
    await page.getByRole("heading", { name: "@ann_debates" }).waitFor();
    await page.getByLabel("Debates per day").fill("-3");
    await page.getByRole("button", { name: "Save limits" }).click();
    await page.locator("#field-debates_per_day-error").waitFor();
    await page.getByLabel("Debates per day").fill("7");
    await page.getByLabel("Cost per day (USD)").fill("abc");
    await page.getByRole("button", { name: "Save limits" }).click();
    await page.locator("#field-cost_per_day_usd-error").waitFor();
    expect((await userRow(9101)).debatesPerDay).toBeNull();
    await page.getByLabel("Cost per day (USD)").fill("0.75");
    await page.getByRole("button", { name: "Save limits" }).click();
    await page.getByText("Limits saved").waitFor();
    expect(await page.getByLabel("Debates per day").inputValue()).toBe("7");
    expect(await page.getByLabel("Cost per day (USD)").inputValue()).toBe("0.75");
    expect(await userRow(9101)).toMatchObject({ debatesPerDay: 7, costPerDayUsd: "0.75000000" });
    // Unblock from their page.
    await page.getByRole("button", { name: "Unblock" }).click();
    await page.getByText("User unblocked.").waitFor();
    expect((await userRow(9101)).blocked).toBe(false);
    await page.screenshot({ path: `${SCREENSHOTS}users-detail.png`, fullPage: true });

    await page.getByRole("link", { name: "Their sessions" }).click();
    await page.getByRole("heading", { name: "Sessions" }).waitFor();
    expect(page.url()).toContain("user=9101");
    expect(await page.locator("tbody tr").count()).toBe(1);
    expect(await page.locator("tbody").textContent()).toContain("Ann's only debate");
  });

  test("allowlist mode in Settings; Allow on the Users page", async () => {
    await page.goto("/admin/settings");
    await page.getByLabel("Who may start debates").selectOption("allowlist");
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.getByText("Settings saved.").waitFor();
    expect((await stack.settings.getAll()).ACCESS_MODE).toBe("allowlist");
    await page.goto("/admin/users");
    expect(await page.locator("tr[data-user='9102'] .badge").textContent()).toBe("not allowed");
    await page.locator("tr[data-user='9102']").getByRole("button", { name: "Allow" }).click();
    await page.getByText("User allowed.").waitFor();
    expect((await userRow(9102)).allowed).toBe(true);
    expect(await page.locator("tr[data-user='9102'] .badge").textContent()).toBe("allowed");
    expect(pageErrors).toEqual([]);
  });
});
