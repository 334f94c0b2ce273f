/** @jsxImportSource @kitajs/html */
/**
 * Small building blocks of the admin views. Every text that can come from a user, an operator or a
 * model is rendered with `safe` (children) or escaped before it reaches an attribute.
 */
import { escapeHtml, type PropsWithChildren } from "@kitajs/html";

/** A message shown at the top of a page. */
export interface NoticeData {
  kind: "ok" | "error" | "info";
  text: string;
}

/** Field name → message shown next to that field. */
export type FieldErrors = Record<string, string | undefined>;

/**
 * Escapes a value for an attribute exactly: @kitajs/html only escapes `"` in attributes, so `&`
 * would not round-trip (`&amp;` typed in a field would come back as `&`).
 */
export function attr(value: string | number | null | undefined): string {
  return value == null ? "" : escapeHtml(String(value));
}

export function Notice({ notice }: { notice?: NoticeData | null }): JSX.Element {
  if (!notice) return "";
  return (
    <div class={`notice notice-${notice.kind}`} role={notice.kind === "error" ? "alert" : "status"} safe>
      {notice.text}
    </div>
  );
}

/** The error of a whole form (not of one field), if any. */
export function FormError({ message }: { message?: string | undefined }): JSX.Element {
  return <Notice notice={message ? { kind: "error", text: message } : null} />;
}

export function CsrfInput({ token }: { token: string }): JSX.Element {
  return <input type="hidden" name="_csrf" value={attr(token)} />;
}

interface FieldShell {
  name: string;
  label: string;
  error?: string | undefined;
  hint?: string | undefined;
  id?: string;
}

function describedBy(id: string, hint?: string, error?: string): string | undefined {
  const ids = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean);
  return ids.length > 0 ? ids.join(" ") : undefined;
}

function FieldFooter({
  id,
  hint,
  error,
}: {
  id: string;
  hint?: string | undefined;
  error?: string | undefined;
}) {
  return (
    <>
      {hint ? (
        <div class="hint" id={`${id}-hint`} safe>
          {hint}
        </div>
      ) : (
        ""
      )}
      {error ? (
        <div class="error" id={`${id}-error`} safe>
          {error}
        </div>
      ) : (
        ""
      )}
    </>
  );
}

export function TextField(
  props: FieldShell & {
    value?: string | number | null | undefined;
    type?: "text" | "password" | "number" | "url" | "search";
    required?: boolean;
    autocomplete?: string;
    placeholder?: string;
    inputmode?: "decimal" | "numeric" | "text" | "url";
    maxlength?: number;
    autofocus?: boolean;
  },
): JSX.Element {
  const id = props.id ?? `field-${props.name}`;
  return (
    <div class={props.error ? "field has-error" : "field"}>
      <label for={id} safe>
        {props.label}
      </label>
      <input
        id={id}
        name={props.name}
        type={props.type ?? "text"}
        value={attr(props.value)}
        required={props.required}
        autocomplete={props.autocomplete}
        placeholder={props.placeholder === undefined ? undefined : attr(props.placeholder)}
        inputmode={props.inputmode}
        maxlength={props.maxlength}
        autofocus={props.autofocus}
        aria-invalid={props.error ? "true" : undefined}
        aria-describedby={describedBy(id, props.hint, props.error)}
      />
      <FieldFooter id={id} hint={props.hint} error={props.error} />
    </div>
  );
}

export function TextArea(
  props: FieldShell & {
    value?: string | null | undefined;
    rows?: number;
    code?: boolean;
    required?: boolean;
    maxlength?: number;
    placeholder?: string;
  },
): JSX.Element {
  const id = props.id ?? `field-${props.name}`;
  return (
    <div class={props.error ? "field has-error" : "field"}>
      <label for={id} safe>
        {props.label}
      </label>
      <textarea
        id={id}
        name={props.name}
        rows={String(props.rows ?? 4)}
        class={props.code ? "code" : undefined}
        required={props.required}
        maxlength={props.maxlength}
        placeholder={props.placeholder === undefined ? undefined : attr(props.placeholder)}
        spellcheck={props.code ? "false" : undefined}
        aria-invalid={props.error ? "true" : undefined}
        aria-describedby={describedBy(id, props.hint, props.error)}
        safe
      >
        {/* A leading newline after <textarea> is dropped by parsers: keep the value's own. */}
        {props.value?.startsWith("\n") ? `\n${props.value}` : (props.value ?? "")}
      </textarea>
      <FieldFooter id={id} hint={props.hint} error={props.error} />
    </div>
  );
}

