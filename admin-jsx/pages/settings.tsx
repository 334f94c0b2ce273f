/** @jsxImportSource @kitajs/html */
/** Runtime settings (stored in the settings table; the env values are the defaults). */
import { type RuntimeSettingKey, runtimeSettingSpecs } from "../../src/config";
import { CsrfInput, type FieldErrors, SelectField, TextField } from "../components/ui";
import { Layout, type PageContext } from "../layout";

/** "KEY · must be …; note": the range comes from the validation rule itself, so it cannot drift. */
const rule = (key: RuntimeSettingKey, note?: string) =>
  `${key} · ${runtimeSettingSpecs[key].expected}${note ? `; ${note}` : ""}`;

/** Label and help of each setting, in the order shown. */
export const settingFields: {
  key: RuntimeSettingKey;
  label: string;
  hint: string;
  inputmode?: "numeric" | "decimal" | "url";
  /** A closed list: shown as a select. */
  options?: { value: string; label: string }[];
  /** The public bot's limits and access, shown apart. */
  bot?: true;
  /** A provider, chosen from the list ("": the first enabled one). */
  provider?: true;
}[] = [
  {
    key: "MAX_ROUNDS",
    label: "Rounds per debate",
    hint: rule("MAX_ROUNDS"),
    inputmode: "numeric",
  },
  {
    key: "TURN_TIMEOUT_SEC",
    label: "Turn timeout (seconds)",
    hint: rule("TURN_TIMEOUT_SEC", "a model that times out twice in a row is excluded"),
    inputmode: "numeric",
  },
  {
    key: "CONTEXT_TOKEN_LIMIT",
    label: "Context token limit",
    hint: rule("CONTEXT_TOKEN_LIMIT", "above it older turns are summarised"),
    inputmode: "numeric",
  },
  {
    key: "SESSION_TIMEOUT_SEC",
    label: "Session time limit (seconds)",
    hint: rule("SESSION_TIMEOUT_SEC"),
    inputmode: "numeric",
  },
  {
    key: "SESSION_TOKEN_LIMIT",
    label: "Session token limit",
    hint: rule("SESSION_TOKEN_LIMIT", "tokens in + out per debate"),
    inputmode: "numeric",
  },
  {
    key: "SESSION_COST_LIMIT_USD",
    label: "Session cost limit (USD)",
    hint: rule("SESSION_COST_LIMIT_USD", "0 means no cost limit"),
    inputmode: "decimal",
  },
  {
    key: "MODERATOR_PROVIDER_ID",
    label: "Moderator (writes the verdicts)",
    hint: rule(
      "MODERATOR_PROVIDER_ID",
      "a provider that cannot answer is skipped for the first one that can",
    ),
    provider: true,
  },
  {
    key: "PAYMENT_URL",
    label: "Payment URL",
    hint: rule("PAYMENT_URL", "opened by “Thank the creator” in the bot"),
    inputmode: "url",
  },
  {
    key: "ADMIN_IDLE_TIMEOUT_MIN",
    label: "Admin idle timeout (minutes)",
    hint: rule("ADMIN_IDLE_TIMEOUT_MIN", "a login unused this long ends; any login ends after 12 hours"),
    inputmode: "numeric",
  },
  {
    key: "USER_DEBATES_PER_DAY",
    label: "Debates per user per day",
    hint: rule("USER_DEBATES_PER_DAY", "0 means no limit; a day is the UTC day"),
    inputmode: "numeric",
    bot: true,
  },
  {
    key: "USER_COST_PER_DAY_USD",
    label: "Cost per user per day (USD)",
    hint: rule("USER_COST_PER_DAY_USD", "0 means no limit; a debate crossing it stops"),
    inputmode: "decimal",
    bot: true,
  },
  {
    key: "BOT_COST_PER_DAY_USD",
    label: "Cost of the whole bot per day (USD)",
    hint: rule("BOT_COST_PER_DAY_USD", "all Telegram debates together; 0 means no limit"),
    inputmode: "decimal",
    bot: true,
  },
  {
    key: "ACCESS_MODE",
    label: "Who may start debates",
    hint: rule("ACCESS_MODE", "allowlist: only users allowed on the Users page"),
    options: [
      { value: "open", label: "Anyone (open)" },
      { value: "allowlist", label: "Allowed users only (allowlist)" },
    ],
    bot: true,
  },
  {
    key: "GROUP_CHATS",
    label: "Debates in groups",
    hint: rule("GROUP_CHATS", "off: the bot answers in groups with one line"),
    options: [
      { value: "on", label: "On" },
      { value: "off", label: "Off" },
    ],
    bot: true,
  },
];

