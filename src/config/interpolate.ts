/**
 * `${NAME}` and `${NAME:-default}` in config values, so secrets and per-site addresses live in the
 * environment, never in committed files. A value that is exactly one expression and resolves to a
 * number or boolean becomes that type (ports, flags), unless `typed` is false: mappings write codes such as "01",
 * which must stay text. An unset variable without a default is an error.
 */
const EXPRESSION = /\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}/g;

export interface Unresolved { path: Array<string | number>; variable: string }

export function interpolate<T>(value: T, env: NodeJS.ProcessEnv, options: { typed?: boolean } = {}): { value: T; missing: Unresolved[] } {
  const missing: Unresolved[] = [];
  return { value: walk(value, env, [], missing, options.typed ?? true) as T, missing };
}

function walk(value: unknown, env: NodeJS.ProcessEnv, path: Array<string | number>, missing: Unresolved[], typed: boolean): unknown {
  if (typeof value === 'string') return substitute(value, env, path, missing, typed);
  if (Array.isArray(value)) return value.map((item, i) => walk(item, env, [...path, i], missing, typed));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = walk(item, env, [...path, key], missing, typed);
    return out;
  }
  return value;
}

function substitute(text: string, env: NodeJS.ProcessEnv, path: Array<string | number>, missing: Unresolved[], typed: boolean): unknown {
  if (!text.includes('${')) return text;
  const whole = /^\$\{[^}]+\}$/.test(text);
  const result = text.replace(EXPRESSION, (_match, name: string, fallback: string | undefined) => {
    const found = env[name];
    if (found !== undefined && found !== '') return found;
    if (fallback !== undefined) return fallback;
    missing.push({ path, variable: name });
    return '';
  });
  if (whole && typed) {
    if (/^-?\d+$/.test(result)) return Number(result);
    if (result === 'true' || result === 'false') return result === 'true';
  }
  return result;
}
