/**
 * The hub's one JSON Schema engine: Ajv2020, configured for an interoperability bus
 * (STACK.md §5): nothing silently removed or coerced, fail fast on public input, every schema
 * compiled once at load. One instance per hub; do not create one per message.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsImport from 'ajv-formats';
import { HUB_FORMATS, ISO_FORMATS } from './formats.js';

// ajv-formats is CommonJS with `exports.default`; under NodeNext the default import is the module object's type
const addFormats = addFormatsImport as unknown as typeof addFormatsImport.default;

/** Values of the `x-pii` annotation: personal data, and how sensitive it is (Decree 13/2023). */
export const PII_LEVELS = ['basic', 'sensitive'] as const;
export type PiiLevel = (typeof PII_LEVELS)[number];

export function createAjv(options: { allErrors?: boolean; coerceTypes?: boolean } = {}): Ajv2020 {
  const ajv = new Ajv2020({
    strict: true,
    // `type: ["string", "null"]` is ordinary in integration schemas; strict mode would refuse it
    allowUnionTypes: true,
    // Public endpoints fail fast (allErrors is a DoS vector there); config checks want every problem at once.
    allErrors: options.allErrors ?? false,
    removeAdditional: false,
    // Config only: a value from the environment is text, and becomes a number or flag where its schema wants one.
    coerceTypes: options.coerceTypes ?? false,
    useDefaults: false,
    addUsedSchema: false,
    validateFormats: true,
  });
  addFormats(ajv, [...ISO_FORMATS] as Parameters<typeof addFormats>[1] & string[]);
  for (const format of HUB_FORMATS) ajv.addFormat(format.name, { type: 'string', validate: format.validate });

  // annotation keywords: validated as schema content, no effect on validation
  ajv.addKeyword({ keyword: 'x-pii', schemaType: 'string', metaSchema: { enum: [...PII_LEVELS] } });
  ajv.addKeyword({ keyword: 'x-note', schemaType: 'string' });
  return ajv;
}
