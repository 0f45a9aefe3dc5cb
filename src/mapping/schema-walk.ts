/**
 * Reading JSON Schemas (2020-12) the way the mapping checker needs: "what is at this path, and
 * what type is it?". Walks `properties`, `patternProperties`, `additionalProperties`, `items`,
 * `prefixItems`, `$ref` (through SchemaSet.resolveRef with the right base `$id`), `allOf`,
 * `anyOf`, `oneOf` (and `$defs` through refs). Alternatives are read as a union: the checker
 * reports what is certainly wrong and stays silent about what it cannot know.
 *
 * A name is "undeclared" only where an object schema declares `properties` or closes itself with
 * `additionalProperties: false` / `unevaluatedProperties: false`; an open `{}` accepts any path.
 */
import type { JsonSchema, SchemaSet } from '../schema/set.js';
import { JSON_TYPES, typeOfValue, unionTypes, UNKNOWN, type JsonType, type ValueType } from './types.js';

export interface SNode {
  baseId: string;
  schema: JsonSchema | boolean;
}

export type Lookup =
  | { kind: 'found'; nodes: SNode[]; partlyOpen: boolean }
  | { kind: 'open' }
  | { kind: 'undeclared'; siblings: string[]; patterns?: string[] }
  | { kind: 'wrong-type'; expected: 'object' | 'array'; types: readonly JsonType[] };

const MAX_DEPTH = 64;

function obj(node: SNode): JsonSchema | undefined {
  return typeof node.schema === 'object' && node.schema !== null ? node.schema : undefined;
}

function sub(node: SNode, schema: unknown): SNode | undefined {
  if (typeof schema === 'boolean') return { baseId: node.baseId, schema };
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return undefined;
  const s = schema as JsonSchema;
  let baseId = node.baseId;
  if (typeof s.$id === 'string') {
    try {
      baseId = new URL(s.$id, node.baseId).href;
    } catch {
      /* keep the parent's base */
    }
  }
  return { baseId, schema: s };
}

function ownTypes(s: JsonSchema): JsonType[] | undefined {
  if (typeof s.type === 'string') return JSON_TYPES.includes(s.type as JsonType) ? [s.type as JsonType] : undefined;
  if (Array.isArray(s.type)) return s.type.filter((t): t is JsonType => JSON_TYPES.includes(t as JsonType));
  return undefined;
}

export class SchemaWalker {
  constructor(private readonly set: SchemaSet) {}

  root(name: string): SNode[] | undefined {
    const r = this.set.byName(name);
    return r ? [{ baseId: r.baseId, schema: r.schema }] : undefined;
  }

