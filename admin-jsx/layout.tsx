/** @jsxImportSource @kitajs/html */
/**
 * Page shells of the admin: the signed-in layout (navigation, account, notices) and the bare one
 * for the login and "admin disabled" pages. Pure views: props in, HTML string out.
 */
import type { PropsWithChildren } from "@kitajs/html";
import { attr, CsrfInput, Notice, type NoticeData } from "./components/ui";

/** Where the stylesheet and the script are served (the routes add a version for caching). */
export interface AssetUrls {
  css: string;
  js: string;
}

export type NavKey =
  | "dashboard"
  | "sessions"
  | "users"
  | "providers"
  | "personalities"
  | "settings"
  | "audit";

const nav: { key: NavKey; href: string; label: string }[] = [
  { key: "dashboard", href: "/admin", label: "Dashboard" },
  { key: "sessions", href: "/admin/sessions", label: "Sessions" },
  { key: "users", href: "/admin/users", label: "Users" },
  { key: "providers", href: "/admin/providers", label: "Providers" },
  { key: "personalities", href: "/admin/personalities", label: "Personalities" },
  { key: "settings", href: "/admin/settings", label: "Settings" },
  { key: "audit", href: "/admin/audit", label: "Audit log" },
];

/** What every signed-in page needs besides its own content. */
export interface PageContext {
  username: string;
  csrf: string;
  assets: AssetUrls;
  notice?: NoticeData | null;
}

function Head({ title, assets }: { title: string; assets: AssetUrls }): JSX.Element {
  return (
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="robots" content="noindex, nofollow" />
      {/* No favicon request (and no 404 in the console). */}
      <link rel="icon" href="data:," />
      <title safe>{`${title} · Round Table AI admin`}</title>
      <link rel="stylesheet" href={attr(assets.css)} />
      <script src={attr(assets.js)} defer></script>
    </head>
  );
}

export function Layout(
  props: PropsWithChildren<{ title: string; active?: NavKey; context: PageContext }>,
): JSX.Element {
  const { context } = props;
  return (
    <html lang="en">
      <Head title={props.title} assets={context.assets} />
      <body>
        <header class="topbar">
          <div class="topbar-inner">
            <a class="brand" href="/admin">
              <span class="brand-mark" aria-hidden="true"></span>Round Table AI
            </a>
            <nav class="nav" aria-label="Main">
              {nav.map((item) => (
                <a href={item.href} aria-current={item.key === props.active ? "page" : undefined} safe>
                  {item.label}
                </a>
              ))}
            </nav>
            <div class="account">
              <span>
                Signed in as <strong safe>{context.username}</strong>
              </span>
              <form method="post" action="/admin/logout">
                <CsrfInput token={context.csrf} />
                <button type="submit">Log out</button>
              </form>
            </div>
          </div>
        </header>
        <main id="main">
          <Notice notice={context.notice} />
          {props.children}
        </main>
      </body>
    </html>
  );
}

/** The shell of pages shown without a session (login, admin disabled). */
export function BareLayout(props: PropsWithChildren<{ title: string; assets: AssetUrls }>): JSX.Element {
  return (
    <html lang="en">
      <Head title={props.title} assets={props.assets} />
      <body>
        <main class="login-page">{props.children}</main>
      </body>
    </html>
  );
}
