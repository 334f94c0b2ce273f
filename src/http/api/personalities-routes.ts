import { Elysia } from "elysia";
import type { PersonalityService } from "../../catalog/personality-service";
import {
  deletedView,
  numericIdParams,
  personalityInput,
  personalityPatch,
  personalityView,
} from "./api-schemas";
import { answer, errorResponses, routeDoc } from "./route-doc";

const TAG = "personalities";

/** Personality CRUD over the shared personality service. */
export function createPersonalityRoutes(deps: { personalities: PersonalityService }) {
  const { personalities } = deps;
  return new Elysia({ name: "api-personalities", prefix: "/personalities" })
    .get("", () => personalities.list(), {
      response: { 200: answer(personalityView.array(), "Every personality"), ...errorResponses() },
      detail: routeDoc("listPersonalities", "List personalities", TAG),
    })
    .post("", ({ body, status }) => personalities.create(body, "api").then((view) => status(201, view)), {
      body: personalityInput,
      parse: "json",
      response: { 201: answer(personalityView, "The created personality"), ...errorResponses(400, 409, 422) },
      detail: routeDoc("createPersonality", "Create a personality", TAG),
    })
    .get("/:id", ({ params }) => personalities.get(params.id), {
      params: numericIdParams,
      response: { 200: answer(personalityView, "The personality"), ...errorResponses(404) },
      detail: routeDoc("getPersonality", "Get a personality", TAG),
    })
    .put("/:id", ({ params, body }) => personalities.replace(params.id, body, "api"), {
      params: numericIdParams,
      body: personalityInput,
      parse: "json",
      response: {
        200: answer(personalityView, "The updated personality"),
        ...errorResponses(400, 404, 409, 422),
      },
      detail: routeDoc("replacePersonality", "Update a personality (all required fields)", TAG, {
        description: "title and instructions are required; an omitted style keeps its value.",
      }),
    })
    .patch("/:id", ({ params, body }) => personalities.update(params.id, body, "api"), {
      params: numericIdParams,
      body: personalityPatch,
      parse: "json",
      response: {
        200: answer(personalityView, "The updated personality"),
        ...errorResponses(400, 404, 409, 422),
      },
      detail: routeDoc("updatePersonality", "Update some fields of a personality", TAG),
    })
    .delete(
      "/:id",
      async ({ params }) => {
        await personalities.remove(params.id, "api");
        return { deleted: true as const, id: params.id };
      },
      {
        params: numericIdParams,
        response: { 200: answer(deletedView, "The personality is gone"), ...errorResponses(404) },
        detail: routeDoc("deletePersonality", "Delete a personality", TAG, {
          description: "Providers using it as default and past participants lose the reference.",
        }),
      },
    );
}
