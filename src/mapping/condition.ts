import type { ConfigIssue } from '../core/issues.js';
import type { SourceFile } from '../core/yaml.js';
import type { SchemaSet } from '../schema/set.js';
import { checkCondition, type ConditionContext } from './check.js';
import { compileMapping } from './compile.js';
import type { CodeTable } from './codes.js';
import { loadMapping, planOf } from './load.js';

/**
 * A `when` condition outside a mapping (e.g. a route that sends to a destination only for some
 * statuses). It is the mapping language's own `when`, compiled as a one-rule mapping, so there is
 * exactly one condition language to learn, check and secure.
 */
export function compileCondition(
  when: unknown,
  where: { file: string; locate: SourceFile['locate']; path: Array<string | number>; source: string },
  codeTables: ReadonlyMap<string, CodeTable> = new Map(),
  /**
   * The schemas, to check the condition's paths and values against `where.source` (a misspelled path, or a value the
   * field never has, would never match), and what a condition that never holds means there.
   */
  check?: { schemas: SchemaSet; context: ConditionContext },
): { test?: (value: unknown) => boolean; issues: ConfigIssue[] } {
  const at = where.locate(where.path);
  const synthetic: SourceFile = {
    file: where.file,
    value: { source: where.source, target: where.source, fields: { matched: { const: true, when } } },
    locate: () => at,
    errors: [],
  };
  const { mapping, issues } = loadMapping(synthetic, `${where.file}#${where.path.join('.')}`);
  const located = issues.map((i) => ({ ...i, line: at.line, column: at.column, field: where.path.join('.') }));
  if (!mapping) return { issues: located };
  const condition = planOf(mapping).fields.tree.find((node) => node.name === 'matched')?.rule?.when;
  if (check && condition) {
    const found = checkCondition(mapping, condition, { schemas: check.schemas, codeTables }, check.context);
    located.push(...found.map((i) => ({ ...i, file: where.file, line: at.line, column: at.column, field: where.path.join('.') })));
    if (found.some((i) => i.severity === 'error')) return { issues: located };
  }
  const compiled = compileMapping(mapping, { codeTables });
  return { test: (value) => compiled.run(value).matched === true, issues: located };
}
