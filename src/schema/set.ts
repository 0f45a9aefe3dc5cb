/**
 * The JSON Schemas of one hub, addressed two ways: by short name (the file's path under
 * `schemas/` without `.json`, e.g. "canonical/CitizenRecord") for config files, and by `$id`
 * for `$ref` resolution. Every schema's `$id` is `SCHEMA_BASE + <name>.json`; the loader
 * refuses a file whose `$id` disagrees with its path, so the two never drift apart.
 */
export type JsonSchema = Record<string, unknown>;

/** `.invalid` is a reserved TLD: these ids are names, never fetched. */
export const SCHEMA_BASE = 'https://lienthong.invalid/schemas/';

export function idForName(name: string): string {
  return `${SCHEMA_BASE}${name}.json`;
}

export function nameForId(id: string): string | undefined {
  const bare = id.split('#', 1)[0] ?? id;
  if (!bare.startsWith(SCHEMA_BASE) || !bare.endsWith('.json')) return undefined;
  return bare.slice(SCHEMA_BASE.length, -'.json'.length);
}

export interface ResolvedSchema {
  /** `$id` of the document holding the schema (the base for its own `$ref`s). */
  baseId: string;
  schema: JsonSchema;
}

export class SchemaSet {
  readonly #byId = new Map<string, JsonSchema>();

  constructor(schemas: Iterable<JsonSchema>) {
    for (const schema of schemas) {
      const id = schema.$id;
      if (typeof id !== 'string') throw new Error('every schema in a SchemaSet needs an $id');
      this.#byId.set(id, schema);
    }
  }

  byName(name: string): ResolvedSchema | undefined {
    const id = idForName(name);
    const schema = this.#byId.get(id);
    return schema ? { baseId: id, schema } : undefined;
  }

  byId(id: string): JsonSchema | undefined {
    return this.#byId.get(id);
  }

  names(): string[] {
    return [...this.#byId.keys()].map((id) => nameForId(id) ?? id);
  }

  all(): JsonSchema[] {
    return [...this.#byId.values()];
  }

  /** Follows one `$ref` (relative or absolute, with an optional `#/json/pointer`) from a document. */
  resolveRef(baseId: string, ref: string): ResolvedSchema | undefined {
    const url = new URL(ref, baseId);
    const docId = `${url.origin}${url.pathname}`;
    const doc = this.#byId.get(docId);
    if (!doc) return undefined;
    const pointer = decodeURIComponent(url.hash.replace(/^#/, ''));
    // Only JSON pointers (or none): plain-name anchors ("#foo") are not supported and must not resolve to the root.
    if (pointer !== '' && !pointer.startsWith('/')) return undefined;
    let node: unknown = doc;
    for (const token of pointer.split('/').slice(1)) {
      const key = token.replace(/~1/g, '/').replace(/~0/g, '~');
      if (node === null || typeof node !== 'object' || !Object.hasOwn(node, key)) return undefined;
      node = (node as Record<string, unknown>)[key];
    }
    return node && typeof node === 'object' ? { baseId: docId, schema: node as JsonSchema } : undefined;
  }
}
