/**
 * Golden tests of mappings: a `*.test.yaml` beside each mapping lists input documents and what the
 * mapping must make of them (`equals`, `contains`, `schema: true`) or how it must fail
 * (`error_matches`). Run by `lienthong test` and by CI.
 */
import { dirname, resolve } from 'node:path';
import { HubError } from '../core/errors.js';
import type { ConfigIssue } from '../core/issues.js';
import type { SourceFile } from '../core/yaml.js';
import type { CompiledMapping } from './compile.js';
import { diffContains, diffEquals, show } from './diff.js';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { toErrorDetails } from '../schema/validation-errors.js';
import { issueAt, validateFile } from './validate.js';

export interface MappingTestCase {
  name: string;
  /** Line of the case in the test file. */
  line: number;
  input: unknown;
  /** What `$request` paths read (mappings that declare `request:`). */
  request?: unknown;
  equals?: unknown;
  contains?: unknown;
  schema?: boolean;
  /** Regular expression the failure's message or detail must match (named as in the file). */
  error_matches?: string;
  /** false: the input (and request) need not be valid against the mapping's schemas (a test of the mapping's own defences). */
  inputSchema?: boolean;
}

export interface MappingTestSuite {
  file: string;
  /** The mapping under test (absolute path). */
  mappingFile: string;
  cases: MappingTestCase[];
  /** Line/column of a path in the test file (for issues about a case's input). */
  locate?: SourceFile['locate'];
}

export interface CaseResult {
  suite: string;
  name: string;
  ok: boolean;
  /** Readable per-path diff or reason, when the case failed. */
  message?: string;
}

interface RawCase {
  name: string;
  input: unknown;
  request?: unknown;
  equals?: unknown;
  contains?: unknown;
  schema?: boolean;
  error_matches?: string;
  inputSchema?: boolean;
}

export function loadMappingTests(src: SourceFile): { suite?: MappingTestSuite; issues: ConfigIssue[] } {
  const issues = validateFile('mapping-test', src);
  if (issues.length) return { issues };
  const doc = src.value as { mapping: string; cases: RawCase[] };
  const cases: MappingTestCase[] = [];
  const names = new Map<string, number>();
  doc.cases.forEach((c, i) => {
    const at = ['cases', i];
    const line = src.locate(at).line;
    if (names.has(c.name)) issues.push(issueAt(src, [...at, 'name'], `case name "${c.name}" is used twice (also case ${names.get(c.name)! + 1})`, 'give every case its own name: failures are reported by name'));
    names.set(c.name, i);
    const tc: MappingTestCase = { name: c.name, line, input: c.input };
    if (Object.hasOwn(c, 'request')) tc.request = c.request;
    if (Object.hasOwn(c, 'error_matches')) {
      const checks = ['equals', 'contains', 'schema'].filter((k) => Object.hasOwn(c, k));
      if (checks.length) issues.push(issueAt(src, [...at, 'error_matches'], `a case that expects an error cannot also check the output (${checks.join(', ')})`, 'split it into two cases'));
      try {
        new RegExp(c.error_matches!);
        tc.error_matches = c.error_matches!;
      } catch (error) {
        issues.push(issueAt(src, [...at, 'error_matches'], `error_matches is not a valid regular expression: ${(error as Error).message}`, 'escape special characters with \\ (e.g. birthDate\\.value)'));
      }
    }
    if (Object.hasOwn(c, 'equals')) tc.equals = c.equals;
    if (Object.hasOwn(c, 'contains')) tc.contains = c.contains;
    if (c.schema !== undefined) tc.schema = c.schema;
    if (c.inputSchema !== undefined) tc.inputSchema = c.inputSchema;
    if (tc.error_matches === undefined && tc.equals === undefined && tc.contains === undefined && tc.schema !== true && !Object.hasOwn(c, 'error_matches')) {
      issues.push(issueAt(src, at, `case "${c.name}" checks nothing (schema: false and no equals/contains/error_matches)`, 'add equals:, contains:, schema: true or error_matches:'));
    }
    cases.push(tc);
  });
  if (issues.some((i) => i.severity === 'error')) return { issues };
  return { suite: { file: src.file, mappingFile: resolve(dirname(src.file), doc.mapping), cases, locate: src.locate }, issues };
}

/**
 * An envelope like the one the hub stamps on every canonical message after mapping (src/pipeline/inbound.ts
 * and call.ts, `stamp`): the same fields, values of their real form. A canonical type is checked against it
 * (it must accept the envelope), and golden tests of mappings into a canonical type validate their output
 * with it, as the hub validates what it stamped.
 */
