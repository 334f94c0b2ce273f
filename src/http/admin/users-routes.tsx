/** @jsxImportSource @kitajs/html */
import {
  type GlobalLimits,
  type LimitValues,
  limitValuesOf,
  type UserFilters,
  UserPage,
  UsersPage,
} from "../../../admin-jsx/pages/users";
import type { SettingsService } from "../../settings/settings-service";
import { UserError, type UserPatch, type UserService } from "../../users/user-service";
import { type FormFields, field, pageNumber } from "./admin-http";
import type { AdminKit, Authed, ResponseSet } from "./admin-kit";

const USERS_PAGE_SIZE = 20;

export interface UserRoutesDeps {
  kit: AdminKit;
  users: UserService;
  settings: SettingsService;
}

/** A Telegram id from the path, or null. */
const telegramIdOf = (value: unknown) =>
  typeof value === "string" && /^\d{1,15}$/.test(value) ? Number(value) : null;

const yesNo = (value: string | undefined) => (value === "yes" || value === "no" ? value : "");
const asFilter = (value: string) => (value === "" ? undefined : value === "yes");

/** Users: the list with search and filters, a user's page with their limits, block and allow. */
export function createUserRoutes(deps: UserRoutesDeps) {
  const { kit, users, settings } = deps;

  const globalLimits = async (): Promise<GlobalLimits> => {
    const current = await settings.getAll();
    return {
      debatesPerDay: current.USER_DEBATES_PER_DAY,
      costPerDayUsd: current.USER_COST_PER_DAY_USD,
      accessMode: current.ACCESS_MODE,
    };
  };

  const find = async (telegramId: number | null) => {
    if (telegramId === null) return null;
    try {
      return await users.get(telegramId);
    } catch (error) {
      if (error instanceof UserError && error.code === "user_not_found") return null;
      throw error;
    }
  };

  const userPage = async (
    set: ResponseSet,
    authed: Authed,
    telegramId: number | null,
    form?: { values: LimitValues; errors: Record<string, string | undefined> },
  ) => {
    const user = await find(telegramId);
    if (!user) return kit.notFound(set, authed.page);
    if (form) set.status = 422;
    return (
      <UserPage
        context={authed.page}
        user={user}
        global={await globalLimits()}
        values={form?.values ?? limitValuesOf(user)}
        errors={form?.errors ?? {}}
      />
    );
  };

  /** One change through the service (validated, audited); back to the list or the user's page. */
  const change = async (
    set: ResponseSet,
    authed: Authed,
    telegramId: number | null,
    form: FormFields,
    patch: UserPatch,
    notice: string,
  ) => {
    if (telegramId === null || !(await find(telegramId))) return kit.notFound(set, authed.page);
    await users.update(telegramId, patch, authed.actor);
    const back = field(form, "back") === "list" ? "/admin/users" : `/admin/users/${telegramId}`;
    return kit.seeOther(set, `${back}?notice=${notice}`);
  };

  return kit
    .feature("/users")
    .get(
      "",
      async ({ authed, query }) => {
        const filters: UserFilters = {
          q: (query.q ?? "").trim().slice(0, 100),
          blocked: yesNo(query.blocked),
          allowed: yesNo(query.allowed),
        };
        const page = pageNumber(query.page);
        const [list, global] = await Promise.all([
          users.list({
            q: filters.q,
            blocked: asFilter(filters.blocked),
            allowed: asFilter(filters.allowed),
            limit: USERS_PAGE_SIZE,
            offset: (page - 1) * USERS_PAGE_SIZE,
          }),
          globalLimits(),
        ]);
        return (
          <UsersPage
            context={authed.page}
            items={list.items}
            filters={filters}
            page={page}
            pageSize={USERS_PAGE_SIZE}
            total={list.total}
            global={global}
          />
        );
      },
      { page: true },
    )
    .get(
      "/:telegramId",
      ({ authed, params, set }) => userPage(set, authed, telegramIdOf(params.telegramId)),
      {
        page: true,
      },
    )
    .post(
      "/:telegramId/block",
      ({ authed, form, params, set }) => {
        const blocked = field(form, "blocked") === "1";
        return change(
          set,
          authed,
          telegramIdOf(params.telegramId),
          form,
          { blocked },
          blocked ? "user-blocked" : "user-unblocked",
        );
      },
      { form: true },
    )
    .post(
      "/:telegramId/allow",
      ({ authed, form, params, set }) => {
        const allowed = field(form, "allowed") === "1";
        return change(
          set,
          authed,
          telegramIdOf(params.telegramId),
          form,
          { allowed },
          allowed ? "user-allowed" : "user-disallowed",
        );
      },
      { form: true },
    )
    .post(
      "/:telegramId/limits",
      async ({ authed, form, params, set }) => {
        const telegramId = telegramIdOf(params.telegramId);
        const values: LimitValues = {
          debates_per_day: field(form, "debates_per_day").trim(),
          cost_per_day_usd: field(form, "cost_per_day_usd").trim(),
        };
        const errors: Record<string, string | undefined> = {};
        const debates = values.debates_per_day === "" ? null : Number(values.debates_per_day);
        if (debates !== null && !/^\d+$/.test(values.debates_per_day)) {
          errors.debates_per_day = "debates_per_day must be a whole number (blank: the setting)";
        }
        // The service checks the range of both (and the decimal form of the cost).
        const patch = {
          debates_per_day: debates,
          cost_per_day_usd: values.cost_per_day_usd === "" ? null : values.cost_per_day_usd,
        };
        if (!errors.debates_per_day) {
          try {
            if (telegramId === null || !(await find(telegramId))) return kit.notFound(set, authed.page);
            await users.update(telegramId, patch, authed.actor);
            return kit.seeOther(set, `/admin/users/${telegramId}?notice=user-limits-saved`);
          } catch (error) {
            if (!(error instanceof UserError) || error.code !== "invalid_input") throw error;
            for (const issue of error.issues) errors[issue.path.split(".")[0] || "_form"] = issue.message;
          }
        }
        return userPage(set, authed, telegramId, { values, errors });
      },
      { form: true },
    );
}
