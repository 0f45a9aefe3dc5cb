/**
 * XML has no arrays, no empty objects and no types: a repeated element becomes an array only
 * when it repeats, `<List/>` is "", and everything is a string. `createConformer` restores the
 * shapes the JSON Schema asks for, so that the same schema validates XML- and JSON-borne
 * messages alike:
 *
 *  - a single value where the schema says array is wrapped: `x` → `[x]`;
 *  - "" where the schema says object becomes `{}`, where it says array `[]`;
 *  - strings stay strings (no type coercion: that is the mapping's job, explicitly).
 *
 * The schema is followed through `properties`, `patternProperties`, `additionalProperties`,
 * `items`, `prefixItems`, `$ref`, `allOf`/`anyOf`/`oneOf` and `if`/`then`/`else` (branches are
 * united: a shape any branch asks for is applied when the value's own type is not also allowed).
 * When several types are allowed (e.g. `["array","string"]`) and the value already fits one, it is
 * left alone. Plans are built per schema node once, lazily, and cached (compile once, run many);
 * the function itself is pure and never mutates its input.
 */
import type { JsonSchema, SchemaSet } from '../schema/set.js';
import { isPlainObject } from '../core/objects.js';

type Obj = Record<string, unknown>;

interface Source {
  schema: JsonSchema;
  baseId: string;
}

/** Shape information gathered from one or more (flattened) schema nodes. */
class Plan {
  /** Declared or inferred JSON types; empty = anything goes (no reshaping). */
  readonly types = new Set<string>();
  readonly #props = new Map<string, Source[]>();
  readonly #patterns: Array<{ re: RegExp; sources: Source[] }> = [];
  readonly #additional: Source[] = [];
  readonly #items: Source[] = [];
  readonly #prefixItems: Source[][] = [];
  readonly #childPlans = new Map<string, Plan>();
  readonly #cache: PlanCache;
  /** Nothing below this node can change anything. */
  readonly inert: boolean;

  constructor(sources: Source[], cache: PlanCache) {
    this.#cache = cache;
    for (const s of flatten(sources, cache.schemas)) this.#absorb(s);
    this.inert =
      this.types.size === 0 &&
      this.#props.size === 0 &&
      this.#patterns.length === 0 &&
      this.#additional.length === 0 &&
      this.#items.length === 0 &&
      this.#prefixItems.length === 0;
  }

  #absorb({ schema, baseId }: Source): void {
    const type = schema.type;
    if (typeof type === 'string') this.types.add(type);
    else if (Array.isArray(type)) for (const t of type) if (typeof t === 'string') this.types.add(t);

    const hasObjectKeywords =
      isPlainObject(schema.properties) || isPlainObject(schema.patternProperties) || isPlainObject(schema.additionalProperties) || Array.isArray(schema.required);
    const hasArrayKeywords = isPlainObject(schema.items) || Array.isArray(schema.prefixItems);
    if (type === undefined) {
      if (hasObjectKeywords) this.types.add('object');
      if (hasArrayKeywords) this.types.add('array');
    }
    if (isPlainObject(schema.properties)) {
      for (const [key, sub] of Object.entries(schema.properties)) {
        if (!isPlainObject(sub)) continue;
        const list = this.#props.get(key) ?? [];
        list.push({ schema: sub, baseId });
        this.#props.set(key, list);
      }
    }
    if (isPlainObject(schema.patternProperties)) {
      for (const [pattern, sub] of Object.entries(schema.patternProperties)) {
        if (!isPlainObject(sub)) continue;
        let re: RegExp;
        try {
          re = new RegExp(pattern, 'u');
        } catch {
          continue; // ajv rejects such schemas at load; nothing to conform to here
        }
        this.#patterns.push({ re, sources: [{ schema: sub, baseId }] });
      }
    }
    if (isPlainObject(schema.additionalProperties)) this.#additional.push({ schema: schema.additionalProperties, baseId });
    if (isPlainObject(schema.items)) this.#items.push({ schema: schema.items, baseId });
    if (Array.isArray(schema.prefixItems)) {
      schema.prefixItems.forEach((sub, index) => {
        if (!isPlainObject(sub)) return;
        (this.#prefixItems[index] ??= []).push({ schema: sub, baseId });
      });
    }
  }

