import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Elysia } from "elysia";
import type { AssetUrls } from "../../../admin-jsx/layout";

interface Asset {
  body: string;
  version: string;
  contentType: string;
}

function loadAsset(name: string, contentType: string): Asset {
  const body = readFileSync(new URL(`./assets/${name}`, import.meta.url), "utf8");
  return { body, version: createHash("sha256").update(body).digest("hex").slice(0, 12), contentType };
}

/**
 * The admin's stylesheet and script, served by us (no CDN) and public (the login and "admin
 * disabled" pages need them). `urls` carry a content hash so browsers may cache them for good.
 */
export function createAssetRoutes() {
  const css = loadAsset("admin.css", "text/css; charset=utf-8");
  const js = loadAsset("admin.js", "text/javascript; charset=utf-8");
  const urls: AssetUrls = {
    css: `/admin/assets/admin.css?v=${css.version}`,
    js: `/admin/assets/admin.js?v=${js.version}`,
  };
  const serve = (asset: Asset, version: string | undefined) =>
    new Response(asset.body, {
      headers: {
        "content-type": asset.contentType,
        "x-content-type-options": "nosniff",
        // A versioned URL never changes content; an unversioned one is revalidated.
        "cache-control": version === asset.version ? "public, max-age=31536000, immutable" : "no-cache",
      },
    });
  const routes = new Elysia({ name: "admin-assets", prefix: "/admin/assets" })
    .get("/admin.css", ({ query }) => serve(css, query.v))
    .get("/admin.js", ({ query }) => serve(js, query.v));
  return { urls, routes };
}
