import { Elysia } from "elysia";
import {
  type PersonalityService,
  personalityInputSchema,
  personalityPatchSchema,
  personalityViewSchema,
} from "../../catalog/personality-service";
import { deletedView, numericIdParams } from "./api-schemas";
import { errorResponses, routeDoc } from "./route-doc";

const TAG = "personalities";

/** Personality CRUD over the shared personality service. */
export function createPersonalityRoutes(deps: { personalities: PersonalityService }) {
  const { personalities } = deps;
  return new Elysia({ name: "api-personalities", prefix: "/personalities" })
    .get("", () => personalities.list(), {
      response: { 200: personalityViewSchema.array(), ...errorResponses() },
      detail: routeDoc("List personalities", TAG),
    })
    .post("", ({ body, status }) => personalities.create(body, "api").then((view) => status(201, view)), {
      body: personalityInputSchema,
      parse: "json",
      response: { 201: personalityViewSchema, ...errorResponses(400, 409, 422) },
      detail: routeDoc("Create a personality", TAG),
    })
    .get("/:id", ({ params }) => personalities.get(params.id), {
      params: numericIdParams,
      response: { 200: personalityViewSchema, ...errorResponses(404) },
      detail: routeDoc("Get a personality", TAG),
    })
    .put("/:id", ({ params, body }) => personalities.replace(params.id, body, "api"), {
      params: numericIdParams,
      body: personalityInputSchema,
      parse: "json",
      response: { 200: personalityViewSchema, ...errorResponses(400, 404, 409, 422) },
      detail: routeDoc("Update a personality (all required fields)", TAG, {
        description: "title and instructions are required; an omitted style keeps its value.",
      }),
    })
    .patch("/:id", ({ params, body }) => personalities.update(params.id, body, "api"), {
      params: numericIdParams,
      body: personalityPatchSchema,
      parse: "json",
      response: { 200: personalityViewSchema, ...errorResponses(400, 404, 409, 422) },
      detail: routeDoc("Update some fields of a personality", TAG),
    })
    .delete(
      "/:id",
      async ({ params }) => {
        await personalities.remove(params.id, "api");
        return { deleted: true as const, id: params.id };
      },
      {
        params: numericIdParams,
        response: { 200: deletedView, ...errorResponses(404) },
        detail: routeDoc("Delete a personality", TAG, {
          description: "Providers using it as default and past participants lose the reference.",
        }),
      },
    );
}
