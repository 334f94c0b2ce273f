/** @jsxImportSource @kitajs/html */
import { type ProviderChoice, SettingsPage, settingFields } from "../../../admin-jsx/pages/settings";
import type { ProviderService } from "../../catalog/provider-service";
import { type RuntimeSettingKey, type RuntimeSettings, runtimeSettingKeys } from "../../config";
import { type SettingsService, validateSettings } from "../../settings/settings-service";
import { field } from "./admin-http";
import type { AdminKit } from "./admin-kit";

export interface SettingsRoutesDeps {
  kit: AdminKit;
  settings: SettingsService;
  providers: ProviderService;
  /** The env values of the runtime settings (`config.defaults`), shown as each field's default. */
  defaults?: RuntimeSettings;
}

/** Every setting as the text of its form field. */
const asText = (current: RuntimeSettings) => {
  const values = {} as Record<RuntimeSettingKey, string>;
  for (const key of runtimeSettingKeys) values[key] = String(current[key] ?? "");
  return values;
};

/** Runtime settings: validated by the same rules as the env and the API, audited by the service. */
export function createSettingsRoutes(deps: SettingsRoutesDeps) {
  const { kit, settings } = deps;
  const providerChoices = async (): Promise<ProviderChoice[]> =>
    (await deps.providers.list()).map(({ id, name, enabled }) => ({ id, name, enabled }));
  const defaults = deps.defaults ? asText(deps.defaults) : undefined;

  return kit
    .feature("/settings")
    .get(
      "",
      async ({ authed }) => (
        <SettingsPage
          context={authed.page}
          values={asText(await settings.getAll())}
          defaults={defaults}
          errors={{}}
          providers={await providerChoices()}
        />
      ),
      { page: true },
    )
    .post(
      "",
      async ({ authed, form, set }) => {
        const submitted: Record<string, string> = {};
        for (const { key } of settingFields) {
          if (form[key] !== undefined) submitted[key] = field(form, key).trim();
        }
        const { values, issues } = validateSettings(submitted);
        const current = asText(await settings.getAll());
        if (issues.length > 0) {
          const errors: Record<string, string> = {};
          for (const issue of issues) errors[issue.key] = issue.message;
          set.status = 422;
          return (
            <SettingsPage
              context={authed.page}
              values={{ ...current, ...submitted }}
              defaults={defaults}
              errors={errors}
              providers={await providerChoices()}
            />
          );
        }
        const changed: Record<string, string> = {};
        for (const [key, value] of Object.entries(values)) {
          if (value !== undefined && value !== current[key as RuntimeSettingKey]) changed[key] = value;
        }
        if (Object.keys(changed).length === 0)
          return kit.seeOther(set, "/admin/settings?notice=settings-unchanged");
        await settings.update(changed, authed.actor);
        return kit.seeOther(set, "/admin/settings?notice=settings-saved");
      },
      { form: true },
    );
}
