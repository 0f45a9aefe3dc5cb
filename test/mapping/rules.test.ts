import { describe, expect, it } from 'vitest';
import { HubError } from '../../src/core/errors.js';
import { CCCD, NAME, compile, failure } from './helpers.js';

describe('rules', () => {
  it('from copies a value, nested target paths build objects in declaration order', () => {
    const m = compile(`
personalId: { from: soDinhDanh }
name.full: { from: HoVaTen }
status: { from: "a.b[1].c" }
name.given: { from: Ten }
`);
    const out = m.run({ soDinhDanh: CCCD, HoVaTen: NAME, Ten: 'Thử', a: { b: [{ c: 'x' }, { c: 'y' }] } });
    expect(out).toEqual({ personalId: CCCD, name: { full: NAME, given: 'Thử' }, status: 'y' });
    expect(Object.keys(out)).toEqual(['personalId', 'name', 'status']);
    expect(Object.keys(out.name as object)).toEqual(['full', 'given']);
  });

  it('absent values (undefined, null, "") are not written, and an object with nothing written is left out', () => {
    const m = compile(`
a: { from: x }
b: { from: y }
c: { from: z }
n.one: { from: x }
n.two: { from: y }
`);
    expect(m.run({ x: null, y: '' })).toEqual({});
    expect(Object.keys(m.run({ x: null, y: '' }))).toEqual([]);
    expect(m.run({ x: 0, y: false })).toEqual({ a: 0, b: false, n: { one: 0, two: false } });
  });

  it('paths never walk into strings, arrays or non-objects', () => {
    const m = compile(`
a: { from: s.length }
b: { from: list.length }
c: { from: "obj[0]" }
d: { from: "list[5]" }
`);
    expect(m.run({ s: 'abc', list: [1, 2], obj: { 0: 'x' } })).toEqual({});
    expect(m.run('not an object')).toEqual({});
    expect(m.run(null)).toEqual({});
  });

  it('const writes literals, including lists and maps, fresh on every run', () => {
    const m = compile(`
tag: { const: FATHER }
n: { const: 3 }
flag: { const: false }
obj: { const: { a: [1, "x"] } }
`);
    const first = m.run({});
    expect(first).toEqual({ tag: 'FATHER', n: 3, flag: false, obj: { a: [1, 'x'] } });
    (first.obj as { a: unknown[] }).a.push('mutated');
    expect(m.run({}).obj).toEqual({ a: [1, 'x'] });
  });

  it('default applies when the value is absent after from and fn', () => {
    const m = compile(`
purpose: { from: mucDich, default: "Giải quyết thủ tục hành chính" }
trimmed: { from: t, fn: [trim], default: "none" }
`);
    expect(m.run({})).toEqual({ purpose: 'Giải quyết thủ tục hành chính', trimmed: 'none' });
    expect(m.run({ mucDich: 'Tra cứu', t: '   ' })).toEqual({ purpose: 'Tra cứu', trimmed: 'none' });
    expect(m.run({ mucDich: null, t: ' a ' })).toEqual({ purpose: 'Giải quyết thủ tục hành chính', trimmed: 'a' });
  });

  it('fns do not run on absent values', () => {
    const m = compile(`
d: { from: ngaySinh, fn: [{ date: { from: "dd/MM/yyyy", to: iso-date } }] }
`);
    expect(m.run({ ngaySinh: '' })).toEqual({});
    expect(m.run({ ngaySinh: '02/01/1995' })).toEqual({ d: '1995-01-02' });
  });

  it('concat joins present parts with the separator, skips absent ones, and is absent when every path part is', () => {
    const m = compile(`
full: { concat: [Ho, ChuDem, Ten], separator: " " }
phone: { concat: [{ const: "+84" }, sdt] }
code: { concat: [a, { const: "-" }, b] }
withDefault: { concat: [x, y], default: "?" }
n: { concat: [num, flag], separator: "/" }
`);
    expect(m.run({ Ho: 'Trần', ChuDem: 'Văn', Ten: 'Thử', sdt: '900000000', a: 'A', b: 'B', num: 5, flag: true })).toEqual({
      full: NAME, phone: '+84900000000', code: 'A-B', withDefault: '?', n: '5/true',
    });
    expect(m.run({ Ho: 'Trần', ChuDem: null, Ten: 'Thử' })).toEqual({ full: 'Trần Thử', withDefault: '?' });
    expect(m.run({ b: 'B' })).toEqual({ code: '-B', withDefault: '?' });
  });

  it('concat refuses objects with the target field in the error', () => {
    const m = compile(`full: { concat: [HoVaTen, Ten] }`);
    const e = failure(() => m.run({ HoVaTen: { Ho: 'Trần' } }));
    expect(e).toBeInstanceOf(HubError);
    expect(e.type).toBe('mapping.failed');
    expect(e.detail[0]).toMatchObject({ field: 'full', code: 'bad-type' });
  });

  it('when: equals, notEquals, in, exists, all, any, not (compared as text)', () => {
    const m = compile(`
eq: { const: 1, when: { path: LoaiHoSo, equals: "2" } }
ne: { const: 1, when: { path: LoaiHoSo, notEquals: 2 } }
inList: { const: 1, when: { path: TrangThai, in: ["4", "6", 9] } }
has: { const: 1, when: { path: GhiChu, exists: true } }
hasNot: { const: 1, when: { path: GhiChu, exists: false } }
both: { const: 1, when: { all: [{ path: LoaiHoSo, equals: "2" }, { path: GhiChu, exists: true }] } }
either: { const: 1, when: { any: [{ path: LoaiHoSo, equals: "3" }, { path: TrangThai, equals: "9" }] } }
neither: { const: 1, when: { not: { path: LoaiHoSo, in: ["2", "3"] } } }
bool: { const: 1, when: { path: flag, equals: true } }
`);
    expect(m.run({ LoaiHoSo: 2, TrangThai: 9, GhiChu: 'x', flag: true })).toEqual({ eq: 1, inList: 1, has: 1, both: 1, either: 1, bool: 1 });
    expect(m.run({ LoaiHoSo: '1', TrangThai: '5', GhiChu: '' })).toEqual({ ne: 1, hasNot: 1, neither: 1 });
    // absent never equals; notEquals holds for absent
    expect(m.run({})).toEqual({ ne: 1, hasNot: 1, neither: 1 });
    // objects are not scalars: they equal nothing
    expect(m.run({ LoaiHoSo: { x: '2' } })).toEqual({ ne: 1, hasNot: 1, neither: 1 });
  });

  it('when false means the field (and its default) is not written', () => {
    const m = compile(`note: { from: GhiChu, default: "-", when: { path: LoaiHoSo, equals: "2" } }`);
    expect(m.run({ LoaiHoSo: '1' })).toEqual({});
    expect(m.run({ LoaiHoSo: '2' })).toEqual({ note: '-' });
  });

  it('each maps lists, treats a single object as a one-item list, and leaves the field out when absent', () => {
    const m = compile(`
relatives:
  each: CongDan.Cha
  fields:
    fullName: { from: HoVaTen }
    tag: { const: FATHER }
    requestedBy: { from: $.MaYeuCau }
`);
    expect(m.run({ MaYeuCau: 'YC1', CongDan: { Cha: [{ HoVaTen: NAME }, { HoVaTen: 'Trần Văn Thí' }] } })).toEqual({
      relatives: [
        { fullName: NAME, tag: 'FATHER', requestedBy: 'YC1' },
        { fullName: 'Trần Văn Thí', tag: 'FATHER', requestedBy: 'YC1' },
      ],
    });
    expect(m.run({ CongDan: { Cha: { HoVaTen: NAME } } })).toEqual({ relatives: [{ fullName: NAME, tag: 'FATHER' }] });
    expect(m.run({ CongDan: { Cha: [] } })).toEqual({ relatives: [] });
    expect(m.run({ CongDan: {} })).toEqual({});
    expect(m.run({ CongDan: { Cha: '' } })).toEqual({});
  });

  it('each over a scalar fails with not-a-list', () => {
    const m = compile(`
xs:
  each: list
  fields: { v: { from: "@" } }
`);
    expect(m.run({ list: ['a', 'b'] })).toEqual({ xs: [{ v: 'a' }, { v: 'b' }] });
    const e = failure(() => m.run({ list: 'a' }));
    expect(e.detail[0]).toMatchObject({ field: 'xs', code: 'not-a-list' });
  });

  it('nested each, root paths and item paths, with the item index in error fields', () => {
    const m = compile(`
dossiers:
  each: HoSo
  fields:
    code: { from: MaHoSo }
    agency: { from: $.MaDonVi }
    whole: { from: $, fn: [count] }
    files:
      each: TepDinhKem
      fields:
        name: { from: Ten }
        dossier: { from: "$.HoSo[0].MaHoSo" }
        size: { from: KichThuoc, fn: [integer] }
`);
    const input = {
      MaDonVi: 'H56',
      HoSo: [
        { MaHoSo: 'HS1', TepDinhKem: [{ Ten: 'don.pdf', KichThuoc: '10' }, { Ten: 'cccd.pdf', KichThuoc: '20' }] },
        { MaHoSo: 'HS2', TepDinhKem: { Ten: 'anh.jpg', KichThuoc: 30 } },
      ],
    };
    expect(m.run(input)).toEqual({
      dossiers: [
        { code: 'HS1', agency: 'H56', whole: 1, files: [{ name: 'don.pdf', dossier: 'HS1', size: 10 }, { name: 'cccd.pdf', dossier: 'HS1', size: 20 }] },
        { code: 'HS2', agency: 'H56', whole: 1, files: [{ name: 'anh.jpg', dossier: 'HS1', size: 30 }] },
      ],
    });
    input.HoSo[0]!.TepDinhKem = [{ Ten: 'a', KichThuoc: '1' }, { Ten: 'b', KichThuoc: 'mười' }];
    const e = failure(() => m.run(input));
    expect(e.detail[0]).toMatchObject({ field: 'dossiers[0].files[1].size', code: 'bad-number' });
    expect(e.message).toContain('dossiers[0].files[1].size');
    expect(e.message).toContain('test/m');
    expect(e.message).not.toContain('mười');
  });

  it('errors from functions carry the dotted target path', () => {
    const m = compile(`birthDate.value: { from: ngaySinh, fn: [{ date: { from: "dd/MM/yyyy", to: iso-date } }] }`);
    const e = failure(() => m.run({ ngaySinh: '31/02/1995' }));
    expect(e).toBeInstanceOf(HubError);
    expect(e.type).toBe('mapping.failed');
    expect(e.detail).toEqual([{ field: 'birthDate.value', reason: expect.any(String), code: 'bad-date' }]);
    expect(e.message).not.toContain('31/02/1995');
  });

  it('the input is never modified', () => {
    const m = compile(`
a: { from: x, fn: [trim] }
l: { each: list, fields: { v: { from: "@" } } }
`);
    const input = { x: ' a ', list: ['1'] };
    const copy = structuredClone(input);
    m.run(input);
    expect(input).toEqual(copy);
  });
});
