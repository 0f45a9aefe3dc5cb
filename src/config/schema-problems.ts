/**
 * Explaining a broken JSON Schema file in the integrator's terms (`lienthong check`): Ajv's complaints about a schema
 * (an unresolvable $ref, an unknown format or keyword, a value the meta-schema refuses, a $ref cycle that overflows
 * its stack) and JSON syntax errors, each as a message, the place in the document (for its line) and a fix.
 */
import { pathToPointer, pointerToPath, valueAtPath } from '../core/json-pointer.js';
import { closest, suggestion } from '../core/suggest.js';
import { lineCol } from '../core/text.js';
import { JSON_TYPES } from '../mapping/types.js';
import { PII_LEVELS } from '../schema/ajv.js';
import { HUB_FORMATS, ISO_FORMATS } from '../schema/formats.js';
import { nameForId, type JsonSchema, type SchemaSet } from '../schema/set.js';

/** A problem in a schema file: what, where (a path inside the document, for its line) and how to fix it. */
export interface SchemaProblem {
  message: string;
  path?: string[];
  /** The keyword's place, shown as [field] (only where the message itself does not name it). */
  field?: string;
  hint?: string;
}

/** JSON.parse's complaint with the line and column of its position (Node says only "at position 430"). */
export function jsonSyntaxError(text: string, message: string): { message: string; line?: number; column?: number } {
  const position = /at position (\d+)/.exec(message);
  const offset = position ? Number(position[1]) : /end of JSON input/.test(message) ? text.length : undefined;
  const bare = message.replace(/ in JSON at position \d+.*$/, '').replace(/, ".*" is not valid JSON$/, '');
  if (offset === undefined) return { message: bare };
  const { line, col } = lineCol(text, offset);
  return { message: bare, line, column: col };
}

/** Keywords of JSON Schema 2020-12 and the hub's annotations, to suggest one for a misspelled keyword. */
const SCHEMA_KEYWORDS = [
  '$schema', '$id', '$ref', '$defs', '$comment', '$anchor', '$dynamicRef', '$dynamicAnchor', 'title', 'description', 'default', 'examples', 'deprecated', 'readOnly', 'writeOnly',
  'type', 'enum', 'const', 'format', 'pattern', 'minLength', 'maxLength', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf',
  'properties', 'patternProperties', 'additionalProperties', 'unevaluatedProperties', 'required', 'dependentRequired', 'dependentSchemas', 'propertyNames', 'minProperties', 'maxProperties',
  'items', 'prefixItems', 'unevaluatedItems', 'contains', 'minContains', 'maxContains', 'minItems', 'maxItems', 'uniqueItems',
  'allOf', 'anyOf', 'oneOf', 'not', 'if', 'then', 'else', 'x-pii', 'x-note',
];

/**
 * An Ajv error about a schema (not about data) as a problem at its place: a $ref that resolves nowhere, an
 * unknown format or keyword, an invalid keyword value. Ajv names the place by a JSON pointer or not at all.
 */
