/**
 * A problem found while checking configuration (lienthong check). Every issue names the file,
 * the line and the field, and says how to fix it: integrators should never have to guess.
 */
export interface ConfigIssue {
  file: string;
  line?: number;
  column?: number;
  /** Dotted path of the offending field inside the file, e.g. "fields.birthDate.fn[0]". */
  field?: string;
  message: string;
  hint?: string;
  severity: 'error' | 'warning';
}

export function formatIssue(issue: ConfigIssue): string {
  const where = `${issue.file}${issue.line ? `:${issue.line}${issue.column ? `:${issue.column}` : ''}` : ''}`;
  const field = issue.field ? ` [${issue.field}]` : '';
  const hint = issue.hint ? `\n    fix: ${issue.hint}` : '';
  return `${issue.severity === 'error' ? 'error' : 'warning'} ${where}${field}: ${issue.message}${hint}`;
}
