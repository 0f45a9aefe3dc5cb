import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { REPO, hubEnv } from './hub.js';

/** A hub started the way an operator starts it (`lienthong start`), as a child process on 127.0.0.1. */
export interface ChildHub {
  url: string;
  process: ChildProcess;
  output(): string;
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

export interface ChildHubOptions {
  /** Another configuration root (default: the repository's). */
  root?: string;
  /** https, with the CA to trust for the readiness probe. */
  tls?: { ca: string };
  /** Also start the demo simulators config/hub.yaml names (default: --no-sim). */
  simulators?: boolean;
}

export async function startChildHub(env: Record<string, string>, port?: number, options: ChildHubOptions = {}): Promise<ChildHub> {
  const listen = port ?? (await freePort());
  const args = [join(REPO, 'bin', 'lienthong.js'), '--root', options.root ?? REPO, 'start', ...(options.simulators ? [] : ['--no-sim']), '--port', String(listen)];
  const child = spawn(process.execPath, args, {
    env: { ...hubEnv(env), LOG_LEVEL: env.LOG_LEVEL ?? 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    if (output.length < 200_000) output += chunk.toString();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${listen}`;
  const probe = options.tls ? new Agent({ connect: { ca: options.tls.ca } }) : undefined;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`hub exited with ${child.exitCode}:\n${output}`);
    try {
      const res = await request(`${url}/ready`, { dispatcher: probe });
      await res.body.dump();
      if (res.statusCode === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await probe?.close();
      throw new Error(`hub did not become ready:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await probe?.close();
  return {
    url,
    process: child,
    output: () => output,
    kill: async (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
