/**
 * The static checker's view of a value: which JSON types it may have, and when known, which
 * exact values (an `enum`) and what its array items look like. `types: undefined` means unknown
 * (an open schema, `base64Xml` output, …): unknown never produces a finding.
 */
export type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array' | 'null';

export const JSON_TYPES: readonly JsonType[] = ['string', 'number', 'integer', 'boolean', 'object', 'array', 'null'];

export interface ValueType {
  types?: readonly JsonType[];
  /** Every value the field can take, when the schema or the rule pins them down. */
  enum?: readonly unknown[];
  /** Item type of an array (lazy: schemas may be recursive). */
  item?: () => ValueType;
}

export const UNKNOWN: ValueType = Object.freeze({});

export function typeOfValue(value: unknown): JsonType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  return 'object';
}

export function literalType(value: unknown): ValueType {
  const type = typeOfValue(value);
  if (Array.isArray(value)) {
    const items = value.map(literalType);
    return { types: ['array'], item: () => unionTypes(items) };
  }
  return { types: [type], enum: type === 'object' ? undefined : [value] };
}

/** Union of several value types; unknown if any is unknown. */
export function unionTypes(list: readonly ValueType[]): ValueType {
  if (list.length === 0) return { types: [] };
  if (list.some((t) => !t.types)) return UNKNOWN;
  const types = new Set<JsonType>();
  for (const t of list) for (const x of t.types!) types.add(x);
  const enums = list.every((t) => t.enum) ? dedupe(list.flatMap((t) => t.enum!)) : undefined;
  const items = list.filter((t) => t.item);
  return {
    types: JSON_TYPES.filter((x) => types.has(x)),
    enum: enums,
    item: items.length ? () => unionTypes(items.map((t) => t.item!())) : undefined,
  };
}

/** Removes `null` (a null source value is "absent": it is never written and never reaches a function). */
export function withoutNull(t: ValueType): ValueType {
  if (!t.types) return t;
  return { ...t, types: t.types.filter((x) => x !== 'null'), enum: t.enum?.filter((v) => v !== null && v !== '') };
}

function dedupe(values: unknown[]): unknown[] {
  const seen = new Set<string>();
  const out: unknown[] = [];
  for (const v of values) {
    const key = JSON.stringify(v);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(v);
    }
  }
  return out;
}

export type Acceptance = 'yes' | 'partly' | 'no';

/**
 * Does a slot that takes `accepted` types take a value of type `given`? `partly` when only some
 * of the given types fit (a runtime failure is possible), `no` when none does.
 */
export function accepts(accepted: readonly JsonType[] | undefined, given: readonly JsonType[] | undefined): Acceptance {
  if (!accepted || !given) return 'yes';
  if (given.length === 0) return 'yes';
  let fit = 0;
  let partial = false;
  for (const g of given) {
    if (accepted.includes(g) || (g === 'integer' && accepted.includes('number'))) fit++;
    else if (g === 'number' && accepted.includes('integer')) partial = true;
  }
  if (fit === given.length) return 'yes';
  if (fit === 0 && !partial) return 'no';
  return 'partly';
}

export function describeTypes(types: readonly JsonType[] | undefined): string {
  if (!types) return 'any';
  if (types.length === 0) return 'nothing';
  return types.join(' | ');
}
