/**
 * Writes schemas/config/{mapping,mapping-test,code-table}.schema.json from config-schemas.ts.
 *   node --import tsx src/mapping/write-schemas.ts
 * test/mapping/config-schemas.test.ts fails when the files are out of date.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CONFIG_SCHEMA_FILES } from './config-schemas.js';

export const CONFIG_SCHEMA_DIR = fileURLToPath(new URL('../../schemas/config/', import.meta.url));

export function renderSchema(schema: unknown): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [file, make] of Object.entries(CONFIG_SCHEMA_FILES)) {
    writeFileSync(`${CONFIG_SCHEMA_DIR}${file}`, renderSchema(make()));
    process.stdout.write(`wrote schemas/config/${file}\n`);
  }
}
