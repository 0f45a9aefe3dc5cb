/**
 * The function allow-list of the mapping language. A mapping can call these and nothing else:
 * config names a function, the loader looks it up here with `Object.hasOwn`, validates its
 * arguments against the entry's `args` schema (and `checkArgs`), and the compiler binds the
 * arguments once, at load, into a closure. No text from config ever becomes code.
 *
 * Each entry declares what it accepts and what it produces so that `checkMapping` can find type
 * mistakes before the first message. The whole table, and every entry, is frozen. The JSON
 * Schema of mapping files (`schemas/config/mapping.schema.json`) is generated from this table
 * (see config-schemas.ts), so the editor's autocomplete and the loader never disagree.
 */
import { Buffer } from 'node:buffer';
import { checkPattern, convertDate } from '../schema/dates.js';
import { parseXmlSafely } from '../codec/xml.js';
import type { CodeTable } from './codes.js';
import { fault, showCode, typeName } from './faults.js';
import { literalType, unionTypes, UNKNOWN, type JsonType, type ValueType } from './types.js';

export type JsonSchemaObject = Record<string, unknown>;

export interface FnContext {
  codeTables: ReadonlyMap<string, CodeTable>;
}

/** One bound function, ready to run: `value` is never absent (undefined, null, ""). */
export type BoundFn = (value: unknown) => unknown;

export interface FnSpec {
  readonly name: string;
  /** One line for docs and editor tooltips. */
  readonly summary: string;
  /** Example of a call, as written in YAML. */
  readonly example: string;
  /** JSON Schema of the arguments; absent: the function takes none and is written as a bare name. */
  readonly args?: JsonSchemaObject;
  /** Types of value the function accepts ('any' for all). */
  readonly input: readonly JsonType[] | 'any';
  /** The type it produces, given the incoming type (static check only). */
  output(input: ValueType, args: unknown, ctx: FnContext | undefined): ValueType;
  /** Checks beyond the args schema, at load; a message when the arguments are unusable. */
  checkArgs?(args: unknown): string | undefined;
  /** Binds the arguments; called once per mapping at compile time. */
  bind(args: unknown, ctx: FnContext): BoundFn;
  /**
   * A pure function of a scalar: the checker may run it over a source `enum` to know the exact
   * values it produces (e.g. to check a `code` table covers every case).
   */
  readonly mapsEnum?: boolean;
}

const STRING: readonly JsonType[] = ['string'];
const SCALAR: readonly JsonType[] = ['string', 'number', 'integer', 'boolean'];
const str = (): ValueType => ({ types: STRING });

function needString(fn: string, value: unknown): string {
  if (typeof value !== 'string') fault('bad-type', `${fn} expects text, got ${typeName(value)}`);
  return value;
}

function stringFn(name: string, summary: string, f: (s: string) => string, example = name): FnSpec {
  return {
    name, summary, example, input: STRING, mapsEnum: true,
    output: str,
    bind: () => (v) => f(needString(name, v)),
  };
}

/** Vietnamese without marks: NFD, drop combining marks (sắc, huyền, hỏi, ngã, nặng, mũ, móc, trăng), đ→d, Đ→D, back to NFC. */
export function stripDiacritics(s: string): string {
  return s.normalize('NFD').replace(/\p{M}+/gu, '').replace(/đ/g, 'd').replace(/Đ/g, 'D').normalize('NFC');
}

const DECIMAL = /^-?\d+(?:\.\d+)?$/;
const INTEGER = /^-?\d+$/;

