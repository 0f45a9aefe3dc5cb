/**
 * The semantic parse of a mapping's `fields`: from the YAML value to a typed plan that the
 * checker and the compiler share. This is where the load-time safety rules live, and they are
 * enforced even when the structural JSON Schema check was skipped (a definition built by hand
 * still goes through here before any code is generated):
 *
 *   - every path segment is syntactically valid and never a property of Object.prototype;
 *   - every function is on the frozen allow-list, with arguments valid for it;
 *   - every literal is plain JSON (finite numbers, no forbidden keys, bounded depth);
 *   - target fields do not collide (`birthDate` and `birthDate.value` in the same object).
 */
import type { ConfigIssue } from '../core/issues.js';
import type { SourceFile } from '../core/yaml.js';
import { lookupFunction, FUNCTION_NAMES, type FnSpec } from './functions.js';
import { forbiddenKeyReason, isForbiddenKey, parseSourcePath, parseTargetPath, type SourcePath } from './paths.js';
import { suggestion } from '../core/suggest.js';
import { argsValidator, issueAt, validateAt, type Location } from './validate.js';
import { isPlainObject } from '../core/objects.js';

export interface FnCall {
  name: string;
  spec: FnSpec;
  args: unknown;
  at: Location;
}

export type Condition =
  | { kind: 'equals' | 'notEquals'; path: SourcePath; value: string; at: Location }
  | { kind: 'in'; path: SourcePath; values: string[]; at: Location }
  | { kind: 'exists'; path: SourcePath; exists: boolean; at: Location }
  | { kind: 'all' | 'any'; items: Condition[]; at: Location }
  | { kind: 'not'; item: Condition; at: Location };

export type ConcatPart = { path: SourcePath; at: Location } | { literal: string; at: Location };

interface RuleBase {
  /** The target key as written (may be dotted). */
  key: string;
  segments: string[];
  /** Location of the rule in the file (['fields', key] or nested). */
  at: Location;
  when?: Condition;
}

export type Rule =
  | (RuleBase & { kind: 'from'; path: SourcePath; fn: FnCall[]; default?: { value: unknown } })
  | (RuleBase & { kind: 'concat'; parts: ConcatPart[]; separator: string; fn: FnCall[]; default?: { value: unknown } })
  | (RuleBase & { kind: 'const'; value: unknown })
  | (RuleBase & { kind: 'each'; path: SourcePath; fields: FieldSet });

/** A target object under construction: its named children in the order they were first written. */
export interface TargetNode {
  name: string;
  /** Full target path from the enclosing object (e.g. "birthDate.value"). */
  path: string;
  rule?: Rule;
  children?: TargetNode[];
}

export interface FieldSet {
  rules: Rule[];
  /** The same rules as a tree of target objects. */
  tree: TargetNode[];
  at: Location;
}

export interface MappingPlan {
  fields: FieldSet;
}

const MAX_LITERAL_DEPTH = 32;
const RULE_KINDS = ['from', 'const', 'concat', 'each'] as const;

export function parseMappingSpec(src: Src): { plan?: MappingPlan; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const err = (at: Location, message: string, hint?: string) => issues.push(issueAt(src, at, message, hint));
  const doc = src.value as { fields?: unknown } | null;
  if (!isPlainObject(doc) || !isPlainObject(doc.fields)) {
    err([], 'a mapping needs fields: (target field → rule)', 'see docs/mapping-language.md');
    return { issues };
  }
  const fields = parseFields(doc.fields, ['fields'], { err, src, issues });
  return issues.some((i) => i.severity === 'error') ? { issues } : { plan: { fields }, issues };
}

type Err = (at: Location, message: string, hint?: string) => void;
/** The file being parsed; `value` is the whole document (paths are located from its root). */
type Src = Pick<SourceFile, 'file' | 'locate' | 'value'>;
interface Cx { err: Err; src: Src; issues: ConfigIssue[] }


function parseFields(value: Record<string, unknown>, at: Location, cx: Cx): FieldSet {
  const { err } = cx;
  const rules: Rule[] = [];
  if (Object.keys(value).length === 0) err(at, 'fields: is empty', 'map at least one target field');
  for (const key of Object.keys(value)) {
    const ruleAt = [...at, key];
    const target = parseTargetPath(key);
    if (!target.ok) {
      err(ruleAt, target.reason, 'target fields are dotted property names, e.g. birthDate.value');
      continue;
    }
    const rule = parseRule(key, target.value, value[key], ruleAt, cx);
    if (rule) rules.push(rule);
  }
  return { rules, tree: buildTree(rules, err), at };
}