/** A provider as the moderator's choice lists it. */
export interface ProviderChoice {
  id: number;
  name: string;
  enabled: boolean;
}

/** The providers to choose from; a stored id whose provider is gone stays listed (and is not lost on save). */
function providerOptions(providers: readonly ProviderChoice[], selected: string) {
  const options = [
    { value: "", label: "The first enabled provider" },
    ...providers.map((provider) => ({
      value: String(provider.id),
      label: `${provider.name}${provider.enabled ? "" : " (disabled)"}`,
    })),
  ];
  if (!options.some((option) => option.value === selected)) {
    options.push({ value: selected, label: `Provider #${selected} (deleted)` });
  }
  return options;
}

function SettingField(props: {
  field: (typeof settingFields)[number];
  values: Record<RuntimeSettingKey, string>;
  defaults?: Record<RuntimeSettingKey, string> | undefined;
  errors: FieldErrors;
  providers: readonly ProviderChoice[];
}): JSX.Element {
  const { field } = props;
  const fallback = props.defaults?.[field.key];
  const hint = props.defaults
    ? `${field.hint} · default ${fallback === "" ? "the first enabled provider" : fallback}`
    : field.hint;
  const options = field.provider ? providerOptions(props.providers, props.values[field.key]) : field.options;
  if (options) {
    return (
      <SelectField
        name={field.key}
        label={field.label}
        selected={props.values[field.key]}
        options={options}
        error={props.errors[field.key]}
        hint={hint}
      />
    );
  }
  return (
    <TextField
      name={field.key}
      label={field.label}
      value={props.values[field.key]}
      error={props.errors[field.key]}
      hint={hint}
      inputmode={field.inputmode}
      type={field.key === "PAYMENT_URL" ? "url" : "text"}
      required
    />
  );
}

export function SettingsPage(props: {
  context: PageContext;
  values: Record<RuntimeSettingKey, string>;
  /** The env values, when known. */
  defaults?: Record<RuntimeSettingKey, string> | undefined;
  errors: FieldErrors;
  /** Every provider, for the moderator's choice. */
  providers: readonly ProviderChoice[];
}): JSX.Element {
  const { context, errors } = props;
  const hasErrors = Object.values(errors).some(Boolean);
  return (
    <Layout title="Settings" active="settings" context={context}>
      <div class="page-head">
        <div>
          <h1>Settings</h1>
          <p class="subtitle">
            Apply to debates started from now on; a running debate keeps the limits it started with.
          </p>
        </div>
      </div>
      {hasErrors ? (
        <div class="notice notice-error" role="alert">
          Some values are invalid; nothing was saved. See the messages next to the fields.
        </div>
      ) : (
        ""
      )}
      <form class="card stack" method="post" action="/admin/settings" novalidate>
        <CsrfInput token={context.csrf} />
        <div class="form-row">
          {settingFields
            .filter((field) => field.key !== "PAYMENT_URL" && !field.bot)
            .map((field) => (
              <SettingField field={field} {...props} />
            ))}
        </div>
        {settingFields
          .filter((field) => field.key === "PAYMENT_URL")
          .map((field) => (
            <SettingField field={field} {...props} />
          ))}
        <h2>Public bot</h2>
        <p class="muted small">
          Limits of Telegram users (the API and this admin are not limited by them). Per-user limits are set
          on the Users page.
        </p>
        <div class="form-row">
          {settingFields
            .filter((field) => field.bot)
            .map((field) => (
              <SettingField field={field} {...props} />
            ))}
        </div>
        <div class="form-actions">
          <button type="submit" class="primary">
            Save settings
          </button>
        </div>
      </form>
    </Layout>
  );
}
