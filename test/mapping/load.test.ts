import { describe, expect, it } from 'vitest';
import { parseSource } from '../../src/core/yaml.js';
import { compileMapping, loadMapping, checkMapping, type MappingDefinition } from '../../src/mapping/index.js';
import { doc, load, schemaSet } from './helpers.js';

function errors(yaml: string) {
  const { mapping, issues } = load(yaml);
  expect(mapping).toBeUndefined();
  return issues;
}

describe('loadMapping', () => {
  it('loads a sound mapping with id, file, source, target and description', () => {
    const { mapping, issues } = loadMapping(
      parseSource('mappings/onegate-h56/citizen-lookup.in.yaml', `$schema: ../../schemas/config/mapping.schema.json
description: Một cửa Thanh Hóa → CitizenLookupRequest
source: onegate-h56/citizen-lookup.request
target: canonical/CitizenLookupRequest
fields:
  personalId: { from: soDinhDanh, fn: [trim] }
`),
      'onegate-h56/citizen-lookup.in',
    );
    expect(issues).toEqual([]);
    expect(mapping).toMatchObject({
      id: 'onegate-h56/citizen-lookup.in',
      file: 'mappings/onegate-h56/citizen-lookup.in.yaml',
      source: 'onegate-h56/citizen-lookup.request',
      target: 'canonical/CitizenLookupRequest',
      description: 'Một cửa Thanh Hóa → CitizenLookupRequest',
    });
    expect(mapping!.locate(['fields', 'personalId', 'from']).line).toBe(6);
  });

  it.each(['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'isPrototypeOf'])(
    'rejects the path segment %s in sources and targets, with the line',
    (name) => {
      const src = errors(doc(`ok: { const: 1 }\nx: { from: a.${name}.b }`));
      expect(src).toHaveLength(1);
      expect(src[0]).toMatchObject({ line: 5, field: 'fields.x.from', severity: 'error' });
      expect(src[0]!.message).toContain(name);
      const tgt = errors(doc(`ok: { const: 1 }\na.${name}: { const: 1 }`));
      expect(tgt[0]).toMatchObject({ line: 5, field: `fields.a.${name}` });
    },
  );

  it('rejects forbidden names in conditions, concat, each and nested fields', () => {
    const issues = errors(doc(`
a: { from: x, when: { path: constructor, exists: true } }
b: { concat: [x, y.__proto__] }
c:
  each: list
  fields:
    toString: { from: v }
d: { each: valueOf, fields: { v: { from: x } } }
`));
    expect(issues.map((i) => [i.line, i.field])).toEqual([
      [4, 'fields.a.when.path'],
      [5, 'fields.b.concat[1]'],
      [9, 'fields.c.fields.toString'],
      [10, 'fields.d.each'],
    ]);
  });

  it('rejects forbidden keys inside const and default literals', () => {
    const issues = errors(doc(`
a: { const: { ok: 1, __proto__: { polluted: true } } }
b: { from: x, default: { constructor: 1 } }
`));
    expect(issues.map((i) => i.line)).toEqual([4, 5]);
    expect(issues[0]!.message).toContain('__proto__');
  });

  it('rejects unknown functions with a suggestion, at load, with the line', () => {
    const issues = errors(doc(`
a: { from: x }
b: { from: x, fn: [trim, trimm] }
c: { from: x, fn: [{ dat: { from: "dd/MM/yyyy", to: iso } }] }
d: { from: x, fn: [eval] }
`));
    expect(issues).toHaveLength(3);
    expect(issues[0]).toMatchObject({ line: 5, message: "unknown function 'trimm'", field: 'fields.b.fn[1]' });
    expect(issues[0]!.hint).toContain("did you mean 'trim'?");
    expect(issues[1]).toMatchObject({ line: 6, message: "unknown function 'dat'" });
    expect(issues[1]!.hint).toContain("'date'");
    expect(issues[2]).toMatchObject({ line: 7, message: "unknown function 'eval'" });
  });

  it('rejects bad function arguments at load', () => {
    const issues = errors(doc(`
a: { from: x, fn: [date] }
b: { from: x, fn: [{ date: { from: "dd/MM/yyyy" } }] }
c: { from: x, fn: [{ date: { from: "dd/MM/yyyy hh:mm", to: iso } }] }
d: { from: x, fn: [{ diacritics: remove }] }
e: { from: x, fn: [{ slice: [0, 1, 2] }] }
f: { from: x, fn: [{ trim: true }] }
g: { from: x, fn: [{ split: "" }] }
`));
    const byLine = new Map(issues.map((i) => [i.line, i]));
    expect(byLine.get(4)!.message).toBe("function 'date' needs arguments");
    expect(byLine.get(5)!.message).toContain("'to' is missing");
    expect(byLine.get(6)!.message).toMatch(/12-hour/);
    expect(byLine.get(7)!.message).toMatch(/strip, keep/);
    expect(byLine.get(7)!.hint).toBeUndefined();
    expect(byLine.get(8)).toBeDefined();
    expect(byLine.get(9)!.message).toBe("function 'trim' takes no arguments");
    expect(byLine.get(10)).toBeDefined();
  });

  it('date patterns are checked by the semantic pass even when the structure is valid', () => {
    const issues = errors(doc('a: { from: x, fn: [{ date: { from: "dd/MM/yyyy", to: "yyyy-MM-dd hh" } }] }'));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 4, field: 'fields.a.fn[0].date' });
    expect(issues[0]!.message).toContain('bad arguments for date');
  });

  it('explains rules with none or several of from/const/concat/each', () => {
    const issues = errors(doc(`
a: { fn: [trim] }
b: { from: x, const: 1 }
`));
    expect(issues.map((i) => [i.line, i.message])).toEqual([
      [4, 'a rule needs exactly one of from, const, concat or each'],
      [5, 'a rule needs exactly one of from, const, concat or each'],
    ]);
  });

  it('reports unknown keys with a suggestion and conditions in the wrong form', () => {
    const issues = errors(doc(`
a: { form: x }
b: { from: x, when: { path: y, equals: "1", in: ["2"] } }
c: { from: x, defualt: 1 }
`));
    const a = issues.find((i) => i.line === 4 && i.message.includes('form'))!;
    expect(a.message).toBe("unknown key 'form'");
    expect(a.hint).toBe("did you mean 'from'?");
    expect(issues.find((i) => i.line === 5)!.message).toMatch(/a condition is/);
    expect(issues.find((i) => i.line === 6 && i.message.includes('defualt'))!.hint).toBe("did you mean 'default'?");
  });

  it('rejects const/default that are never written, and colliding targets', () => {
    expect(errors(doc('a: { const: null }'))[0]!.message).toMatch(/never written/);
    expect(load(doc('a: { const: "" }\nb: { from: x, default: "" }')).issues).toEqual([]); // "" is written when a rule says so
    expect(errors(doc('a: { from: x, default: null }'))[0]!.message).toMatch(/never written/);
    const clash = errors(doc(`
birthDate: { from: ngaySinh }
birthDate.year: { from: namSinh }
`));
    expect(clash[0]).toMatchObject({ line: 5 });
    expect(clash[0]!.message).toMatch(/birthDate/);
  });

  it('rejects malformed paths and target indexes', () => {
    const issues = errors(doc(`
a: { from: "x..y" }
b: { from: "x[-1]" }
c[0]: { from: x }
d: { from: "x y" }
`));
    expect(issues.map((i) => i.line)).toEqual([4, 5, 6, 7]);
  });

  it('rejects const fn/default combinations and separator without concat', () => {
    const issues = errors(doc(`
a: { const: 1, fn: [trim] }
b: { from: x, separator: " " }
`));
    expect(issues.map((i) => i.line)).toEqual([4, 5]);
  });

  it('reports YAML syntax errors with their line', () => {
    const issues = errors('source: a/b\ntarget: c/d\nfields:\n  a: { from: x[0] }\n');
    expect(issues).toHaveLength(1);
    expect(issues[0]!.line).toBe(4);
    expect(issues[0]!.message).toMatch(/^YAML/);
  });

  it('a hand-built definition that skipped loadMapping is still checked before any code is generated', () => {
    const spec = { source: 'a/b', target: 'c/d', fields: { x: { from: 'a.__proto__' } } };
    const def: MappingDefinition = { id: 'x', file: 'x.yaml', source: 'a/b', target: 'c/d', spec, locate: () => ({ line: 1, column: 1 }) };
    expect(() => compileMapping(def, { codeTables: new Map() })).toThrow(/__proto__/);
    const issues = checkMapping(def, { schemas: schemaSet({}), codeTables: new Map() });
    expect(issues[0]!.message).toContain('__proto__');
  });
});
