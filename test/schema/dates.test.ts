import { describe, expect, it } from 'vitest';
import { convertDate } from '../../src/schema/dates.js';

describe('date conversion', () => {
  it('reads two-digit years in POSIX\'s window: 69–99 are 1969–1999, 00–68 are 2000–2068', () => {
    expect(convertDate('01/01/95', 'dd/MM/yy', 'iso-date')).toBe('1995-01-01');
    expect(convertDate('07/03/25', 'dd/MM/yy', 'iso-date')).toBe('2025-03-07');
    expect(convertDate('31/12/68', 'dd/MM/yy', 'iso-date')).toBe('2068-12-31');
    expect(convertDate('01/01/69', 'dd/MM/yy', 'iso-date')).toBe('1969-01-01');
  });

  it('keeps the years 0–99 when it moves a time to Vietnam\'s offset', () => {
    expect(convertDate('0001-01-01T00:00:00Z', 'iso', 'iso')).toBe('0001-01-01T07:00:00+07:00');
    expect(convertDate('2025-03-04T01:02:03Z', 'iso', 'iso')).toBe('2025-03-04T08:02:03+07:00');
  });

  it('reads the lowercase t and z that RFC 3339 (and JSON Schema\'s date-time) allow', () => {
    expect(convertDate('2025-03-04t01:02:03z', 'iso', 'iso')).toBe('2025-03-04T08:02:03+07:00');
    expect(convertDate('2025-03-04t08:02:03+07:00', 'iso', 'iso')).toBe('2025-03-04T08:02:03+07:00');
  });
});
