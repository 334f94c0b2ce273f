/** @jsxImportSource @kitajs/html */
/** Personalities: list, which provider speaks with which by default, and the create/edit form. */
import type { PersonalityView } from "../../src/catalog/personality-service";
import type { ProviderView } from "../../src/catalog/provider-service";
import { truncate } from "../components/format";
import {
  CsrfInput,
  type FieldErrors,
  FormError,
  PostButton,
  SelectField,
  TextArea,
  TextField,
} from "../components/ui";
import { Layout, type PageContext } from "../layout";

export function PersonalitiesPage(props: {
  context: PageContext;
  personalities: PersonalityView[];
  providers: ProviderView[];
}): JSX.Element {
  const { context } = props;
  const usedBy = new Map<number, string[]>();
  for (const provider of props.providers) {
    if (provider.default_personality_id == null) continue;
    const list = usedBy.get(provider.default_personality_id) ?? [];
    list.push(provider.name);
    usedBy.set(provider.default_personality_id, list);
  }
  const options = [
    { value: "", label: "— none —" },
    ...props.personalities.map((persona) => ({ value: String(persona.id), label: persona.title })),
  ];
  return (
    <Layout title="Personalities" active="personalities" context={context}>
      <div class="page-head">
        <div>
          <h1>Personalities</h1>
          <p class="subtitle">The personas models argue with: instructions and a speaking style.</p>
        </div>
        <a class="button primary" href="/admin/personalities/new">
          Add personality
        </a>
      </div>
      <div class="card">
        {props.personalities.length === 0 ? (
          <p class="empty">No personalities yet.</p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>Title</th>
                  <th class="hide-sm">Instructions</th>
                  <th class="hide-sm">Style</th>
                  <th>Default for</th>
                  <th>Actions</th>
                </tr>
              </thead>
              <tbody>
                {props.personalities.map((persona) => (
                  <tr id={`personality-${persona.id}`}>
                    <td>
                      <a href={`/admin/personalities/${persona.id}/edit`}>
                        <strong safe>{persona.title}</strong>
                      </a>
                    </td>
                    <td class="hide-sm topic-cell" safe>
                      {truncate(persona.instructions, 160)}
                    </td>
                    <td class="hide-sm" safe>
                      {truncate(persona.style, 80)}
                    </td>
                    <td>
                      {(usedBy.get(persona.id) ?? []).length === 0 ? (
                        <span class="muted">—</span>
                      ) : (
                        <span safe>{(usedBy.get(persona.id) ?? []).join(", ")}</span>
                      )}
                    </td>
                    <td>
                      <div class="row-actions">
                        <a class="button small-button" href={`/admin/personalities/${persona.id}/edit`}>
                          Edit
                        </a>
                        <PostButton
                          action={`/admin/personalities/${persona.id}/delete`}
                          csrf={context.csrf}
                          class="small-button danger"
                          confirm={`Delete personality ${persona.title}?`}
                        >
                          Delete
                        </PostButton>
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
      {props.providers.length > 0 ? (
        <div class="card">
          <h2>Default personality of each provider</h2>
          <p class="muted small">
            Used when a debate is started without choosing personas (the bot always does).
          </p>
          <form class="stack" method="post" action="/admin/personalities/defaults">
            <CsrfInput token={context.csrf} />
            <div class="form-row">
              {props.providers.map((provider) => (
                <SelectField
                  name={`provider_${provider.id}`}
                  label={provider.name}
                  options={options}
                  selected={
                    provider.default_personality_id == null ? "" : String(provider.default_personality_id)
                  }
                />
              ))}
            </div>
            <div class="form-actions">
              <button type="submit" class="primary">
                Save defaults
              </button>
            </div>
          </form>
        </div>
      ) : (
        ""
      )}
    </Layout>
  );
}

export interface PersonalityFormValues {
  title: string;
  instructions: string;
  style: string;
}

export function PersonalityFormPage(props: {
  context: PageContext;
  personality?: PersonalityView;
  values: PersonalityFormValues;
  errors: FieldErrors;
}): JSX.Element {
  const { context, personality, values, errors } = props;
  const editing = personality !== undefined;
  const title = editing ? `Edit ${personality.title}` : "Add personality";
  return (
    <Layout title={title} active="personalities" context={context}>
      <div class="page-head">
        <div>
          <h1 safe>{title}</h1>
          <p class="subtitle">
            <a href="/admin/personalities">← All personalities</a>
          </p>
        </div>
      </div>
      <FormError message={errors._form} />
      <form
        class="card stack"
        method="post"
        action={editing ? `/admin/personalities/${personality.id}` : "/admin/personalities"}
        novalidate
      >
        <CsrfInput token={context.csrf} />
        <TextField
          name="title"
          label="Title"
          value={values.title}
          error={errors.title}
          required
          maxlength={100}
        />
        <TextArea
          name="instructions"
          label="Instructions"
          value={values.instructions}
          error={errors.instructions}
          rows={6}
          required
          maxlength={4000}
          hint="How this persona argues; added to the system prompt of the model that speaks with it."
        />
        <TextArea
          name="style"
          label="Style"
          value={values.style}
          error={errors.style}
          rows={2}
          maxlength={1000}
          hint="Optional: tone and form, e.g. “Short sentences, lists when useful.”"
        />
        <div class="form-actions">
          <button type="submit" class="primary">
            {editing ? "Save changes" : "Add personality"}
          </button>
          <a class="button" href="/admin/personalities">
            Cancel
          </a>
        </div>
      </form>
    </Layout>
  );
}
