# Every target with a `##` comment is listed by `make help`.
.DEFAULT_GOAL := help
.PHONY: help dev start migrate seed test lint format typecheck xss bench keygen setup docker-setup docker-up ci

help:          ## list the targets
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

dev:           ## run with reload
	bun run dev

start:         ## run the app (first start on a bare machine writes .env)
	bun run start

migrate:       ## apply migrations to DATABASE_URL (or the embedded database)
	bun run migrate

seed:          ## seed providers and personalities (idempotent)
	bun run seed

test:          ## run the test suite (needs local Postgres and Redis; never reads .env)
	bun run test

lint:          ## Biome, tsc and the XSS scan
	bunx biome check .
	bunx tsc --noEmit
	bun run xss

format:        ## format and fix with Biome
	bunx biome check --write .

typecheck:     ## tsc --noEmit
	bun run typecheck

xss:           ## scan JSX for unescaped expressions
	bun run xss

bench:         ## debate throughput benchmark
	bun run bench

keygen:        ## print a new SECRETS_KEY
	bun run keygen

setup:         ## fill the secrets of .env (written from .env.example if missing); idempotent
	bun run setup

docker-setup:  ## the same inside the image, without Bun on the host
	docker compose run --rm setup

docker-up:     ## build and start app, Postgres and Redis
	docker compose up -d --build

ci:            ## what CI runs (drops every test database on the machine)
	bash .ci/run
