/**
 * ajv errors → the hub's ErrorDetail list. The field is a dotted path (`applicant.contacts[0].phone`,
 * or the missing property for `required`), the reason is Vietnamese + English, the code is the
 * ajv keyword. Values from the payload never appear: only names and limits from the schema.
 */
import type { ErrorObject } from 'ajv/dist/2020.js';
import type { ErrorDetail } from '../core/errors.js';
import { showName } from '../core/personal-data.js';
import { formatMessage } from './formats.js';

/** Each JSON type's name in Vietnamese; English uses JSON Schema's own. */
const TYPE_NAMES_VI: Record<string, string> = {
  string: 'chuỗi',
  number: 'số',
  integer: 'số nguyên',
  boolean: 'true/false',
  object: 'đối tượng',
  array: 'mảng',
};

const MAX_LISTED = 20;

/**
 * A payload's JSON pointer (`/a/0/b~1c`) as a dotted path (`a[0].b/c`); a key that does not look like a field name
 * (a caller's own, perhaps a person's name or ID) is not shown.
 */
export function pointerToPath(pointer: string): string {
  if (pointer === '') return '';
  let path = '';
  for (const raw of pointer.split('/').slice(1)) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(token)) path += `[${token}]`;
    else path += path === '' ? showName(token) : `.${showName(token)}`;
  }
  return path;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function show(v: unknown): string {
  return typeof v === 'string' ? `"${v}"` : JSON.stringify(v) ?? String(v);
}

function list(values: unknown): string {
  if (!Array.isArray(values)) return '';
  const shown = values.slice(0, MAX_LISTED).map(show).join(', ');
  return values.length > MAX_LISTED ? `${shown}, … (${values.length} values)` : shown;
}

function typeName(t: unknown, names: Record<string, string> = {}): string {
  if (Array.isArray(t)) return t.map((one) => typeName(one, names)).join(' | ');
  return typeof t === 'string' ? (names[t] ?? t) : String(t);
}

function describe(error: ErrorObject): string {
  const p = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return 'thiếu trường bắt buộc / required field is missing';
    case 'dependentRequired':
      return `thiếu trường bắt buộc khi có "${String(p.property)}" / required when "${String(p.property)}" is present`;
    case 'type':
      return `phải có kiểu ${typeName(p.type, TYPE_NAMES_VI)} / must be of type ${typeName(p.type)}`;
    case 'format': {
      const name = String(p.format);
      return formatMessage(name) ?? `không đúng định dạng "${name}" / must match format "${name}"`;
    }
    case 'enum':
      return `phải là một trong các giá trị: ${list(p.allowedValues)} / must be one of: ${list(p.allowedValues)}`;
    case 'const':
      return `phải bằng ${show(p.allowedValue)} / must equal ${show(p.allowedValue)}`;
    case 'pattern':
      return `không khớp mẫu ${String(p.pattern)} / must match the pattern ${String(p.pattern)}`;
    case 'minLength':
      return `phải có ít nhất ${String(p.limit)} ký tự / must have at least ${String(p.limit)} characters`;
    case 'maxLength':
      return `không được quá ${String(p.limit)} ký tự / must have at most ${String(p.limit)} characters`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `phải ${String(p.comparison)} ${String(p.limit)} / must be ${String(p.comparison)} ${String(p.limit)}`;
    case 'multipleOf':
      return `phải là bội số của ${String(p.multipleOf)} / must be a multiple of ${String(p.multipleOf)}`;
    case 'minItems':
      return `phải có ít nhất ${String(p.limit)} phần tử / must have at least ${String(p.limit)} items`;
    case 'maxItems':
      return `không được quá ${String(p.limit)} phần tử / must have at most ${String(p.limit)} items`;
    case 'uniqueItems':
      return `phần tử ${String(p.j)} và ${String(p.i)} trùng nhau / items ${String(p.j)} and ${String(p.i)} are identical`;
    case 'minProperties':
      return `phải có ít nhất ${String(p.limit)} trường / must have at least ${String(p.limit)} properties`;
    case 'maxProperties':
      return `không được quá ${String(p.limit)} trường / must have at most ${String(p.limit)} properties`;
    case 'additionalProperties':
      return 'trường không được khai báo trong lược đồ / property is not allowed by the schema';
    case 'unevaluatedProperties':
      return 'trường không được khai báo trong lược đồ / property is not allowed by the schema';
    case 'unevaluatedItems':
    case 'additionalItems':
      return `không được quá ${String(p.limit)} phần tử / must have at most ${String(p.limit)} items`;
    case 'propertyNames':
      return 'tên trường không hợp lệ / property name is invalid';
    case 'contains':
    case 'minContains':
    case 'maxContains':
      return 'mảng không chứa đủ phần tử hợp lệ / array does not contain the required items';
    case 'anyOf':
      return 'không khớp với dạng nào được phép / does not match any allowed shape';
    case 'oneOf':
      return 'phải khớp đúng một dạng được phép / must match exactly one allowed shape';
    case 'not':
      return 'có dạng không được phép / has a shape that is not allowed';
    case 'if':
      return `không thỏa điều kiện "${String(p.failingKeyword)}" / does not satisfy the "${String(p.failingKeyword)}" branch`;
    case 'false schema':
      return 'trường không được phép / value is not allowed here';
    default:
      return `không hợp lệ (${error.keyword}) / invalid (${error.keyword})`;
  }
}

function fieldOf(error: ErrorObject): string | undefined {
  const path = pointerToPath(error.instancePath);
  const p = error.params as Record<string, unknown>;
  if (error.keyword === 'required' || error.keyword === 'dependentRequired') {
    return typeof p.missingProperty === 'string' ? join(path, p.missingProperty) : path || undefined;
  }
  // a property the schema does not declare is named by the caller: shown only when it looks like a field name
  if (error.keyword === 'additionalProperties' && typeof p.additionalProperty === 'string') return join(path, showName(p.additionalProperty));
  if (error.keyword === 'unevaluatedProperties' && typeof p.unevaluatedProperty === 'string') return join(path, showName(p.unevaluatedProperty));
  return path || undefined;
}

export function toErrorDetails(errors: readonly ErrorObject[] | null | undefined): ErrorDetail[] {
  if (!errors) return [];
  const out: ErrorDetail[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    // with propertyNames, ajv adds the invalid *name* (payload) as `propertyName`: never shown
    const detail: ErrorDetail = { reason: describe(error), code: error.keyword };
    const field = fieldOf(error);
    if (field !== undefined) detail.field = field;
    const key = `${detail.field ?? ''}\u0000${detail.code ?? ''}\u0000${detail.reason}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(detail);
  }
  return out;
}