export interface SelectOption {
  value: string;
  label: string;
}

export function SelectField(
  props: FieldShell & { options: SelectOption[]; selected?: string | null | undefined },
): JSX.Element {
  const id = props.id ?? `field-${props.name}`;
  return (
    <div class={props.error ? "field has-error" : "field"}>
      <label for={id} safe>
        {props.label}
      </label>
      <select
        id={id}
        name={props.name}
        aria-invalid={props.error ? "true" : undefined}
        aria-describedby={describedBy(id, props.hint, props.error)}
      >
        {props.options.map((option) => (
          <option value={attr(option.value)} selected={option.value === (props.selected ?? "")} safe>
            {option.label}
          </option>
        ))}
      </select>
      <FieldFooter id={id} hint={props.hint} error={props.error} />
    </div>
  );
}

export function CheckboxField(props: FieldShell & { checked: boolean; value?: string }): JSX.Element {
  const id = props.id ?? `field-${props.name}`;
  return (
    <div class={props.error ? "field has-error" : "field"}>
      <label class="checkbox" for={id}>
        <input id={id} type="checkbox" name={props.name} value={props.value ?? "1"} checked={props.checked} />
        <span safe>{props.label}</span>
      </label>
      <FieldFooter id={id} hint={props.hint} error={props.error} />
    </div>
  );
}

/** A one-button POST form (state changes never ride on GET links). */
export function PostButton(
  props: PropsWithChildren<{
    action: string;
    csrf: string;
    class?: string;
    /** Asked in a confirm() dialog by admin.js before submitting. */
    confirm?: string;
    fields?: Record<string, string>;
    title?: string;
    /** Handled by admin.js (`test-connection`: sent in the background with progress shown). */
    script?: "test-connection";
  }>,
): JSX.Element {
  return (
    <form
      method="post"
      action={attr(props.action)}
      data-confirm={props.confirm ? attr(props.confirm) : undefined}
      data-script={props.script}
    >
      <CsrfInput token={props.csrf} />
      {Object.entries(props.fields ?? {}).map(([name, value]) => (
        <input type="hidden" name={attr(name)} value={attr(value)} />
      ))}
      <button type="submit" class={props.class} title={props.title ? attr(props.title) : undefined}>
        {props.children}
      </button>
    </form>
  );
}

const statusLabels: Record<string, string> = {
  created: "created",
  running: "running",
  finished: "finished",
  stopped: "stopped",
  failed: "failed",
};

export function StatusBadge({ status }: { status: string }): JSX.Element {
  const known = statusLabels[status];
  return (
    <span class={`badge badge-${known ? status : "other"}`} safe>
      {known ?? status}
    </span>
  );
}

export function EnabledBadge({ enabled }: { enabled: boolean }): JSX.Element {
  return enabled ? (
    <span class="badge badge-on">enabled</span>
  ) : (
    <span class="badge badge-off">disabled</span>
  );
}

/** "Showing 1–20 of 57" with previous/next links. */
export function Pager(props: {
  page: number;
  pageSize: number;
  total: number;
  hrefFor: (page: number) => string;
}): JSX.Element {
  const pages = Math.max(1, Math.ceil(props.total / props.pageSize));
  const first = props.total === 0 ? 0 : (props.page - 1) * props.pageSize + 1;
  const last = Math.min(props.total, props.page * props.pageSize);
  const hasPrevious = props.page > 1;
  const hasNext = props.page < pages;
  const summary: string =
    (props.total === 0 ? "Nothing to show" : `Showing ${first}–${last} of ${props.total}`) +
    (pages > 1 ? ` · page ${props.page} of ${pages}` : "");
  return (
    <nav class="pager" aria-label="Pages">
      <span safe>{summary}</span>
      <span class="links">
        {hasPrevious ? (
          <a href={attr(props.hrefFor(props.page - 1))} rel="prev">
            ← Previous
          </a>
        ) : (
          <span class="disabled">← Previous</span>
        )}
        {hasNext ? (
          <a href={attr(props.hrefFor(props.page + 1))} rel="next">
            Next →
          </a>
        ) : (
          <span class="disabled">Next →</span>
        )}
      </span>
    </nav>
  );
}

/** Why debates cannot start, when they cannot (the preflight's words: what is missing, by provider). */
export function PreflightWarning({ problem }: { problem: string | null }): JSX.Element {
  if (!problem) return "";
  return (
    <div class="notice notice-error" role="alert" id="preflight-warning">
      <strong>Debates cannot start.</strong> <span safe>{problem}</span>{" "}
      <a href="/admin/providers">Providers</a>
    </div>
  );
}
