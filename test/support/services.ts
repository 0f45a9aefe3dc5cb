import { Socket } from 'node:net';

/**
 * Service-backed suites run against real Redis and PostgreSQL. In CI (LIENTHONG_REQUIRE_SERVICES=1)
 * a missing service is a failure, never a silent skip; on a developer's machine without them the
 * suite is skipped with a clear message.
 */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export async function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(Number(port), hostname, () => done(true));
  });
}

export async function requireService(name: string, url: string): Promise<boolean> {
  if (await reachable(url)) return true;
  if (process.env.LIENTHONG_REQUIRE_SERVICES === '1') throw new Error(`${name} is required (LIENTHONG_REQUIRE_SERVICES=1) but not reachable at ${url}`);
  console.warn(`skipping ${name}-backed tests: nothing listens at ${url}`);
  return false;
}
