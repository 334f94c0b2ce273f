/** @jsxImportSource @kitajs/html */
import { AuditPage } from "../../../admin-jsx/pages/audit";
import type { AuditLogService } from "../../audit/audit-log";
import { pageNumber } from "./admin-http";
import type { AdminKit } from "./admin-kit";

const AUDIT_PAGE_SIZE = 50;

/** The audit log, newest first, paged. */
export function createAuditRoutes(deps: { kit: AdminKit; audit: AuditLogService }) {
  const { kit, audit } = deps;
  return kit.feature("/audit").get(
    "",
    async ({ authed, query }) => {
      const current = pageNumber(query.page);
      const { items, total } = await audit.list({
        limit: AUDIT_PAGE_SIZE,
        offset: (current - 1) * AUDIT_PAGE_SIZE,
      });
      return (
        <AuditPage
          context={authed.page}
          items={items}
          page={current}
          pageSize={AUDIT_PAGE_SIZE}
          total={total}
        />
      );
    },
    { page: true },
  );
}
