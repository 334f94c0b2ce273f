.PHONY: dev start migrate seed test lint format typecheck xss bench keygen ci

dev:        ## run with reload
	bun run dev

start:
	bun run start

migrate:    ## apply migrations to DATABASE_URL (or the embedded database)
	bun run migrate

seed:       ## seed providers and personalities (idempotent)
	bun run seed

test:
	bun run test

lint:
	bunx biome check .
	bunx tsc --noEmit
	bun run xss

format:
	bunx biome check --write .

bench:
	bun run bench

keygen:
	bun run keygen

ci:
	bash .ci/run
