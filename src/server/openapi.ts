import type { SchemaSet, JsonSchema } from '../schema/set.js';

/**
 * Schemas for the OpenAPI document only: `$ref`s across files inlined, so the browsable docs show
 * each native and canonical message whole. Validation never uses these copies.
 */
export function documentedSchema(schemas: SchemaSet, name: string): JsonSchema | undefined {
  const resolved = schemas.byName(name);
  return resolved ? (inline(schemas, resolved.schema, resolved.baseId, 0) as JsonSchema) : undefined;
}

function inline(schemas: SchemaSet, node: unknown, baseId: string, depth: number): unknown {
  if (depth > 32) return {};
  if (Array.isArray(node)) return node.map((item) => inline(schemas, item, baseId, depth + 1));
  if (!node || typeof node !== 'object') return node;
  const source = node as Record<string, unknown>;
  if (typeof source.$ref === 'string') {
    const target = schemas.resolveRef(baseId, source.$ref);
    const { $ref: _ref, ...siblings } = source;
    const expanded = target ? (inline(schemas, target.schema, target.baseId, depth + 1) as Record<string, unknown>) : {};
    return { ...expanded, ...(inline(schemas, siblings, baseId, depth + 1) as Record<string, unknown>) };
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(source)) {
    if (key === '$id' || key === '$schema' || key === '$defs') continue;
    out[key] = inline(schemas, value, baseId, depth + 1);
  }
  return out;
}

export const problemSchema: JsonSchema = {
  type: 'object',
  description: 'Lỗi có cấu trúc / structured error (problem+json). The type prefix names the stage: client., mapping., schema., trust., transport., server.',
  properties: {
    type: { type: 'string', examples: ['client.schema-violation'] },
    status: { type: 'integer' },
    message: { type: 'string' },
    detail: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, reason: { type: 'string' }, code: { type: 'string' } } } },
    messageId: { type: 'string', format: 'uuid' },
    logId: { type: 'string', description: 'The request id on every log line of this request.' },
  },
  required: ['type', 'status', 'message', 'detail', 'logId'],
};
