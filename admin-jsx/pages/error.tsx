/** @jsxImportSource @kitajs/html */
/** Error pages: not found, forbidden (CSRF), too many login attempts, unexpected failures. */
import { type AssetUrls, BareLayout, Layout, type PageContext } from "../layout";

export function ErrorPage(props: {
  title: string;
  message: string;
  /** With a session the page keeps the navigation; without one it is a bare card. */
  context?: PageContext;
  assets: AssetUrls;
}): JSX.Element {
  const body = (
    <div class="card error-card">
      <h1 safe>{props.title}</h1>
      <p safe>{props.message}</p>
      <p>
        <a href="/admin">Back to the dashboard</a>
      </p>
    </div>
  );
  return props.context ? (
    <Layout title={props.title} context={props.context}>
      {body}
    </Layout>
  ) : (
    <BareLayout title={props.title} assets={props.assets}>
      {body}
    </BareLayout>
  );
}