function parseRule(key: string, segments: string[], raw: unknown, at: Location, cx: Cx): Rule | undefined {
  const { err } = cx;
  if (!isPlainObject(raw)) {
    err(at, `the rule for '${key}' must be a mapping like { from: path }`, 'write { from: <source path> }, { const: <value> }, { concat: [...] } or { each: <path>, fields: {...} }');
    return undefined;
  }
  const allowed = new Set(['from', 'const', 'concat', 'separator', 'fn', 'default', 'when', 'each', 'fields', 'description']);
  for (const k of Object.keys(raw)) if (!allowed.has(k)) err([...at, k], `unknown key '${k}' in the rule for '${key}'`, suggestion(k, [...allowed], 'keys'));
  const kinds = RULE_KINDS.filter((k) => Object.hasOwn(raw, k));
  if (kinds.length !== 1) {
    err(at, kinds.length === 0 ? `the rule for '${key}' has none of from, const, concat, each` : `the rule for '${key}' has ${kinds.join(' and ')}; it needs exactly one`, 'keep exactly one of from, const, concat, each');
    return undefined;
  }
  const kind = kinds[0]!;
  const base: RuleBase = { key, segments, at };
  if (Object.hasOwn(raw, 'when')) {
    const cond = parseCondition(raw.when, [...at, 'when'], err);
    if (!cond) return undefined;
    base.when = cond;
  }
  const notWith = (keys: string[], why: string) => {
    for (const k of keys) if (Object.hasOwn(raw, k)) err([...at, k], `'${k}' cannot be used with ${kind}`, why);
  };
  if (kind !== 'concat') notWith(['separator'], 'separator belongs to concat');
  if (kind !== 'each') notWith(['fields'], 'fields inside a rule belongs to each');

  let fn: FnCall[] = [];
  if (kind === 'from' || kind === 'concat') fn = parseFns(raw.fn, [...at, 'fn'], cx) ?? [];
  let dflt: { value: unknown } | undefined;
  if ((kind === 'from' || kind === 'concat') && Object.hasOwn(raw, 'default')) {
    if (checkLiteral(raw.default, [...at, 'default'], err, 'default')) dflt = { value: raw.default };
  }

  switch (kind) {
    case 'from': {
      const path = parsePathAt(raw.from, [...at, 'from'], err);
      if (!path) return undefined;
      return { ...base, kind, path, fn, default: dflt };
    }
    case 'const': {
      notWith(['fn', 'default'], 'a const is written as is: drop fn/default or use from');
      if (!checkLiteral(raw.const, [...at, 'const'], err, 'const')) return undefined;
      return { ...base, kind, value: raw.const };
    }
    case 'concat': {
      if (!Array.isArray(raw.concat) || raw.concat.length === 0) {
        err([...at, 'concat'], 'concat needs a list of source paths (and { const: "…" } parts)', 'e.g. concat: [HoVaTen.Ho, HoVaTen.ChuDem, HoVaTen.Ten]');
        return undefined;
      }
      const parts: ConcatPart[] = [];
      raw.concat.forEach((p: unknown, i: number) => {
        const pAt = [...at, 'concat', i];
        if (typeof p === 'string') {
          const path = parsePathAt(p, pAt, err);
          if (path) parts.push({ path, at: pAt });
        } else if (isPlainObject(p) && Object.keys(p).length === 1 && Object.hasOwn(p, 'const') && isScalar(p.const)) {
          parts.push({ literal: String(p.const), at: pAt });
        } else err(pAt, 'a concat part is a source path or { const: "text" }', 'e.g. concat: [Ho, { const: " " }, Ten]');
      });
      let separator = '';
      if (Object.hasOwn(raw, 'separator')) {
        if (typeof raw.separator === 'string') separator = raw.separator;
        else err([...at, 'separator'], 'separator must be text', 'e.g. separator: " "');
      }
      return { ...base, kind, parts, separator, fn, default: dflt };
    }
    case 'each': {
      notWith(['fn', 'default'], 'each builds a list of objects: put fn/default on the fields inside');
      const path = parsePathAt(raw.each, [...at, 'each'], err);
      if (!isPlainObject(raw.fields)) {
        err([...at, 'fields'], 'each needs fields: (the fields of every output item)', 'e.g. each: CongDan.Cha\n      fields: { fullName: { from: HoVaTen } }');
        return undefined;
      }
      const fields = parseFields(raw.fields, [...at, 'fields'], cx);
      if (!path) return undefined;
      return { ...base, kind, path, fields };
    }
  }
}

