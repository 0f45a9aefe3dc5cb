/**
 * JSON bytes <-> values, hardened for untrusted input.
 *
 * Before `JSON.parse` builds anything, one iterative pass (no recursion, so a 10,000-deep
 * input cannot blow the stack) checks the syntax, the nesting depth and the keys:
 * `__proto__` anywhere and a `prototype` key inside a `constructor` object are refused, since
 * code that later merges or copies the value could turn them into prototype pollution.
 * The scan also gives a precise position for syntax errors; V8's own messages quote the input,
 * so they are never passed through.
 */
import { HubError } from '../core/errors.js';

/** Deepest nesting of objects/arrays accepted (the top-level container is depth 1). */
export const JSON_MAX_DEPTH = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

export function decodeJson(raw: Buffer | Uint8Array | string): unknown {
  let text: string;
  if (typeof raw === 'string') {
    text = raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
  } else {
    try {
      text = utf8.decode(raw);
    } catch {
      throw new HubError('client.bad-json', 'JSON không hợp lệ / malformed JSON: the body is not valid UTF-8', {
        detail: [{ reason: 'body must be UTF-8 encoded', code: 'json-encoding' }],
      });
    }
  }
  scanJson(text);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // the scanner accepts only valid JSON, so this is unreachable; keep V8's text (it quotes input) out anyway
    throw new HubError('client.bad-json', 'JSON không hợp lệ / malformed JSON', { detail: [{ reason: 'not valid JSON', code: 'json-syntax' }] });
  }
}

export function encodeJson(value: unknown): string {
  let out: string | undefined;
  try {
    out = JSON.stringify(value);
  } catch {
    throw new HubError('mapping.json-encode', 'Không tạo được JSON / cannot encode JSON: value has a cycle or a BigInt');
  }
  if (out === undefined) throw new HubError('mapping.json-encode', 'Không tạo được JSON / cannot encode JSON: no value');
  return out;
}

// ---------------------------------------------------------------------------------------------
// the scanner
// ---------------------------------------------------------------------------------------------

const enum Ctx {
  Object = 1,
  Array = 2,
}

/**
 * Validates `text` as one JSON value; throws the HubError a caller should see. Exported so
 * that other codecs (e.g. JSON inside a SOAP field) can apply the same guard.
 */
