import { hostname, userInfo } from 'node:os';
import { request } from 'undici';
import { loadRegistry } from '../config/load.js';
import { resolveRoot } from './root.js';

/** The operator as the machine knows them (`user@host`), or LIENTHONG_ADMIN_ACTOR when set; undefined if neither is usable. */
function operatorName(): string | undefined {
  if (process.env.LIENTHONG_ADMIN_ACTOR) return process.env.LIENTHONG_ADMIN_ACTOR;
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return undefined;
  }
}

/** Talks to a running hub's admin API (the CLI never opens the hub's stores behind its back). */
export interface AdminClient {
  get(path: string, query?: Record<string, string | number | undefined>): Promise<unknown>;
  post(path: string, body: unknown): Promise<unknown>;
}

export function adminClient(options: { root?: string; url?: string }): AdminClient {
  let base = options.url;
  if (!base) {
    const root = resolveRoot(options.root);
    const { registry } = loadRegistry(root);
    // Without a readable configuration the port is a guess, and another hub may answer there: say so.
    if (!registry) throw new Error(`cannot read the configuration in ${root} to find the hub's port; run from the project folder, or give --url http://127.0.0.1:<port>`);
    base = `http://127.0.0.1:${registry.hub.server.port}`;
  }
  const url = base.replace(/\/+$/, '');
  const headers: Record<string, string> = { accept: 'application/json' };
  // Replays, discards and access changes are recorded with who asked: the hub knows only the token, so the CLI says who.
  const who = operatorName();
  if (who) headers['x-admin-actor'] = who;
  if (process.env.LIENTHONG_ADMIN_TOKEN) headers.authorization = `Bearer ${process.env.LIENTHONG_ADMIN_TOKEN}`;
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    let res;
    try {
      res = await request(`${url}${path}`, { method, headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (error) {
      throw new Error(`cannot reach the hub at ${url} (${(error as Error).message}); is it running? use --url to point elsewhere`);
    }
    const text = await res.body.text();
    let parsed: Record<string, unknown>;
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      throw new Error(`${url} answered HTTP ${res.statusCode} with something other than JSON: is it a lienthong hub? use --url to point at one`);
    }
    if (res.statusCode >= 400) {
      const detail = Array.isArray(parsed.detail) ? (parsed.detail as Array<{ field?: string; reason?: string }>).map((d) => `\n  ${d.field ? `${d.field}: ` : ''}${d.reason ?? ''}`).join('') : '';
      throw new Error(`${res.statusCode} ${String(parsed.type ?? '')}: ${String(parsed.message ?? text)}${detail}`);
    }
    return parsed;
  };
  return {
    get: (path, query = {}) => {
      const params = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== '').map(([k, v]): [string, string] => [k, String(v)]));
      return call('GET', `${path}${params.size ? `?${params}` : ''}`);
    },
    post: (path, body) => call('POST', path, body),
  };
}

/** A mistake in how a command was written (a time it cannot read, …): the CLI exits with 2, as for other usage errors. */
export class UsageError extends Error {}

/**
 * How the CLI reads and prints times, for `--help` and the README. The machine's time zone is the one of the `TZ`
 * environment variable (or the system's); Vietnam is UTC+7 (`TZ=Asia/Ho_Chi_Minh`).
 */
export const TIME_HELP = [
  'Times are read in this machine\'s time zone: TZ if set (e.g. TZ=Asia/Ho_Chi_Minh, UTC+7), else the system\'s.',
  '  2025-03-04              midnight at the start of that day, local time',
  '  2025-03-04T08:00        local time (also "2025-03-04 08:00:30")',
  '  2025-03-04T08:00+07:00  in the zone it names (2025-03-04T01:00Z: UTC)',
  '  1741050000000           epoch milliseconds: 11 digits or more; a compact date (20250304) is refused',
  'Times are printed in local time with their offset: 2025-03-04 09:15:00+07:00.',
].join('\n');

const EXAMPLES = 'write 2025-03-04 (local midnight), 2025-03-04T08:00 (local time) or 2025-03-04T08:00+07:00';
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;
const pad = (n: number, width = 2) => String(n).padStart(width, '0');
const isLeap = (year: number) => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
const daysIn = (year: number, month: number) => [31, isLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];

/** Epoch ms of a wall-clock time read as UTC (years below 100 included). */
function wallAsUtc(y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0): number {
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, ms);
  return date.getTime();
}

const formatters = new Map<string, Intl.DateTimeFormat>();
/** The wall clock at `ms` in `zone` (an IANA name; undefined: this machine's, i.e. TZ or the system's). */
function wallClock(ms: number, zone?: string): { y: number; mo: number; d: number; h: number; mi: number; s: number } {
  // The default zone follows TZ, which may change at run time (tests do): a formatter made under another keeps the old one.
  const key = zone ?? `default:${process.env.TZ ?? ''}`;
  let format = formatters.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', era: 'short' });
    formatters.set(key, format);
  }
  const parts = Object.fromEntries(format.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  const year = Number(parts.year);
  return { y: /^B/i.test(parts.era ?? '') ? 1 - year : year, mo: Number(parts.month), d: Number(parts.day), h: Number(parts.hour) % 24, mi: Number(parts.minute), s: Number(parts.second) };
}

