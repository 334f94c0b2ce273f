/** @jsxImportSource @kitajs/html */
/** The login form, and the page shown when the admin is disabled (no ADMIN_PASSWORD). */

import { attr, CsrfInput, Notice, type NoticeData, TextField } from "../components/ui";
import { type AssetUrls, BareLayout } from "../layout";

export function LoginPage(props: {
  assets: AssetUrls;
  csrf: string;
  username?: string;
  notice?: NoticeData | null;
  next?: string;
}): JSX.Element {
  return (
    <BareLayout title="Sign in" assets={props.assets}>
      <div class="card login-card">
        <div class="brand-line">
          <span class="brand-mark" aria-hidden="true"></span>Round Table AI
        </div>
        <h1 class="login-title">Admin sign-in</h1>
        <Notice notice={props.notice} />
        <form class="stack" method="post" action="/admin/login">
          <CsrfInput token={props.csrf} />
          {props.next ? <input type="hidden" name="next" value={attr(props.next)} /> : ""}
          <TextField
            name="username"
            label="Username"
            value={props.username ?? ""}
            autocomplete="username"
            required
            autofocus={!props.username}
          />
          <TextField
            name="password"
            label="Password"
            type="password"
            autocomplete="current-password"
            required
            autofocus={!!props.username}
          />
          <button type="submit" class="primary">
            Sign in
          </button>
        </form>
      </div>
    </BareLayout>
  );
}

export function AdminDisabledPage(props: { assets: AssetUrls }): JSX.Element {
  return (
    <BareLayout title="Admin disabled" assets={props.assets}>
      <div class="card login-card">
        <div class="brand-line">
          <span class="brand-mark" aria-hidden="true"></span>Round Table AI
        </div>
        <h1>The admin is disabled</h1>
        <p>
          No admin password is configured, so nobody can sign in. To enable the admin, set{" "}
          <code>ADMIN_PASSWORD</code> (and optionally <code>ADMIN_USERNAME</code>) in <code>.env</code> and
          restart the app.
        </p>
        <p class="muted small">The bot and the API keep working without it.</p>
      </div>
    </BareLayout>
  );
}
