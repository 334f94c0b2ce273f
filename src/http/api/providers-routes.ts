import { Elysia } from "elysia";
import type { ProviderService } from "../../catalog/provider-service";
import {
  deletedView,
  numericIdParams,
  providerInput,
  providerPatch,
  providerView,
  reorderProvidersBody,
  testConnectionView,
} from "./api-schemas";
import { answer, errorResponses, routeDoc } from "./route-doc";

const TAG = "providers";
const KEY_NOTE =
  '`api_key` is write-only: answers carry `has_api_key`, `api_key_status` (`set`, `missing`, or `unreadable` when no SECRETS_KEY decrypts it) and `api_key_masked` (last 4 characters) instead. Omit it to keep the stored key; send `""` (or null) to remove it. A `base_url` moved to another origin (scheme, host or port) drops the stored key unless `api_key` comes in the same request. `base_url` must be http(s) without user name, password, query or fragment, on a host `PROVIDER_HOSTS` allows; `params.extra` cannot set the fields the server sets (model, messages, stream, stream_options, temperature, max_tokens, n).';

/** Provider CRUD, reorder and connection test over the shared provider service. */
export function createProviderRoutes(deps: { providers: ProviderService }) {
  const { providers } = deps;
  return new Elysia({ name: "api-providers", prefix: "/providers" })
    .get("", () => providers.list(), {
      response: {
        200: answer(providerView.array(), "Every provider, in speaking order"),
        ...errorResponses(),
      },
      detail: routeDoc("listProviders", "List providers in speaking order", TAG),
    })
    .post("", ({ body, status }) => providers.create(body, "api").then((view) => status(201, view)), {
      body: providerInput,
      parse: "json",
      response: { 201: answer(providerView, "The created provider"), ...errorResponses(400, 409, 422) },
      detail: routeDoc("createProvider", "Create a provider", TAG, { description: KEY_NOTE }),
    })
    .post("/reorder", ({ body }) => providers.reorder(body.ids, "api"), {
      body: reorderProvidersBody,
      parse: "json",
      response: {
        200: answer(providerView.array(), "Every provider, in the new speaking order"),
        ...errorResponses(400, 404, 422),
      },
      detail: routeDoc("reorderProviders", "Set the speaking order", TAG, {
        description: "Each listed provider gets its position in `ids` as `order_index`; others keep theirs.",
      }),
    })
    .get("/:id", ({ params }) => providers.get(params.id), {
      params: numericIdParams,
      response: { 200: answer(providerView, "The provider"), ...errorResponses(404) },
      detail: routeDoc("getProvider", "Get a provider", TAG),
    })
    .put("/:id", ({ params, body }) => providers.replace(params.id, body, "api"), {
      params: numericIdParams,
      body: providerInput,
      parse: "json",
      response: { 200: answer(providerView, "The updated provider"), ...errorResponses(400, 404, 409, 422) },
      detail: routeDoc("replaceProvider", "Update a provider (all required fields)", TAG, {
        description: `name, type, base_url and model_id are required; omitted optional fields keep their values. ${KEY_NOTE}`,
      }),
    })
    .patch("/:id", ({ params, body }) => providers.update(params.id, body, "api"), {
      params: numericIdParams,
      body: providerPatch,
      parse: "json",
      response: { 200: answer(providerView, "The updated provider"), ...errorResponses(400, 404, 409, 422) },
      detail: routeDoc("updateProvider", "Update some fields of a provider", TAG, { description: KEY_NOTE }),
    })
    .delete(
      "/:id",
      async ({ params }) => {
        await providers.remove(params.id, "api");
        return { deleted: true as const, id: params.id };
      },
      {
        params: numericIdParams,
        response: { 200: answer(deletedView, "The provider is gone"), ...errorResponses(404) },
        detail: routeDoc("deleteProvider", "Delete a provider", TAG, {
          description: "Past sessions keep their transcript; their participants lose the provider reference.",
        }),
      },
    )
    .post(
      "/:id/test",
      async ({ params, request }) => {
        const result = await providers.testConnection(
          params.id,
          AbortSignal.any([request.signal, AbortSignal.timeout(20_000)]),
        );
        return result.ok
          ? { ok: true, latency_ms: result.latencyMs, sample: result.sample }
          : { ok: false, error: result.error };
      },
      {
        params: numericIdParams,
        response: { 200: answer(testConnectionView, "The outcome, good or bad"), ...errorResponses(404) },
        detail: routeDoc("testProviderConnection", "Test the connection of a provider", TAG, {
          description:
            "Sends a one-line prompt with the stored base_url, key and model (redirects are not followed). Answers 200 either way: `ok: true` with latency and a sample, or `ok: false` with the classified error (`code`, `kind`, `status`, our own wording): never the provider's own error text, never the key.",
        }),
      },
    );
}
