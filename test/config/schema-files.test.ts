import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_SCHEMA_DIR, expectedSchemaFiles } from '../../src/config/write-schemas.js';

/**
 * schemas/config/ is what the loader validates connectors and hub.yaml against (and what editors read): every part of
 * it whose rules live in code must be written from that code, never kept by hand beside it.
 */
describe('schemas/config/ against the code that defines it', () => {
  const expected = expectedSchemaFiles();

  it('covers the mapping schemas, the checksum setting and the access rights', () => {
    expect([...expected.keys()].sort()).toEqual(['code-table.schema.json', 'connector.schema.json', 'hub.schema.json', 'mapping-test.schema.json', 'mapping.schema.json']);
  });

  it.each([...expected.keys()])('schemas/config/%s is up to date (run: node --import tsx src/config/write-schemas.ts)', (file) => {
    expect(readFileSync(`${CONFIG_SCHEMA_DIR}${file}`, 'utf8')).toBe(expected.get(file));
  });
});
