/**
 * Paths of the mapping language.
 *
 * Source paths are dotted property names with optional `[n]` indexes (`CongDan.Cha[0].HoVaTen`).
 * Inside an `each`, a path is relative to the current item; `$.x` starts at the document root,
 * `$` alone is the whole document and `@` alone is the current item (useful to map a list of
 * scalars). `$request.x` reads the request of the exchange a response mapping answers (the mapping
 * declares its schema with `request:`). Target paths are dotted property names only (arrays are built
 * with `each`).
 *
 * Every segment is checked here, at load, and the code generator emits segments only as
 * `JSON.stringify`'d string literals or validated integers. A segment that names anything
 * reachable through `Object.prototype` (`__proto__`, `constructor`, `toString`, …) or
 * `prototype` is refused outright: reading or writing those keys is how prototype pollution
 * and "config that reaches functions" start.
 */

export type PathSegment = string | number;

export interface SourcePath {
  /**
   * Where the path starts: the current scope (the document, or the item inside `each`), the root, or the
   * request of the exchange (`$request`, for a mapping of a response or a reply).
   */
  base: 'scope' | 'root' | 'request';
  segments: readonly PathSegment[];
  /** The path as written in the config, for messages. */
  text: string;
}

/** Longest path accepted, in segments; deeper nesting is a config mistake, not a use case. */
export const MAX_PATH_SEGMENTS = 32;

/** True for names that must never be used as a property key read from or written to by a mapping. */
export function isForbiddenKey(name: string): boolean {
  return name === '__proto__' || name === 'prototype' || name === 'constructor' || name in Object.prototype;
}

export function forbiddenKeyReason(name: string): string {
  return `"${name}" is not allowed as a field name: it is a property of every JavaScript object (prototype pollution guard)`;
}

/** The prefix of paths into the request a response mapping answers. */
export const REQUEST = '$request';
/** Path prefixes other than the current scope, longest first (`$request` also starts with `$`). */
const BASES: ReadonlyArray<readonly [string, SourcePath['base']]> = [[REQUEST, 'request'], ['$', 'root']];

const SEGMENT = /^[^.[\]\s]+$/;
const INDEX = /^\[(0|[1-9][0-9]{0,8})\]/;

export type PathResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Parses a source path (`a.b[0].c`, `$.a`, `$`, `@`, `$request.a`). */
export function parseSourcePath(text: string): PathResult<SourcePath> {
  if (typeof text !== 'string' || text.length === 0) return { ok: false, reason: 'a path must be a non-empty string' };
  if (text === '@') return { ok: true, value: { base: 'scope', segments: [], text } };
  for (const [prefix, base] of BASES) {
    if (text === prefix) return { ok: true, value: { base, segments: [], text } };
    if (text.startsWith(`${prefix}.`)) return parseRest(text.slice(prefix.length + 1), [], base, text, false);
    if (text.startsWith(`${prefix}[`)) return parseRest(text.slice(prefix.length), [], base, text, true);
  }
  return parseRest(text, [], 'scope', text, false);
}

function parseRest(rest: string, segments: PathSegment[], base: SourcePath['base'], text: string, startsWithIndex: boolean): PathResult<SourcePath> {
  let expectName = !startsWithIndex;
  while (rest.length > 0 || expectName) {
    if (expectName) {
      const end = rest.search(/[.[]/);
      const name = end < 0 ? rest : rest.slice(0, end);
      const check = checkName(name, text);
      if (check) return { ok: false, reason: check };
      segments.push(name);
      rest = end < 0 ? '' : rest.slice(end);
      expectName = false;
      continue;
    }
    if (rest.startsWith('[')) {
      const m = INDEX.exec(rest);
      if (!m) return { ok: false, reason: `bad index in path "${text}": write [0], [1], … (non-negative integers)` };
      segments.push(Number(m[1]));
      rest = rest.slice(m[0].length);
      continue;
    }
    if (rest.startsWith('.')) {
      rest = rest.slice(1);
      expectName = true;
      continue;
    }
    return { ok: false, reason: `unexpected text in path "${text}"` };
  }
  if (segments.length > MAX_PATH_SEGMENTS) return { ok: false, reason: `path "${text}" is deeper than ${MAX_PATH_SEGMENTS} segments` };
  return { ok: true, value: { base, segments, text } };
}

function checkName(name: string, text: string): string | undefined {
  if (name.length === 0) return `empty segment in path "${text}" (two dots, or a dot at the start or end)`;
  if (!SEGMENT.test(name)) return `bad segment "${name}" in path "${text}": names cannot contain spaces, dots or brackets`;
  if (isForbiddenKey(name)) return forbiddenKeyReason(name);
  return undefined;
}

/** Parses a target path: dotted property names, no indexes, no `$`/`@`. */
export function parseTargetPath(text: string): PathResult<string[]> {
  if (typeof text !== 'string' || text.length === 0) return { ok: false, reason: 'a target field must be a non-empty name' };
  if (/[[\]]/.test(text)) return { ok: false, reason: `target field "${text}" cannot contain [n] indexes: build arrays with each + fields` };
  if (text === '$' || text === '@' || text.startsWith('$.')) return { ok: false, reason: `target field "${text}" must be a plain dotted name ($ and @ are for source paths)` };
  const segments = text.split('.');
  for (const name of segments) {
    const check = checkName(name, text);
    if (check) return { ok: false, reason: check };
  }
  if (segments.length > MAX_PATH_SEGMENTS) return { ok: false, reason: `target field "${text}" is deeper than ${MAX_PATH_SEGMENTS} segments` };
  return { ok: true, value: segments };
}

/** `a.b[0].c` for messages. */
export function formatSegments(segments: readonly PathSegment[]): string {
  let out = '';
  for (const s of segments) out += typeof s === 'number' ? `[${s}]` : out ? `.${s}` : s;
  return out;
}
