/**
 * The static check of a mapping against its source and target schemas and the code tables
 * (`lienthong check`). It reports, with file, line, field and a concrete hint:
 *
 *   1. a source path that does not exist in the source schema (from, concat, each, when);
 *   2. a target field that is not in the target schema;
 *   3. a required target property never written (recursively into objects the mapping writes;
 *      written only under `when`: a warning);
 *   4. a type mismatch between what a rule produces (source type → each fn's declared in/out
 *      types; const's type; concat → string; each → array) and the target type, a function fed
 *      a type it does not accept, and values outside the target's enum;
 *   5. a code table that does not cover every value of the source field's enum (no default);
 *   6. an unknown code table;
 *   7. a condition (`when`) comparing a field with a value its schema never allows ("REVOKE" for an enum
 *      [ISSUED, RENEWED, REVOKED], "yes" for a boolean): the condition could never hold (or, with notEquals,
 *      always would).
 */
import type { ConfigIssue } from '../core/issues.js';
import type { SchemaSet } from '../schema/set.js';
import type { CodeTable } from './codes.js';
import { planOf, MappingSpecError, type MappingDefinition } from './load.js';
import { formatSegments, type SourcePath } from './paths.js';
import { SchemaWalker, type SNode } from './schema-walk.js';
import type { Condition, FieldSet, FnCall, Rule, TargetNode } from './spec.js';
import { closest, suggestion } from '../core/suggest.js';
import { accepts, describeTypes, literalType, unionTypes, UNKNOWN, withoutNull, type JsonType, type ValueType } from './types.js';
import { fieldOf, type Location } from './validate.js';

export interface MappingEnv {
  schemas: SchemaSet;
  codeTables: ReadonlyMap<string, CodeTable>;
  /** Code table files that exist but did not load, by the name their file gives (codes/<name>.yaml) → file. */
  brokenCodeTables?: ReadonlyMap<string, string>;
}

/** Where rules are evaluated: the scope (document or `each` item) and the root, as schema nodes (undefined: open/unknown). */
interface Scope {
  scope: SNode[] | undefined;
  root: SNode[] | undefined;
  /** The request schema's root, for `$request` paths (undefined: not declared, or open). */
  request: SNode[] | undefined;
  /** "" at the top, "relatives[]." inside an each (for messages). */
  label: string;
  /** "" at the top, " (inside each: CongDan.Cha)" for messages about relative source paths. */
  where: string;
}

interface Resolved {
  type: ValueType;
  /** The schema nodes at the path (undefined: open, type unknown). */
  nodes?: SNode[];
}

export function checkMapping(def: MappingDefinition, env: MappingEnv): ConfigIssue[] {
  let plan;
  try {
    plan = planOf(def);
  } catch (error) {
    if (error instanceof MappingSpecError) return error.issues;
    throw error;
  }
  return new Checker(def, env).run(plan.fields);
}

/** What a condition that can never hold means where it is written, for its messages. */
export interface ConditionContext {
  /** Before the message, e.g. "route dossier-status: ". */
  prefix?: string;
  /** What it means when the condition can never hold, e.g. "this rule would never apply". */
  never: string;
  /** Added to the hint. */
  note?: string;
}

const RULE_CONDITION: ConditionContext = { never: 'this rule would never apply' };

/** A `when` outside a mapping (a route's): its paths and values, against the schema of the value it is tested on. */
export function checkCondition(def: MappingDefinition, condition: Condition, env: MappingEnv, context: ConditionContext): ConfigIssue[] {
  return new Checker(def, env, context).condition(condition);
}

class Checker {
  private readonly issues: ConfigIssue[] = [];
  private readonly walker: SchemaWalker;

  constructor(private readonly def: MappingDefinition, private readonly env: MappingEnv, private readonly conditions: ConditionContext = RULE_CONDITION) {
    this.walker = new SchemaWalker(env.schemas);
  }

