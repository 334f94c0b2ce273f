/** @jsxImportSource @kitajs/html */
/** Runtime settings (stored in the settings table; the env values are the defaults). */
import { type RuntimeSettingKey, runtimeSettingSpecs } from "../../src/config";
import { CsrfInput, type FieldErrors, TextField } from "../components/ui";
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
];

function SettingField(props: {
  field: (typeof settingFields)[number];
  values: Record<RuntimeSettingKey, string>;
  defaults?: Record<RuntimeSettingKey, string> | undefined;
  errors: FieldErrors;
}): JSX.Element {
  const { field } = props;
  return (
    <TextField
      name={field.key}
      label={field.label}
      value={props.values[field.key]}
      error={props.errors[field.key]}
      hint={props.defaults ? `${field.hint} · default ${props.defaults[field.key]}` : field.hint}
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
            .filter((field) => field.key !== "PAYMENT_URL")
            .map((field) => (
              <SettingField field={field} {...props} />
            ))}
        </div>
        {settingFields
          .filter((field) => field.key === "PAYMENT_URL")
          .map((field) => (
            <SettingField field={field} {...props} />
          ))}
        <div class="form-actions">
          <button type="submit" class="primary">
            Save settings
          </button>
        </div>
      </form>
    </Layout>
  );
}
