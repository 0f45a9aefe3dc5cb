import { request } from 'undici';
import { loadRegistry } from '../config/load.js';
import { resolveRoot } from './root.js';

/** Talks to a running hub's admin API (the CLI never opens the hub's stores behind its back). */
export interface AdminClient {
  get(path: string, query?: Record<string, string | number | undefined>): Promise<unknown>;
  post(path: string, body: unknown): Promise<unknown>;
}

export function adminClient(options: { root?: string; url?: string }): AdminClient {
  let base = options.url;
  if (!base) {
    const root = resolveRoot(options.root);
    const { registry } = loadRegistry(root);
    // Without a readable configuration the port is a guess, and another hub may answer there: say so.
    if (!registry) throw new Error(`cannot read the configuration in ${root} to find the hub's port; run from the project folder, or give --url http://127.0.0.1:<port>`);
    base = `http://127.0.0.1:${registry.hub.server.port}`;
  }
  const url = base.replace(/\/+$/, '');
  const headers: Record<string, string> = { accept: 'application/json' };
  if (process.env.LIENTHONG_ADMIN_TOKEN) headers.authorization = `Bearer ${process.env.LIENTHONG_ADMIN_TOKEN}`;
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    let res;
    try {
      res = await request(`${url}${path}`, { method, headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (error) {
      throw new Error(`cannot reach the hub at ${url} (${(error as Error).message}); is it running? use --url to point elsewhere`);
    }
    const text = await res.body.text();
    let parsed: Record<string, unknown>;
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      throw new Error(`${url} answered HTTP ${res.statusCode} with something other than JSON: is it a lienthong hub? use --url to point at one`);
    }
    if (res.statusCode >= 400) {
      const detail = Array.isArray(parsed.detail) ? (parsed.detail as Array<{ field?: string; reason?: string }>).map((d) => `\n  ${d.field ? `${d.field}: ` : ''}${d.reason ?? ''}`).join('') : '';
      throw new Error(`${res.statusCode} ${String(parsed.type ?? '')}: ${String(parsed.message ?? text)}${detail}`);
    }
    return parsed;
  };
  return {
    get: (path, query = {}) => {
      const params = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== '').map(([k, v]): [string, string] => [k, String(v)]));
      return call('GET', `${path}${params.size ? `?${params}` : ''}`);
    },
    post: (path, body) => call('POST', path, body),
  };
}

/** ISO date-time or epoch ms → epoch ms. */
export function toEpoch(value: string | undefined): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new Error(`not a time: ${value} (use ISO 8601, e.g. 2025-03-04T08:00:00+07:00)`);
  return ms;
}
