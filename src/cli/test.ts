import { relative } from 'node:path';
import { loadRegistry } from '../config/load.js';
import { formatIssue } from '../core/issues.js';
import { envelopeProbe, runMappingTests, type CaseResult } from '../mapping/index.js';
import { toErrorDetails } from '../schema/validation-errors.js';
import { resolveRoot } from './root.js';
import type { Registry } from '../config/registry.js';

/** Runs every golden case of every mapping (the *.test.yaml files) against the compiled mappings. */
export function runAllMappingTests(registry: Registry): CaseResult[] {
  const results: CaseResult[] = [];
  for (const suite of registry.mappingTests) {
    const id = relative(`${registry.root}/mappings`, suite.mappingFile).replace(/\\/g, '/').replace(/\.ya?ml$/, '');
    const mapping = registry.mappings.get(id);
    if (!mapping) {
      results.push({ suite: suite.file, name: '(load)', ok: false, message: `mapping ${id} is not loaded` });
      continue;
    }
    const validator = registry.validators.get(mapping.target);
    // Output into a canonical type is stamped with the envelope before the hub validates it: so is a test's.
    const canonical = mapping.target.startsWith('canonical/') ? mapping.target.slice('canonical/'.length) : undefined;
    const validate = (output: unknown) => {
      if (!validator) return [`target schema ${mapping.target} is not loaded`];
      const stamped = canonical ? { ...(output as Record<string, unknown>), ...envelopeProbe(canonical) } : output;
      return validator(stamped) ? [] : toErrorDetails(validator.errors ?? []).map((d) => `${d.field ?? '(root)'}: ${d.reason}`);
    };
    results.push(...runMappingTests(suite, mapping, validate));
  }
  return results;
}

/** `lienthong test`: readable diffs for failures; exit 1 when any case fails. */
export function testCommand(options: { root?: string; filter?: string }): number {
  const root = resolveRoot(options.root);
  const { registry, issues } = loadRegistry(root);
  if (!registry) {
    for (const issue of issues) console.log(formatIssue(issue));
    console.log('configuration has errors: run `lienthong check`');
    return 1;
  }
  const results = runAllMappingTests(registry).filter((r) => !options.filter || `${r.suite} ${r.name}`.includes(options.filter));
  let failed = 0;
  for (const result of results) {
    const where = relative(root, result.suite);
    if (result.ok) console.log(`  ✓ ${where} › ${result.name}`);
    else {
      failed++;
      console.log(`  ✗ ${where} › ${result.name}\n${(result.message ?? '').split('\n').map((l) => `      ${l}`).join('\n')}`);
    }
  }
  console.log(`\n${results.length - failed} passed, ${failed} failed (${registry.mappingTests.length} mapping test files)`);
  return failed || results.length === 0 ? 1 : 0;
}
