import { relative } from 'node:path';
import { loadRegistry, type MappingsOnly } from '../config/load.js';
import { formatIssue } from '../core/issues.js';
import { envelopeProbe, runMappingTests, type CaseResult } from '../mapping/index.js';
import { toErrorDetails } from '../schema/validation-errors.js';
import { resolveRoot } from './root.js';

/** Runs every golden case of every mapping (the *.test.yaml files) against the compiled mappings. */
export function runAllMappingTests(registry: MappingsOnly): CaseResult[] {
  const results: CaseResult[] = [];
  for (const suite of registry.mappingTests) {
    const id = mappingIdOf(registry.root, suite.mappingFile);
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

/**
 * `lienthong test`: readable diffs for failures; exit 1 when any case fails. A config error elsewhere (a route not
 * written yet) does not stop the suites whose mapping loaded: they run, and the errors are listed after them.
 */
export function testCommand(options: { root?: string; filter?: string }): number {
  const root = resolveRoot(options.root);
  const { registry, issues, mappingsOnly } = loadRegistry(root);
  const loaded = registry ?? mappingsOnly;
  const configErrors = registry ? [] : issues.filter((i) => i.severity === 'error');
  const footer = () => {
    if (!configErrors.length) return;
    console.log(`\nthe configuration has ${configErrors.length} error(s); suites whose mapping did not load were not run:`);
    for (const issue of configErrors) console.log(formatIssue(issue));
    console.log('run `lienthong check` after fixing them');
  };
  if (!loaded) {
    for (const issue of issues) console.log(formatIssue(issue));
    console.log('configuration has errors: run `lienthong check`');
    return 1;
  }
  // With errors, only the suites whose mapping compiled: the others are named by the errors already.
  const suites = registry ? loaded.mappingTests : loaded.mappingTests.filter((suite) => loaded.mappings.has(mappingIdOf(loaded.root, suite.mappingFile)));
  const results = runAllMappingTests({ ...loaded, mappingTests: suites }).filter((r) => !options.filter || `${r.suite} ${r.name}`.includes(options.filter));
  let failed = 0;
  for (const result of results) {
    const where = relative(root, result.suite);
    if (result.ok) console.log(`  ✓ ${where} › ${result.name}`);
    else {
      failed++;
      console.log(`  ✗ ${where} › ${result.name}\n${(result.message ?? '').split('\n').map((l) => `      ${l}`).join('\n')}`);
    }
  }
  // With --filter, the count is of the files that had a matching case, out of all.
  const files = options.filter ? `${new Set(results.map((r) => r.suite)).size} of ${suites.length} mapping test files matched "${options.filter}"` : `${suites.length} mapping test files`;
  console.log(`\n${results.length - failed} passed, ${failed} failed (${files}${configErrors.length ? `, ${loaded.mappingTests.length - suites.length} not run` : ''})`);
  footer();
  return failed || results.length === 0 || configErrors.length ? 1 : 0;
}

function mappingIdOf(root: string, mappingFile: string): string {
  return relative(`${root}/mappings`, mappingFile).replace(/\\/g, '/').replace(/\.ya?ml$/, '');
}
