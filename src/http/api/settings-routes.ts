import { Elysia } from "elysia";
import type { SettingsService } from "../../settings/settings-service";
import { settingsView, updateSettingsBody } from "./api-schemas";
import { answer, errorResponses, routeDoc } from "./route-doc";

const TAG = "settings";

/** Runtime settings by their env names (SPEC §8); the env values are the defaults. */
export function createSettingsRoutes(deps: { settings: SettingsService }) {
  const { settings } = deps;
  return new Elysia({ name: "api-settings", prefix: "/settings" })
    .get("", () => settings.getAll(), {
      response: { 200: answer(settingsView, "Every setting"), ...errorResponses() },
      detail: routeDoc("getSettings", "Get every runtime setting", TAG),
    })
    .put("", ({ body }) => settings.update(body, "api"), {
      body: updateSettingsBody,
      parse: "json",
      response: { 200: answer(settingsView, "Every setting, after the change"), ...errorResponses(400, 422) },
      detail: routeDoc("updateSettings", "Change one or several settings", TAG, {
        description:
          'An object of setting name → value, e.g. `{"MAX_ROUNDS": 3, "PAYMENT_URL": "https://…"}`. Every key is validated (integers in range, PAYMENT_URL an https URL) before any is written; on error nothing changes. Answers all settings.',
      }),
    });
}