function toNumber(name: string, v: unknown, integer: boolean): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string') {
    const t = v.trim();
    if (!(integer ? INTEGER : DECIMAL).test(t)) fault('bad-number', `${name} expects ${integer ? 'an integer' : 'a decimal number'} written with digits${integer ? '' : " and an optional '.' fraction"}`);
    n = Number(t);
  } else fault('bad-type', `${name} expects text or a number, got ${typeName(v)}`);
  if (!Number.isFinite(n)) fault('bad-number', `${name}: number out of range`);
  if (integer && !Number.isSafeInteger(n)) fault('bad-number', `${name} expects an integer (at most 15 digits)`);
  return n;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeBase64(name: string, v: unknown): string {
  const text = needString(name, v).replace(/[\t\n\r ]+/g, '');
  if (!BASE64.test(text)) fault('bad-base64', `${name} expects base64 text (A–Z, a–z, 0–9, +, /, = padding)`);
  try {
    return utf8.decode(Buffer.from(text, 'base64'));
  } catch {
    return fault('bad-base64', `${name}: the decoded bytes are not UTF-8 text`);
  }
}

function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [v];
}

interface CodeArgs { table: string; default?: unknown; hasDefault: boolean }

function codeArgs(args: unknown): CodeArgs {
  if (typeof args === 'string') return { table: args, hasDefault: false };
  const a = args as { table: string; default?: unknown };
  return { table: a.table, default: a.default, hasDefault: Object.hasOwn(a, 'default') };
}

/** Lookup maps per table entries object (a table's entries are frozen and shared). */
const lookups = new WeakMap<object, Map<string, unknown>>();
function lookupOf(table: CodeTable): Map<string, unknown> {
  let map = lookups.get(table.entries);
  if (!map) {
    map = new Map(Object.entries(table.entries));
    lookups.set(table.entries, map);
  }
  return map;
}

const SCALAR_SCHEMA = { type: ['string', 'number', 'boolean'] };

