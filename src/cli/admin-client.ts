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
    const { registry } = loadRegistry(resolveRoot(options.root));
    base = `http://127.0.0.1:${registry?.hub.server.port ?? 8080}`;
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
    const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    if (res.statusCode >= 400) throw new Error(`${res.statusCode} ${String(parsed.type ?? '')}: ${String(parsed.message ?? text)}`);
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
