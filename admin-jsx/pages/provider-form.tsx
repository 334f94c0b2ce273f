/** @jsxImportSource @kitajs/html */
/** A provider's create/edit form: the form as typed, its field errors, and the key kept write-only. */

import type { PersonalityView } from "../../src/catalog/personality-service";
import type { ProviderView } from "../../src/catalog/provider-service";
import {
  CheckboxField,
  CsrfInput,
  type FieldErrors,
  FormError,
  PostButton,
  SelectField,
  TextArea,
  TextField,
} from "../components/ui";
import { Layout, type PageContext } from "../layout";

/** The provider form as typed (all strings), so a rejected form comes back as entered. */
export interface ProviderFormValues {
  name: string;
  type: string;
  base_url: string;
  model_id: string;
  temperature: string;
  max_tokens: string;
  price_input_per_1m: string;
  price_cached_input_per_1m: string;
  price_output_per_1m: string;
  extra: string;
  enabled: boolean;
  default_personality_id: string;
}

export function ProviderFormPage(props: {
  context: PageContext;
  /** The stored provider when editing; absent when creating. */
  provider?: ProviderView;
  values: ProviderFormValues;
  errors: FieldErrors;
  personalities: PersonalityView[];
  /** True when the form came back with errors after a new key was typed (it is never echoed). */
  keyDiscarded?: boolean;
}): JSX.Element {
  const { context, provider, values, errors } = props;
  const editing = provider !== undefined;
  const action = editing ? `/admin/providers/${provider.id}` : "/admin/providers";
  const title = editing ? `Edit ${provider.name}` : "Add provider";
  const keyHint = editing
    ? provider.api_key_status === "unreadable"
      ? "The stored key cannot be decrypted with SECRETS_KEY: enter it again, or add the key it was stored under to SECRETS_KEY and run “bun run rekey”."
      : provider.has_api_key
        ? `Stored key: ${provider.api_key_masked ?? "••••"}. Leave blank to keep it.`
        : "No key stored. Leave blank for endpoints that need none."
    : "Stored encrypted; it is never shown again.";
  return (
    <Layout title={title} active="providers" context={context}>
      <div class="page-head">
        <div>
          <h1 safe>{title}</h1>
          <p class="subtitle">
            <a href="/admin/providers">← All providers</a>
          </p>
        </div>
      </div>
      <FormError message={errors._form} />
      <form class="card stack" method="post" action={action} novalidate>
        <CsrfInput token={context.csrf} />
        <div class="form-row">
          <TextField
            name="name"
            label="Name"
            value={values.name}
            error={errors.name}
            required
            maxlength={100}
          />
          <SelectField
            name="type"
            label="Type"
            selected={values.type}
            error={errors.type}
            options={[
              { value: "openai", label: "OpenAI" },
              { value: "deepseek", label: "DeepSeek" },
              { value: "openai_compatible", label: "OpenAI-compatible" },
            ]}
          />
        </div>
        <TextField
          name="base_url"
          label="Base URL"
          type="url"
          value={values.base_url}
          error={errors.base_url}
          hint="Including the version segment, e.g. https://api.openai.com/v1"
          required
        />
        <div class="form-row">
          <TextField
            name="model_id"
            label="Model"
            value={values.model_id}
            error={errors.model_id}
            hint="e.g. gpt-4o-mini or deepseek-flash"
            required
          />
          <TextField
            name="api_key"
            label="API key"
            type="password"
            value=""
            autocomplete="new-password"
            error={
              errors.api_key ??
              (props.keyDiscarded ? "The key you typed was not saved: enter it again." : undefined)
            }
            hint={keyHint}
          />
        </div>
        {editing && provider.has_api_key ? (
          <CheckboxField name="remove_api_key" label="Remove the stored API key" checked={false} />
        ) : (
          ""
        )}
        <fieldset>
          <legend>Parameters</legend>
          <div class="form-row">
            <TextField
              name="temperature"
              label="Temperature"
              value={values.temperature}
              error={errors.temperature}
              inputmode="decimal"
              hint="0–2; blank: provider default"
            />
            <TextField
              name="max_tokens"
              label="Max tokens per answer"
              value={values.max_tokens}
              error={errors.max_tokens}
              inputmode="numeric"
            />
          </div>
          <div class="form-row">
            <TextField
              name="price_input_per_1m"
              label="Input price (USD / 1M)"
              value={values.price_input_per_1m}
              error={errors.price_input_per_1m}
              inputmode="decimal"
            />
            <TextField
              name="price_cached_input_per_1m"
              label="Cached input price (USD / 1M)"
              value={values.price_cached_input_per_1m}
              error={errors.price_cached_input_per_1m}
              inputmode="decimal"
              hint="Blank: same as input"
            />
            <TextField
              name="price_output_per_1m"
              label="Output price (USD / 1M)"
              value={values.price_output_per_1m}
              error={errors.price_output_per_1m}
              inputmode="decimal"
            />
          </div>
          <TextArea
            name="extra"
            label="Extra request fields (JSON object)"
            value={values.extra}
            error={errors.extra}
            rows={4}
            code
            hint='Merged into every request, e.g. {"thinking": {"type": "disabled"}} for DeepSeek.'
            placeholder="{}"
          />
        </fieldset>
        <div class="form-row">
          <SelectField
            name="default_personality_id"
            label="Default personality"
            selected={values.default_personality_id}
            error={errors.default_personality_id}
            options={[
              { value: "", label: "— none —" },
              ...props.personalities.map((persona) => ({ value: String(persona.id), label: persona.title })),
            ]}
          />
          <CheckboxField
            name="enabled"
            label="Enabled (takes part in new debates)"
            checked={values.enabled}
            error={errors.enabled}
          />
        </div>
        <div class="form-actions">
          <button type="submit" class="primary">
            {editing ? "Save changes" : "Add provider"}
          </button>
          <a class="button" href="/admin/providers">
            Cancel
          </a>
        </div>
      </form>
      {editing ? (
        <div class="card">
          <h2>Danger zone</h2>
          <p class="muted small">
            Deleting a provider keeps past sessions readable; it no longer takes part in new debates.
          </p>
          <PostButton
            action={`/admin/providers/${provider.id}/delete`}
            csrf={context.csrf}
            class="danger"
            confirm={`Delete provider ${provider.name}?`}
          >
            Delete provider
          </PostButton>
        </div>
      ) : (
        ""
      )}
    </Layout>
  );
}
