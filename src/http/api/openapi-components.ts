/**
 * Named schemas of the OpenAPI document (`components.schemas`) and the arktype → JSON Schema
 * conversion that references them with `$ref` wherever they occur.
 *
 * `@elysiajs/openapi` inlines every schema it converts. Ours is the one place that knows which
 * schemas are shared: a schema named with {@link named} carries its name as arktype's `title`, and
 * {@link createOpenApiComponents} turns every occurrence of a registered title into a reference.
 * Elysia hands us each route schema through its `mapJsonSchema.arktype` hook.
 */
import type { JsonSchema as ArkJsonSchema, Type } from "arktype";

/** A JSON Schema object as the document carries it. */
export type JsonSchema = { [keyword: string]: unknown };

/** A component of the document. */
export interface ApiComponent {
  /** A schema named with {@link named}: its title is the component's name. */
  schema: Type;
  /**
   * What it stands for. Kept out of the arktype schema: arktype words its validation messages with
   * a `description` ("must be <description>"), and the API's messages must not change.
   */
  description: string;
  /**
   * Property schemas stated instead of what the validator says: rules a service enforces after the
   * schema has let the value through (a topic's length once trimmed, each setting's range).
   */
  properties?: Record<string, JsonSchema>;
}

/**
 * Names `schema` as the component `name`, with examples (metadata only: validation, inferred types
 * and messages are unchanged). The examples are checked against the schema by the test suite.
 */
export function named<T extends Type>(name: string, schema: T, examples: readonly T["infer"][]): T {
  return schema.configure({ title: name, examples: examples as readonly unknown[] }) as unknown as T;
}

/**
 * JSON Schema of what `schema` accepts once parsed: a query's `string.integer.parse` is documented
 * as the integer with its bounds. Predicates (`narrow`) cannot be said in JSON Schema and are left
 * out, which is why those rules carry a `format` or a documented property.
 */
export function jsonSchemaOf(schema: Type): JsonSchema {
  const converted: ArkJsonSchema = schema["~standard"].jsonSchema.output({
    target: "draft-2020-12",
    libraryOptions: { dialect: null },
  });
  return converted as JsonSchema;
}

const SCHEMA_MAPS = ["properties", "patternProperties", "$defs", "dependentSchemas"];
const SCHEMA_LISTS = ["allOf", "anyOf", "oneOf", "prefixItems"];
const SCHEMA_VALUES = [
  "items",
  "additionalProperties",
  "unevaluatedProperties",
  "contains",
  "not",
  "if",
  "then",
  "else",
  "propertyNames",
];

const isSchema = (value: unknown): value is JsonSchema =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** JSON with sorted keys: two conversions of one schema compare equal whatever the key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, inner) =>
    isSchema(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}

export const componentRef = (name: string) => `#/components/schemas/${name}`;

/**
 * Builds `components.schemas` from `components` and the converter the OpenAPI plugin uses for
 * every route schema. Throws on a titled schema that is not registered, or that differs from the
 * registered one under the same name: both would otherwise give a document that lies.
 */
export function createOpenApiComponents(components: readonly ApiComponent[]) {
  const shapes = new Map<string, string>();
  const nameOf = (json: JsonSchema) => {
    if (typeof json.title !== "string") throw new Error("an OpenAPI component needs a name: use named()");
    return json.title;
  };
  const shapeOf = (json: JsonSchema) => {
    const { description: _description, ...shape } = json;
    return canonical(shape);
  };
  for (const component of components) {
    const json = jsonSchemaOf(component.schema);
    const name = nameOf(json);
    if (shapes.has(name)) throw new Error(`two OpenAPI components are named ${name}`);
    shapes.set(name, shapeOf(json));
  }

  /** Replaces every named schema below `node` (and `node` itself unless `isComponent`) with a `$ref`. */
  const link = (node: JsonSchema, isComponent = false): JsonSchema => {
    if (!isComponent && typeof node.title === "string") {
      const name = node.title;
      const shape = shapes.get(name);
      if (shape === undefined) throw new Error(`schema ${name} is not a registered OpenAPI component`);
      if (shape !== shapeOf(node)) throw new Error(`a schema named ${name} differs from the component`);
      // A description on an occurrence says what it means there (e.g. which error a status is).
      return typeof node.description === "string"
        ? { $ref: componentRef(name), description: node.description }
        : { $ref: componentRef(name) };
    }
    const linked: JsonSchema = { ...node };
    for (const key of SCHEMA_MAPS) {
      const map = node[key];
      if (isSchema(map)) {
        linked[key] = Object.fromEntries(
          Object.entries(map).map(([name, inner]) => [name, isSchema(inner) ? link(inner) : inner]),
        );
      }
    }
    for (const key of SCHEMA_LISTS) {
      const list = node[key];
      if (Array.isArray(list)) linked[key] = list.map((inner) => (isSchema(inner) ? link(inner) : inner));
    }
    for (const key of SCHEMA_VALUES) {
      const inner = node[key];
      if (isSchema(inner)) linked[key] = link(inner);
    }
    return linked;
  };

  const schemas: Record<string, JsonSchema> = {};
  for (const component of components) {
    const { title, ...json } = link(jsonSchemaOf(component.schema), true);
    const name = title as string;
    const properties = isSchema(json.properties) ? { ...json.properties } : {};
    for (const [key, documented] of Object.entries(component.properties ?? {})) {
      if (!(key in properties)) throw new Error(`component ${name} has no property ${key} to document`);
      properties[key] = documented;
    }
    schemas[name] = {
      title: name,
      description: component.description,
      ...json,
      ...(isSchema(json.properties) ? { properties } : {}),
    };
  }
  return {
    /** `components.schemas` of the document. */
    schemas,
    /** A route schema in JSON Schema, its named parts (or itself) as references. */
    toJsonSchema: (schema: Type) => link(jsonSchemaOf(schema)),
  };
}
