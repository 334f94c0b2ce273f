import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  // The core's tables, and the bot's own delivery table.
  schema: ["./src/db/schema.ts", "./src/bot/delivery/delivery-table.ts"],
  out: "./migrations",
});
