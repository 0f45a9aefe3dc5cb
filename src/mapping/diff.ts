/**
 * Readable differences between an expected and an actual JSON value, one line per difference:
 *   at birthDate.value: expected "1995-01-02", got "1995-02-01"
 *   at name.middle: missing (expected "Văn")
 *   at legacyId: unexpected key (got "123456789")
 * Golden test fixtures hold fictitious people only, so values are shown.
 */
const MAX_LINES = 50;

export function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  const text = JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  return typeof v === 'object' ? 'object' : typeof v;
}

function join(path: string, k: string | number): string {
  if (typeof k === 'number') return `${path}[${k}]`;
  return path ? `${path}.${k}` : k;
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Differences for deep equality (`equals:`). Empty when equal. */
export function diffEquals(expected: unknown, actual: unknown): string[] {
  const out: string[] = [];
  compare(expected, actual, '', false, out);
  return cap(out);
}

/** Differences for a recursive subset (`contains:`): extra keys in objects are fine; lists compare item by item. */
export function diffContains(expected: unknown, actual: unknown): string[] {
  const out: string[] = [];
  compare(expected, actual, '', true, out);
  return cap(out);
}

function cap(lines: string[]): string[] {
  return lines.length > MAX_LINES ? [...lines.slice(0, MAX_LINES), `… and ${lines.length - MAX_LINES} more differences`] : lines;
}

function compare(expected: unknown, actual: unknown, path: string, subset: boolean, out: string[]): void {
  const at = path || '(root)';
  if (isPlain(expected)) {
    if (!isPlain(actual)) {
      out.push(`at ${at}: expected an object, got ${actual === undefined ? 'nothing' : `${kind(actual)} ${show(actual)}`}`);
      return;
    }
    for (const k of Object.keys(expected)) {
      if (!Object.hasOwn(actual, k)) out.push(`at ${join(path, k)}: missing (expected ${show(expected[k])})`);
      else compare(expected[k], actual[k], join(path, k), subset, out);
    }
    if (!subset) for (const k of Object.keys(actual)) if (!Object.hasOwn(expected, k)) out.push(`at ${join(path, k)}: unexpected key (got ${show(actual[k])})`);
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) {
      out.push(`at ${at}: expected a list, got ${actual === undefined ? 'nothing' : `${kind(actual)} ${show(actual)}`}`);
      return;
    }
    if (expected.length !== actual.length) out.push(`at ${at}: expected ${expected.length} item(s), got ${actual.length}`);
    const n = Math.min(expected.length, actual.length);
    for (let i = 0; i < n; i++) compare(expected[i], actual[i], join(path, i), subset, out);
    return;
  }
  if (!Object.is(expected, actual) && !(expected === 0 && actual === 0)) {
    out.push(`at ${at}: expected ${show(expected)}, got ${actual === undefined ? 'nothing' : show(actual)}`);
  }
}
