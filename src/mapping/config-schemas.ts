/**
 * JSON Schemas (2020-12) of the three config file kinds of the mapping language. They are the
 * single source of truth for structure: the loader validates with them and the files under
 * `schemas/config/` (used by editors through the files' `$schema:` line) are written from them by
 * `node --import tsx src/config/write-schemas.ts`; a test fails when the files drift.
 *
 * The function part of the mapping schema is generated from the allow-list in functions.ts.
 * Where a `oneOf`/`anyOf` lists the allowed forms, its schema's `$comment` is the sentence the
 * loader shows instead of Ajv's generic "must match exactly one schema in oneOf".
 */
import { FUNCTIONS, FUNCTION_NAMES, type JsonSchemaObject } from './functions.js';

const CONFIG_BASE = 'https://lienthong.invalid/schemas/config/';
const DIALECT = 'https://json-schema.org/draft/2020-12/schema';

const SCHEMA_NAME = {
  type: 'string',
  minLength: 1,
  pattern: '^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$',
  description: 'Short name of a JSON Schema: its path under schemas/ without .json, e.g. canonical/CitizenLookupRequest.',
};

const SCALAR = { type: ['string', 'number', 'boolean'] };

/** A branch "these keys are present" (their schemas are in the parent's properties; `true` here satisfies Ajv's strictRequired). */
function requires(keys: string[]): Record<string, unknown> {
  return { required: keys, properties: Object.fromEntries(keys.map((k) => [k, true])) };
}

export function mappingSchema(): JsonSchemaObject {
  const withArgs = FUNCTION_NAMES.filter((n) => FUNCTIONS[n]!.args);
  const bare = FUNCTION_NAMES.filter((n) => !FUNCTIONS[n]!.args);
  const fnProperties: Record<string, unknown> = {};
  for (const name of withArgs) {
    const spec = FUNCTIONS[name]!;
    fnProperties[name] = { ...spec.args, description: `${spec.summary} Example: ${spec.example}` };
  }
  return {
    $schema: DIALECT,
    $id: `${CONFIG_BASE}mapping.schema.json`,
    title: 'lienthong mapping',
    description: 'Maps one JSON document (source schema) to another (target schema). See docs/mapping-language.md.',
    type: 'object',
    required: ['source', 'target', 'fields'],
    additionalProperties: false,
    properties: {
      $schema: { type: 'string', description: 'Path to this JSON Schema, for editors.' },
      description: { type: 'string', description: 'What this mapping does, for people.' },
      source: { ...SCHEMA_NAME, description: `Schema of the input document. ${SCHEMA_NAME.description}` },
      target: { ...SCHEMA_NAME, description: `Schema of the output document. ${SCHEMA_NAME.description}` },
      request: { ...SCHEMA_NAME, description: `Response and reply mappings only: the schema of the request this answer belongs to, which paths starting with $request read (e.g. $request.ThoiGianGD, to echo a field of the callback). ${SCHEMA_NAME.description}` },
      fields: { $ref: '#/$defs/fields' },
    },
    $defs: {
      fields: {
        type: 'object',
        minProperties: 1,
        description: 'Target field (dotted path, e.g. birthDate.value) → rule. Fields are written in this order.',
        additionalProperties: { $ref: '#/$defs/rule' },
      },
      sourcePath: {
        type: 'string',
        minLength: 1,
        description: 'Source path: dotted names with optional [n] indexes (CongDan.Cha[0].HoVaTen). Inside each: relative to the item; $.x starts at the document root; $ is the whole document; @ is the current item; $request.x reads the request this answer belongs to (with request: declared).',
      },
      literal: {
        description: 'A literal JSON value (string, number, boolean, list or object). null and "" are never written.',
      },
      rule: {
        type: 'object',
        description: 'How to compute one target field: exactly one of from, const, concat, each.',
        $comment: 'a rule needs exactly one of from, const, concat or each',
        additionalProperties: false,
        properties: {
          from: { $ref: '#/$defs/sourcePath', description: 'Copy the value at this source path.' },
          const: { $ref: '#/$defs/literal', description: 'Write this literal value.' },
          concat: {
            type: 'array',
            minItems: 1,
            description: 'Join several source values (and { const: "…" } literals) into text; absent parts are skipped; absent when every path part is absent.',
            items: {
              if: { type: 'string' },
              then: { $ref: '#/$defs/sourcePath' },
              else: {
                type: 'object',
                required: ['const'],
                additionalProperties: false,
                properties: { const: { ...SCALAR, description: 'Literal text to include.' } },
              },
            },
          },
          separator: { type: 'string', description: 'Put between concat parts (default "").' },
          fn: {
            type: 'array',
            minItems: 1,
            description: `Functions applied in order (skipped once the value is absent). Allowed: ${FUNCTION_NAMES.join(', ')}.`,
            items: { $ref: '#/$defs/fnCall' },
          },
          default: { $ref: '#/$defs/literal', description: 'Written when the value is absent (undefined, null or "") after from/concat and fn.' },
          when: { $ref: '#/$defs/condition', description: 'Write the field only when this condition holds.' },
          each: { $ref: '#/$defs/sourcePath', description: 'Source list (a single object counts as a one-item list); the field becomes a list with one object per item.' },
          fields: { $ref: '#/$defs/fields', description: 'With each: the fields of every output item; paths are relative to the source item.' },
          description: { type: 'string', description: 'A note for people.' },
        },
        oneOf: ['from', 'const', 'concat', 'each'].map((k) => requires([k])),
        dependentRequired: { each: ['fields'], fields: ['each'], separator: ['concat'] },
      },
      fnCall: {
        description: 'A function of the allow-list: a bare name (trim) or a one-key object with its arguments ({ date: { from: "dd/MM/yyyy", to: iso-date } }).',
        if: { type: 'string' },
        then: { enum: bare, description: 'A function that takes no arguments.' },
        else: {
          type: 'object',
          minProperties: 1,
          maxProperties: 1,
          additionalProperties: false,
          properties: fnProperties,
        },
      },
      condition: {
        type: 'object',
        description: 'A condition on source values (compared as text): { path, equals | notEquals | in | exists }, or { all: […] }, { any: […] }, { not: … }.',
        $comment: 'a condition is { path, equals | notEquals | in | exists } or one of { all: [...] }, { any: [...] }, { not: ... }',
        additionalProperties: false,
        properties: {
          path: { $ref: '#/$defs/sourcePath' },
          equals: { ...SCALAR, description: 'True when String(value) equals this; false when the value is absent.' },
          notEquals: { ...SCALAR, description: 'Opposite of equals (true when the value is absent).' },
          in: { type: 'array', minItems: 1, items: SCALAR, description: 'True when String(value) is one of these.' },
          exists: { type: 'boolean', description: 'true: the value is present (not undefined, null or ""); false: it is absent.' },
          all: { type: 'array', minItems: 1, items: { $ref: '#/$defs/condition' }, description: 'Every condition holds.' },
          any: { type: 'array', minItems: 1, items: { $ref: '#/$defs/condition' }, description: 'At least one condition holds.' },
          not: { $ref: '#/$defs/condition', description: 'The condition does not hold.' },
        },
        oneOf: [
          { ...requires(['path', 'equals']), maxProperties: 2 },
          { ...requires(['path', 'notEquals']), maxProperties: 2 },
          { ...requires(['path', 'in']), maxProperties: 2 },
          { ...requires(['path', 'exists']), maxProperties: 2 },
          { ...requires(['all']), maxProperties: 1 },
          { ...requires(['any']), maxProperties: 1 },
          { ...requires(['not']), maxProperties: 1 },
        ],
      },
    },
  };
}