function parsePathAt(raw: unknown, at: Location, err: Err): SourcePath | undefined {
  if (typeof raw !== 'string') {
    err(at, 'a source path must be text', 'e.g. CongDan.HoVaTen or $.MaHoSo');
    return undefined;
  }
  const p = parseSourcePath(raw);
  if (!p.ok) {
    err(at, p.reason, 'paths are dotted names with optional [n] indexes: a.b[0].c; $.x starts at the document root');
    return undefined;
  }
  return p.value;
}

function isScalar(v: unknown): v is string | number | boolean {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean';
}

/** Plain JSON only: it is emitted into generated code through JSON.stringify. */
function checkLiteral(value: unknown, at: Location, err: Err, what: string): boolean {
  // "" is written when a rule says so (a peer that wants every field, empty or not); null never is.
  if (value === null || value === undefined) {
    err(at, `${what} is null, which counts as absent and is never written`, what === 'default' ? 'remove default, or give a real value' : 'remove the field, or give a real value');
    return false;
  }
  const bad = literalProblem(value, 0);
  if (bad) {
    err(at, `${what} is not a plain JSON value: ${bad}`, 'use text, numbers, true/false, lists and maps only');
    return false;
  }
  return true;
}

function literalProblem(value: unknown, depth: number): string | undefined {
  if (depth > MAX_LITERAL_DEPTH) return `nested deeper than ${MAX_LITERAL_DEPTH}`;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : 'numbers must be finite (.inf/.nan are not JSON)';
  if (Array.isArray(value)) {
    for (const item of value) {
      const bad = literalProblem(item, depth + 1);
      if (bad) return bad;
    }
    return undefined;
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return 'only maps, lists and scalars are allowed';
    for (const [k, v] of Object.entries(value)) {
      if (isForbiddenKey(k)) return forbiddenKeyReason(k);
      const bad = literalProblem(v, depth + 1);
      if (bad) return bad;
    }
    return undefined;
  }
  return `${typeof value} values are not allowed`;
}

function parseFns(raw: unknown, at: Location, cx: Cx): FnCall[] | undefined {
  const { err, src, issues } = cx;
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    err(at, 'fn must be a list of functions', 'e.g. fn: [trim, nfc]');
    return undefined;
  }
  const out: FnCall[] = [];
  raw.forEach((item: unknown, i: number) => {
    const fAt = [...at, i];
    let name: string;
    let args: unknown;
    let argsAt: Location;
    if (typeof item === 'string') {
      name = item;
      args = undefined;
      argsAt = fAt;
    } else if (isPlainObject(item) && Object.keys(item).length === 1) {
      name = Object.keys(item)[0]!;
      args = item[name];
      argsAt = [...fAt, name];
    } else {
      err(fAt, 'a function is a bare name (trim) or a one-key map with its arguments ({ date: { from: …, to: … } })', 'see the function list in docs/mapping-language.md');
      return;
    }
    const spec = lookupFunction(name);
    if (!spec) {
      err(argsAt, `unknown function '${name}'`, `${suggestion(name, FUNCTION_NAMES, 'functions')} (only allow-listed functions can run)`);
      return;
    }
    if (!spec.args) {
      if (typeof item !== 'string') {
        err(argsAt, `function '${name}' takes no arguments`, `write it as a bare name: - ${name}`);
        return;
      }
    } else {
      if (typeof item === 'string') {
        err(fAt, `function '${name}' needs arguments`, `write it as ${spec.example}`);
        return;
      }
      const problems = validateAt(argsValidator(name)!, args, src, argsAt);
      if (problems.length) {
        for (const p of problems) issues.push({ ...p, message: `bad arguments for ${name}: ${p.message}`, hint: p.hint ?? `e.g. ${spec.example}` });
        return;
      }
      const bad = spec.checkArgs?.(args);
      if (bad) {
        err(argsAt, `bad arguments for ${name}: ${bad}`, `e.g. ${spec.example}`);
        return;
      }
    }
    out.push({ name, spec, args, at: fAt });
  });
  return out;
}

