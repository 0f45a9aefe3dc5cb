import { loadRegistry } from '../config/load.js';
import { formatIssue } from '../core/issues.js';
import { resolveRoot } from './root.js';

/** `lienthong check`: every file against its schema, every mapping against its schemas. Exit 1 on any error. */
export function checkCommand(options: { root?: string }): number {
  const root = resolveRoot(options.root);
  const { registry, issues } = loadRegistry(root);
  for (const issue of issues) console.log(formatIssue(issue));
  const errors = issues.filter((i) => i.severity === 'error').length;
  const warnings = issues.length - errors;
  if (registry) {
    console.log(`ok: ${registry.connectors.size} connectors, ${registry.routes.size} routes, ${registry.mappings.size} mappings, ${registry.schemas.names().length} schemas, ${registry.codeTables.size} code tables${warnings ? `, ${warnings} warning(s)` : ''}`);
    return 0;
  }
  console.log(`${errors} error(s), ${warnings} warning(s) in ${root}`);
  return 1;
}
