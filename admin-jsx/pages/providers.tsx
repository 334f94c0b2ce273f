/** @jsxImportSource @kitajs/html */
/** Providers: the ordered list (debate order); the create/edit form is in provider-form.tsx. */
import type { PersonalityView } from "../../src/catalog/personality-service";
import type { ProviderView } from "../../src/catalog/provider-service";
import { EnabledBadge, PostButton, PreflightWarning } from "../components/ui";
import { Layout, type PageContext } from "../layout";

const typeLabels: Record<ProviderView["type"], string> = {
  openai: "OpenAI",
  deepseek: "DeepSeek",
  openai_compatible: "OpenAI-compatible",
};

/** The key column: masked when set, "not set", or unreadable with what to do about it. */
function ApiKeyStatus({ provider }: { provider: ProviderView }): JSX.Element {
  switch (provider.api_key_status) {
    case "set":
      return (
        <span class="mono" safe>
          {provider.api_key_masked ?? "••••"}
        </span>
      );
    case "missing":
      return <span class="muted">not set</span>;
    case "unreadable":
      return (
        <span>
          <span class="badge badge-failed">unreadable</span>
          <div class="muted small">
            Re-enter the key, or run <code>bun run rekey</code>.
          </div>
        </span>
      );
  }
}

export function ProvidersPage(props: {
  context: PageContext;
  providers: ProviderView[];
  personalities: PersonalityView[];
  /** What keeps debates from starting (the preflight), or null. */
  preflightProblem: string | null;
}): JSX.Element {
  const { context } = props;
  const personaTitle = new Map(props.personalities.map((persona) => [persona.id, persona.title]));
  return (
    <Layout title="Providers" active="providers" context={context}>
      <div class="page-head">
        <div>
          <h1>Providers</h1>
          <p class="subtitle">
            Enabled providers speak in this order in every new debate. API keys are write-only and shown
            masked.
          </p>
        </div>
        <a class="button primary" href="/admin/providers/new">
          Add provider
        </a>
      </div>
      {/* Where admin.js shows the result of a "Test connection" it sent in the background. */}
      <div id="test-result" aria-live="polite"></div>
      <PreflightWarning problem={props.preflightProblem} />
      <div class="card">
        {props.providers.length === 0 ? (
          <p class="empty">No providers yet.</p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th class="num">#</th>
                  <th>Name</th>
                  <th>Model</th>
                  <th class="hide-sm">API key</th>
                  <th class="hide-sm">Default personality</th>
                  <th>State</th>
                  <th>Actions</th>
                </tr>
              </thead>
              <tbody>
                {props.providers.map((provider, index) => {
                  const persona =
                    provider.default_personality_id == null
                      ? undefined
                      : personaTitle.get(provider.default_personality_id);
                  return (
                    <tr id={`provider-${provider.id}`} data-provider={provider.id}>
                      <td class="num">{index + 1}</td>
                      <td>
                        <a href={`/admin/providers/${provider.id}/edit`}>
                          <strong safe>{provider.name}</strong>
                        </a>
                        <div class="muted small" safe>
                          {typeLabels[provider.type]}
                        </div>
                      </td>
                      <td>
                        <span class="mono" safe>
                          {provider.model_id}
                        </span>
                        <div class="muted small hide-sm" safe>
                          {provider.base_url}
                        </div>
                      </td>
                      <td class="hide-sm">
                        <ApiKeyStatus provider={provider} />
                      </td>
                      <td class="hide-sm">
                        {persona === undefined ? <span class="muted">—</span> : <span safe>{persona}</span>}
                      </td>
                      <td>
                        <EnabledBadge enabled={provider.enabled} />
                      </td>
                      <td>
                        <div class="row-actions">
                          {index > 0 ? (
                            <PostButton
                              action={`/admin/providers/${provider.id}/move`}
                              csrf={context.csrf}
                              fields={{ direction: "up" }}
                              class="small-button"
                              title="Move up"
                            >
                              ↑<span class="hide-sm"> Up</span>
                            </PostButton>
                          ) : (
                            ""
                          )}
                          {index < props.providers.length - 1 ? (
                            <PostButton
                              action={`/admin/providers/${provider.id}/move`}
                              csrf={context.csrf}
                              fields={{ direction: "down" }}
                              class="small-button"
                              title="Move down"
                            >
                              ↓<span class="hide-sm"> Down</span>
                            </PostButton>
                          ) : (
                            ""
                          )}
                          <PostButton
                            action={`/admin/providers/${provider.id}/toggle`}
                            csrf={context.csrf}
                            fields={{ enabled: provider.enabled ? "0" : "1" }}
                            class="small-button"
                          >
                            {provider.enabled ? "Disable" : "Enable"}
                          </PostButton>
                          <PostButton
                            action={`/admin/providers/${provider.id}/test`}
                            csrf={context.csrf}
                            class="small-button"
                            script="test-connection"
                          >
                            Test connection
                          </PostButton>
                          <a class="button small-button" href={`/admin/providers/${provider.id}/edit`}>
                            Edit
                          </a>
                        </div>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </div>
    </Layout>
  );
}
