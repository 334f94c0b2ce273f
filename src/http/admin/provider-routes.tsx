/** @jsxImportSource @kitajs/html */
import { type } from "arktype";
import type { NoticeData } from "../../../admin-jsx/components/ui";
import { ProviderFormPage } from "../../../admin-jsx/pages/provider-form";
import { ProvidersPage } from "../../../admin-jsx/pages/providers";
import { CatalogError, describeIssues } from "../../catalog/catalog-errors";
import type { PersonalityService } from "../../catalog/personality-service";
import { type ProviderService, providerInputSchema } from "../../catalog/provider-service";
import type { DebateService } from "../../debate/debate-service";
import {
  issuesToFieldErrors,
  providerFormFields,
  providerFormFromView,
  providerInputFromForm,
  readProviderForm,
  sameJson,
  typedApiKey,
} from "./admin-forms";
import { type FormFields, field, routeId } from "./admin-http";
import type { AdminKit, Authed, ResponseSet } from "./admin-kit";

export interface ProviderRoutesDeps {
  kit: AdminKit;
  providers: ProviderService;
  personalities: PersonalityService;
  debate: DebateService;
  /** Timeout of a "Test connection" call. */
  testConnectionTimeoutMs: number;
}

/** Providers: list (order = speaking order), add, edit, delete, reorder, enable, test connection. */
export function createProviderRoutes(deps: ProviderRoutesDeps) {
  const { kit, providers, personalities } = deps;

  const find = async (id: number | null) => {
    if (id === null) return null;
    try {
      return await providers.get(id);
    } catch (error) {
      if (error instanceof CatalogError && error.code === "provider_not_found") return null;
      throw error;
    }
  };

  const list = async (authed: Authed, notice?: NoticeData) => {
    const [providerList, personaList, preflight] = await Promise.all([
      providers.list(),
      personalities.list(),
      deps.debate.preflight(),
    ]);
    const context = notice ? { ...authed.page, notice } : authed.page;
    return (
      <ProvidersPage
        context={context}
        providers={providerList}
        personalities={personaList}
        preflightProblem={preflight.problem}
      />
    );
  };

  async function save(set: ResponseSet, authed: Authed, form: FormFields, providerId: number | null) {
    const existing = providerId === null ? undefined : await find(providerId);
    if (existing === null) return kit.notFound(set, authed.page);
    const values = readProviderForm(form);
    const { input, errors } = providerInputFromForm(values, form);
    const rerender = async (fieldErrors: Record<string, string | undefined>) => {
      set.status = 422;
      return (
        <ProviderFormPage
          context={authed.page}
          provider={existing}
          values={values}
          errors={fieldErrors}
          personalities={await personalities.list()}
          // A typed key is never echoed back into the page: the operator types it again.
          keyDiscarded={typedApiKey(form) && !fieldErrors.api_key}
        />
      );
    };
    if (Object.values(errors).some(Boolean)) {
      // Also report what the service would refuse, so every problem shows at once.
      const checked = providerInputSchema(input);
      const schemaErrors =
        checked instanceof type.errors
          ? issuesToFieldErrors(describeIssues(checked), providerFormFields)
          : {};
      return rerender({ ...schemaErrors, ...errors });
    }
    // jsonb reorders keys: unchanged parameters are left out so the audit shows only real changes.
    if (existing && sameJson(input.params, existing.params)) delete input.params;
    try {
      if (providerId === null) {
        await providers.create(input, authed.actor);
        return kit.seeOther(set, "/admin/providers?notice=provider-created");
      }
      await providers.replace(providerId, input, authed.actor);
      return kit.seeOther(set, "/admin/providers?notice=provider-saved");
    } catch (error) {
      if (!(error instanceof CatalogError)) throw error;
      if (error.code === "provider_not_found") return kit.notFound(set, authed.page);
      if (error.code === "name_taken") return rerender({ name: error.message });
      if (error.code === "invalid_input")
        return rerender(issuesToFieldErrors(error.issues, providerFormFields));
      return rerender({ _form: error.message });
    }
  }

  return kit
    .feature("/providers")
    .get("", ({ authed }) => list(authed), { page: true })
    .get(
      "/new",
      async ({ authed }) => (
        <ProviderFormPage
          context={authed.page}
          values={providerFormFromView()}
          errors={{}}
          personalities={await personalities.list()}
        />
      ),
      { page: true },
    )
    .post("", ({ authed, form, set }) => save(set, authed, form, null), { form: true })
    .get(
      "/:id/edit",
      async ({ authed, params, set }) => {
        const provider = await find(routeId(params.id));
        if (!provider) return kit.notFound(set, authed.page);
        return (
          <ProviderFormPage
            context={authed.page}
            provider={provider}
            values={providerFormFromView(provider)}
            errors={{}}
            personalities={await personalities.list()}
          />
        );
      },
      { page: true },
    )
    .post(
      "/:id",
      ({ authed, form, params, set }) => {
        const providerId = routeId(params.id);
        if (providerId === null) return kit.notFound(set, authed.page);
        return save(set, authed, form, providerId);
      },
      { form: true },
    )
    .post(
      "/:id/delete",
      async ({ authed, params, set }) => {
        const provider = await find(routeId(params.id));
        if (!provider) return kit.notFound(set, authed.page);
        await providers.remove(provider.id, authed.actor);
        return kit.seeOther(set, "/admin/providers?notice=provider-deleted");
      },
      { form: true },
    )
    .post(
      "/:id/move",
      async ({ authed, form, params, set }) => {
        const providerId = routeId(params.id);
        const ordered = await providers.list();
        const index = ordered.findIndex((provider) => provider.id === providerId);
        if (index < 0) return kit.notFound(set, authed.page);
        const target = field(form, "direction") === "up" ? index - 1 : index + 1;
        if (target < 0 || target >= ordered.length) return kit.seeOther(set, "/admin/providers");
        const ids = ordered.map((provider) => provider.id);
        [ids[index], ids[target]] = [ids[target]!, ids[index]!];
        await providers.reorder(ids, authed.actor);
        return kit.seeOther(set, "/admin/providers?notice=provider-moved");
      },
      { form: true },
    )
    .post(
      "/:id/toggle",
      async ({ authed, form, params, set }) => {
        const provider = await find(routeId(params.id));
        if (!provider) return kit.notFound(set, authed.page);
        const enabled = field(form, "enabled") === "1";
        await providers.update(provider.id, { enabled }, authed.actor);
        return kit.seeOther(
          set,
          `/admin/providers?notice=${enabled ? "provider-enabled" : "provider-disabled"}`,
        );
      },
      { form: true },
    )
    .post(
      "/:id/test",
      async ({ authed, params, request, set }) => {
        const provider = await find(routeId(params.id));
        if (!provider) return kit.notFound(set, authed.page);
        const timeoutMs = deps.testConnectionTimeoutMs;
        const result = await providers.testConnection(provider.id, AbortSignal.timeout(timeoutMs));
        const notice: NoticeData = result.ok
          ? {
              kind: "ok",
              text: `${provider.name}: connected in ${result.latencyMs} ms (model ${provider.model_id})${result.sample ? ` — answered “${result.sample.slice(0, 80)}”` : ""}.`,
            }
          : {
              kind: "error",
              text:
                result.error.code === "timeout"
                  ? `${provider.name}: no answer within ${timeoutMs / 1000} s — check the base URL and that the provider is up.`
                  : // The message names the HTTP status already ("… (HTTP 401)").
                    `${provider.name}: connection failed — ${result.error.message}`,
            };
        kit.log.info("provider connection tested", { provider: provider.id, ok: result.ok });
        // admin.js asks for the result alone and shows it in place; without scripts, the page again.
        if (request.headers.get("accept") === "application/json") return notice;
        return list(authed, notice);
      },
      { form: true },
    );
}
