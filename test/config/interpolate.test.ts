import { describe, expect, it } from 'vitest';
import { interpolate } from '../../src/config/interpolate.js';

describe('${NAME} and ${NAME:-default} in config values', () => {
  const env = { PORT: '9090', CODE: '01', FLAG: 'true', EMPTY: '' };

  it('substitutes variables and defaults anywhere in a value, in nested objects and lists', () => {
    const { value, missing } = interpolate({ url: 'http://h:${PORT}/x', list: ['${CODE}', '${NONE:-fallback}'], empty: '${EMPTY:-used}' }, env);
    expect(value).toEqual({ url: 'http://h:9090/x', list: [1, 'fallback'], empty: 'used' });
    expect(missing).toEqual([]);
  });

  it('turns a value that is exactly one expression into a number or boolean, unless typed is false', () => {
    expect(interpolate({ port: '${PORT}', flag: '${FLAG}', code: '${CODE}' }, env).value).toEqual({ port: 9090, flag: true, code: 1 });
    // Mappings write codes: "01" must stay "01".
    expect(interpolate({ port: '${PORT}', flag: '${FLAG}', code: '${CODE}', partner: '${P:-000}' }, env, { typed: false }).value).toEqual({ port: '9090', flag: 'true', code: '01', partner: '000' });
  });

  it('names every unset variable without a default, with where it is', () => {
    const { missing } = interpolate({ a: { b: ['x', '${SECRET}'] }, c: '${OTHER}-${PORT}' }, env);
    expect(missing).toEqual([{ path: ['a', 'b', 1], variable: 'SECRET' }, { path: ['c'], variable: 'OTHER' }]);
  });
});