  run(fields: FieldSet): ConfigIssue[] {
    const source = this.walker.root(this.def.source);
    const target = this.walker.root(this.def.target);
    const names = this.env.schemas.names();
    if (!source) this.report(['source'], `source schema "${this.def.source}" does not exist`, `create schemas/${this.def.source}.json, or ${suggestion(this.def.source, names, 'schemas')}`);
    if (!target) this.report(['target'], `target schema "${this.def.target}" does not exist`, `create schemas/${this.def.target}.json, or ${suggestion(this.def.target, names, 'schemas')}`);
    const request = this.def.request === undefined ? undefined : this.walker.root(this.def.request);
    const requestMissing = this.def.request !== undefined && !request;
    if (requestMissing) this.report(['request'], `request schema "${this.def.request}" does not exist`, `create schemas/${this.def.request}.json, or ${suggestion(this.def.request!, names, 'schemas')}`);
    if (!source || !target || requestMissing) return this.issues;
    this.checkObject(fields.tree, target, { scope: source, root: source, request, label: '', where: '' }, fields.at, '');
    return this.issues;
  }

  condition(cond: Condition): ConfigIssue[] {
    const source = this.walker.root(this.def.source);
    if (source) this.checkCondition(cond, { scope: source, root: source, request: undefined, label: '', where: '' });
    return this.issues;
  }

  private report(at: Location, message: string, hint: string | undefined, severity: ConfigIssue['severity'] = 'error'): void {
    const pos = this.def.locate(at);
    const issue: ConfigIssue = { file: this.def.file, line: pos.line, column: pos.column, field: fieldOf(at), message, severity };
    if (hint) issue.hint = hint;
    this.issues.push(issue);
  }

  // ---- target side ----

  /** One target object: its required properties, then every child. */
  private checkObject(children: TargetNode[], target: SNode[] | undefined, scope: Scope, at: Location, objectPath: string): void {
    if (target) this.checkRequired(children, target, scope, at, objectPath);
    for (const child of children) {
      const childAt = firstRuleAt(child);
      const shown = `${scope.label}${child.path}`;
      let nodes: SNode[] | undefined;
      if (target) {
        const found = this.walker.property(target, child.name);
        if (found.kind === 'undeclared') {
          this.report(childAt, `target field '${shown}' is not in ${this.def.target}`, suggestion(child.name, found.siblings, 'fields'));
          continue;
        }
        if (found.kind === 'wrong-type') {
          const parent = `${scope.label}${objectPath}`.replace(/\.$/, '') || '(root)';
          this.report(childAt, `target '${parent}' is ${describeTypes(found.types)}, so it has no field '${child.name}'`, 'check the target schema, or map the whole value');
          continue;
        }
        nodes = found.kind === 'found' && !found.partlyOpen ? found.nodes : undefined;
      }
      if (child.rule) this.checkRule(child.rule, nodes, scope);
      else {
        if (nodes && !this.expectTarget(childAt, shown, this.walker.typeOf(nodes), { types: ['object'] }, `'${firstLeaf(child)}' writes inside it`)) continue;
        this.checkObject(child.children ?? [], nodes, scope, childAt, `${objectPath}${child.name}.`);
      }
    }
  }

  private checkRequired(children: TargetNode[], target: SNode[], scope: Scope, at: Location, objectPath: string): void {
    for (const name of this.walker.required(target)) {
      const child = children.find((c) => c.name === name);
      const shown = `${scope.label}${objectPath}${name}`;
      if (!child) {
        this.report(at, `required target field '${shown}' is never written`, `add a rule for it, e.g. ${objectPath}${name}: { from: <source path> } or { const: <value> }`);
        continue;
      }
      const rules = rulesUnder(child);
      if (rules.every((r) => r.when)) {
        this.report(firstRuleAt(child), `required target field '${shown}' is written only under when:`, 'add a rule without when (or a default) so that it is always written', 'warning');
        continue;
      }
    }
  }

  /** Reports what the target cannot take; false when the types do not fit at all. */
  private expectTarget(at: Location, shown: string, target: ValueType, produced: ValueType, what: string): boolean {
    const fit = accepts(target.types, produced.types);
    if (fit === 'no') {
      this.report(at, `type mismatch at '${shown}': the rule produces ${describeTypes(produced.types)} but the target expects ${describeTypes(target.types)}${what ? ` (${what})` : ''}`, conversionHint(target));
      return false;
    }
    if (fit === 'partly') {
      this.report(at, `'${shown}' may receive ${describeTypes(produced.types)} but the target expects ${describeTypes(target.types)}`, conversionHint(target), 'warning');
    }
    if (target.enum && produced.enum) {
      const allowed = new Set(target.enum.map((v) => JSON.stringify(v)));
      const bad = produced.enum.filter((v) => !allowed.has(JSON.stringify(v)));
      if (bad.length) {
        this.report(at, `'${shown}' may receive ${bad.map((v) => JSON.stringify(v)).join(', ')}, which the target enum does not allow`, `the target allows ${target.enum.map((v) => JSON.stringify(v)).join(', ')}: translate with a code table (fn: [{ code: <table> }])`);
      }
    }
    return true;
  }