/** The offset of `zone` from UTC at the instant `ms`, in minutes (+420 in Vietnam). */
function offsetMinutes(ms: number, zone?: string): number {
  const w = wallClock(ms, zone);
  const whole = Math.floor(ms / 1000) * 1000;
  return Math.round((wallAsUtc(w.y, w.mo, w.d, w.h, w.mi, w.s) - whole) / 60_000);
}

/** The instant a wall-clock time (given as if it were UTC) names in `zone`. */
function localToEpoch(wall: number, zone?: string): number {
  let at = wall - offsetMinutes(wall, zone) * 60_000;
  // Around a daylight-saving change the offset at the first guess may not be the one in force at the answer.
  const second = offsetMinutes(at, zone);
  if (wall - second * 60_000 !== at) at = wall - second * 60_000;
  return at;
}

/** A compact yyyyMMdd[HHmm[ss]] that names a real date (1900-2099), as the ISO form to suggest; else undefined. */
function compactDate(digits: string): string | undefined {
  const m = /^((?:19|20)\d\d)(\d\d)(\d\d)(?:(\d\d)(\d\d)(\d\d)?)?$/.exec(digits);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map((part) => (part === undefined ? undefined : Number(part)));
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > daysIn(y!, mo!) || (h !== undefined && (h > 23 || mi! > 59)) || (s !== undefined && s > 59)) return undefined;
  const date = `${m[1]}-${m[2]}-${m[3]}`;
  return h === undefined ? date : `${date}T${m[4]}:${m[5]}${m[6] ? `:${m[6]}` : ''}`;
}

/**
 * A time as an operator writes it → epoch ms. `2025-03-04` is local midnight and `2025-03-04T08:00` local time, in
 * `zone` (an IANA name; undefined: this machine's, i.e. TZ or the system's); `…+07:00` or `…Z` name their own offset;
 * all digits are epoch ms, but only with at least 11 digits, and never when they read as a compact date
 * (yyyyMMdd, yyyyMMddHHmm, yyyyMMddHHmmss): `--since 20261207` must not become a 1970 time that selects every dead
 * letter. Anything else (04/03/2025, "March 4", 2025-02-30) is refused rather than guessed. Throws a UsageError.
 */
export function parseTime(value: string, zone?: string, name = 'time'): number {
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    const compact = compactDate(text);
    if (compact) {
      const [local, zoned] = compact.includes('T') ? [`${compact} (local time)`, `${compact}+07:00`] : [`${compact} (local midnight)`, `${compact}T08:00+07:00`];
      throw new UsageError(`${name} ${value}: a compact date is not read as a time (nor as epoch milliseconds); write ${local} or ${zoned}`);
    }
    if (text.length < 11) throw new UsageError(`${name} ${value}: not a time; epoch milliseconds need at least 11 digits; ${EXAMPLES}`);
    const ms = Number(text);
    if (!Number.isSafeInteger(ms) || ms > 8.64e15) throw new UsageError(`${name} ${value}: epoch milliseconds out of range; ${EXAMPLES}`);
    return ms;
  }
  const m = ISO.exec(text);
  if (!m) throw new UsageError(`${name} ${value}: not a time this command reads; ${EXAMPLES}`);
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [h, mi, s] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 59) throw new UsageError(`${name} ${value}: no such date or time; ${EXAMPLES}`);
  const wall = wallAsUtc(y, mo, d, h, mi, s, ms);
  const zoneText = m[8];
  if (zoneText === undefined) return localToEpoch(wall, zone);
  if (/^z$/i.test(zoneText)) return wall;
  const [, sign, oh, om = '0'] = /^([+-])(\d{2}):?(\d{2})?$/.exec(zoneText)!;
  if (Number(oh) > 14 || Number(om) > 59) throw new UsageError(`${name} ${value}: no such UTC offset ${zoneText}; ${EXAMPLES}`);
  return wall - (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000;
}

/** An option's time → epoch ms for the admin API (undefined when not given). See parseTime. */
export function toEpoch(value: string | undefined, name?: string, zone?: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  return parseTime(value, zone, name);
}

/** Epoch ms → local time with its offset, e.g. 2025-03-04 09:15:00+07:00, in `zone` (undefined: this machine's). */
export function formatTime(ms: number, zone?: string): string {
  if (!Number.isFinite(ms)) return String(ms);
  const w = wallClock(ms, zone);
  const offset = offsetMinutes(ms, zone);
  const abs = Math.abs(offset);
  return `${pad(w.y, 4)}-${pad(w.mo)}-${pad(w.d)} ${pad(w.h)}:${pad(w.mi)}:${pad(w.s)}${offset < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** A record for people to read: its epoch-ms `…At` fields (receivedAt, deadAt, …) as local times. */
export function withLocalTimes(record: object, zone?: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, /At$/.test(key) && typeof value === 'number' ? formatTime(value, zone) : value]));
}
