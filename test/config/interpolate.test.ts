import { describe, expect, it } from 'vitest';
import { interpolate } from '../../src/config/interpolate.js';

describe('${NAME} and ${NAME:-default} in config values', () => {
  const env = { PORT: '9090', CODE: '01', FLAG: 'true', EMPTY: '' };

  it('substitutes variables and defaults anywhere in a value, in nested objects and lists', () => {
    const { value, missing } = interpolate({ url: 'http://h:${PORT}/x', list: ['${CODE}', '${NONE:-fallback}'], empty: '${EMPTY:-used}' }, env);
    expect(value).toEqual({ url: 'http://h:9090/x', list: ['01', 'fallback'], empty: 'used' });
    expect(missing).toEqual([]);
  });

  it('keeps values as text (the config schema types them), and reports what is not an expression', () => {
    expect(interpolate({ port: '${PORT}', flag: '${FLAG}', code: '${CODE}', partner: '${P:-000}' }, env).value).toEqual({ port: '9090', flag: 'true', code: '01', partner: '000' });
    const { missing } = interpolate({ a: '${db_url}', b: 'x-${X-def}', c: '${UNCLOSED', d: '$5 ${PORT}' }, env);
    expect(missing).toEqual([
      { path: ['a'], variable: '${db_url}', malformed: true },
      { path: ['b'], variable: '${X-def}', malformed: true },
      { path: ['c'], variable: '${UNCLOSED', malformed: true },
    ]);
  });

  it('names every unset variable without a default, with where it is', () => {
    const { missing } = interpolate({ a: { b: ['x', '${SECRET}'] }, c: '${OTHER}-${PORT}' }, env);
    expect(missing).toEqual([{ path: ['a', 'b', 1], variable: 'SECRET' }, { path: ['c'], variable: 'OTHER' }]);
  });
});
