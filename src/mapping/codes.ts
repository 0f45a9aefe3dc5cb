/**
 * Code tables: one system's codes → another's (DVCQG TrangThaiHoSo "1".."10" ↔ canonical
 * SUBMITTED…RESULT_RETURNED, a province's own status ints, gender codes…). One YAML file per
 * table, usually under `mappings/codes/` or `mappings/<system>/codes/`; names are global.
 */
import type { ConfigIssue } from '../core/issues.js';
import type { SourceFile } from '../core/yaml.js';
import { issueAt, validateFile } from './validate.js';

export interface CodeTable {
  name: string;
  file: string;
  /** Incoming code (as text) → value; a frozen object without prototype. */
  entries: Readonly<Record<string, unknown>>;
  default?: unknown;
  hasDefault: boolean;
}

export function loadCodeTable(src: SourceFile): { table?: CodeTable; issues: ConfigIssue[] } {
  const issues = validateFile('code-table', src);
  if (issues.length) return { issues };
  const doc = src.value as { name: string; entries: Record<string, unknown>; default?: unknown };
  const entries = Object.create(null) as Record<string, unknown>;
  for (const [key, value] of Object.entries(doc.entries)) {
    if (value === '' ) {
      issues.push(issueAt(src, ['entries', key], `code "${key}" maps to "" which a mapping treats as absent (the field would not be written)`, 'give it a real value or remove the entry', 'warning'));
    }
    entries[key] = value;
  }
  const hasDefault = Object.hasOwn(doc, 'default');
  const table: CodeTable = { name: doc.name, file: src.file, entries: Object.freeze(entries), hasDefault };
  if (hasDefault) table.default = doc.default;
  return { table, issues };
}
