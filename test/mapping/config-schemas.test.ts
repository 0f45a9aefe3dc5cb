import { describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { CONFIG_SCHEMA_FILES, FUNCTION_NAMES, FUNCTIONS, mappingSchema } from '../../src/mapping/index.js';

// That schemas/config/ holds these schemas as they are: test/config/schema-files.test.ts.
describe('config JSON Schemas', () => {
  it.each(Object.entries(CONFIG_SCHEMA_FILES))('%s compiles under full strict mode, with $id and descriptions', (file, make) => {
    const schema = make();
    expect(schema.$id).toBe(`https://lienthong.invalid/schemas/config/${file}`);
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(typeof schema.description).toBe('string');
    expect((schema.properties as Record<string, unknown>).$schema).toBeDefined();
    const warnings: unknown[] = [];
    const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, logger: { log: () => {}, warn: (...a: unknown[]) => warnings.push(a), error: (...a: unknown[]) => warnings.push(a) } });
    ajv.compile(schema);
    expect(warnings).toEqual([]);
  });

  it('lists every allow-listed function, bare or with its arguments', () => {
    const fnCall = ((mappingSchema().$defs as Record<string, Record<string, Record<string, unknown>>>).fnCall)!;
    const bare = fnCall.then!.enum as string[];
    const withArgs = Object.keys(fnCall.else!.properties as object);
    expect([...bare, ...withArgs].sort()).toEqual([...FUNCTION_NAMES].sort());
    for (const name of withArgs) expect(FUNCTIONS[name]!.args).toBeDefined();
  });

  it.each(FUNCTION_NAMES.filter((n) => FUNCTIONS[n]!.args))('arguments schema of %s compiles under strict mode without warnings', (name) => {
    const warnings: unknown[] = [];
    const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, logger: { log: () => {}, warn: (...a: unknown[]) => warnings.push(a), error: (...a: unknown[]) => warnings.push(a) } });
    ajv.compile(FUNCTIONS[name]!.args!);
    expect(warnings).toEqual([]);
  });
});
