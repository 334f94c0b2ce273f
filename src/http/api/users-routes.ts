import { Elysia } from "elysia";
import type { UserService } from "../../users/user-service";
import { listUsersQuery, telegramIdParams, userListView, userPatch, userView } from "./api-schemas";
import { answer, errorResponses, routeDoc } from "./route-doc";

const TAG = "users";
const DEFAULT_PAGE_SIZE = 20;

/** The bot's Telegram users: usage, block, allow and per-user daily limits (each change audited). */
export function createUserRoutes(deps: { users: UserService }) {
  const { users } = deps;
  return new Elysia({ name: "api-users", prefix: "/users" })
    .get(
      "",
      async ({ query }) => {
        const limit = query.limit ?? DEFAULT_PAGE_SIZE;
        const offset = query.offset ?? 0;
        const page = await users.list({
          blocked: query.blocked,
          allowed: query.allowed,
          q: query.q,
          limit,
          offset,
        });
        return { ...page, limit, offset };
      },
      {
        query: listUsersQuery,
        response: { 200: answer(userListView, "One page of users"), ...errorResponses(422) },
        detail: routeDoc("listUsers", "List the bot's users, the most recently seen first", TAG, {
          description:
            "Paged with `limit` (1–100, default 20) and `offset`; filter by `blocked`, `allowed` (`true` or `false`) and `q` (part of the username, or a Telegram id). Each user comes with debates and cost of the current UTC day and in all.",
        }),
      },
    )
    .get("/:telegram_id", ({ params }) => users.get(params.telegram_id), {
      params: telegramIdParams,
      response: { 200: answer(userView, "The user"), ...errorResponses(404) },
      detail: routeDoc("getUser", "Get a user by Telegram id", TAG),
    })
    .patch("/:telegram_id", ({ params, body }) => users.update(params.telegram_id, body, "api"), {
      params: telegramIdParams,
      body: userPatch,
      parse: "json",
      response: { 200: answer(userView, "The user, changed"), ...errorResponses(400, 404, 422) },
      detail: routeDoc("updateUser", "Block, allow or set a user's own daily limits", TAG, {
        description:
          "Any of `blocked`, `allowed` (needed to start debates when ACCESS_MODE is `allowlist`), `debates_per_day` and `cost_per_day_usd` (the user's own USER_DEBATES_PER_DAY and USER_COST_PER_DAY_USD; 0 = no limit, null = the setting). A blocked user never starts a debate. Audited as `user.update`.",
      }),
    });
}
