import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding config/hub.yaml: --root, then LIENTHONG_ROOT, then the current folder, then the package's own. */
export function resolveRoot(given?: string): string {
  if (given) return resolve(given);
  if (process.env.LIENTHONG_ROOT) return resolve(process.env.LIENTHONG_ROOT);
  if (existsSync(join(process.cwd(), 'config', 'hub.yaml'))) return process.cwd();
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}
