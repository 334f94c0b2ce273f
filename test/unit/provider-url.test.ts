import { describe, expect, test } from "bun:test";
import { ConfigError, createConfig } from "../../src/config";
import { baseUrlRefusal, isHostAllowed, parseBaseUrl, parseHostPatterns } from "../../src/llm/provider-url";

describe("base_url rules", () => {
  test("http(s) URLs with a path and a port are accepted", () => {
    for (const url of [
      "https://api.openai.com/v1",
      "https://api.deepseek.com",
      "http://127.0.0.1:11434/v1/",
      "http://[::1]:8080/v1",
      "  https://api.openai.com/v1  ",
    ]) {
      expect(parseBaseUrl(url)).not.toBeNull();
    }
  });

  test("userinfo, query, fragment, other schemes and parser-forgiven junk are refused", () => {
    for (const url of [
      "https://api.openai.com/v1#",
      "https://api.openai.com/v1#frag",
      "https://api.openai.com/v1?",
      "https://api.openai.com/v1?api-version=1",
      "https://user:pass@api.openai.com/v1",
      "https://user@api.openai.com/v1",
      "https://@api.openai.com/v1",
      "ftp://api.openai.com/v1",
      "file:///etc/passwd",
      "javascript:alert(1)",
      "https://api.open\tai.com/v1",
      "https://evil.example\\@api.openai.com/v1",
      "not a url",
      "",
    ]) {
      expect({ url, parsed: parseBaseUrl(url) }).toEqual({ url, parsed: null });
    }
  });

  test("a refusal never repeats the URL (it may hold a password)", () => {
    const refusal = baseUrlRefusal("https://admin:hunter2@api.openai.com/v1", []);
    expect(refusal).toContain("without user name, password");
    expect(refusal).not.toContain("hunter2");
  });
});

describe("PROVIDER_HOSTS", () => {
  const patterns = parseHostPatterns("api.openai.com, *.deepseek.com, 127.0.0.1:11434, [::1]:8080")!;
  const allowed = (url: string) => isHostAllowed(new URL(url), patterns);

  test("exact hosts on their default port, wildcards for subdomains only, explicit ports", () => {
    expect(allowed("https://api.openai.com/v1")).toBe(true);
    expect(allowed("https://API.OpenAI.com./v1")).toBe(true);
    expect(allowed("http://api.openai.com/v1")).toBe(true);
    expect(allowed("https://api.openai.com:8443/v1")).toBe(false);
    expect(allowed("https://api.openai.com.evil.example/v1")).toBe(false);
    expect(allowed("https://evilapi.openai.com/v1")).toBe(false);
    expect(allowed("https://api.deepseek.com")).toBe(true);
    expect(allowed("https://eu.api.deepseek.com")).toBe(true);
    expect(allowed("https://deepseek.com")).toBe(false);
    expect(allowed("https://notdeepseek.com")).toBe(false);
    expect(allowed("http://127.0.0.1:11434/v1")).toBe(true);
    expect(allowed("http://127.0.0.1:6379/")).toBe(false);
    expect(allowed("http://127.1:11434/v1")).toBe(true);
    expect(allowed("http://[::1]:8080/v1")).toBe(true);
    expect(isHostAllowed(new URL("https://anything.example"), [])).toBe(true);
  });

  test("the refusal names the host and the setting", () => {
    expect(baseUrlRefusal("https://listener.example:4443/v1", patterns)).toBe(
      "base_url host listener.example:4443 is not allowed by PROVIDER_HOSTS",
    );
    expect(baseUrlRefusal("https://api.openai.com/v1", patterns)).toBeNull();
  });

  test("config: parsed once, empty means any host, a bad entry stops the start naming the variable", () => {
    expect(createConfig({}).providerHosts).toEqual([]);
    expect(createConfig({ PROVIDER_HOSTS: "API.openai.com:443" }).providerHosts).toEqual([
      { host: "api.openai.com", wildcard: false, port: 443 },
    ]);
    for (const value of [
      "api.openai.com,,x.com",
      "https://api.openai.com",
      "a b",
      "*.10.0.0.1",
      "h:0",
      "h:70000",
    ]) {
      const attempt = () => createConfig({ PROVIDER_HOSTS: value });
      expect(attempt).toThrow(ConfigError);
      expect(attempt).toThrow(/^PROVIDER_HOSTS must be comma-separated host names/);
    }
  });
});
