/**
 * `${NAME}` and `${NAME:-default}` in config values, so secrets and per-site addresses live in the
 * environment, never in committed files. Values stay text: the config schema says where a number or flag is wanted
 * (its validator converts "8080" there), and mappings write codes such as "01", which must stay text. An unset variable
 * without a default is an error, and so is a `${…}` that is not an expression (it would travel on as literal text).
 */
const EXPRESSION = /\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}/g;
const ANY_BRACES = /\$\{[^}]*\}?/g;
const ONE_EXPRESSION = /^\$\{[A-Z_][A-Z0-9_]*(?::-[^}]*)?\}$/;

export interface Unresolved {
  path: Array<string | number>;
  variable: string;
  /** Set when the text is not an expression at all (`${db_url}`, `${X-default}`, an unclosed `${`). */
  malformed?: true;
}

export function interpolate<T>(value: T, env: NodeJS.ProcessEnv): { value: T; missing: Unresolved[] } {
  const missing: Unresolved[] = [];
  return { value: walk(value, env, [], missing) as T, missing };
}

function walk(value: unknown, env: NodeJS.ProcessEnv, path: Array<string | number>, missing: Unresolved[]): unknown {
  if (typeof value === 'string') return substitute(value, env, path, missing);
  if (Array.isArray(value)) return value.map((item, i) => walk(item, env, [...path, i], missing));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = walk(item, env, [...path, key], missing);
    return out;
  }
  return value;
}

function substitute(text: string, env: NodeJS.ProcessEnv, path: Array<string | number>, missing: Unresolved[]): string {
  if (!text.includes('${')) return text;
  for (const found of text.match(ANY_BRACES) ?? []) {
    if (!ONE_EXPRESSION.test(found)) missing.push({ path, variable: found, malformed: true });
  }
  return text.replace(EXPRESSION, (_match, name: string, fallback: string | undefined) => {
    const found = env[name];
    if (found !== undefined && found !== '') return found;
    if (fallback !== undefined) return fallback;
    missing.push({ path, variable: name });
    return '';
  });
}
