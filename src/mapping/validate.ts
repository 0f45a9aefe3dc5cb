/**
 * Structural validation of mapping config files against their JSON Schemas (config-schemas.ts),
 * with Ajv's errors turned into ConfigIssues that an integrator can act on: file, line, field,
 * a sentence, and a concrete hint.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { ConfigIssue } from '../core/issues.js';
import type { SourceFile } from '../core/yaml.js';
import { codeTableSchema, mappingSchema, mappingTestSchema } from './config-schemas.js';
import { lookupFunction, FUNCTION_NAMES } from './functions.js';
import { closest, suggestion } from '../core/suggest.js';

export type Location = ReadonlyArray<string | number>;

let ajv: Ajv2020 | undefined;
function configAjv(): Ajv2020 {
  if (!ajv) {
    ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
  }
  return ajv;
}

const cache = new Map<string, ValidateFunction>();
function validator(kind: 'mapping' | 'mapping-test' | 'code-table'): ValidateFunction {
  let v = cache.get(kind);
  if (!v) {
    const schema = kind === 'mapping' ? mappingSchema() : kind === 'mapping-test' ? mappingTestSchema() : codeTableSchema();
    v = configAjv().compile(schema);
    cache.set(kind, v);
  }
  return v;
}

/** Validator of one function's arguments (used again by the semantic pass, which must never trust its input). */
const argValidators = new Map<string, ValidateFunction>();
export function argsValidator(fn: string): ValidateFunction | undefined {
  const spec = lookupFunction(fn);
  if (!spec?.args) return undefined;
  let v = argValidators.get(fn);
  if (!v) {
    v = configAjv().compile(spec.args);
    argValidators.set(fn, v);
  }
  return v;
}

/** `fields.birthDate.value.fn[0]` */
export function fieldOf(path: Location): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

export function issueAt(src: Pick<SourceFile, 'file' | 'locate'>, path: Location, message: string, hint?: string, severity: ConfigIssue['severity'] = 'error'): ConfigIssue {
  const at = src.locate(path);
  const issue: ConfigIssue = { file: src.file, line: at.line, column: at.column, field: fieldOf(path) || undefined, message, severity };
  if (hint) issue.hint = hint;
  if (!issue.field) delete issue.field;
  return issue;
}

export function validateFile(kind: 'mapping' | 'mapping-test' | 'code-table', src: SourceFile): ConfigIssue[] {
  if (src.errors.length) {
    // the first syntax error only: the ones after it are usually its echoes
    return src.errors.slice(0, 1).map((e) => ({ file: src.file, line: e.line, column: e.column, message: `YAML: ${e.message}`, hint: 'fix the YAML syntax (indentation, quotes, duplicate keys); quote paths with [n] inside { … }', severity: 'error' as const }));
  }
  const v = validator(kind);
  if (v(src.value)) return [];
  return translate(v.errors ?? [], src);
}

/** Validates a value at `base` (e.g. a function's arguments) and reports at that place in the file. */
export function validateAt(v: ValidateFunction, value: unknown, src: Pick<SourceFile, 'file' | 'locate' | 'value'>, base: Location): ConfigIssue[] {
  if (v(value)) return [];
  return translate(v.errors ?? [], src, base);
}

function pathOf(instancePath: string): Array<string | number> {
  if (!instancePath) return [];
  return instancePath
    .split('/')
    .slice(1)
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((t) => (/^(0|[1-9]\d*)$/.test(t) ? Number(t) : t));
}

function valueAt(root: unknown, path: Location): unknown {
  let v = root;
  for (const k of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, k)) return undefined;
    v = (v as Record<string | number, unknown>)[k];
  }
  return v;
}

function isFnPosition(path: Location): boolean {
  return path.length >= 2 && typeof path[path.length - 1] === 'number' && path[path.length - 2] === 'fn';
}

