import { spawnSync } from 'node:child_process';
import { Socket } from 'node:net';
import { postgresProblem } from './postgres.js';

/**
 * Suites that need something outside Node (Redis, PostgreSQL, the openssl command) ask for it here, once, at the top
 * of the file, and wrap their tests in `describe.runIf(available)`. In CI (LIENTHONG_REQUIRE_SERVICES=1, set by
 * .ci/run) a missing service is a failure, never a silent skip; on a developer's machine without it the suite is
 * skipped with a clear message.
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

/** The one gate: true when `problem` is undefined; otherwise fails under LIENTHONG_REQUIRE_SERVICES=1, else warns and answers false. */
function gate(name: string, problem: string | undefined): boolean {
  if (problem === undefined) return true;
  if (process.env.LIENTHONG_REQUIRE_SERVICES === '1') throw new Error(`${name} is required (LIENTHONG_REQUIRE_SERVICES=1) but ${problem}`);
  console.warn(`\n*** skipping ${name}-backed tests: ${problem}. Set LIENTHONG_REQUIRE_SERVICES=1 to fail instead. ***\n`);
  return false;
}

/** Whether something listens at `url` (Redis and the like). */
export async function requireService(name: string, url: string): Promise<boolean> {
  return gate(name, (await reachable(url)) ? undefined : `nothing listens at ${url}`);
}

/** Whether PostgreSQL at DATABASE_URL answers a query. */
export async function requirePostgres(): Promise<boolean> {
  const problem = await postgresProblem(DATABASE_URL);
  return gate('PostgreSQL', problem === undefined ? undefined : `${DATABASE_URL} is unreachable (${problem})`);
}

/** Whether `command` runs on this machine (`openssl version`, say). */
export function requireCommand(command: string, args: string[]): boolean {
  const run = spawnSync(command, args, { stdio: 'ignore' });
  return gate(command, run.status === 0 ? undefined : `the ${command} command does not run here`);
}
