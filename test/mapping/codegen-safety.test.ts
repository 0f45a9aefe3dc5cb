import { afterEach, describe, expect, it } from 'vitest';
import { compileMapping, mappingSource } from '../../src/mapping/index.js';
import { codeTable, doc, load, loaded, tables } from './helpers.js';

const g = globalThis as Record<string, unknown>;

describe('code generation safety', () => {
  afterEach(() => {
    delete g.__pwned;
  });

  it('the key from the brief is rejected at load, as target and as source', () => {
    const key = 'a\\"];process.exit(1);//';
    const asTarget = load(doc(`"${key}": { const: 1 }`));
    expect(asTarget.mapping).toBeUndefined();
    expect(asTarget.issues[0]!.line).toBe(4);
    const asSource = load(doc(`x: { from: "${key}" }`));
    expect(asSource.mapping).toBeUndefined();
  });

  it('hostile keys that are valid names stay inert data (target and source)', () => {
    const hostile = 'x";__pwned=1;//';
    const quote = "y'+(__pwned=2)+'";
    const tpl = 'z`${__pwned=3}`';
    const m = compileMapping(
      loaded(doc(`
'${hostile}': { from: '${hostile}' }
"${quote}": { from: "${quote}" }
'${tpl}': { from: '${tpl}', when: { path: '${tpl}', equals: '";__pwned=4;"' } }
`)),
      { codeTables: new Map() },
    );
    const out = m.run({ [hostile]: 'a', [quote]: 'b', [tpl]: '";__pwned=4;"' });
    expect(out).toEqual({ [hostile]: 'a', [quote]: 'b', [tpl]: '";__pwned=4;"' });
    expect(g.__pwned).toBeUndefined();
  });

  it('literals cannot break out of the generated code', () => {
    const evil = '"); __pwned = 1; ("';
    const m = compileMapping(
      loaded(doc(`
a: { const: '${evil}' }
b: { from: x, default: { k: '${evil}', list: ["</script>", "\\u2028\\u2029"] } }
c: { concat: [x, { const: '${evil}' }], separator: '\\"; __pwned = 2; //' }
d: { const: 1, when: { path: x, in: ['${evil}', "\\\\"] } }
`)),
      { codeTables: new Map() },
    );
    // c: every path part absent → not written
    expect(m.run({})).toEqual({ a: evil, b: { k: evil, list: ['</script>', '\u2028\u2029'] } });
    expect(m.run({ x: evil })).toMatchObject({ c: `${evil}\\"; __pwned = 2; //${evil}`, d: 1 });
    expect(g.__pwned).toBeUndefined();
  });

  it('no other config text reaches the generated source: functions by index, no names, patterns, tables or descriptions', () => {
    const t = codeTable('name: secret-table-name\nentries: { "1": A }\n');
    const def = loaded(`description: DESCRIPTION_MARKER
source: test/source
target: test/target
fields:
  a: { from: x, fn: [trim, { date: { from: "dd/MM/yyyy", to: iso-date } }, { code: secret-table-name }] }
`);
    const source = mappingSource(def, { codeTables: tables(t) });
    for (const text of ['DESCRIPTION_MARKER', 'trim', 'dd/MM/yyyy', 'iso-date', 'secret-table-name', 'test/source', 'code']) expect(source).not.toContain(text);
    expect(source).toMatch(/F\[0\]\(v\)/);
    expect(source).toContain('"x"');
    expect(source).toContain('"a"');
  });

  it('__proto__ in input data is just data: no pollution, never copied as a prototype', () => {
    const m = compileMapping(loaded(doc('a: { from: x }\nb: { each: list, fields: { v: { from: y } } }')), { codeTables: new Map() });
    const input = JSON.parse('{"x": {"__proto__": {"polluted": true}}, "list": [{"__proto__": {"polluted": true}, "y": 1}]}');
    const out = m.run(input);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect((out.b as Array<Record<string, unknown>>)[0]).toEqual({ v: 1 });
  });

  it('reading a path never reaches inherited methods of strings, arrays or objects', () => {
    const m = compileMapping(loaded(doc('a: { from: s.at }\nb: { from: list.map }\nc: { from: o.__lookupGetter__x }')), { codeTables: new Map() });
    expect(m.run({ s: 'abc', list: [1], o: {} })).toEqual({});
  });

  it('compiled mappings are frozen', () => {
    const m = compileMapping(loaded(doc('a: { const: 1 }')), { codeTables: new Map() });
    expect(Object.isFrozen(m)).toBe(true);
    expect(() => {
      (m as { run: unknown }).run = () => ({});
    }).toThrow();
  });
});
