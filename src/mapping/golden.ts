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
}

export interface MappingTestSuite {
  file: string;
  /** The mapping under test (absolute path). */
  mappingFile: string;
  cases: MappingTestCase[];
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
    if (tc.error_matches === undefined && tc.equals === undefined && tc.contains === undefined && tc.schema !== true && !Object.hasOwn(c, 'error_matches')) {
      issues.push(issueAt(src, at, `case "${c.name}" checks nothing (schema: false and no equals/contains/error_matches)`, 'add equals:, contains:, schema: true or error_matches:'));
    }
    cases.push(tc);
  });
  if (issues.some((i) => i.severity === 'error')) return { issues };
  return { suite: { file: src.file, mappingFile: resolve(dirname(src.file), doc.mapping), cases }, issues };
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
