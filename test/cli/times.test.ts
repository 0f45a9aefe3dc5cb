import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatTime, parseTime, toEpoch, UsageError, withLocalTimes } from '../../src/cli/admin-client.js';

/**
 * How the CLI reads and prints times (--from, --to, --since). Every expectation names its zone, or sets TZ itself:
 * nothing here depends on the machine's time zone.
 */
const VN = 'Asia/Ho_Chi_Minh';
const iso = (ms: number) => new Date(ms).toISOString();

describe('parseTime: what an operator writes', () => {
  it('reads a bare date as local midnight, and a date-time without a zone as local time', () => {
    expect(iso(parseTime('2025-03-04', VN))).toBe('2025-03-03T17:00:00.000Z');
    expect(iso(parseTime('2025-03-04T00:00', VN))).toBe('2025-03-03T17:00:00.000Z');
    expect(iso(parseTime('2025-03-04 08:00:30', VN))).toBe('2025-03-04T01:00:30.000Z');
    expect(iso(parseTime('2025-03-04', 'UTC'))).toBe('2025-03-04T00:00:00.000Z');
    expect(iso(parseTime('2024-02-29', VN))).toBe('2024-02-28T17:00:00.000Z');
  });

  it('takes the offset a time names, whatever the zone', () => {
    for (const zone of [VN, 'UTC', 'America/New_York']) {
      expect(iso(parseTime('2025-03-04T08:00+07:00', zone))).toBe('2025-03-04T01:00:00.000Z');
      expect(iso(parseTime('2025-03-04T08:00:00.5+0700', zone))).toBe('2025-03-04T01:00:00.500Z');
      expect(iso(parseTime('2025-03-04T01:00Z', zone))).toBe('2025-03-04T01:00:00.000Z');
      expect(iso(parseTime('2025-03-04T08:00-05', zone))).toBe('2025-03-04T13:00:00.000Z');
    }
  });

  it('follows daylight saving where the zone has it', () => {
    expect(iso(parseTime('2025-07-01', 'America/New_York'))).toBe('2025-07-01T04:00:00.000Z');
    expect(iso(parseTime('2025-01-01', 'America/New_York'))).toBe('2025-01-01T05:00:00.000Z');
    expect(iso(parseTime('2025-03-09T03:30', 'America/New_York'))).toBe('2025-03-09T07:30:00.000Z');
  });

  it('takes epoch milliseconds only with 11 digits or more', () => {
    expect(parseTime('1741050000000', VN)).toBe(1741050000000);
    expect(parseTime('10000000000', VN)).toBe(10_000_000_000);
    for (const short of ['0', '12345', '1741050', '9999999999']) {
      expect(() => parseTime(short, VN)).toThrow(/epoch milliseconds need at least 11 digits/);
    }
  });

  it('refuses a compact date instead of reading it as a 1970 time, and says what to write', () => {
    expect(() => parseTime('20261207', VN, '--since')).toThrow(UsageError);
    expect(() => parseTime('20261207', VN, '--since')).toThrow('--since 20261207: a compact date is not read as a time (nor as epoch milliseconds); write 2026-12-07 (local midnight) or 2026-12-07T08:00+07:00');
    // 12 and 14 digits would pass as epoch ms (1976, year 2612): a compact date-time is refused as well.
    expect(() => parseTime('202612070800', VN)).toThrow(/write 2026-12-07T08:00 \(local time\) or 2026-12-07T08:00\+07:00/);
    expect(() => parseTime('20261207080000', VN)).toThrow(/write 2026-12-07T08:00:00 \(local time\)/);
  });

  it('refuses what it would have to guess, and dates that do not exist', () => {
    // V8's Date.parse reads 04/03/2025 as 3 April (the hub's own dd/MM/yyyy says 4 March) and 2025-02-30 as 2 March.
    for (const bad of ['04/03/2025', '04/03/2025 09:15', 'March 4, 2025', '2025', '2025-3-4', 'yesterday', '2025-02-30', '2025-13-01', '2025-03-04T24:00', '2025-03-04T08:60', '2025-03-04T08:00+15:00']) {
      expect(() => parseTime(bad, VN), bad).toThrow(UsageError);
    }
    expect(() => parseTime('04/03/2025', VN)).toThrow(/write 2025-03-04 \(local midnight\), 2025-03-04T08:00 \(local time\) or 2025-03-04T08:00\+07:00/);
  });
});

describe('formatTime: what the CLI prints', () => {
  it('prints local time with its offset', () => {
    const at = Date.UTC(2025, 2, 4, 2, 15);
    expect(formatTime(at, VN)).toBe('2025-03-04 09:15:00+07:00');
    expect(formatTime(at, 'UTC')).toBe('2025-03-04 02:15:00+00:00');
    expect(formatTime(at, 'America/New_York')).toBe('2025-03-03 21:15:00-05:00');
    expect(formatTime(at, 'Asia/Kolkata')).toBe('2025-03-04 07:45:00+05:30');
  });

  it('reads back what it prints', () => {
    const at = Date.UTC(2025, 2, 4, 2, 15, 7);
    for (const zone of [VN, 'UTC', 'America/New_York']) expect(parseTime(formatTime(at, zone), zone)).toBe(at);
  });

  it('turns the …At fields of a record into local times, and leaves the rest', () => {
    expect(withLocalTimes({ id: 'x', deadAt: Date.UTC(2025, 2, 4, 2, 15), attempts: 2, reason: 'At' }, VN)).toEqual({ id: 'x', deadAt: '2025-03-04 09:15:00+07:00', attempts: 2, reason: 'At' });
  });
});

describe('toEpoch and formatTime in the machine zone (TZ)', () => {
  const saved = process.env.TZ;
  beforeEach(() => {
    process.env.TZ = VN;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  });

  it('reads --from 2025-03-04 as midnight in Vietnam, not 07:00', () => {
    expect(iso(toEpoch('2025-03-04')!)).toBe('2025-03-03T17:00:00.000Z');
    expect(iso(toEpoch('2025-03-04T00:00')!)).toBe('2025-03-03T17:00:00.000Z');
    expect(toEpoch(undefined)).toBeUndefined();
    expect(toEpoch('')).toBeUndefined();
  });

  it('never reads 20261207 as epoch ms', () => {
    expect(() => toEpoch('20261207', '--to')).toThrow(/^--to 20261207: a compact date/);
  });

  it('prints in the zone TZ names, and follows a change of TZ', () => {
    const at = Date.UTC(2025, 2, 4, 2, 15);
    expect(formatTime(at)).toBe('2025-03-04 09:15:00+07:00');
    process.env.TZ = 'UTC';
    expect(formatTime(at)).toBe('2025-03-04 02:15:00+00:00');
    expect(iso(toEpoch('2025-03-04')!)).toBe('2025-03-04T00:00:00.000Z');
  });
});
