import { describe, expect, it } from 'vitest';
import { runAllMappingTests } from '../src/cli/test.js';
import { loadShipped } from './support/hub.js';

/** Every shipped mapping's golden cases (mappings/**\/*.test.yaml), one vitest test each. */
const registry = loadShipped({ CSDLDC_URL: 'http://127.0.0.1:8091' });
const results = runAllMappingTests(registry);

describe('shipped mappings', () => {
  it('every mapping has golden tests, including at least one failing input', () => {
    const tested = new Set(registry.mappingTests.map((s) => s.mappingFile.replace(/\\/g, '/').replace(/^.*\/mappings\//, '').replace(/\.ya?ml$/, '')));
    for (const id of registry.mappings.keys()) expect(tested, `mapping ${id} has no *.test.yaml`).toContain(id);
    for (const suite of registry.mappingTests) expect(suite.cases.some((c) => 'error_matches' in c && c.error_matches), `${suite.file} has no failing case`).toBe(true);
  });

  for (const result of results) {
    it(`${result.suite.replace(/^.*\/mappings\//, '')} › ${result.name}`, () => {
      expect(result.ok, result.message).toBe(true);
    });
  }
});