  private ref(node: SNode, ref: string): SNode | undefined {
    try {
      const r = this.set.resolveRef(node.baseId, ref);
      return r ? sub({ baseId: r.baseId, schema: true }, r.schema) : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The node and everything that applies with it: `$ref` targets and `allOf` branches, and with
   * `alternatives` also `anyOf`/`oneOf` branches. Unresolvable refs yield an open node.
   */
  leaves(nodes: readonly SNode[], alternatives = true): SNode[] {
    const out: SNode[] = [];
    const seen = new Set<unknown>();
    const visit = (node: SNode, depth: number) => {
      if (depth > MAX_DEPTH || seen.has(node.schema)) return;
      if (typeof node.schema === 'object') seen.add(node.schema);
      out.push(node);
      const s = obj(node);
      if (!s) return;
      if (typeof s.$ref === 'string') {
        const target = this.ref(node, s.$ref);
        visit(target ?? { baseId: node.baseId, schema: true }, depth + 1);
      }
      const groups = alternatives ? (['allOf', 'anyOf', 'oneOf'] as const) : (['allOf'] as const);
      for (const g of groups) {
        const list = s[g];
        if (Array.isArray(list)) for (const b of list) {
          const n = sub(node, b);
          if (n) visit(n, depth + 1);
        }
      }
    };
    for (const n of nodes) visit(n, 0);
    return out;
  }

  property(nodes: readonly SNode[], name: string): Lookup {
    const found: SNode[] = [];
    let open = false;
    let closed = false;
    const wrong: JsonType[][] = [];
    const siblings = new Set<string>();
    const patterns = new Set<string>();
    for (const leaf of this.leaves(nodes)) {
      if (leaf.schema === true) continue;
      if (leaf.schema === false) {
        closed = true;
        continue;
      }
      const s = leaf.schema;
      const props = s.properties && typeof s.properties === 'object' ? (s.properties as Record<string, unknown>) : undefined;
      if (props) for (const k of Object.keys(props)) siblings.add(k);
      if (props && Object.hasOwn(props, name)) {
        const n = sub(leaf, props[name]);
        if (n) found.push(n);
        continue;
      }
      let matchedPattern = false;
      if (s.patternProperties && typeof s.patternProperties === 'object') {
        for (const [pattern, schema] of Object.entries(s.patternProperties as Record<string, unknown>)) {
          patterns.add(pattern);
          let re: RegExp | undefined;
          try {
            re = new RegExp(pattern, 'u');
          } catch {
            re = undefined;
          }
          if (re?.test(name)) {
            const n = sub(leaf, schema);
            if (n) found.push(n);
            matchedPattern = true;
          }
        }
      }
      if (matchedPattern) continue;
      const ap = s.additionalProperties;
      if (ap !== undefined && ap !== true && ap !== false && typeof ap === 'object') {
        const n = sub(leaf, ap);
        if (n) found.push(n);
        continue;
      }
      if (props || ap === false || s.unevaluatedProperties === false) {
        closed = true;
        continue;
      }
      const types = ownTypes(s);
      if (types && !types.includes('object')) {
        wrong.push(types);
        continue;
      }
      if (types || ap === true) open = true;
    }
    if (found.length) return { kind: 'found', nodes: found, partlyOpen: open };
    if (open) return { kind: 'open' };
    if (closed) return patterns.size ? { kind: 'undeclared', siblings: [...siblings], patterns: [...patterns] } : { kind: 'undeclared', siblings: [...siblings] };
    if (wrong.length) return { kind: 'wrong-type', expected: 'object', types: [...new Set(wrong.flat())] };
    return { kind: 'open' };
  }

  /** Item `index` of an array, or any item (`'any'`). */
  index(nodes: readonly SNode[], index: number | 'any'): Lookup {
    const found: SNode[] = [];
    let open = false;
    let closed = false;
    const wrong: JsonType[][] = [];
    for (const leaf of this.leaves(nodes)) {
      if (leaf.schema === true) continue;
      if (leaf.schema === false) {
        closed = true;
        continue;
      }
      const s = leaf.schema;
      const prefix = Array.isArray(s.prefixItems) ? s.prefixItems : [];
      if (index === 'any') for (const p of prefix) {
        const n = sub(leaf, p);
        if (n) found.push(n);
      } else if (index < prefix.length) {
        const n = sub(leaf, prefix[index]);
        if (n) found.push(n);
        continue;
      }
      if (s.items !== undefined) {
        if (s.items === false) closed = true;
        else {
          const n = sub(leaf, s.items);
          if (n) found.push(n);
        }
        continue;
      }
      const types = ownTypes(s);
      if (types && !types.includes('array')) wrong.push(types);
      else if (types) open = true;
    }
    if (found.length) return { kind: 'found', nodes: found, partlyOpen: open };
    if (open) return { kind: 'open' };
    if (closed) return { kind: 'undeclared', siblings: [] };
    if (wrong.length) return { kind: 'wrong-type', expected: 'array', types: [...new Set(wrong.flat())] };
    return { kind: 'open' };
  }

  /** Property names declared at this level (for "did you mean"). */
  propertyNames(nodes: readonly SNode[]): string[] {
    const names = new Set<string>();
    for (const leaf of this.leaves(nodes)) {
      const s = obj(leaf);
      if (s?.properties && typeof s.properties === 'object') for (const k of Object.keys(s.properties)) names.add(k);
    }
    return [...names];
  }

  /** Required property names (through $ref and allOf; alternatives are not certain). */
  required(nodes: readonly SNode[]): string[] {
    const names = new Set<string>();
    for (const leaf of this.leaves(nodes, false)) {
      const s = obj(leaf);
      if (Array.isArray(s?.required)) for (const k of s.required) if (typeof k === 'string') names.add(k);
    }
    return [...names];
  }

  /** The value type at these nodes (a union of the nodes). */
  typeOf(nodes: readonly SNode[]): ValueType {
    if (nodes.length === 0) return UNKNOWN;
    return unionTypes(nodes.map((n) => this.typeOfNode(n, 0)));
  }

  private typeOfNode(node: SNode, depth: number): ValueType {
    if (node.schema === true || depth > MAX_DEPTH) return UNKNOWN;
    if (node.schema === false) return { types: [] };
    const s = node.schema;
    let types: JsonType[] | undefined = ownTypes(s);
    let values: unknown[] | undefined;
    if (Object.hasOwn(s, 'const')) values = [s.const];
    else if (Array.isArray(s.enum)) values = s.enum;
    if (values) types = intersect(types, [...new Set(values.map(typeOfValue))]);
    const parts: ValueType[] = [];
    if (typeof s.$ref === 'string') {
      const target = this.ref(node, s.$ref);
      parts.push(target ? this.typeOfNode(target, depth + 1) : UNKNOWN);
    }
    if (Array.isArray(s.allOf)) for (const b of s.allOf) {
      const n = sub(node, b);
      if (n) parts.push(this.typeOfNode(n, depth + 1));
    }
    for (const g of ['anyOf', 'oneOf'] as const) {
      const list = s[g];
      if (Array.isArray(list)) {
        const alts = list.map((b) => sub(node, b)).filter((n): n is SNode => !!n).map((n) => this.typeOfNode(n, depth + 1));
        parts.push(unionTypes(alts));
      }
    }
    for (const p of parts) {
      if (p.types) types = intersect(types, [...p.types]);
      if (!values && p.enum) values = [...p.enum];
    }
    const out: ValueType = {};
    if (types) out.types = types;
    if (values) out.enum = values;
    if (!types || types.includes('array')) {
      out.item = () => {
        const items = this.index([node], 'any');
        return items.kind === 'found' && !items.partlyOpen ? this.typeOf(items.nodes) : UNKNOWN;
      };
    }
    return out;
  }
}

function intersect(a: JsonType[] | undefined, b: JsonType[] | undefined): JsonType[] | undefined {
  if (!a) return b;
  if (!b) return a;
  const out = new Set<JsonType>();
  for (const t of a) {
    if (b.includes(t)) out.add(t);
    else if ((t === 'number' && b.includes('integer')) || (t === 'integer' && b.includes('number'))) out.add('integer');
  }
  return JSON_TYPES.filter((t) => out.has(t));
}