  // ---- rules ----

  private checkRule(rule: Rule, target: SNode[] | undefined, scope: Scope): void {
    const shown = `${scope.label}${rule.key}`;
    if (rule.when) this.checkCondition(rule.when, scope);
    const targetType = target ? this.walker.typeOf(target) : UNKNOWN;
    switch (rule.kind) {
      case 'const':
        this.expectTarget([...rule.at, 'const'], shown, targetType, literalType(rule.value), '');
        return;
      case 'from': {
        const src = this.resolve(rule.path, [...rule.at, 'from'], scope);
        let type = this.pipeline(rule.fn, src ? withoutNull(src.type) : UNKNOWN, rule.path.text, shown);
        if (rule.default) type = unionTypes([type, literalType(rule.default.value)]);
        this.expectTarget([...rule.at, 'from'], shown, targetType, type, '');
        return;
      }
      case 'concat': {
        rule.parts.forEach((part) => {
          if (!('path' in part)) return;
          const src = this.resolve(part.path, part.at, scope);
          const t = src ? withoutNull(src.type).types : undefined;
          if (t && (t.includes('object') || t.includes('array'))) {
            this.report(part.at, `concat part '${part.path.text}' is ${describeTypes(t)}, not text`, 'point at a text or number field (e.g. HoVaTen.Ten rather than HoVaTen)');
          }
        });
        let type = this.pipeline(rule.fn, { types: ['string'] }, 'concat', shown);
        if (rule.default) type = unionTypes([type, literalType(rule.default.value)]);
        this.expectTarget([...rule.at, 'concat'], shown, targetType, type, '');
        return;
      }
      case 'each': {
        const src = this.resolve(rule.path, [...rule.at, 'each'], scope);
        let items: SNode[] | undefined;
        if (src && src.nodes) {
          const t = withoutNull(src.type).types;
          if (t && !t.includes('array') && !t.includes('object')) {
            this.report([...rule.at, 'each'], `each: '${rule.path.text}' is ${describeTypes(t)}, not a list or an object`, 'each needs a list (or a single object)');
          } else {
            const listed = this.walker.index(src.nodes, 'any');
            const fromList = listed.kind === 'found' ? listed.nodes : [];
            const asObject = !t || t.includes('object') ? src.nodes : [];
            items = listed.kind === 'open' || (listed.kind === 'found' && listed.partlyOpen) ? undefined : [...fromList, ...asObject];
            if (items && items.length === 0) items = undefined;
          }
        }
        this.expectTarget([...rule.at, 'each'], shown, targetType, { types: ['array'] }, 'each builds a list');
        let targetItems: SNode[] | undefined;
        if (target) {
          const t = this.walker.index(target, 'any');
          targetItems = t.kind === 'found' && !t.partlyOpen ? t.nodes : undefined;
        }
        const inner: Scope = { scope: items, root: scope.root, request: scope.request, label: `${shown}[].`, where: ` (inside each: ${rule.path.text})` };
        this.checkObject(rule.fields.tree, targetItems, inner, [...rule.at, 'fields'], '');
        return;
      }
    }
  }

