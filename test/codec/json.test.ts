import { describe, expect, it } from 'vitest';
import { HubError } from '../../src/core/errors.js';
import { decodeJson, encodeJson, JSON_MAX_DEPTH } from '../../src/codec/json.js';

function failure(fn: () => unknown): HubError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HubError);
    return error as HubError;
  }
  throw new Error('expected a HubError, nothing was thrown');
}

/** Small deterministic PRNG (mulberry32) for generated cases. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomValue(r: () => number, depth: number): unknown {
  const k = Math.floor(r() * (depth > 6 ? 5 : 7));
  const strings = ['', 'Trần Văn Thử', 'a"b\\c', 'tab\there\nnew', '\u0001ctl', '😀 emoji', '</script>', 'x'.repeat(20)];
  switch (k) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return [0, -1, 3.25, 1e21, -2.5e-7, 123456789][Math.floor(r() * 6)];
    case 3:
    case 4:
      return strings[Math.floor(r() * strings.length)];
    case 5:
      return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: Math.floor(r() * 4) }, (_, i) => [`${strings[i % strings.length]}${i}`, randomValue(r, depth + 1)]));
  }
}

describe('decodeJson', () => {
  it('decodes what JSON.parse decodes (generated values, pretty and compact)', () => {
    const r = rng(42);
    for (let i = 0; i < 300; i++) {
      const value = randomValue(r, 0);
      expect(decodeJson(JSON.stringify(value))).toEqual(value);
      expect(decodeJson(Buffer.from(JSON.stringify(value, null, i % 3), 'utf8'))).toEqual(value);
    }
  });

  it('accepts a BOM and every escape', () => {
    expect(decodeJson(Buffer.from('\uFEFF{"a":"\\u0054r\\u1ea7n \\"\\\\\\/\\b\\f\\n\\r\\t"}', 'utf8'))).toEqual({ a: 'Trần "\\/\b\f\n\r\t' });
  });

  it.each([
    ['{"a":1', /end of input/],
    ['{"a" 1}', /expected ':'/],
    ['[1,]', /unexpected character/],
    ['{"a":1,}', /property name/],
    ['{a:1}', /property name/],
    ["{'a':1}", /property name/],
    ['01', /unexpected data/],
    ['1 2', /unexpected data/],
    ['"abc', /unterminated string/],
    ['"a\\x"', /invalid escape/],
    ['"\\u12G4"', /\\u escape/],
    ['"a\u0001b"', /control character/],
    ['nul', /unexpected character/],
    ['-', /invalid number/],
    ['1.', /unexpected data/],
    ['', /end of input/],
    ['{"a":[1,2}', /expected ',' or '\]'/],
  ])('rejects %j with a position', (input, what) => {
    const e = failure(() => decodeJson(input));
    expect(e.type).toBe('client.bad-json');
    expect(e.status).toBe(400);
    expect(e.message).toMatch(what);
    expect(e.message).toMatch(/line \d+, column \d+ \(position \d+\)/);
  });

  it('reports line and column and never echoes payload values', () => {
    const e = failure(() => decodeJson('{\n  "hoTen": "Trần Văn Thử",\n  "soDinhDanh": 038095999901\n}'));
    expect(e.message).toContain('line 3, column 18') // the number 0 ends, then 3 is unexpected;
    const shown = JSON.stringify({ message: e.message, detail: e.detail });
    expect(shown).not.toContain('Trần');
    expect(shown).not.toContain('038095999901');
  });

  it('rejects invalid UTF-8', () => {
    expect(failure(() => decodeJson(Buffer.from([0x22, 0xff, 0x22]))).type).toBe('client.bad-json');
  });

  it('rejects __proto__ keys anywhere, also written with escapes', () => {
    for (const input of ['{"__proto__":{"polluted":1}}', '{"a":[{"b":{"__proto__":1}}]}', '{"\\u005f_proto__":{}}', '{"__pro\\u0074o__":1}']) {
      expect(failure(() => decodeJson(input)).type).toBe('client.json-forbidden-key');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('rejects constructor.prototype anywhere, but allows the words on their own', () => {
    expect(failure(() => decodeJson('{"constructor":{"prototype":{"x":1}}}')).type).toBe('client.json-forbidden-key');
    expect(failure(() => decodeJson('{"a":{"b":1,"constructor":{"x":2,"prototype":{}}}}')).type).toBe('client.json-forbidden-key');
    expect(decodeJson('{"constructor":"x","prototype":"y","b":{"constructor":[{"prototype":1}]}}')).toEqual({
      constructor: 'x',
      prototype: 'y',
      b: { constructor: [{ prototype: 1 }] },
    });
  });

  it('rejects a key repeated in one object (JSON.parse would keep the last, a WAF or signer may read the first)', () => {
    const e = failure(() => decodeJson(Buffer.from('{"soDinhDanh":"099095999901","soDinhDanh":"038095999901"}', 'utf8')));
    expect(e.type).toBe('client.bad-json');
    expect(e.status).toBe(400);
    expect(e.message).toContain('duplicate key "soDinhDanh" at line 1, column 30');
    expect(e.detail).toEqual([{ field: 'soDinhDanh', reason: 'key "soDinhDanh" appears twice in one object', code: 'json-duplicate-key' }]);
    const shown = JSON.stringify({ message: e.message, detail: e.detail });
    expect(shown).not.toContain('099095999901');
    expect(shown).not.toContain('038095999901');
  });

  it('finds repeats nested, after nested objects, written with escapes, and in large objects', () => {
    for (const input of [
      '{"a":{"x":1,"y":{"x":2},"x":3}}', // the inner object's "x" does not hide the outer repeat
      '[{"a":1},{"b":1,"b":2}]',
      '{"a":1,"\u0061":2}', // "\u0061" is "a"
      '{"\u0061":1,"a":2}',
      `{${Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`).join(',')},"k3":0}`, // past the in-place comparison
      `{"\u006b":0,${Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`).join(',')},"k":1}`,
    ]) {
      expect(failure(() => decodeJson(input)).detail[0]!.code, input).toBe('json-duplicate-key');
    }
  });

  it('names a repeated key only when it looks like a field name, not like data', () => {
    for (const key of ['038095999901', 'Trần Văn Thử', 'a b', 'x'.repeat(65)]) {
      const e = failure(() => decodeJson(JSON.stringify({ a: 1 }).replace('"a":1', `"${key}":1,"${key}":2`)));
      expect(e.detail[0]!.code).toBe('json-duplicate-key');
      const shown = JSON.stringify({ message: e.message, detail: e.detail });
      expect(shown).not.toContain(key);
      expect(e.message).toContain('duplicate key (không hiển thị / not shown)');
    }
  });

  it('accepts the same key in different objects, and keys that differ only in length or one character', () => {
    const value = { a: { a: { a: 1 } }, b: [{ a: 1 }, { a: 2 }], ab: 1, ba: 2, abc: 3, 'Trần': 1, 'Trân': 2 };
    expect(decodeJson(JSON.stringify(value))).toEqual(value);
    const wide = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, { k: i, [`k${i}`]: i }]));
    expect(decodeJson(JSON.stringify(wide))).toEqual(wide);
  });

  it('rejects nesting deeper than the limit, 10,000 deep without a stack overflow', () => {
    expect(failure(() => decodeJson('['.repeat(10_000) + ']'.repeat(10_000))).type).toBe('client.json-too-deep');
    expect(failure(() => decodeJson('{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000))).type).toBe('client.json-too-deep');
    // unbalanced garbage is still refused by depth first, cheaply
    expect(failure(() => decodeJson('['.repeat(100_000))).type).toBe('client.json-too-deep');
  });

  it('accepts exactly the depth limit', () => {
    expect(() => decodeJson('['.repeat(JSON_MAX_DEPTH) + ']'.repeat(JSON_MAX_DEPTH))).not.toThrow();
    expect(failure(() => decodeJson('['.repeat(JSON_MAX_DEPTH + 1) + ']'.repeat(JSON_MAX_DEPTH + 1))).type).toBe('client.json-too-deep');
  });

  it('brackets inside strings do not count as nesting', () => {
    expect(decodeJson(`{"a":"${'[{'.repeat(1000)}"}`)).toEqual({ a: '[{'.repeat(1000) });
  });
});

describe('encodeJson', () => {
  it('encodes Vietnamese text as UTF-8 JSON that decodes back', () => {
    const value = { hoTen: 'Lê Thị Mẫu', soDinhDanh: '001199999902', list: [1, null, true] };
    expect(decodeJson(encodeJson(value))).toEqual(value);
  });

  it('turns a cycle or BigInt into a HubError', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(failure(() => encodeJson(cyclic)).type).toMatch(/json-encode$/);
    expect(failure(() => encodeJson({ n: 1n })).type).toMatch(/json-encode$/);
    expect(failure(() => encodeJson(undefined)).type).toMatch(/json-encode$/);
  });
});
