import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { FUNCTIONS, FUNCTION_NAMES, stripDiacritics } from '../../src/mapping/index.js';
import { CCCD, NAME, codeTable, compile, failure, tables } from './helpers.js';

/** Runs one pipeline on one value: { out: <result> } or the HubError's first detail. */
function run(fn: string, value: unknown, codeTables = new Map()) {
  const m = compile(`out: { from: v, fn: ${fn} }`, codeTables);
  return m.run({ v: value }).out;
}
function fails(fn: string, value: unknown, codeTables = new Map()) {
  const m = compile(`out: { from: v, fn: ${fn} }`, codeTables);
  const e = failure(() => m.run({ v: value }));
  expect(e.type).toBe('mapping.failed');
  expect(e.detail[0]!.field).toBe('out');
  return e.detail[0]!;
}

describe('function allow-list', () => {
  it('is frozen, entries are frozen, and lookups ignore the prototype', () => {
    expect(Object.isFrozen(FUNCTIONS)).toBe(true);
    for (const name of FUNCTION_NAMES) expect(Object.isFrozen(FUNCTIONS[name])).toBe(true);
    expect(Object.getPrototypeOf(FUNCTIONS)).toBeNull();
    expect(() => {
      (FUNCTIONS as Record<string, unknown>).evil = {};
    }).toThrow();
    expect(FUNCTION_NAMES).toEqual(expect.arrayContaining(['trim', 'upper', 'lower', 'nfc', 'diacritics', 'stripDiacritics', 'date', 'code', 'number', 'integer', 'string', 'boolean', 'idType', 'split', 'join', 'slice', 'base64', 'base64Xml', 'length', 'json', 'first', 'count']));
  });

  it('trim, upper, lower, nfc', () => {
    expect(run('[trim]', '  Thử \n')).toBe('Thử');
    expect(run('[upper]', 'trần văn thử')).toBe('TRẦN VĂN THỬ');
    expect(run('[lower]', 'TRẦN VĂN THỬ')).toBe('trần văn thử');
    const nfd = NAME.normalize('NFD');
    expect(nfd).not.toBe(NAME);
    expect(run('[nfc]', nfd)).toBe(NAME);
    expect(fails('[trim]', 42)).toMatchObject({ code: 'bad-type' });
  });

  it('diacritics strip/keep and stripDiacritics', () => {
    expect(stripDiacritics('Trần Văn Thử, Đồng Tháp, Nguyễn Thị Ướt')).toBe('Tran Van Thu, Dong Thap, Nguyen Thi Uot');
    expect(run('[{ diacritics: strip }]', NAME.normalize('NFD'))).toBe('Tran Van Thu');
    expect(run('[stripDiacritics]', 'đường Đê La Thành')).toBe('duong De La Thanh');
    expect(run('[{ diacritics: keep }]', NAME.normalize('NFD'))).toBe(NAME);
  });

  it('date converts strictly and fails with bad-date', () => {
    expect(run('[{ date: { from: "dd/MM/yyyy", to: iso-date } }]', '02/01/1995')).toBe('1995-01-02');
    expect(run('[{ date: { from: yyyyMMddHHmmss, to: iso } }]', '20250304080211')).toBe('2025-03-04T08:02:11+07:00');
    expect(fails('[{ date: { from: "dd/MM/yyyy", to: iso-date } }]', '1995-01-02')).toMatchObject({ code: 'bad-date' });
    expect(fails('[{ date: { from: "dd/MM/yyyy", to: iso-date } }]', '30/02/1995')).toMatchObject({ code: 'bad-date' });
  });

  it('code translates through a table; unmapped fails unless a default is given', () => {
    const status = codeTable('name: dvcqg-status\nentries: { SUBMITTED: "1", RECEIVED: "2" }\n');
    const withDefault = codeTable('name: gender\nentries: { "1": M, "2": F }\ndefault: U\n');
    const t = tables(status, withDefault);
    expect(run('[{ code: dvcqg-status }]', 'RECEIVED', t)).toBe('2');
    expect(run('[{ code: gender }]', 1, t)).toBe('M');
    expect(run('[{ code: gender }]', '7', t)).toBe('U');
    expect(run('[{ code: { table: dvcqg-status, default: "0" } }]', 'WITHDRAWN', t)).toBe('0');
    expect(run('[{ code: { table: gender, default: X } }]', '7', t)).toBe('X');
    const d = fails('[{ code: dvcqg-status }]', 'WITHDRAWN', t);
    expect(d).toMatchObject({ code: 'unmapped-code' });
    expect(d.reason).toContain('dvcqg-status');
    expect(d.reason).toContain('WITHDRAWN');
    // keys that exist on Object.prototype are just missing codes, never inherited values
    expect(fails('[{ code: dvcqg-status }]', 'constructor', t)).toMatchObject({ code: 'unmapped-code' });
    expect(fails('[{ code: dvcqg-status }]', { a: 1 }, t)).toMatchObject({ code: 'bad-type' });
  });

  it('compiling with an unknown code table fails at compile time, not per message', () => {
    expect(() => compile('out: { from: v, fn: [{ code: nope }] }')).toThrow(/unknown code table "nope"/);
  });

  it('number and integer are strict', () => {
    expect(run('[number]', ' 12.50 ')).toBe(12.5);
    expect(run('[number]', '-3')).toBe(-3);
    expect(run('[number]', 7)).toBe(7);
    expect(run('[integer]', '0042')).toBe(42);
    expect(run('[integer]', 5)).toBe(5);
    for (const bad of ['12,5', '1e3', 'abc', '0x10', '1.', '.5', '+-1', 'Infinity']) expect(fails('[number]', bad)).toMatchObject({ code: 'bad-number' });
    for (const bad of ['1.0', '1.5', '99999999999999999999']) expect(fails('[integer]', bad)).toMatchObject({ code: 'bad-number' });
    expect(fails('[integer]', 1.5)).toMatchObject({ code: 'bad-number' });
    expect(fails('[number]', true)).toMatchObject({ code: 'bad-type' });
  });

  it('string and boolean', () => {
    expect(run('[string]', 42)).toBe('42');
    expect(run('[string]', false)).toBe('false');
    expect(run('[string]', 'x')).toBe('x');
    expect(fails('[string]', [1])).toMatchObject({ code: 'bad-type' });
    expect(run('[boolean]', 'TRUE')).toBe(true);
    expect(run('[boolean]', '0')).toBe(false);
    expect(run('[boolean]', ' False ')).toBe(false);
    expect(run('[boolean]', 1)).toBe(true);
    expect(run('[boolean]', false)).toBe(false);
    expect(fails('[boolean]', 'yes')).toMatchObject({ code: 'bad-boolean' });
    expect(fails('[boolean]', 2)).toMatchObject({ code: 'bad-type' });
  });

  it('idType', () => {
    expect(run('[idType]', CCCD)).toBe('CCCD');
    expect(run('[idType]', '125999901')).toBe('CMND');
    const d = fails('[idType]', '0380959999');
    expect(d).toMatchObject({ code: 'bad-id' });
    expect(d.reason).not.toContain('0380959999');
    expect(fails('[idType]', 38095999901)).toMatchObject({ code: 'bad-type' });
  });

  it('split, join, slice', () => {
    expect(run('[{ split: "," }]', 'a,b,,c')).toEqual(['a', 'b', '', 'c']);
    expect(run('[{ split: "," }, { join: "|" }]', 'a,b,,c')).toBe('a|b|c');
    expect(run('[{ join: ", " }]', ['Thanh Hóa', null, 38, true])).toBe('Thanh Hóa, 38, true');
    expect(run('[{ join: "-" }]', 'single')).toBe('single');
    expect(fails('[{ join: "," }]', [{ a: 1 }])).toMatchObject({ code: 'bad-type' });
    expect(run('[{ slice: [0, 8] }]', '1.001234.000.00.00.H56')).toBe('1.001234');
    expect(run('[{ slice: [-3] }]', '1.001234.000.00.00.H56')).toBe('H56');
  });

  it('base64 and base64Xml', () => {
    const b64 = Buffer.from(NAME, 'utf8').toString('base64');
    expect(run('[base64]', b64)).toBe(NAME);
    expect(run('[base64]', `${b64.slice(0, 4)}\n${b64.slice(4)}`)).toBe(NAME);
    expect(fails('[base64]', 'not base64!')).toMatchObject({ code: 'bad-base64' });
    expect(fails('[base64]', 'abc')).toMatchObject({ code: 'bad-base64' });
    expect(fails('[base64]', Buffer.from([0xff, 0xfe, 0xfd]).toString('base64'))).toMatchObject({ code: 'bad-base64' });
    const xml = '<DATA><BODY><ROW_LIST><MA_HSO>000.00.00.H56-250304-0001</MA_HSO><LIST><SO_TIEN>1000</SO_TIEN></LIST><LIST><SO_TIEN>2000</SO_TIEN></LIST></ROW_LIST></BODY></DATA>';
    expect(run('[base64Xml]', Buffer.from(xml).toString('base64'))).toEqual({
      DATA: { BODY: { ROW_LIST: { MA_HSO: '000.00.00.H56-250304-0001', LIST: [{ SO_TIEN: '1000' }, { SO_TIEN: '2000' }] } } },
    });
    const bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>';
    expect(fails('[base64Xml]', Buffer.from(bomb).toString('base64'))).toMatchObject({ code: 'xml-doctype' });
    expect(fails('[base64Xml]', Buffer.from('<a><b></a>').toString('base64')).code).toMatch(/^xml-/);
  });

  it('base64Xml output is usable by later paths of the same mapping (through each)', () => {
    const m = compile(`
lines:
  each: v
  fields:
    amount: { from: "@", fn: [base64Xml] }
`);
    const xml = Buffer.from('<R><SO_TIEN>5</SO_TIEN></R>').toString('base64');
    expect(m.run({ v: [xml] })).toEqual({ lines: [{ amount: { R: { SO_TIEN: '5' } } }] });
  });

  it('first and count treat a single value as a one-item list', () => {
    expect(run('[first]', ['a', 'b'])).toBe('a');
    expect(run('[first]', { a: 1 })).toEqual({ a: 1 });
    expect(compile('out: { from: v, fn: [first], default: none }').run({ v: [] })).toEqual({ out: 'none' });
    expect(run('[count]', [1, 2, 3])).toBe(3);
    expect(run('[count]', { a: 1 })).toBe(1);
    expect(run('[count]', [])).toBe(0);
  });

  it('length counts characters (code points); a length picks a code through a table', () => {
    expect(run('[length]', '0123456789')).toBe(10);
    expect(run('[length]', 'Thử')).toBe(3);
    expect(run('[length]', 'Thử'.normalize('NFD'))).toBe(5);
    expect(run('[length]', '𠀀a')).toBe(2);
    expect(fails('[length]', 42)).toMatchObject({ code: 'bad-type' });
    const t = tables(codeTable('name: id-kind\nentries: { "10": "1" }\ndefault: "2"\n'));
    expect(run('[length, { code: id-kind }]', '0123456789', t)).toBe('1');
    expect(run('[length, { code: id-kind }]', CCCD, t)).toBe('2');
  });

  it('json writes an object, a list or a scalar as JSON text, keys in their order', () => {
    expect(run('[json]', { ID_local: 'u-1', ID_QG: CCCD, TYPE: '2', LOCATION: '38' })).toBe(`{"ID_local":"u-1","ID_QG":"${CCCD}","TYPE":"2","LOCATION":"38"}`);
    expect(run('[json]', ['a', 1, true, null])).toBe('["a",1,true,null]');
    expect(run('[json]', 'Thử "x"')).toBe('"Thử \\"x\\""');
    expect(run('[json]', 0)).toBe('0');
    expect(JSON.parse(run('[json]', { a: { b: [1, 2] }, s: 'Trần\n' }) as string)).toEqual({ a: { b: [1, 2] }, s: 'Trần\n' });
    // absent values are not passed to functions: nothing is written
    expect(compile('out: { from: v, fn: [json] }').run({})).toEqual({});
  });

  it('a pipeline stops as soon as the value becomes absent', () => {
    expect(compile('out: { from: v, fn: [trim, idType] }').run({ v: '   ' })).toEqual({});
  });
});