function parseCondition(raw: unknown, at: Location, err: Err): Condition | undefined {
  const form = 'a condition is { path, equals | notEquals | in | exists }, { all: [...] }, { any: [...] } or { not: ... }';
  if (!isPlainObject(raw)) {
    err(at, 'when: must be a condition', form);
    return undefined;
  }
  const keys = Object.keys(raw);
  for (const logical of ['all', 'any'] as const) {
    if (Object.hasOwn(raw, logical)) {
      const list = raw[logical];
      if (keys.length !== 1 || !Array.isArray(list) || list.length === 0) {
        err(at, `${logical} must be the only key and hold a non-empty list of conditions`, form);
        return undefined;
      }
      const items = list.map((c: unknown, i: number) => parseCondition(c, [...at, logical, i], err));
      if (items.some((c) => !c)) return undefined;
      return { kind: logical, items: items as Condition[], at };
    }
  }
  if (Object.hasOwn(raw, 'not')) {
    if (keys.length !== 1) {
      err(at, 'not must be the only key of its condition', form);
      return undefined;
    }
    const item = parseCondition(raw.not, [...at, 'not'], err);
    return item ? { kind: 'not', item, at } : undefined;
  }
  const ops = ['equals', 'notEquals', 'in', 'exists'].filter((k) => Object.hasOwn(raw, k));
  const extra = keys.filter((k) => k !== 'path' && !ops.includes(k));
  if (!Object.hasOwn(raw, 'path') || ops.length !== 1 || extra.length) {
    err(at, extra.length ? `unknown key '${extra[0]}' in condition` : ops.length > 1 ? `a condition has one test, found ${ops.join(' and ')}` : 'a condition needs path and one of equals, notEquals, in, exists', form);
    return undefined;
  }
  const path = parsePathAt(raw.path, [...at, 'path'], err);
  if (!path) return undefined;
  const op = ops[0]!;
  const opAt = [...at, op];
  if (op === 'equals' || op === 'notEquals') {
    if (!isScalar(raw[op])) {
      err(opAt, `${op} must be text, a number or true/false`, 'values are compared as text: equals: "2"');
      return undefined;
    }
    return { kind: op, path, value: String(raw[op]), at };
  }
  if (op === 'in') {
    const list = raw.in;
    if (!Array.isArray(list) || list.length === 0 || !list.every(isScalar)) {
      err(opAt, 'in must be a non-empty list of text, numbers or true/false', 'e.g. in: ["1", "2"]');
      return undefined;
    }
    return { kind: 'in', path, values: list.map(String), at };
  }
  if (typeof raw.exists !== 'boolean') {
    err(opAt, 'exists must be true or false', 'exists: true');
    return undefined;
  }
  return { kind: 'exists', path, exists: raw.exists, at };
}

/** Groups dotted target paths into nested objects, in first-written order; collisions are errors. */
function buildTree(rules: Rule[], err: Err): TargetNode[] {
  const root: TargetNode = { name: '', path: '', children: [] };
  for (const rule of rules) {
    let node = root;
    for (let i = 0; i < rule.segments.length; i++) {
      const name = rule.segments[i]!;
      const last = i === rule.segments.length - 1;
      const prefix = rule.segments.slice(0, i + 1).join('.');
      if (node.rule) {
        err(rule.at, `'${rule.key}' writes inside '${node.path}', which another rule writes as a whole`, `remove one of the two rules, or map '${node.path}' field by field`);
        break;
      }
      let child = node.children!.find((c) => c.name === name);
      if (!child) {
        child = { name, path: prefix };
        node.children!.push(child);
      }
      if (last) {
        if (child.children || child.rule) {
          err(rule.at, `'${rule.key}' is written as a whole and also field by field (${child.children ? 'e.g. ' + firstLeaf(child) : child.path})`, `remove one of the rules for '${prefix}'`);
          break;
        }
        child.rule = rule;
      } else {
        if (child.rule) {
          err(rule.at, `'${rule.key}' writes inside '${prefix}', which another rule writes as a whole`, `remove one of the two rules, or map '${prefix}' field by field`);
          break;
        }
        child.children ??= [];
      }
      node = child;
    }
  }
  return root.children!;
}

function firstLeaf(node: TargetNode): string {
  let n = node;
  while (n.children && n.children[0]) n = n.children[0];
  return n.path;
}
