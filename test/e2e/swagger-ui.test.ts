/**
 * The API explorer works offline: `/swagger` and every file it loads come from the app itself (the
 * pinned swagger-ui-dist package), under the app's Content-Security-Policy, and in a real browser
 * (Debian's Chromium) it renders every operation of the document and calls the API.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";
import { CONTENT_SECURITY_POLICY } from "../../src/http/admin/admin-http";
import { TEST_API_TOKEN } from "../helpers/api-client";
import { createTestStack, type TestStack } from "../helpers/test-stack";

setDefaultTimeout(60_000);

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

let stack: TestStack;
let baseUrl: string;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install Debian's package (apt-get install -y chromium)`,
    );
  }
  stack = await createTestStack({ startEngine: false });
  baseUrl = stack.app.listen({ port: 0, hostname: "127.0.0.1" });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

/** Every `src` and `href` of a page. */
const referencedUrls = (html: string) =>
  [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);

describe("Swagger UI", () => {
  test("the page and every file it references are served by the app, under its CSP", async () => {
    const page = await fetch(`${baseUrl}/swagger`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.headers.get("content-security-policy")).toBe(CONTENT_SECURITY_POLICY);
    const html = await page.text();
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle=/);
    const urls = referencedUrls(html);
    expect(urls.filter((url) => url.endsWith(".js")).length).toBe(2);
    expect(urls.some((url) => url.endsWith(".css"))).toBe(true);
    for (const url of urls) {
      expect(url.startsWith("/")).toBe(true);
      const asset = await fetch(`${baseUrl}${url}`);
      expect(asset.status, url).toBe(200);
      expect((await asset.arrayBuffer()).byteLength, url).toBeGreaterThan(0);
      const type = asset.headers.get("content-type") ?? "";
      if (url.endsWith(".js")) expect(type).toContain("javascript");
      if (url.endsWith(".css")) expect(type).toContain("text/css");
    }
    const start = await (await fetch(`${baseUrl}${urls.find((url) => url.endsWith("start.js"))}`)).text();
    expect(start).toContain('"url":"/openapi/json"');
    // Only the listed files of the package are served.
    expect((await fetch(`${baseUrl}/swagger/package.json`)).status).toBe(404);
    expect((await fetch(`${baseUrl}/swagger/..%2Fpackage.json`)).status).toBe(404);
  });

  test("in Chromium: renders every operation, calls the API, with no failed request and no CSP violation", async () => {
    const openapiDocument = await (await fetch(`${baseUrl}/openapi/json`)).json();
    const operations = Object.values(
      openapiDocument.paths as Record<string, Record<string, unknown>>,
    ).flatMap((methods) => Object.keys(methods));
    expect(operations.length).toBeGreaterThanOrEqual(21);

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const foreign: string[] = [];
    const failed: string[] = [];
    const errors: string[] = [];
    // Anything not on the app's origin is refused and recorded: the explorer must not need it.
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith(baseUrl)) return route.continue();
      foreign.push(url);
      return route.abort();
    });
    page.on("requestfailed", (request) => failed.push(`${request.url()} ${request.failure()?.errorText}`));
    page.on("response", (response) => {
      if (response.status() >= 400) failed.push(`${response.url()} ${response.status()}`);
    });
    page.on("console", (message) => {
      if (message.type() === "error" || /Content Security Policy/i.test(message.text())) {
        errors.push(message.text());
      }
    });
    page.on("pageerror", (error) => errors.push(error.message));
    await page.addInitScript(() => {
      const violations: string[] = [];
      (window as unknown as { cspViolations: string[] }).cspViolations = violations;
      document.addEventListener("securitypolicyviolation", (event) =>
        violations.push(`${event.violatedDirective} ${event.blockedURI}`),
      );
    });

    await page.goto(`${baseUrl}/swagger`);
    await page.locator(".opblock").first().waitFor();
    expect(await page.locator(".opblock").count()).toBe(operations.length);
    await page.getByText("Create a debate session").waitFor();
    expect(await page.locator(".info .title").textContent()).toContain("Round Table AI API");

    // The request example comes from the document's NewSession component.
    await page.locator("#operations-sessions-createSession .opblock-summary").click();
    await page
      .locator("#operations-sessions-createSession")
      .getByText("Is remote work here to stay?")
      .first()
      .waitFor();

    // Authorize with the bearer token, then try an operation: the call goes to the app itself.
    await page.locator(".auth-wrapper .authorize").click();
    await page.locator(".modal-ux input").fill(TEST_API_TOKEN);
    await page.locator(".modal-ux button.authorize").click();
    await page.locator(".modal-ux button.btn-done").click();
    const listProviders = page.locator("#operations-providers-listProviders");
    await listProviders.locator(".opblock-summary").click();
    await listProviders.getByRole("button", { name: "Try it out" }).click();
    const answered = page.waitForResponse((response) => response.url() === `${baseUrl}/api/providers`);
    await listProviders.getByRole("button", { name: "Execute" }).click();
    expect((await answered).status()).toBe(200);
    await listProviders.locator(".live-responses-table .response-col_status").getByText("200").waitFor();

    const violations = await page.evaluate(
      () => (window as unknown as { cspViolations: string[] }).cspViolations,
    );
    expect(violations).toEqual([]);
    expect(foreign).toEqual([]);
    expect(failed).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });
});
