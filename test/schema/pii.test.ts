import { describe, expect, it } from 'vitest';
import { createAjv } from '../../src/schema/ajv.js';
import { piiFields } from '../../src/schema/pii.js';
import { idForName, SchemaSet, type JsonSchema } from '../../src/schema/set.js';

const commonId = idForName('canonical/Common');
const recordId = idForName('canonical/CitizenRecord');

const common: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: commonId,
  $defs: {
    PersonalId: { type: 'string', format: 'personalId', 'x-pii': 'basic' },
    Address: {
      type: 'object',
      properties: { provinceCode: { type: 'string' }, detail: { type: 'string', 'x-pii': 'basic' } },
    },
  },
};

const record: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: recordId,
  type: 'object',
  properties: {
    messageType: { const: 'CitizenRecord' },
    personalId: { $ref: 'Common.json#/$defs/PersonalId' },
    name: {
      type: 'object',
      'x-pii': 'basic',
      properties: { family: { type: 'string' }, given: { type: 'string', 'x-pii': 'basic' } },
    },
    ethnicity: { allOf: [{ type: 'string' }, { 'x-pii': 'sensitive' }] },
    addresses: { type: 'object', additionalProperties: { $ref: 'Common.json#/$defs/Address' } },
    relatives: { type: 'array', items: { $ref: '#/$defs/Relative' } },
    notes: { type: 'array', prefixItems: [{ type: 'string', 'x-pii': 'basic' }, { type: 'string' }], minItems: 2, items: false },
    'ho.ten': { type: 'string', 'x-pii': 'basic' },
  },
  $defs: {
    Relative: {
      type: 'object',
      properties: {
        relation: { type: 'string' },
        personalId: { $ref: '../canonical/Common.json#/$defs/PersonalId' },
        religion: { type: 'string', 'x-pii': 'sensitive' },
        relatives: { type: 'array', items: { $ref: '#/$defs/Relative' } },
      },
    },
  },
};

const schemas = new SchemaSet([common, record]);

/** The annotated paths alone. */
const piiPaths = (schema: JsonSchema, set: SchemaSet, baseId: string) => piiFields(schema, set, baseId).map((f) => f.path);

describe('piiFields', () => {
  it('finds annotated properties through $ref, allOf, items, additionalProperties and prefixItems', () => {
    expect(piiPaths(record, schemas, recordId)).toEqual([
      'addresses.*.detail',
      'ethnicity',
      'name',
      'notes[0]',
      'personalId',
      'relatives[*].personalId',
      'relatives[*].religion',
      '["ho.ten"]',
    ].sort());
  });

  it('an annotated object covers its subtree (name.given is not listed on its own)', () => {
    expect(piiPaths(record, schemas, recordId)).not.toContain('name.given');
  });

  it('stops on recursive schemas instead of looping', () => {
    const paths = piiPaths(record, schemas, recordId);
    expect(paths.filter((p) => p.startsWith('relatives[*].relatives'))).toEqual([]);
  });

  it('reports levels, sensitive winning', () => {
    const fields = piiFields(record, schemas, recordId);
    expect(fields.find((f) => f.path === 'ethnicity')?.level).toBe('sensitive');
    expect(fields.find((f) => f.path === 'personalId')?.level).toBe('basic');
  });

  it('an annotated root is the empty path', () => {
    const id = idForName('test/Id');
    const schema: JsonSchema = { $id: id, type: 'string', 'x-pii': 'basic' };
    expect(piiPaths(schema, new SchemaSet([schema]), id)).toEqual(['']);
  });

  it('the annotated schemas compile with the hub ajv', () => {
    const ajv = createAjv();
    ajv.addSchema(common);
    const validate = ajv.compile(record);
    expect(validate({ personalId: '038095999901', name: { family: 'Trần', given: 'Thử' }, relatives: [{ personalId: '001199999902' }] })).toBe(true);
    expect(validate({ personalId: '003095999901' })).toBe(false);
  });
});
