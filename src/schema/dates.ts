import { HubError } from '../core/errors.js';
import { isRealDate } from './formats.js';

/**
 * Dates as Vietnamese systems write them. A pattern is fixed-width tokens (yyyy yy MM dd HH mm ss SSS)
 * between literal separators ('T' quoted literals allowed), or 'iso' (yyyy-MM-ddTHH:mm:ss+07:00) or
 * 'iso-date' (yyyy-MM-dd). A pattern without an offset means local time in Asia/Ho_Chi_Minh, which has
 * been UTC+07:00 without daylight saving since 1975, so a fixed offset is exact.
 *
 * Strict on purpose: a 12-hour `hh` token is refused (a real bug in a payment client wrote `hhmmss`
 * and lost twelve hours every afternoon), and every value must be a real calendar date and time.
 */
export type DatePattern = string;

const VN_OFFSET_MINUTES = 7 * 60;
const TOKENS = ['yyyy', 'yy', 'MM', 'dd', 'HH', 'mm', 'ss', 'SSS'] as const;
type Token = (typeof TOKENS)[number];

interface Segment { token?: Token; literal?: string; start: number; length: number }
interface CompiledPattern { kind: 'fixed'; segments: Segment[]; length: number; hasTime: boolean; utc: boolean }
type Compiled = CompiledPattern | { kind: 'iso' } | { kind: 'iso-date' };

/** Wall-clock fields in Asia/Ho_Chi_Minh. */
export interface VnDateTime { year: number; month: number; day: number; hour: number; minute: number; second: number; millisecond: number }

const cache = new Map<string, Compiled>();

