/** @jsxImportSource @kitajs/html */
import { PersonalitiesPage, PersonalityFormPage } from "../../../admin-jsx/pages/personalities";
import { CatalogError } from "../../catalog/catalog-errors";
import type { PersonalityService } from "../../catalog/personality-service";
import type { ProviderService } from "../../catalog/provider-service";
import {
  issuesToFieldErrors,
  personalityFormFields,
  personalityFormFromView,
  readPersonalityForm,
} from "./admin-forms";
import { type FormFields, field, routeId } from "./admin-http";
import type { AdminKit, Authed, ResponseSet } from "./admin-kit";

export interface PersonalityRoutesDeps {
  kit: AdminKit;
  personalities: PersonalityService;
  providers: ProviderService;
}

/** Personalities: list, add, edit, delete, and each provider's default personality. */
export function createPersonalityRoutes(deps: PersonalityRoutesDeps) {
  const { kit, personalities, providers } = deps;

  const find = async (id: number | null) => {
    if (id === null) return null;
    try {
      return await personalities.get(id);
    } catch (error) {
      if (error instanceof CatalogError && error.code === "personality_not_found") return null;
      throw error;
    }
  };

  async function save(set: ResponseSet, authed: Authed, form: FormFields, personalityId: number | null) {
    const existing = personalityId === null ? undefined : await find(personalityId);
    if (existing === null) return kit.notFound(set, authed.page);
    const values = readPersonalityForm(form);
    const rerender = (fieldErrors: Record<string, string | undefined>) => {
      set.status = 422;
      return (
        <PersonalityFormPage
          context={authed.page}
          personality={existing}
          values={values}
          errors={fieldErrors}
        />
      );
    };
    const input = { title: values.title, instructions: values.instructions, style: values.style };
    try {
      if (personalityId === null) {
        await personalities.create(input, authed.actor);
        return kit.seeOther(set, "/admin/personalities?notice=personality-created");
      }
      await personalities.replace(personalityId, input, authed.actor);
      return kit.seeOther(set, "/admin/personalities?notice=personality-saved");
    } catch (error) {
      if (!(error instanceof CatalogError)) throw error;
      if (error.code === "personality_not_found") return kit.notFound(set, authed.page);
      if (error.code === "title_taken") return rerender({ title: error.message });
      if (error.code === "invalid_input")
        return rerender(issuesToFieldErrors(error.issues, personalityFormFields));
      return rerender({ _form: error.message });
    }
  }

  return kit
    .feature("/personalities")
    .get(
      "",
      async ({ authed }) => {
        const [personaList, providerList] = await Promise.all([personalities.list(), providers.list()]);
        return (
          <PersonalitiesPage context={authed.page} personalities={personaList} providers={providerList} />
        );
      },
      { page: true },
    )
    .get(
      "/new",
      ({ authed }) => (
        <PersonalityFormPage context={authed.page} values={personalityFormFromView()} errors={{}} />
      ),
      { page: true },
    )
    .post("", ({ authed, form, set }) => save(set, authed, form, null), { form: true })
    .post(
      "/defaults",
      async ({ authed, form, set }) => {
        const list = await providers.list();
        const known = new Set((await personalities.list()).map((persona) => persona.id));
        for (const provider of list) {
          if (form[`provider_${provider.id}`] === undefined) continue;
          const text = field(form, `provider_${provider.id}`);
          const next = text === "" ? null : Number(text);
          if (next !== null && !known.has(next)) continue;
          if (next === provider.default_personality_id) continue;
          await providers.update(provider.id, { default_personality_id: next }, authed.actor);
        }
        return kit.seeOther(set, "/admin/personalities?notice=defaults-saved");
      },
      { form: true },
    )
    .get(
      "/:id/edit",
      async ({ authed, params, set }) => {
        const personality = await find(routeId(params.id));
        if (!personality) return kit.notFound(set, authed.page);
        return (
          <PersonalityFormPage
            context={authed.page}
            personality={personality}
            values={personalityFormFromView(personality)}
            errors={{}}
          />
        );
      },
      { page: true },
    )
    .post(
      "/:id",
      ({ authed, form, params, set }) => {
        const personalityId = routeId(params.id);
        if (personalityId === null) return kit.notFound(set, authed.page);
        return save(set, authed, form, personalityId);
      },
      { form: true },
    )
    .post(
      "/:id/delete",
      async ({ authed, params, set }) => {
        const personality = await find(routeId(params.id));
        if (!personality) return kit.notFound(set, authed.page);
        await personalities.remove(personality.id, authed.actor);
        return kit.seeOther(set, "/admin/personalities?notice=personality-deleted");
      },
      { form: true },
    );
}
