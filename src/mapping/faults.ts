import { HubError, type ErrorDetail } from '../core/errors.js';
import { maskDigitRuns } from '../core/personal-data.js';

/**
 * A value a mapping function cannot handle. Thrown by the allow-listed functions without a field
 * (they do not know where they run); the compiled mapping adds the target field path on the way
 * out. Reasons name types, patterns, tables and codes, never payload values.
 */
export function fault(code: string, reason: string): never {
  throw new HubError('mapping.failed', reason, { detail: [{ reason, code }] });
}

/**
 * Text of a code value to show: codes are short identifiers, but a table may be misapplied to a free-text field, so
 * the value is bounded and its long digit runs masked.
 */
export function showCode(key: string): string {
  return JSON.stringify(maskDigitRuns(key.length > 32 ? `${key.slice(0, 32)}…` : key));
}

export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/**
 * Internal: a failure inside a compiled mapping, with the target field path as far as it is
 * known so far. Nested `each` functions prefix their path on the way out; `run()` turns it into
 * the public HubError('mapping.failed').
 */
export class FieldFault extends Error {
  constructor(
    public field: string,
    public readonly reason: string,
    public readonly code: string,
    public readonly original: unknown,
  ) {
    super(reason);
  }
}

/** Wraps anything a rule threw with the target field where it happened. */
export function toFieldFault(error: unknown, field: string): FieldFault {
  if (error instanceof FieldFault) {
    error.field = error.field ? `${field}.${error.field}` : field;
    return error;
  }
  if (error instanceof HubError) {
    const first: ErrorDetail | undefined = error.detail[0];
    if (error.type === 'mapping.failed') return new FieldFault(field, first?.reason ?? error.message, first?.code ?? 'mapping-failed', error);
    // e.g. client.bad-xml from base64Xml: the payload is bad, reported as a mapping failure of that field
    return new FieldFault(field, first?.reason ?? error.message, first?.code ?? error.type, error);
  }
  throw error; // not ours: a bug, surfaces as server.internal
}

export function toHubError(mappingId: string, error: FieldFault): HubError {
  const where = error.field ? ` at ${error.field}` : '';
  return new HubError('mapping.failed', `Không ánh xạ được dữ liệu / mapping ${mappingId} failed${where}: ${error.reason}`, {
    detail: [error.field ? { field: error.field, reason: error.reason, code: error.code } : { reason: error.reason, code: error.code }],
    cause: error.original,
  });
}