/** undefined when the pattern is usable, else why it is not (shown by `lienthong check`). */
export function checkPattern(pattern: string): string | undefined {
  try {
    compile(pattern);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

function compile(pattern: string): Compiled {
  const cached = cache.get(pattern);
  if (cached) return cached;
  let compiled: Compiled;
  if (pattern === 'iso' || pattern === 'iso-date') compiled = { kind: pattern };
  else compiled = compileFixed(pattern);
  cache.set(pattern, compiled);
  return compiled;
}

function compileFixed(pattern: string): CompiledPattern {
  const segments: Segment[] = [];
  let position = 0;
  let i = 0;
  let utc = false;
  while (i < pattern.length) {
    const char = pattern[i]!;
    if (char === "'") {
      const end = pattern.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unclosed quote in date pattern "${pattern}"`);
      const literal = pattern.slice(i + 1, end);
      if (literal === 'Z' && end === pattern.length - 1) utc = true;
      segments.push({ literal, start: position, length: literal.length });
      position += literal.length;
      i = end + 1;
      continue;
    }
    if (/[A-Za-z]/.test(char)) {
      const token = TOKENS.find((t) => pattern.startsWith(t, i));
      if (!token) {
        const run = pattern.slice(i).match(/^([A-Za-z])\1*/)![0];
        if (run.startsWith('h')) throw new Error(`12-hour "${run}" in date pattern "${pattern}" is ambiguous and refused: use "HH" (00–23)`);
        throw new Error(`unknown token "${run}" in date pattern "${pattern}": use yyyy, yy, MM, dd, HH, mm, ss, SSS, or 'iso' / 'iso-date'`);
      }
      segments.push({ token, start: position, length: token.length });
      position += token.length;
      i += token.length;
      continue;
    }
    segments.push({ literal: char, start: position, length: 1 });
    position += 1;
    i += 1;
  }
  const has = (t: Token) => segments.some((s) => s.token === t);
  if (!has('yyyy') && !has('yy')) throw new Error(`date pattern "${pattern}" has no year (yyyy or yy)`);
  if (has('dd') && !has('MM')) throw new Error(`date pattern "${pattern}" has a day but no month`);
  if ((has('mm') || has('ss')) && !has('HH')) throw new Error(`date pattern "${pattern}" has minutes or seconds but no hour (HH)`);
  return { kind: 'fixed', segments, length: position, hasTime: has('HH'), utc };
}

function fail(reason: string): never {
  throw new HubError('mapping.failed', `Ngày giờ không hợp lệ / invalid date: ${reason}`, { detail: [{ reason, code: 'bad-date' }] });
}

function digits(value: string, start: number, length: number): number {
  let n = 0;
  for (let i = start; i < start + length; i++) {
    const c = value.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

function checkFields(f: VnDateTime, pattern: string): VnDateTime {
  if (f.month < 1 || f.month > 12) fail(`month out of range for pattern "${pattern}"`);
  if (!isRealDate(f.year, f.month, f.day)) fail(`day does not exist in that month for pattern "${pattern}"`);
  if (f.hour > 23 || f.minute > 59 || f.second > 59) fail(`time out of range for pattern "${pattern}" (24-hour clock)`);
  return f;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/;

/** Parses a value written in `pattern` into Asia/Ho_Chi_Minh wall-clock fields. */
export function parseDate(value: string, pattern: DatePattern): VnDateTime {
  if (typeof value !== 'string') fail(`expected text for pattern "${pattern}"`);
  const compiled = compile(pattern);
  if (compiled.kind === 'fixed') {
    if (value.length !== compiled.length) fail(`expected the form "${pattern}"`);
    const f: VnDateTime = { year: 0, month: 1, day: 1, hour: 0, minute: 0, second: 0, millisecond: 0 };
    for (const s of compiled.segments) {
      if (s.literal !== undefined) {
        if (value.substr(s.start, s.length) !== s.literal) fail(`expected the form "${pattern}"`);
        continue;
      }
      const n = digits(value, s.start, s.length);
      if (n < 0) fail(`expected digits in the form "${pattern}"`);
      switch (s.token) {
        case 'yyyy': f.year = n; break;
        case 'yy': f.year = n < 69 ? 2000 + n : 1900 + n; break; // POSIX's window: 69–99 are 1969–1999
        case 'MM': f.month = n; break;
        case 'dd': f.day = n; break;
        case 'HH': f.hour = n; break;
        case 'mm': f.minute = n; break;
        case 'ss': f.second = n; break;
        case 'SSS': f.millisecond = n; break;
      }
    }
    checkFields(f, pattern);
    return compiled.utc ? shift(f, VN_OFFSET_MINUTES) : f;
  }
  const m = ISO.exec(value);
  if (!m) fail(`expected ISO 8601 (${compiled.kind === 'iso' ? 'yyyy-MM-ddTHH:mm:ss+07:00' : 'yyyy-MM-dd'})`);
  if (compiled.kind === 'iso-date' && m[4] !== undefined) fail('expected a date without time (yyyy-MM-dd)');
  const f = checkFields({
    year: +m[1]!, month: +m[2]!, day: +m[3]!, hour: m[4] ? +m[4] : 0, minute: m[5] ? +m[5] : 0, second: m[6] ? +m[6] : 0,
    millisecond: m[7] ? +m[7].slice(0, 3).padEnd(3, '0') : 0,
  }, pattern);
  const zone = m[8];
  if (!zone || compiled.kind === 'iso-date') return f;
  const offset = zone === 'Z' || zone === 'z' ? 0 : (zone[0] === '-' ? -1 : 1) * (+zone.slice(1, 3) * 60 + +zone.slice(-2));
  return offset === VN_OFFSET_MINUTES ? f : shift(f, VN_OFFSET_MINUTES - offset);
}

function shift(f: VnDateTime, minutes: number): VnDateTime {
  const d = new Date(0);
  // setUTCFullYear, not Date.UTC, which reads the years 0–99 as 1900–1999
  d.setUTCFullYear(f.year, f.month - 1, f.day);
  d.setUTCHours(f.hour, f.minute + minutes, f.second, f.millisecond);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(), millisecond: d.getUTCMilliseconds() };
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** Writes Asia/Ho_Chi_Minh wall-clock fields in `pattern`. */
export function formatDate(f: VnDateTime, pattern: DatePattern): string {
  const compiled = compile(pattern);
  if (compiled.kind === 'iso-date') return `${pad(f.year, 4)}-${pad(f.month, 2)}-${pad(f.day, 2)}`;
  if (compiled.kind === 'iso') return `${pad(f.year, 4)}-${pad(f.month, 2)}-${pad(f.day, 2)}T${pad(f.hour, 2)}:${pad(f.minute, 2)}:${pad(f.second, 2)}+07:00`;
  const g = compiled.utc ? shift(f, -VN_OFFSET_MINUTES) : f;
  let out = '';
  for (const s of compiled.segments) {
    if (s.literal !== undefined) { out += s.literal; continue; }
    switch (s.token) {
      case 'yyyy': out += pad(g.year, 4); break;
      case 'yy': out += pad(g.year % 100, 2); break;
      case 'MM': out += pad(g.month, 2); break;
      case 'dd': out += pad(g.day, 2); break;
      case 'HH': out += pad(g.hour, 2); break;
      case 'mm': out += pad(g.minute, 2); break;
      case 'ss': out += pad(g.second, 2); break;
      case 'SSS': out += pad(g.millisecond, 3); break;
    }
  }
  return out;
}

/** Rewrites a date from one pattern to another; missing time fields become 00:00:00. */
export function convertDate(value: string, from: DatePattern, to: DatePattern): string {
  return formatDate(parseDate(value, from), to);
}