export function mappingTestSchema(): JsonSchemaObject {
  return {
    $schema: DIALECT,
    $id: `${CONFIG_BASE}mapping-test.schema.json`,
    title: 'lienthong mapping golden tests',
    description: 'Golden input/output cases for one mapping, run by `lienthong test` and `lienthong check`.',
    type: 'object',
    required: ['mapping', 'cases'],
    additionalProperties: false,
    properties: {
      $schema: { type: 'string', description: 'Path to this JSON Schema, for editors.' },
      description: { type: 'string', description: 'What these cases cover.' },
      mapping: { type: 'string', minLength: 1, pattern: '\\.ya?ml$', description: 'The mapping file under test, relative to this file (e.g. citizen-lookup.in.yaml).' },
      cases: {
        type: 'array',
        minItems: 1,
        description: 'The cases, run in order.',
        items: {
          type: 'object',
          required: ['name', 'input'],
          additionalProperties: false,
          $comment: 'a case needs at least one of equals, contains, schema or error_matches',
          properties: {
            name: { type: 'string', minLength: 1, description: 'Unique name of the case (fictitious people only).' },
            description: { type: 'string', description: 'A note for people.' },
            input: { description: 'The source document.' },
            request: { description: 'The request this answer belongs to, read by $request paths (mappings that declare request: only).' },
            equals: { description: 'The output must equal this exactly (deep equality).' },
            contains: { description: 'The output must contain this (recursive subset; lists compare item by item and must have the same length).' },
            schema: { type: 'boolean', description: 'true: the output must be valid against the target schema.' },
            error_matches: { type: 'string', minLength: 1, description: 'The mapping must fail, and this regular expression must match its message or detail (field, reason, code).' },
            inputSchema: { type: 'boolean', description: 'false: the input (and request) need not be valid against the mapping\'s source (and request) schema. By default they must be: the hub refuses an invalid message before mapping it, so a case on such an input tests nothing that can happen. Use false only to test the mapping\'s own defences.' },
          },
          anyOf: ['equals', 'contains', 'schema', 'error_matches'].map((k) => requires([k])),
        },
      },
    },
  };
}

export function codeTableSchema(): JsonSchemaObject {
  return {
    $schema: DIALECT,
    $id: `${CONFIG_BASE}code-table.schema.json`,
    title: 'lienthong code table',
    description: 'Translates codes of one system into another (used by the mapping function `code`).',
    type: 'object',
    required: ['name', 'entries'],
    additionalProperties: false,
    properties: {
      $schema: { type: 'string', description: 'Path to this JSON Schema, for editors.' },
      name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', description: 'Global name of the table, used as { code: <name> } in mappings.' },
      description: { type: 'string', description: 'What the codes mean and where they come from.' },
      entries: {
        type: 'object',
        minProperties: 1,
        description: 'Incoming code (as text) → outgoing value. Quote codes that look like numbers: "1": SUBMITTED.',
        additionalProperties: { ...SCALAR, description: 'The translated value.' },
      },
      default: { ...SCALAR, description: 'Value for codes not listed; without it an unlisted code fails the mapping.' },
    },
  };
}

export const CONFIG_SCHEMA_FILES = Object.freeze({
  'mapping.schema.json': mappingSchema,
  'mapping-test.schema.json': mappingTestSchema,
  'code-table.schema.json': codeTableSchema,
});