const specs: FnSpec[] = [
  stringFn('trim', 'Removes leading and trailing white space.', (s) => s.trim()),
  stringFn('upper', 'UPPER CASE (Unicode, locale-independent).', (s) => s.toUpperCase()),
  stringFn('lower', 'lower case (Unicode, locale-independent).', (s) => s.toLowerCase()),
  stringFn('nfc', 'Unicode NFC normalisation (one code point per Vietnamese letter).', (s) => s.normalize('NFC')),
  stringFn('stripDiacritics', 'Removes Vietnamese marks: "Trần Văn Thử" → "Tran Van Thu" (same as diacritics: strip).', stripDiacritics),
  {
    name: 'diacritics',
    summary: 'strip: remove Vietnamese marks (đ→d); keep: NFC-normalise and keep them.',
    example: '{ diacritics: strip }',
    args: { enum: ['strip', 'keep'], description: 'strip: "Trần Văn Thử" → "Tran Van Thu"; keep: NFC normalisation only.' },
    input: STRING,
    mapsEnum: true,
    output: str,
    bind: (args) => (args === 'strip' ? (v) => stripDiacritics(needString('diacritics', v)) : (v) => needString('diacritics', v).normalize('NFC')),
  },
  {
    name: 'date',
    summary: 'Rewrites a date or date-time from one pattern to another (Asia/Ho_Chi_Minh, strict).',
    example: '{ date: { from: "dd/MM/yyyy", to: iso-date } }',
    args: {
      type: 'object',
      description: 'Patterns use yyyy yy MM dd HH mm ss SSS and literal separators, or iso (yyyy-MM-ddTHH:mm:ss+07:00) / iso-date (yyyy-MM-dd).',
      required: ['from', 'to'],
      additionalProperties: false,
      properties: {
        from: { type: 'string', minLength: 1, description: 'Pattern of the incoming value, e.g. "dd/MM/yyyy" or "yyyyMMddHHmmss".' },
        to: { type: 'string', minLength: 1, description: 'Pattern to write, e.g. iso-date or iso.' },
      },
    },
    input: STRING,
    checkArgs: (args) => {
      const a = args as { from: string; to: string };
      const bad = checkPattern(a.from) ?? checkPattern(a.to);
      return bad;
    },
    output: str,
    bind: (args) => {
      const { from, to } = args as { from: string; to: string };
      return (v) => convertDate(needString('date', v), from, to);
    },
  },
  {
    name: 'code',
    summary: 'Translates a code through a code table (mappings/**/codes/*.yaml); unmapped codes fail unless a default is set.',
    example: '{ code: dvcqg-status }  or  { code: { table: dvcqg-status, default: "0" } }',
    args: {
      description: 'The code table name, or { table, default }.',
      if: { type: 'string' },
      then: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', description: 'Name of a code table.' },
      else: {
        type: 'object',
        required: ['table'],
        additionalProperties: false,
        properties: {
          table: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', description: 'Name of a code table.' },
          default: { ...SCALAR_SCHEMA, description: 'Value for codes the table does not list (overrides the table default).' },
        },
      },
    },
    input: SCALAR,
    mapsEnum: true,
    output: (_input, args, ctx) => {
      const a = codeArgs(args);
      const table = ctx?.codeTables.get(a.table);
      if (!table) return UNKNOWN;
      const values = Object.values(table.entries);
      if (a.hasDefault) values.push(a.default);
      else if (table.hasDefault) values.push(table.default);
      return unionTypes(values.map(literalType));
    },
    bind: (args, ctx) => {
      const a = codeArgs(args);
      const table = ctx.codeTables.get(a.table);
      if (!table) throw new Error(`unknown code table "${a.table}"`);
      const map = lookupOf(table);
      const name = table.name;
      const hasDefault = a.hasDefault || table.hasDefault;
      const fallback = a.hasDefault ? a.default : table.default;
      return (v) => {
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') fault('bad-type', `code table "${name}" maps text, numbers or booleans, got ${typeName(v)}`);
        const key = String(v);
        const out = map.get(key);
        if (out !== undefined) return out;
        if (hasDefault) return fallback;
        return fault('unmapped-code', `code ${showCode(key)} has no entry in code table "${name}" (add it to entries or give the table a default)`);
      };
    },
  },
  {
    name: 'number', summary: 'Text or number → number; strict decimal syntax ("12", "-3.5"), white space trimmed.', example: 'number',
    input: ['string', 'number', 'integer'], mapsEnum: true, output: () => ({ types: ['number'] }),
    bind: () => (v) => toNumber('number', v, false),
  },
  {
    name: 'integer', summary: 'Text or number → integer; strict ("42", "-7"), white space trimmed.', example: 'integer',
    input: ['string', 'number', 'integer'], mapsEnum: true, output: () => ({ types: ['integer'] }),
    bind: () => (v) => toNumber('integer', v, true),
  },
  {
    name: 'string', summary: 'Any scalar → its text (42 → "42", true → "true").', example: 'string',
    input: SCALAR, mapsEnum: true, output: str,
    bind: () => (v) => {
      if (typeof v === 'string') return v;
      if (typeof v === 'number' || typeof v === 'boolean') return String(v);
      return fault('bad-type', `string expects a scalar, got ${typeName(v)}`);
    },
  },
  {
    name: 'boolean', summary: '"true"/"false"/"1"/"0" (any case), 1/0 or a boolean → boolean.', example: 'boolean',
    input: ['string', 'boolean', 'integer'], mapsEnum: true, output: () => ({ types: ['boolean'] }),
    bind: () => (v) => {
      if (typeof v === 'boolean') return v;
      if (v === 1 || v === 0) return v === 1;
      if (typeof v === 'string') {
        const t = v.trim().toLowerCase();
        if (t === 'true' || t === '1') return true;
        if (t === 'false' || t === '0') return false;
        return fault('bad-boolean', 'boolean expects "true", "false", "1" or "0"');
      }
      return fault('bad-type', `boolean expects text, 0/1 or a boolean, got ${typeName(v)}`);
    },
  },
  {
    name: 'idType', summary: 'Kind of personal id: 12 digits → "CCCD", 9 digits → "CMND", anything else fails.', example: 'idType',
    input: STRING, mapsEnum: true, output: () => ({ types: STRING, enum: ['CCCD', 'CMND'] }),
    bind: () => (v) => {
      const s = needString('idType', v);
      if (/^\d{12}$/.test(s)) return 'CCCD';
      if (/^\d{9}$/.test(s)) return 'CMND';
      return fault('bad-id', 'idType expects a 12-digit CCCD or a 9-digit CMND number');
    },
  },
  {
    name: 'split', summary: 'Splits text on a separator into a list of texts.', example: '{ split: "," }',
    args: { type: 'string', minLength: 1, description: 'The separator (not a regular expression).' },
    input: STRING, output: () => ({ types: ['array'], item: str }),
    bind: (sep) => (v) => needString('split', v).split(sep as string),
  },
  {
    name: 'join', summary: 'Joins a list of scalars with a separator (absent items skipped; a single value is a one-item list).', example: '{ join: ", " }',
    args: { type: 'string', description: 'The separator, may be "".' },
    input: ['array', 'string', 'number', 'integer', 'boolean'], output: str,
    bind: (sep) => (v) => {
      const parts: string[] = [];
      for (const item of asList(v)) {
        if (item === undefined || item === null || item === '') continue;
        if (typeof item === 'string') parts.push(item);
        else if (typeof item === 'number' || typeof item === 'boolean') parts.push(String(item));
        else fault('bad-type', `join expects a list of scalars, found ${typeName(item)}`);
      }
      return parts.join(sep as string);
    },
  },
  {
    name: 'slice', summary: 'Part of a text by character positions [start, end) (negative counts from the end), like JavaScript slice.', example: 'slice: [0, 8]',
    args: {
      type: 'array', minItems: 1, maxItems: 2, items: { type: 'integer', minimum: -10000, maximum: 10000 },
      description: '[start] or [start, end]: "1.001234.000.00.00.H56" with [0, 8] → "1.001234".',
    },
    input: STRING, mapsEnum: true, output: str,
    bind: (args) => {
      const [start, end] = args as [number, number | undefined];
      return (v) => needString('slice', v).slice(start, end);
    },
  },
  {
    name: 'base64', summary: 'Decodes base64 into UTF-8 text (white space ignored, strict alphabet and padding).', example: 'base64',
    input: STRING, output: str,
    bind: () => (v) => decodeBase64('base64', v),
  },
  {
    name: 'base64Xml', summary: 'Decodes base64, then parses the XML safely (no DTD, bounded) into an object: { Root: { … } }.', example: 'base64Xml',
    input: STRING, output: () => ({ types: ['object'] }),
    bind: () => (v) => parseXmlSafely(decodeBase64('base64Xml', v)),
  },
  {
    name: 'length', summary: 'Number of characters of a text (Unicode code points, so "Thử" is 3).', example: 'length',
    input: STRING, mapsEnum: true, output: () => ({ types: ['integer'] }),
    bind: () => (v) => [...needString('length', v)].length,
  },
  {
    name: 'json', summary: 'Writes the value (an object, a list or a scalar) as JSON text, keys in their order: { a: 1 } → "{\\"a\\":1}".', example: 'json',
    input: 'any', output: str,
    bind: () => (v) => JSON.stringify(v),
  },
  {
    name: 'first', summary: 'First item of a list (a single value counts as a one-item list, as XML gives one element as an object).', example: 'first',
    input: 'any',
    output: (input) => (input.types && input.types.length === 1 && input.types[0] === 'array' ? (input.item?.() ?? UNKNOWN) : input.types?.includes('array') ? UNKNOWN : input),
    bind: () => (v) => (Array.isArray(v) ? v[0] : v),
  },
  {
    name: 'count', summary: 'Number of items of a list (a single value counts 1).', example: 'count',
    input: 'any', output: () => ({ types: ['integer'] }),
    bind: () => (v) => (Array.isArray(v) ? v.length : 1),
  },
];

/** The allow-list, frozen: name → spec. Read it with `Object.hasOwn` (see lookupFunction). */
export const FUNCTIONS: Readonly<Record<string, FnSpec>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, FnSpec>, Object.fromEntries(specs.map((s) => [s.name, Object.freeze(s)]))),
);

export function lookupFunction(name: string): FnSpec | undefined {
  return typeof name === 'string' && Object.hasOwn(FUNCTIONS, name) ? FUNCTIONS[name] : undefined;
}

export const FUNCTION_NAMES: readonly string[] = Object.freeze(specs.map((s) => s.name));