export function describeSchemaError(e: Error, name: string, schemas: SchemaSet, what: string): SchemaProblem {
  const doc = schemas.byName(name)?.schema;
  const text = e.message;
  const pathOf = (pointer: string | undefined) => (pointer === undefined ? undefined : pointerToPath(decodeURIComponent(pointer.replace(/^#/, ''))));
  const unresolved = /^can't resolve reference (.+) from id (.+)$/.exec(text);
  if (unresolved) {
    const [, ref, baseId] = unresolved as unknown as [string, string, string];
    const url = new URL(ref, baseId);
    const targetName = nameForId(`${url.origin}${url.pathname}`) ?? ref;
    const target = schemas.byName(targetName);
    let hint: string;
    if (!target) hint = `no schema ${targetName} (schemas/${targetName}.json): ${suggestion(targetName, schemas.names().filter((n) => !n.startsWith('config/')), 'schemas')}`;
    else {
      // The file exists: the pointer names something it lacks. Suggest from the keys where the pointer stops matching.
      const tokens = pointerToPath(decodeURIComponent(url.hash.replace(/^#/, '')));
      let node: unknown = target.schema;
      let i = 0;
      for (; i < tokens.length && node && typeof node === 'object' && Object.hasOwn(node, tokens[i]!); i++) node = (node as Record<string, unknown>)[tokens[i]!];
      const keys = node && typeof node === 'object' ? Object.keys(node) : [];
      hint = `${targetName} has no ${url.hash}: ${suggestion(tokens[i] ?? '', keys, `names under #/${tokens.slice(0, i).join('/')}`)}`;
    }
    return { message: `${what}: $ref "${ref}" resolves to nothing`, path: doc ? pathOfKeyValue(doc, '$ref', ref) : undefined, hint };
  }
  const format = /^unknown format "(.+)" ignored in schema at path "(.*)"$/.exec(text);
  if (format) {
    const known = [...HUB_FORMATS.map((f) => f.name), ...ISO_FORMATS];
    return { message: `${what}: unknown format "${format[1]}"`, path: [...pathOf(format[2])!, 'format'], hint: `${suggestion(format[1]!, known, 'formats')} (formats: docs/connectors.md)` };
  }
  const keyword = /^strict mode: unknown keyword: "(.+)"$/.exec(text);
  if (keyword) {
    return { message: `${what}: unknown keyword "${keyword[1]}"`, path: doc ? pathOfKey(doc, keyword[1]!) : undefined, hint: `${suggestion(keyword[1]!, SCHEMA_KEYWORDS, 'keywords')} (the hub's own annotations are x-pii and x-note)` };
  }
  const invalid = /^schema is invalid: data(\/[^ ,]*)? ([^,]*)/.exec(text);
  if (invalid) return metaSchemaProblem(doc, pointerToPath(invalid[1] ?? ''), invalid[2]!, what);
  // "keyword "x-pii" value is invalid at path "#/properties/CanBo": …"
  // Strict mode names the place as a URI: 'missing type "number" for keyword "maximum" at "https://…/x.json#/properties/a"'.
  const pointer = /at path "(#[^"]*)"/.exec(text)?.[1] ?? /at "[^"#]*(#[^"]*)"/.exec(text)?.[1] ?? /^schema is invalid: data(\/[^ ,]*)?/.exec(text)?.[1] ?? undefined;
  const hint = /keyword "x-pii"/.test(text) ? `x-pii is one of ${PII_LEVELS.map((l) => `"${l}"`).join(', ')}` : 'check the keyword and its value against JSON Schema 2020-12 (docs/connectors.md)';
  // Ajv names the place from the schema a $ref led to ("#/properties/HoVaTen" inside $defs/CongDan): find it in the file.
  let path = pathOf(pointer);
  if (path && doc) path = placeInDocument(doc, path);
  const strictKeyword = /for keyword "([^"]+)"/.exec(text)?.[1];
  if (path && strictKeyword && valueAtPath(doc, [...path, strictKeyword]) !== undefined) path = [...path, strictKeyword];
  return { message: `${what}: ${text}`, path, hint };
}

/** `path` itself when the document has it, else the first place in the document (depth first) under which it does. */
function placeInDocument(doc: unknown, path: string[], prefix: string[] = [], depth = 0): string[] {
  if (valueAtPath(doc, path) !== undefined || depth > 0) return path;
  const found = (node: unknown, at: string[], level: number): string[] | undefined => {
    if (!node || typeof node !== 'object' || level > 32) return undefined;
    if (at.length && valueAtPath(node, path) !== undefined) return [...at, ...path];
    for (const [k, child] of Object.entries(node)) {
      const inner = found(child, [...at, k], level + 1);
      if (inner) return inner;
    }
    return undefined;
  };
  return found(doc, prefix, 0) ?? path;
}

/** Names integrators write for a JSON Schema type (from other languages or XML Schema). */
const TYPE_ALIASES: Record<string, string> = {
  int: 'integer', long: 'integer', short: 'integer', byte: 'integer', bigint: 'integer',
  float: 'number', double: 'number', decimal: 'number', numeric: 'number',
  bool: 'boolean', str: 'string', text: 'string', date: 'string', datetime: 'string', list: 'array', map: 'object', dict: 'object',
};

/**
 * A schema that breaks the JSON Schema meta-schema ("type": "int", "required": "x"), said at the keyword Ajv names:
 * Ajv's own message ("data/properties/a/type must be equal to one of the allowed values, … must match a schema in anyOf")
 * names neither the value nor what to write.
 */
function metaSchemaProblem(doc: JsonSchema | undefined, path: string[], complaint: string, what: string): SchemaProblem {
  const keyword = path[path.length - 1];
  const value = valueAtPath(doc, path);
  const field = path.join('.') || undefined;
  const typeHint = (given: string) => {
    const near = TYPE_ALIASES[given.toLowerCase()] ?? JSON_TYPES.find((t) => t === given.toLowerCase()) ?? closest(given, JSON_TYPES);
    return `${near !== undefined ? `did you mean "${near}"? ` : ''}a JSON Schema type is one of ${JSON_TYPES.map((t) => `"${t}"`).join(', ')}${given.toLowerCase().startsWith('date') ? ' (a date is "type": "string" with a "format")' : ''}`;
  };
  if (keyword === 'type' && path[path.length - 2] !== 'properties') {
    const bad = (Array.isArray(value) ? value : [value]).find((v) => typeof v !== 'string' || !(JSON_TYPES as readonly string[]).includes(v));
    if (typeof bad === 'string') return { message: `${what}: ${JSON.stringify(bad)} is not a JSON Schema type`, path, field, hint: typeHint(bad) };
    return { message: `${what}: "type" must be a type name or a list of them, not ${JSON.stringify(value)}`, path, field, hint: typeHint('') };
  }
  if ((keyword === 'required' || keyword === 'enum') && !Array.isArray(value)) {
    const list = keyword === 'required' ? 'the names of required fields' : 'the allowed values';
    return { message: `${what}: "${keyword}" must be a list of ${list}, not ${JSON.stringify(value)}`, path, field, hint: `write "${keyword}": [${JSON.stringify(value)}]` };
  }
  return { message: `${what}: ${field ?? '(the schema)'} ${complaint}${value !== undefined && typeof value !== 'object' ? ` (it is ${JSON.stringify(value)})` : ''}`, path, field, hint: 'check the keyword and its value against JSON Schema 2020-12 (docs/connectors.md)' };
}

/** Path (for locate) of the first object in `node` holding `key`: `value`, depth first. */
function pathOfKeyValue(node: unknown, key: string, value: unknown, path: string[] = []): string[] | undefined {
  if (!node || typeof node !== 'object') return undefined;
  if (!Array.isArray(node) && (node as Record<string, unknown>)[key] === value) return [...path, key];
  for (const [k, child] of Object.entries(node)) {
    const found = pathOfKeyValue(child, key, value, [...path, k]);
    if (found) return found;
  }
  return undefined;
}

function pathOfKey(node: unknown, key: string, path: string[] = []): string[] | undefined {
  if (!node || typeof node !== 'object') return undefined;
  if (!Array.isArray(node) && Object.hasOwn(node, key)) return [...path, key];
  for (const [k, child] of Object.entries(node)) {
    const found = pathOfKey(child, key, [...path, k]);
    if (found) return found;
  }
  return undefined;
}

/** Keywords that apply a subschema to the same value (a $ref cycle through these never ends; through properties it is a tree). */
const IN_PLACE = ['allOf', 'anyOf', 'oneOf', 'not', 'if', 'then', 'else'] as const;

/**
 * A cycle of $refs reachable from schema `name` that never enters a property or an item: Ajv recurses on
 * it until the stack overflows. Returns the nodes (as "name#pointer"), the schema that holds the first, and
 * where in that schema its $ref is.
 */
export function findRefCycle(schemas: SchemaSet, name: string): { nodes: string[]; owner: string; path: string[] } | undefined {
  const label = (docId: string, pointer: string) => `${nameForId(docId) ?? docId}${pointer ? `#${pointer}` : ''}`;
  const done = new Set<string>();
  const visit = (docId: string, pointer: string, node: unknown, stack: Array<{ docId: string; pointer: string }>): Array<{ docId: string; pointer: string }> | undefined => {
    if (!node || typeof node !== 'object') return undefined;
    const key = label(docId, pointer);
    const seen = stack.findIndex((s) => label(s.docId, s.pointer) === key);
    if (seen >= 0) return [...stack.slice(seen), { docId, pointer }];
    if (done.has(key)) return undefined;
    const next = [...stack, { docId, pointer }];
    const schema = node as Record<string, unknown>;
    if (typeof schema.$ref === 'string') {
      const url = new URL(schema.$ref, docId);
      const target = schemas.resolveRef(docId, schema.$ref);
      const found = target && visit(target.baseId, decodeURIComponent(url.hash.replace(/^#/, '')), target.schema, next);
      if (found) return found;
    }
    for (const keyword of IN_PLACE) {
      const child = schema[keyword];
      const children = Array.isArray(child) ? child.map((c, i) => [`/${keyword}/${i}`, c] as const) : [[`/${keyword}`, child] as const];
      for (const [suffix, c] of children) {
        const found = visit(docId, `${pointer}${suffix}`, c, next);
        if (found) return found;
      }
    }
    done.add(key);
    return undefined;
  };
  // Every subschema of the document may start a cycle (the $ref of a property, say).
  const start = schemas.byName(name);
  if (!start) return undefined;
  const walk = (node: unknown, pointer: string): ReturnType<typeof visit> => {
    if (!node || typeof node !== 'object') return undefined;
    const found = Array.isArray(node) ? undefined : visit(start.baseId, pointer, node, []);
    if (found) return found;
    for (const [k, child] of Object.entries(node)) {
      const inner = walk(child, `${pointer}${pathToPointer([k])}`);
      if (inner) return inner;
    }
    return undefined;
  };
  const cycle = walk(start.schema, '');
  if (!cycle) return undefined;
  const first = cycle[0]!;
  return { nodes: cycle.map((n) => label(n.docId, n.pointer)), owner: nameForId(first.docId) ?? name, path: [...pointerToPath(first.pointer), '$ref'] };
}