  /** Runs the declared types through the functions; reports inputs a function does not accept. */
  private pipeline(fns: FnCall[], input: ValueType, from: string, shown: string): ValueType {
    let t = input;
    for (const call of fns) {
      const spec = call.spec;
      if (spec.input !== 'any') {
        const fit = accepts(spec.input, t.types);
        if (fit === 'no') {
          this.report(call.at, `${call.name} expects ${describeTypes(spec.input)} but gets ${describeTypes(t.types)} (from ${from})`, fnHint(spec.input), 'error');
          return UNKNOWN;
        }
        if (fit === 'partly') this.report(call.at, `${call.name} expects ${describeTypes(spec.input)} but may get ${describeTypes(t.types)} (from ${from})`, fnHint(spec.input), 'warning');
      }
      let table: CodeTable | undefined;
      if (call.name === 'code') {
        const args = call.args as string | { table: string; default?: unknown };
        const name = typeof args === 'string' ? args : args.table;
        const hasOwnDefault = typeof args === 'object' && Object.hasOwn(args, 'default');
        table = this.env.codeTables.get(name);
        const broken = this.env.brokenCodeTables?.get(name);
        if (!table && broken) {
          this.report(call.at, `code table '${name}' did not load`, `fix the errors reported for ${broken} first`);
          return UNKNOWN;
        }
        if (!table) {
          this.report(call.at, `unknown code table '${name}'`, `create mappings/codes/${name}.yaml with name: ${name}, or ${suggestion(name, [...this.env.codeTables.keys()], 'tables')}`);
          return UNKNOWN;
        }
        if (t.enum && !hasOwnDefault && !table.hasDefault) {
          const missing = t.enum.filter((v) => !Object.hasOwn(table!.entries, String(v)));
          if (missing.length) {
            this.report(call.at, `code table '${name}' does not cover ${missing.map((v) => JSON.stringify(String(v))).join(', ')} of the source values of ${from} (for '${shown}')`, `add ${missing.map((v) => `"${String(v)}": …`).join(', ')} to ${table.file}, or give the table a default`);
          }
        }
      }
      let out = spec.output(t, call.args, this.env);
      if (spec.mapsEnum && t.enum) out = { ...out, enum: this.mapEnum(call, t.enum, from, shown) ?? out.enum };
      t = withoutNull(out);
    }
    return t;
  }

  /** The exact values a pure function produces from a known enum; warns about values it rejects. */
  private mapEnum(call: FnCall, values: readonly unknown[], from: string, shown: string): unknown[] | undefined {
    let bound;
    try {
      bound = call.spec.bind(call.args, this.env);
    } catch {
      return undefined;
    }
    const out: unknown[] = [];
    const failed: unknown[] = [];
    for (const v of values) {
      if (v === null || v === '' || v === undefined) continue;
      try {
        out.push(bound(v));
      } catch {
        failed.push(v);
      }
    }
    if (failed.length && call.name !== 'code') {
      this.report(call.at, `${call.name} fails for ${failed.map((v) => JSON.stringify(v)).join(', ')}, allowed by the source enum of ${from} (for '${shown}')`, 'handle those values first (e.g. a code table with a default) or narrow the source schema', 'warning');
    }
    return failed.length ? undefined : out;
  }

  private checkCondition(cond: Condition, scope: Scope): void {
    switch (cond.kind) {
      case 'all':
      case 'any':
        for (const c of cond.items) this.checkCondition(c, scope);
        return;
      case 'not':
        this.checkCondition(cond.item, scope);
        return;
      case 'exists':
        this.resolve(cond.path, [...cond.at, 'path'], scope);
        return;
      default: {
        const found = this.resolve(cond.path, [...cond.at, 'path'], scope);
        if (found?.nodes) this.checkLiterals(cond, this.walker.typeOf(found.nodes));
      }
    }
  }

  /** The literals of an equals / notEquals / in that the field's type never allows (compared as text, as conditions do). */
  private checkLiterals(cond: Extract<Condition, { kind: 'equals' | 'notEquals' | 'in' }>, type: ValueType): void {
    const { prefix = '', never, note = '' } = this.conditions;
    const types = type.types;
    // A boolean field is true or false: "yes" never matches, like a value outside an enum.
    const values = type.enum?.map(String) ?? (types?.length && types.every((t) => t === 'boolean') ? ['true', 'false'] : undefined);
    const literals = cond.kind === 'in' ? cond.values : [cond.value];
    const at = [...cond.at, cond.kind];
    const severity = cond.kind === 'notEquals' ? 'warning' : 'error';
    const outcome = cond.kind === 'notEquals' ? ', so the condition always holds' : `: ${never}`;
    if (values) {
      for (const literal of literals.filter((l) => !values.includes(l))) {
        const near = closest(literal, values);
        this.report(at, `${prefix}condition compares ${cond.path.text} with ${JSON.stringify(literal)}, which is not one of its values (${values.join(', ')})${outcome}`, `${near !== undefined ? `did you mean ${JSON.stringify(near)}? ` : ''}use one of ${values.map((v) => JSON.stringify(v)).join(', ')}${note}`, severity);
      }
    } else if (types && !types.includes('string')) {
      for (const literal of literals.filter((l) => !literalFits(l, types))) {
        this.report(at, `${prefix}condition compares ${cond.path.text} (${types.join(' | ')}) with ${JSON.stringify(literal)}, which a value of that type never is`, `${types.includes('boolean') ? 'compare a boolean with true or false' : `write a value of type ${types.join(' | ')}`}${note}`, 'warning');
      }
    }
  }

