import { describe, expect, it } from 'vitest';
import { parseSource } from '../../src/core/yaml.js';
import { checkMapping, compileMapping, loadMappingTests, runMappingTests } from '../../src/mapping/index.js';
import { parseSourcePath } from '../../src/mapping/paths.js';
import { loaded, schemaSet } from './helpers.js';

/** `$request` paths: a response or reply mapping reads the request of its exchange (e.g. to echo a callback's field). */
const schemas = schemaSet({
  'test/answer': { type: 'object', properties: { outcome: { type: 'string' } } },
  'test/reply': { type: 'object', properties: { code: { type: 'string' }, at: { type: 'string' }, sig: { type: 'string' }, lines: { type: 'array', items: { type: 'object', properties: { n: { type: 'string' }, ref: { type: 'string' } } } } } },
  'test/callback': { type: 'object', properties: { ThoiGianGD: { type: 'string' }, MaXacThuc: { type: 'string' }, Dong: { type: 'array', items: { type: 'object', properties: { So: { type: 'string' } } } } } },
});
const mapping = (fields: string, request: string | undefined = 'test/callback') =>
  loaded(`source: test/answer\ntarget: test/reply\n${request ? `request: ${request}\n` : ''}fields:\n${fields.split('\n').filter(Boolean).map((l) => `  ${l}`).join('\n')}\n`);
const errors = (fields: string, request?: string) => checkMapping(mapping(fields, request), { schemas, codeTables: new Map() }).filter((i) => i.severity === 'error');

describe('$request paths', () => {
  it('parse as paths into the request, separate from $ and scope paths', () => {
    expect(parseSourcePath('$request')).toEqual({ ok: true, value: { base: 'request', segments: [], text: '$request' } });
    expect(parseSourcePath('$request.Dong[0].So')).toEqual({ ok: true, value: { base: 'request', segments: ['Dong', 0, 'So'], text: '$request.Dong[0].So' } });
    expect(parseSourcePath('$request.__proto__')).toMatchObject({ ok: false });
    expect(parseSourcePath('$.request')).toMatchObject({ ok: true, value: { base: 'root', segments: ['request'] } });
  });

  it('read the request given to run, also inside each, and are absent when there is none', () => {
    const compiled = compileMapping(mapping('code: { from: outcome }\nat: { from: $request.ThoiGianGD }\nsig: { from: $request.MaXacThuc }\nlines:\n  each: $request.Dong\n  fields:\n    n: { from: So }\n    ref: { from: $request.MaXacThuc }'), { codeTables: new Map() });
    const request = { ThoiGianGD: '20250304092030', MaXacThuc: 'ab12', Dong: [{ So: '1' }, { So: '2' }] };
    expect(compiled.run({ outcome: 'OK' }, request)).toEqual({ code: 'OK', at: '20250304092030', sig: 'ab12', lines: [{ n: '1', ref: 'ab12' }, { n: '2', ref: 'ab12' }] });
    expect(compiled.run({ outcome: 'OK' })).toEqual({ code: 'OK' });
    expect(request).toEqual({ ThoiGianGD: '20250304092030', MaXacThuc: 'ab12', Dong: [{ So: '1' }, { So: '2' }] });
  });

  it('are checked against the declared request schema, with a suggestion', () => {
    expect(errors('at: { from: $request.ThoiGianGD }', 'test/callback')).toEqual([]);
    const [typo] = errors('at: { from: $request.ThoiGianGDD }', 'test/callback');
    expect(typo?.message).toContain("'$request.ThoiGianGDD' is not in test/callback");
    expect(typo?.hint).toContain('ThoiGianGD');
  });

  it('need a request schema: none declared, or one that does not exist, is an error', () => {
    const [undeclared] = errors('at: { from: $request.ThoiGianGD }', '');
    expect(undeclared?.message).toContain('declares no request schema');
    expect(undeclared?.hint).toContain('request:');
    const [missing] = errors('code: { from: outcome }', 'test/callbak');
    expect(missing).toMatchObject({ field: 'request', message: 'request schema "test/callbak" does not exist' });
    expect(missing?.hint).toContain('test/callback');
  });

  it('golden tests give the request beside the input', () => {
    const compiled = compileMapping(mapping('at: { from: $request.ThoiGianGD }\ncode: { from: outcome }'), { codeTables: new Map() });
    const { suite, issues } = loadMappingTests(parseSource('/m/reply.test.yaml', [
      'mapping: reply.yaml',
      'cases:',
      '  - name: echoes the time',
      '    input: { outcome: OK }',
      '    request: { ThoiGianGD: "20250304092030" }',
      '    equals: { code: OK, at: "20250304092030" }',
      '  - name: a wrong expectation fails',
      '    input: { outcome: OK }',
      '    request: { ThoiGianGD: "20250304092030" }',
      '    equals: { code: OK, at: "20250304092031" }',
    ].join('\n')));
    expect(issues).toEqual([]);
    const results = runMappingTests(suite!, compiled, () => []);
    expect(results.map((r) => r.ok)).toEqual([true, false]);
  });
});