export function scanJson(text: string, maxDepth: number = JSON_MAX_DEPTH): void {
  const n = text.length;
  // per open container: its kind, and whether it is the value of a "constructor" key
  const kinds: Ctx[] = [];
  const ctorValue: boolean[] = [];
  let i = skipWs(text, 0);
  let pendingCtor = false; // the value about to be read belongs to a "constructor" key

  // state machine: expecting a value, or what may follow a complete value
  for (;;) {
    // ---- read one value (containers are opened, not read whole)
    if (i >= n) fail(text, i, 'unexpected end of input');
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (kinds.length >= maxDepth) {
        throw new HubError('client.json-too-deep', `JSON lồng quá sâu / JSON nesting exceeds ${maxDepth} levels (position ${i})`, {
          detail: [{ reason: `objects/arrays nested deeper than ${maxDepth}`, code: 'json-depth' }],
        });
      }
      kinds.push(c === 0x7b ? Ctx.Object : Ctx.Array);
      ctorValue.push(pendingCtor);
      pendingCtor = false;
      i = skipWs(text, i + 1);
      const close = c === 0x7b ? 0x7d : 0x5d;
      if (text.charCodeAt(i) === close) {
        kinds.pop();
        ctorValue.pop();
        i++;
      } else if (c === 0x7b) {
        i = readKey(text, i, ctorValue[ctorValue.length - 1] === true);
        pendingCtor = lastKeyWasCtor;
        continue;
      } else {
        continue;
      }
    } else if (c === 0x22 /* " */) {
      i = readString(text, i);
      pendingCtor = false;
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      i = readNumber(text, i);
      pendingCtor = false;
    } else if (text.startsWith('true', i)) {
      i += 4;
      pendingCtor = false;
    } else if (text.startsWith('false', i)) {
      i += 5;
      pendingCtor = false;
    } else if (text.startsWith('null', i)) {
      i += 4;
      pendingCtor = false;
    } else {
      fail(text, i, 'unexpected character');
    }

    // ---- after a complete value: close containers or move to the next member
    for (;;) {
      i = skipWs(text, i);
      const kind = kinds[kinds.length - 1];
      if (kind === undefined) {
        if (i < n) fail(text, i, 'unexpected data after the JSON value');
        return;
      }
      const d = text.charCodeAt(i);
      if (d === 0x2c /* , */) {
        i = skipWs(text, i + 1);
        if (kind === Ctx.Object) {
          i = readKey(text, i, ctorValue[ctorValue.length - 1] === true);
          pendingCtor = lastKeyWasCtor;
        }
        break; // read the next value
      }
      if ((kind === Ctx.Object && d === 0x7d) || (kind === Ctx.Array && d === 0x5d)) {
        kinds.pop();
        ctorValue.pop();
        i++;
        continue;
      }
      if (i >= n) fail(text, i, 'unexpected end of input');
      fail(text, i, kind === Ctx.Object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
  }
}

// set by readKey: whether the key just read is "constructor" (module-level to avoid allocation)
let lastKeyWasCtor = false;

/** Reads `"key"` and the following `:`; returns the index after the colon (and whitespace). */
function readKey(text: string, i: number, insideCtor: boolean): number {
  if (text.charCodeAt(i) !== 0x22) fail(text, i, i >= text.length ? 'unexpected end of input' : 'expected a property name in double quotes');
  const end = readString(text, i);
  const key = keyValue(text, i, end);
  if (key === '__proto__' || (insideCtor && key === 'prototype')) {
    const { line, col } = lineCol(text, i);
    throw new HubError(
      'client.json-forbidden-key',
      `JSON chứa khóa bị cấm / forbidden key "${key === '__proto__' ? '__proto__' : 'constructor.prototype'}" (line ${line}, column ${col})`,
      { detail: [{ reason: `key "${key === '__proto__' ? '__proto__' : 'constructor.prototype'}" is not allowed`, code: 'json-forbidden-key' }] },
    );
  }
  lastKeyWasCtor = key === 'constructor';
  let j = skipWs(text, end);
  if (text.charCodeAt(j) !== 0x3a /* : */) fail(text, j, j >= text.length ? 'unexpected end of input' : "expected ':' after a property name");
  j = skipWs(text, j + 1);
  return j;
}

/** The decoded key, but only when it could be one of the names we care about (cheap otherwise). */
function keyValue(text: string, start: number, end: number): string {
  const len = end - start - 2;
  if (len < 9 && len !== 11) return ''; // shortest forms: "prototype" (9), "__proto__" (9), "constructor" (11)
  const rawKey = text.slice(start + 1, end - 1);
  return rawKey.includes('\\') ? (JSON.parse(text.slice(start, end)) as string) : rawKey;
}

/** Returns the index after the closing quote. */
function readString(text: string, i: number): number {
  const n = text.length;
  let j = i + 1;
  while (j < n) {
    const c = text.charCodeAt(j);
    if (c === 0x22 /* " */) return j + 1;
    if (c === 0x5c /* \ */) {
      const e = text.charCodeAt(j + 1);
      if (e === 0x75 /* u */) {
        if (!isHex4(text, j + 2)) fail(text, j, 'invalid \\u escape');
        j += 6;
      } else if (e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
        j += 2;
      } else {
        fail(text, j, j + 1 >= n ? 'unterminated string' : 'invalid escape');
      }
      continue;
    }
    if (c < 0x20) fail(text, j, 'control character in a string');
    j++;
  }
  return fail(text, n, 'unterminated string');
}

function isHex4(text: string, at: number): boolean {
  if (at + 4 > text.length) return false;
  for (let k = at; k < at + 4; k++) {
    const c = text.charCodeAt(k);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

function readNumber(text: string, i: number): number {
  NUMBER.lastIndex = i;
  if (!NUMBER.test(text)) fail(text, i, 'invalid number');
  return NUMBER.lastIndex;
}

function skipWs(text: string, i: number): number {
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  return i;
}

function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let k = text.indexOf('\n'); k >= 0 && k < offset; k = text.indexOf('\n', k + 1)) {
    line++;
    lineStart = k + 1;
  }
  return { line, col: offset - lineStart + 1 };
}

function fail(text: string, position: number, what: string): never {
  const { line, col } = lineCol(text, position);
  throw new HubError('client.bad-json', `JSON không hợp lệ / malformed JSON: ${what} at line ${line}, column ${col} (position ${position})`, {
    detail: [{ reason: `${what} at line ${line}, column ${col}`, code: 'json-syntax' }],
  });
}
