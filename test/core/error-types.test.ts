import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_TYPES } from '../../src/core/error-types.js';
import { checkPolicy } from '../../src/delivery/retry.js';
import { REPO } from '../support/hub.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []));
}

describe('the catalogue of error types', () => {
  it('holds every error type named in the source, and nothing else', () => {
    const named = new Set<string>();
    for (const file of sources(join(REPO, 'src'))) {
      if (file.endsWith('error-types.ts')) continue;
      for (const match of readFileSync(file, 'utf8').matchAll(/'((?:client|transport|server|mapping|schema|trust)\.[a-z0-9-]+)'/g)) named.add(match[1]!);
    }
    expect([...ERROR_TYPES].sort()).toEqual([...named].sort());
  });

  it('lets lienthong check refuse a retry policy naming an error type that does not exist', () => {
    expect(checkPolicy({ retryOn: { errorTypes: ['transport.timeout', 'transport.peer-fault-server'] } })).toEqual([]);
    expect(checkPolicy({ retryOn: { errorTypes: ['transport.timout'] } })).toEqual([expect.stringMatching(/"transport\.timout" is not an error type .* \(did you mean transport\.timeout\?\)/)]);
  });
});
