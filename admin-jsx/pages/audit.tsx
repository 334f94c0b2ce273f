/** @jsxImportSource @kitajs/html */
/** The audit log: every write by an operator or an API client, newest first. */
import type { AuditLog } from "../../src/db/schema";
import { formatTimeSeconds } from "../components/format";
import { Pager } from "../components/ui";
import { Layout, type PageContext } from "../layout";

/** Metadata as compact, readable JSON (already redacted when it was recorded). */
function metaText(meta: Record<string, unknown>): string {
  if (!meta || Object.keys(meta).length === 0) return "";
  const text = JSON.stringify(meta, null, 1).replace(/\n\s*/g, " ");
  return text.length > 2000 ? `${text.slice(0, 1999)}…` : text;
}

export function AuditPage(props: {
  context: PageContext;
  items: AuditLog[];
  page: number;
  pageSize: number;
  total: number;
}): JSX.Element {
  return (
    <Layout title="Audit log" active="audit" context={props.context}>
      <div class="page-head">
        <div>
          <h1>Audit log</h1>
          <p class="subtitle">Every change made here or through the API. Secrets are never recorded.</p>
        </div>
      </div>
      <div class="card">
        {props.items.length === 0 ? (
          <p class="empty">Nothing recorded yet.</p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>Time</th>
                  <th>Actor</th>
                  <th>Action</th>
                  <th>Target</th>
                  <th class="hide-sm">Details</th>
                </tr>
              </thead>
              <tbody>
                {props.items.map((entry) => (
                  <tr data-audit-action={entry.action}>
                    <td class="nowrap small" safe>
                      {formatTimeSeconds(entry.createdAt)}
                    </td>
                    <td class="mono" safe>
                      {entry.actor}
                    </td>
                    <td class="mono" safe>
                      {entry.action}
                    </td>
                    <td class="mono" safe>
                      {entry.target ?? "—"}
                    </td>
                    <td class="hide-sm">
                      <pre class="meta" safe>
                        {metaText(entry.meta)}
                      </pre>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager
          page={props.page}
          pageSize={props.pageSize}
          total={props.total}
          hrefFor={(page) => (page > 1 ? `/admin/audit?page=${page}` : "/admin/audit")}
        />
      </div>
    </Layout>
  );
}