  /** Plan for the value of property `key`. */
  property(key: string): Plan | undefined {
    const memo = this.#childPlans.get(`p:${key}`);
    if (memo) return memo;
    const declared = this.#props.get(key);
    const sources: Source[] = declared ? [...declared] : [];
    for (const { re, sources: s } of this.#patterns) if (re.test(key)) sources.push(...s);
    if (sources.length === 0) sources.push(...this.#additional);
    if (sources.length === 0) return undefined;
    const plan = this.#cache.plan(sources);
    // memoize only declared names: keys of arbitrary input must not grow the memo without bound
    if (declared) this.#childPlans.set(`p:${key}`, plan);
    return plan;
  }

  /** Plan for the array element at `index`. */
  item(index: number): Plan | undefined {
    const tuple = this.#prefixItems[index];
    const key = tuple ? `t:${index}` : 'i';
    const memo = this.#childPlans.get(key);
    if (memo) return memo;
    const sources = tuple ?? this.#items;
    if (sources.length === 0) return undefined;
    const plan = this.#cache.plan(sources);
    this.#childPlans.set(key, plan);
    return plan;
  }
}

/** Plans interned by the identity of their schema nodes, so recursive schemas reuse plans. */
class PlanCache {
  readonly schemas: SchemaSet;
  readonly #ids = new WeakMap<object, number>();
  #next = 0;
  readonly #plans = new Map<string, Plan>();

  constructor(schemas: SchemaSet) {
    this.schemas = schemas;
  }

  plan(sources: Source[]): Plan {
    const key = sources
      .map((s) => {
        let id = this.#ids.get(s.schema);
        if (id === undefined) this.#ids.set(s.schema, (id = this.#next++));
        return `${id}@${s.baseId}`;
      })
      .sort()
      .join('|');
    let plan = this.#plans.get(key);
    if (!plan) {
      plan = new Plan(sources, this);
      this.#plans.set(key, plan);
    }
    return plan;
  }
}

const caches = new WeakMap<SchemaSet, PlanCache>();

function cacheFor(schemas: SchemaSet): PlanCache {
  let cache = caches.get(schemas);
  if (!cache) caches.set(schemas, (cache = new PlanCache(schemas)));
  return cache;
}

/** Expands `$ref`, `allOf`, `anyOf`, `oneOf`, `if`/`then`/`else` into the list of applicable nodes. */
function flatten(sources: Source[], schemas: SchemaSet): Source[] {
  const out: Source[] = [];
  const seen = new Set<object>();
  const stack = [...sources].reverse();
  while (stack.length > 0) {
    const s = stack.pop() as Source;
    if (seen.has(s.schema)) continue;
    seen.add(s.schema);
    out.push(s);
    const { schema, baseId } = s;
    const nested: Source[] = [];
    for (const refKey of ['$ref', '$dynamicRef'] as const) {
      const ref = schema[refKey];
      if (typeof ref !== 'string') continue;
      const hash = ref.indexOf('#');
      // only JSON-pointer fragments resolve here; plain-name anchors are skipped
      if (hash >= 0 && hash < ref.length - 1 && ref[hash + 1] !== '/') continue;
      let resolved;
      try {
        resolved = schemas.resolveRef(baseId, ref);
      } catch {
        resolved = undefined;
      }
      if (resolved) nested.push(resolved);
    }
    for (const key of ['allOf', 'anyOf', 'oneOf'] as const) {
      const list = schema[key];
      if (Array.isArray(list)) for (const sub of list) if (isPlainObject(sub)) nested.push({ schema: sub, baseId });
    }
    for (const key of ['then', 'else'] as const) {
      const sub = schema[key];
      if (isPlainObject(sub)) nested.push({ schema: sub, baseId });
    }
    for (let k = nested.length - 1; k >= 0; k--) stack.push(nested[k] as Source);
  }
  return out;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  const t = typeof value;
  return t === 'bigint' ? 'number' : t;
}

function allows(types: ReadonlySet<string>, value: unknown): boolean {
  const kind = kindOf(value);
  if (types.has(kind)) return true;
  return kind === 'number' && types.has('integer');
}

function apply(value: unknown, plan: Plan | undefined, depth: number): unknown {
  if (!plan || plan.inert || depth > 200) return value;
  const { types } = plan;

  if (value === '' && !types.has('string')) {
    if (types.has('object') && !types.has('array')) return {};
    if (types.has('array') && !types.has('object')) return [];
  }
  if (types.has('array') && !Array.isArray(value) && value !== undefined && !allows(types, value)) {
    value = [value];
  }
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((item, index) => {
      const next = apply(item, plan.item(index), depth + 1);
      if (next !== item) changed = true;
      return next;
    });
    return changed ? out : value;
  }
  if (isPlainObject(value)) {
    let out: Obj | undefined;
    for (const key of Object.keys(value)) {
      if (key === '__proto__') continue; // never assign it (decoders refuse it anyway)
      const item = value[key];
      const next = apply(item, plan.property(key), depth + 1);
      if (next !== item) {
        out ??= { ...value };
        out[key] = next;
      }
    }
    return out ?? value;
  }
  return value;
}

/**
 * Prepared once for one schema (`schema`, a node inside the document `baseId`; e.g. at connector load): returns a
 * function that reshapes an XML-decoded value to what that schema expects. It returns the input itself when nothing
 * needed changing, and never mutates it.
 */
export function createConformer(schema: JsonSchema, schemas: SchemaSet, baseId: string): (value: unknown) => unknown {
  const plan = cacheFor(schemas).plan([{ schema, baseId }]);
  return (value) => apply(value, plan, 0);
}
