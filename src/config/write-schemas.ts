/**
 * Writes what schemas/config/ holds of rules that live in code, from the one definition of each:
 *   - mapping, mapping-test and code-table schemas, whole (mapping/config-schemas.ts);
 *   - a connector's checksum setting, `$defs.Checksum` of connector.schema.json (trust/checksum.ts);
 *   - the hub's access rights, `properties.access` of hub.schema.json (trust/access.ts).
 * The rest of connector.schema.json and hub.schema.json is written by hand.
 *   node --import tsx src/config/write-schemas.ts
 * test/config/schema-files.test.ts fails when a file is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CONFIG_SCHEMA_FILES } from '../mapping/config-schemas.js';
import type { JsonSchema } from '../schema/set.js';
import { accessRightsConfigSchema } from '../trust/access.js';
import { checksumSettingSchema } from '../trust/checksum.js';

export const CONFIG_SCHEMA_DIR = fileURLToPath(new URL('../../schemas/config/', import.meta.url));

/** A generated schema and where it goes: a file, and the path inside it ([] for the whole file). */
interface Generated {
  file: string;
  at: string[];
  make: () => JsonSchema;
}

const GENERATED: readonly Generated[] = [
  ...Object.entries(CONFIG_SCHEMA_FILES).map(([file, make]) => ({ file, at: [], make })),
  { file: 'connector.schema.json', at: ['$defs', 'Checksum'], make: checksumSettingSchema },
  { file: 'hub.schema.json', at: ['properties', 'access'], make: accessRightsConfigSchema },
];

export function renderSchema(schema: unknown): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}

/** Every file of schemas/config/ that holds generated schemas, as it should read now. */
export function expectedSchemaFiles(): Map<string, string> {
  const files = new Map<string, unknown>();
  for (const { file, at, make } of GENERATED) {
    if (at.length === 0) {
      files.set(file, make());
      continue;
    }
    const document = files.get(file) ?? JSON.parse(readFileSync(`${CONFIG_SCHEMA_DIR}${file}`, 'utf8'));
    const parent = at.slice(0, -1).reduce((node: Record<string, unknown>, key) => node[key] as Record<string, unknown>, document as Record<string, unknown>);
    if (typeof parent !== 'object' || parent === null) throw new Error(`schemas/config/${file} has no ${at.slice(0, -1).join('.')} to hold the generated ${at.join('.')}`);
    parent[at.at(-1)!] = make();
    files.set(file, document);
  }
  return new Map([...files].map(([file, document]) => [file, renderSchema(document)]));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [file, text] of expectedSchemaFiles()) {
    writeFileSync(`${CONFIG_SCHEMA_DIR}${file}`, text);
    process.stdout.write(`wrote schemas/config/${file}\n`);
  }
}
