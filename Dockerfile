# Round Table AI — one Bun process: bot, admin, API and debate engine.
# Bun pinned to the version the test suite runs on (`bun --version`); bump it with @types/bun.
FROM oven/bun:1.4.5-slim AS deps
WORKDIR /app
COPY package.json bun.lock ./
# Production dependencies only. TypeScript and the Bun/Node type packages still arrive as peers of
# @elysiajs/openapi (its optional type generator) and of @kitajs/ts-html-plugin (an editor plugin
# @elysiajs/html depends on); nothing loads them at run time, so they are removed. (`--omit=peer`
# would also drop peers that are needed, such as @sinclair/typebox.) --ignore-scripts: no install
# script runs (swagger-ui-dist's analytics dependency included).
RUN bun install --frozen-lockfile --production --ignore-scripts \
  && rm -rf node_modules/typescript node_modules/@types node_modules/bun-types node_modules/undici-types

FROM oven/bun:1.4.5-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
# tsconfig.json is read by Bun at run time (JSX of the admin views).
COPY package.json bun.lock tsconfig.json ./
COPY src ./src
COPY admin-jsx ./admin-jsx
COPY migrations ./migrations
# The image's unprivileged user (uid 1000) owns only the embedded database's folder.
RUN mkdir -p /app/data && chown bun:bun /app/data
USER bun
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["bun", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health').then(r => process.exit(r.ok ? 0 : 1)).catch(() => process.exit(1))"]
# Migrations and the seed run at start, under an advisory lock: several replicas may start together.
# --no-env-file: configuration comes from the environment (compose's env_file), never from a stray .env.
CMD ["bun", "--no-env-file", "src/main.ts"]
