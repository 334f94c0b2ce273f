import { type } from "arktype";

/**
 * Strings the views and inputs carry, with the JSON Schema `format` the OpenAPI document states.
 * Documentation only: arktype neither checks `format` nor words a message with it, so validation
 * stays what the schema around it says.
 */
export const stringFormats = {
  dateTime: type("string").configure({ format: "date-time" }),
  uri: type("string").configure({ format: "uri" }),
  uuid: type("string").configure({ format: "uuid" }),
};