  // ---- source side ----

  private resolve(path: SourcePath, at: Location, scope: Scope): Resolved | undefined {
    const r = this.walk(path, scope);
    if ('error' in r) {
      this.report(at, r.error, r.hint);
      return undefined;
    }
    return r;
  }

  private walk(path: SourcePath, scope: Scope): Resolved | { error: string; hint: string } {
    if (path.base === 'request' && this.def.request === undefined) {
      return { error: `source path '${path.text}' reads the request, but this mapping declares no request schema`, hint: 'add request: <schema of the request this answer belongs to> beside source: and target:' };
    }
    let nodes = path.base === 'root' ? scope.root : path.base === 'request' ? scope.request : scope.scope;
    const where = path.base === 'scope' ? scope.where : '';
    const schemaName = path.base === 'request' ? this.def.request! : this.def.source;
    for (let i = 0; i < path.segments.length; i++) {
      if (!nodes) return { type: UNKNOWN };
      const seg = path.segments[i]!;
      const parent = formatSegments(path.segments.slice(0, i));
      const lookup = typeof seg === 'number' ? this.walker.index(nodes, seg) : this.walker.property(nodes, seg);
      if (lookup.kind === 'undeclared') {
        return {
          error: `source path '${path.text}' is not in ${schemaName}${where}: ${typeof seg === 'number' ? `index [${seg}] is beyond the declared items` : `'${seg}' is not declared${parent ? ` in '${parent}'` : ''}`}`,
          hint: typeof seg === 'number'
            ? 'check prefixItems/items of the source schema'
            : lookup.patterns && !closest(seg, lookup.siblings)
              ? `names here must match ${lookup.patterns.map((p) => `/${p}/`).join(' or ')}${lookup.siblings.length ? ` or be one of ${lookup.siblings.map((x) => `'${x}'`).join(', ')}` : ''}`
              : suggestion(seg, lookup.siblings, 'fields'),
        };
      }
      if (lookup.kind === 'wrong-type') {
        return {
          error: `source path '${path.text}'${where}: '${parent || '(document)'}' is ${describeTypes(lookup.types)}, not ${lookup.expected === 'array' ? 'a list' : 'an object'}`,
          hint: lookup.expected === 'array' ? `drop the [${String(seg)}] index (use fn: [first] when a value may be one item or a list)` : 'shorten the path, or fix the source schema',
        };
      }
      nodes = lookup.kind === 'found' && !lookup.partlyOpen ? lookup.nodes : undefined;
    }
    if (!nodes) return { type: UNKNOWN };
    return { type: this.walker.typeOf(nodes), nodes };
  }
}

/** Whether a literal written in a condition (compared as text) could ever equal a value of these JSON types. */
function literalFits(literal: string, types: readonly JsonType[]): boolean {
  return types.some((t) => t === 'string'
    || (t === 'boolean' && (literal === 'true' || literal === 'false'))
    || (t === 'integer' && /^-?\d+$/.test(literal))
    || (t === 'number' && literal.trim() !== '' && Number.isFinite(Number(literal)))
    || (t === 'null' && literal === 'null')
    || t === 'object' || t === 'array');
}

function rulesUnder(node: TargetNode): Rule[] {
  if (node.rule) return [node.rule];
  return (node.children ?? []).flatMap(rulesUnder);
}

function firstRuleAt(node: TargetNode): Location {
  return rulesUnder(node)[0]?.at ?? [];
}

function firstLeaf(node: TargetNode): string {
  return rulesUnder(node)[0]?.key ?? node.path;
}

function fnHint(input: readonly string[]): string {
  if (input.length === 1 && input[0] === 'string') return 'convert first with fn: [string, …], or point at a text field';
  if (input.includes('number')) return 'convert first (number/integer accept text), or point at another field';
  return 'convert the value first (string, number, integer, boolean), or point at another field';
}

function conversionHint(target: ValueType): string {
  const t = target.types ?? [];
  if (t.includes('integer')) return 'add fn: [integer]';
  if (t.includes('number')) return 'add fn: [number]';
  if (t.includes('boolean')) return 'add fn: [boolean]';
  if (t.includes('string')) return 'add fn: [string] (or pick the text field inside the object)';
  if (t.includes('array')) return 'build the list with each:, or use fn: [split: …]';
  if (t.includes('object')) return 'write the object field by field (target.a, target.b) or with each:';
  return 'check the rule against the target schema';
}