export function envelopeProbe(messageType: string): Record<string, string> {
  return {
    messageId: '00000000-0000-4000-8000-000000000000',
    messageType,
    occurredAt: '2025-01-01T08:00:00+07:00',
    correlationId: '00000000-0000-4000-8000-000000000001',
    source: 'VN/GOV/000.00.00.H56/PROBE',
  };
}

/**
 * Golden inputs (and requests) the hub would refuse before the mapping ever ran: the hub validates every
 * message against its schema first, so a test on such an input passes on something that never occurs at
 * run time (an undeclared key, or a failing case that fails for another reason than the one it names).
 */
export function checkCaseInputs(suite: MappingTestSuite, input: { schema: string; validate: ValidateFunction }, request?: { schema: string; validate: ValidateFunction }): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  suite.cases.forEach((c, i) => {
    if (c.inputSchema === false) return;
    const parts: Array<['input' | 'request', unknown, { schema: string; validate: ValidateFunction }]> = [['input', c.input, input]];
    if (request && c.request !== undefined) parts.push(['request', c.request, request]);
    for (const [key, value, { schema, validate }] of parts) {
      if (validate(value)) continue;
      for (const e of validate.errors ?? []) {
        const detail = toErrorDetails([e])[0]!;
        const extra = e.params.additionalProperty ?? e.params.unevaluatedProperty;
        const path = [...e.instancePath.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~')), ...(typeof extra === 'string' ? [extra] : [])];
        const at = suite.locate?.(['cases', i, key, ...path]);
        issues.push({
          file: suite.file, line: at?.line ?? c.line, column: at?.column, field: `cases[${i}].${key}${detail.field ? `.${detail.field}` : ''}`, severity: 'error',
          message: `case "${c.name}": the ${key} is not valid against ${schema} (${detail.field ?? '(root)'}: ${detail.reason}); the hub would refuse it before the mapping runs`,
          hint: `correct the ${key} so it is one the system can send, or add inputSchema: false to this case if it tests the mapping on a value the schema refuses`,
        });
      }
    }
  });
  return issues;
}

/** Text a failure is matched against: type, message, then one line per detail (field: reason (code)). */
export function describeFailure(error: unknown): string {
  if (error instanceof HubError) {
    const details = error.detail.map((d) => `${d.field ?? ''}: ${d.reason}${d.code ? ` (${d.code})` : ''}`);
    return [`${error.type}: ${error.message}`, ...details].join('\n');
  }
  return `${(error as Error)?.name ?? 'Error'}: ${(error as Error)?.message ?? String(error)}`;
}

export function runMappingTests(suite: MappingTestSuite, mapping: CompiledMapping, validateTarget: (out: unknown) => string[]): CaseResult[] {
  return suite.cases.map((c) => runCase(suite, c, mapping, validateTarget));
}

function runCase(suite: MappingTestSuite, c: MappingTestCase, mapping: CompiledMapping, validateTarget: (out: unknown) => string[]): CaseResult {
  const result = (problems: string[]): CaseResult =>
    problems.length ? { suite: suite.file, name: c.name, ok: false, message: problems.join('\n') } : { suite: suite.file, name: c.name, ok: true };
  let output: Record<string, unknown>;
  try {
    output = mapping.run(structuredClone(c.input), structuredClone(c.request));
  } catch (error) {
    const text = describeFailure(error);
    if (c.error_matches !== undefined) {
      if (!(error instanceof HubError)) return result([`expected a mapping failure matching /${c.error_matches}/, but the mapping crashed:`, indent(text)]);
      return result(new RegExp(c.error_matches).test(text) ? [] : [`the mapping failed, but not as expected: /${c.error_matches}/ does not match`, indent(text)]);
    }
    return result(['the mapping failed:', indent(text)]);
  }
  if (c.error_matches !== undefined) return result([`expected the mapping to fail (matching /${c.error_matches}/), but it succeeded with ${show(output)}`]);
  const problems: string[] = [];
  if (c.equals !== undefined) problems.push(...diffEquals(c.equals, output));
  if (c.contains !== undefined) problems.push(...diffContains(c.contains, output));
  if (c.schema) {
    const errors = validateTarget(output);
    if (errors.length) problems.push(`the output is not valid against ${mapping.target}:`, ...errors.map((e) => `  ${e}`));
  }
  return result(problems);
}

function indent(text: string): string {
  return text.split('\n').map((l) => `  ${l}`).join('\n');
}
