/**
 * Where personal data lives in a message, read from the schema's `x-pii` annotations, so that
 * logs, error reports and the message log can redact by construction (ARCHITECTURE.md
 * "Remember"; Decree 13/2023/NĐ-CP).
 *
 * Paths are dotted, with `[*]` for "every array element" and `*` for "every property" (maps via
 * additionalProperties / patternProperties), e.g. `applicant.personalId`,
 * `relatives[*].personalId` (pino redaction syntax; keys that are not identifiers are written
 * `["a.b"]`; the empty path "" means the whole value is personal data). An annotated node covers its whole subtree, so nothing below it is
 * listed separately. `$ref`, `allOf`, `anyOf`, `oneOf`, `if`/`then`/`else`, `items`,
 * `prefixItems` are followed; a schema that recurses into itself is followed once per path.
 * Compute once per schema at load time.
 */
import type { JsonSchema, SchemaSet } from './set.js';
import type { PiiLevel } from './ajv.js';
import { isPlainObject } from '../core/objects.js';

export interface PiiField {
  path: string;
  level: PiiLevel;
}

/** The properties annotated `x-pii`, by dotted path (sorted, unique), each with its level (`sensitive` wins when branches disagree). */
export function piiFields(schema: JsonSchema, schemas: SchemaSet, baseId: string): PiiField[] {
  const found = new Map<string, PiiLevel>();
  walk({ schema, baseId }, '', schemas, found, new Set(), 0);
  return [...found.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([path, level]) => ({ path, level }));
}

interface Node {
  schema: JsonSchema;
  baseId: string;
}

const MAX_DEPTH = 64;

function walk(node: Node, path: string, schemas: SchemaSet, found: Map<string, PiiLevel>, onPath: Set<object>, depth: number): void {
  if (depth > MAX_DEPTH) return;
  const group = expand(node, schemas);

  // annotation anywhere in the group (e.g. on a $ref target or an allOf member) marks this path
  let level: PiiLevel | undefined;
  for (const { schema } of group) {
    const v = schema['x-pii'];
    if (v === 'sensitive') level = 'sensitive';
    else if (v === 'basic' && level === undefined) level = 'basic';
  }
  if (level !== undefined) {
    if (found.get(path) !== 'sensitive') found.set(path, level);
    return;
  }

  const fresh = group.filter((n) => !onPath.has(n.schema));
  if (fresh.length === 0) return;
  for (const n of fresh) onPath.add(n.schema);
  try {
    for (const { schema, baseId } of fresh) {
      const props = schema.properties;
      if (isPlainObject(props)) {
        for (const [key, sub] of Object.entries(props)) {
          if (isPlainObject(sub)) walk({ schema: sub, baseId }, join(path, key), schemas, found, onPath, depth + 1);
        }
      }
      for (const mapKey of ['additionalProperties', 'unevaluatedProperties'] as const) {
        const sub = schema[mapKey];
        if (isPlainObject(sub)) walk({ schema: sub, baseId }, join(path, '*'), schemas, found, onPath, depth + 1);
      }
      if (isPlainObject(schema.patternProperties)) {
        for (const sub of Object.values(schema.patternProperties)) {
          if (isPlainObject(sub)) walk({ schema: sub, baseId }, join(path, '*'), schemas, found, onPath, depth + 1);
        }
      }
      for (const itemKey of ['items', 'unevaluatedItems', 'contains'] as const) {
        const sub = schema[itemKey];
        if (isPlainObject(sub)) walk({ schema: sub, baseId }, `${path}[*]`, schemas, found, onPath, depth + 1);
      }
      if (Array.isArray(schema.prefixItems)) {
        schema.prefixItems.forEach((sub, index) => {
          if (isPlainObject(sub)) walk({ schema: sub, baseId }, `${path}[${index}]`, schemas, found, onPath, depth + 1);
        });
      }
    }
  } finally {
    for (const n of fresh) onPath.delete(n.schema);
  }
}

/** A node plus everything that applies at the same instance location ($ref, allOf, …). */
function expand(node: Node, schemas: SchemaSet): Node[] {
  const out: Node[] = [];
  const seen = new Set<object>();
  const stack: Node[] = [node];
  while (stack.length > 0) {
    const n = stack.pop() as Node;
    if (seen.has(n.schema)) continue;
    seen.add(n.schema);
    out.push(n);
    const { schema, baseId } = n;
    for (const refKey of ['$ref', '$dynamicRef'] as const) {
      const ref = schema[refKey];
      if (typeof ref !== 'string') continue;
      const hash = ref.indexOf('#');
      if (hash >= 0 && hash < ref.length - 1 && ref[hash + 1] !== '/') continue; // plain-name anchors: not resolvable here
      let resolved;
      try {
        resolved = schemas.resolveRef(baseId, ref);
      } catch {
        resolved = undefined;
      }
      if (resolved) stack.push(resolved);
    }
    for (const key of ['allOf', 'anyOf', 'oneOf'] as const) {
      const list = schema[key];
      if (Array.isArray(list)) for (const sub of list) if (isPlainObject(sub)) stack.push({ schema: sub, baseId });
    }
    for (const key of ['if', 'then', 'else'] as const) {
      const sub = schema[key];
      if (isPlainObject(sub)) stack.push({ schema: sub, baseId });
    }
    if (isPlainObject(schema.dependentSchemas)) {
      for (const sub of Object.values(schema.dependentSchemas)) if (isPlainObject(sub)) stack.push({ schema: sub, baseId });
    }
  }
  return out;
}

function join(path: string, key: string): string {
  if (key !== '*' && !/^[A-Za-z_$][\w$]*$/.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path === '' ? key : `${path}.${key}`;
}