function translate(errors: ErrorObject[], src: Pick<SourceFile, 'file' | 'locate' | 'value'>, base: Location = []): ConfigIssue[] {
  // oneOf/anyOf failures are reported once with their $comment; their branches' errors are noise
  const groups = errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf');
  const inGroup = (e: ErrorObject) => groups.some((g) => g !== e && g.instancePath === e.instancePath && e.schemaPath.startsWith(`${g.schemaPath}/`));
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (e.keyword === 'if' || inGroup(e)) continue;
    const path = [...base, ...pathOf(e.instancePath)];
    const value = valueAt(src.value, path);
    const parent = (e.parentSchema ?? {}) as Record<string, unknown>;
    let at: Location = path;
    let message: string;
    let hint: string | undefined;
    switch (e.keyword) {
      case 'oneOf':
      case 'anyOf':
        message = typeof parent.$comment === 'string' ? parent.$comment : `must match ${e.keyword === 'oneOf' ? 'exactly one' : 'at least one'} of the allowed forms`;
        hint = typeof parent.description === 'string' ? parent.description : undefined;
        break;
      case 'required': {
        const missing = (e.params as { missingProperty: string }).missingProperty;
        message = `'${missing}' is missing`;
        const prop = (parent.properties as Record<string, { description?: string }> | undefined)?.[missing];
        hint = `add ${missing}:${prop?.description ? ` (${prop.description})` : ''}`;
        break;
      }
      case 'dependentRequired': {
        const p = e.params as { property: string; missingProperty: string };
        message = `'${p.property}' needs '${p.missingProperty}' beside it`;
        hint = `add ${p.missingProperty}: or remove ${p.property}:`;
        break;
      }
      case 'additionalProperties': {
        const key = (e.params as { additionalProperty: string }).additionalProperty;
        at = [...path, key];
        const allowed = Object.keys((parent.properties as object | undefined) ?? {});
        if (isFnPosition(path)) {
          const spec = lookupFunction(key);
          message = spec ? `function '${key}' takes no arguments` : `unknown function '${key}'`;
          hint = spec ? `write it as a bare name: - ${key}` : `${suggestion(key, FUNCTION_NAMES, 'functions')} (the allow-list is in docs/mapping-language.md)`;
        } else {
          message = `unknown key '${key}'`;
          hint = allowed.length ? suggestion(key, allowed, 'keys') : 'remove it';
        }
        break;
      }
      case 'enum': {
        const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map(String);
        if (isFnPosition(path) && typeof value === 'string') {
          const spec = lookupFunction(value);
          message = spec ? `function '${value}' needs arguments` : `unknown function '${value}'`;
          hint = spec ? `write it as { ${value}: … }, e.g. ${spec.example}` : `${suggestion(value, FUNCTION_NAMES, 'functions')} (the allow-list is in docs/mapping-language.md)`;
        } else {
          message = `must be one of ${allowed.slice(0, 10).join(', ')}${allowed.length > 10 ? ', …' : ''}`;
          const near = typeof value === 'string' ? closest(value, allowed) : undefined;
          hint = near ? `did you mean '${near}'?` : undefined;
        }
        break;
      }
      case 'type': {
        const type = (e.params as { type: string | string[] }).type;
        message = `must be ${Array.isArray(type) ? type.join(' or ') : type}`;
        hint = typeof parent.description === 'string' ? parent.description : undefined;
        break;
      }
      case 'pattern':
        message = 'does not have the expected form';
        hint = typeof parent.description === 'string' ? parent.description : `must match ${(e.params as { pattern: string }).pattern}`;
        break;
      case 'false schema':
        message = 'is not allowed here';
        break;
      default:
        message = e.message ?? `fails ${e.keyword}`;
        hint = typeof parent.description === 'string' ? parent.description : undefined;
    }
    const issue = issueAt(src, at, message, hint);
    const key = `${issue.field}|${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(issue);
  }
  return issues;
}


