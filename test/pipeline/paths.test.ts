import { describe, expect, it } from 'vitest';
import { readPath } from '../../src/pipeline/paths.js';

describe('readPath', () => {
  const message = { hoSo: { maHoSo: '000.00.14.H56-250307-00001', trangThai: [{ ma: '2' }, { ma: '4' }] }, 'ma-don-vi': 'H56', m: [[1, 2], [3, 4]] };

  it('reads nested names, array indexes and repeated indexes', () => {
    expect(readPath(message, 'hoSo.maHoSo')).toBe('000.00.14.H56-250307-00001');
    expect(readPath(message, 'hoSo.trangThai[1].ma')).toBe('4');
    expect(readPath(message, 'm[1][0]')).toBe(3);
    expect(readPath(message, 'ma-don-vi')).toBe('H56');
  });

  it('gives undefined for a missing step, an index into a non-array, or a malformed path', () => {
    expect(readPath(message, 'hoSo.khong')).toBeUndefined();
    expect(readPath(message, 'hoSo.maHoSo[0]')).toBeUndefined();
    expect(readPath(message, 'hoSo.trangThai[9].ma')).toBeUndefined();
    expect(readPath(message, 'hoSo..maHoSo')).toBeUndefined();
    expect(readPath(message, 'hoSo[x]')).toBeUndefined();
    expect(readPath(null, 'hoSo')).toBeUndefined();
  });

  it('never reaches the prototype chain', () => {
    expect(readPath({}, 'constructor')).toBeUndefined();
    expect(readPath({ a: {} }, 'a.__proto__')).toBeUndefined();
    expect(readPath({ s: 'abc' }, 's.length')).toBeUndefined();
  });

  it('answers the same when a path is read again (parsed once, kept)', () => {
    for (let i = 0; i < 3; i++) {
      expect(readPath(message, 'hoSo.trangThai[0].ma')).toBe('2');
      expect(readPath({ hoSo: { trangThai: [{ ma: String(i) }] } }, 'hoSo.trangThai[0].ma')).toBe(String(i));
      expect(readPath(message, 'hoSo[')).toBeUndefined();
    }
  });
});
