/**
 * sync.signed-two-hop: the citizen lookup through two hubs (province hub → national hub → population
 * simulator), every hub-to-hub message and answer signed with RSA-2048 and carried over mutual TLS, versus
 * the same path through two bare fastify + undici proxies (bench/baseline-two-hop.ts, mutual TLS between
 * them too) in the same run. The simulator answers in 10–30 ms, as in sync.lookup; 32 callers. Targets
 * 127.0.0.1 only; fixed durations.
 */
import type { ChildProcess } from 'node:child_process';
import { makeFederation } from '../test/support/federation.js';

type Launch = (args: string[], env: Record<string, string>, ready: RegExp) => Promise<ChildProcess>;
type Stop = (child: ChildProcess) => Promise<void>;
type Load = (url: string, path: string, bodies: string[], seconds: number, connections?: number) => Promise<{ rps: number; errors: number }>;
export interface TwoHopResult { id: string; value: number; unit: string; baseline: number; ratio: number; target: string }

const TSX = ['--import', 'tsx'];

export async function signedTwoHop(launch: Launch, stop: Stop, freePort: () => Promise<number>, load: Load, warmSeconds: number): Promise<TwoHopResult> {
  const ports = { sim: await freePort(), province: await freePort(), national: await freePort(), front: await freePort(), back: await freePort() };
  const fed = makeFederation({ province: ports.province, national: ports.national });
  const simUrl = `http://127.0.0.1:${ports.sim}`;
  const sim = await launch([...TSX, 'src/sim/main.ts', 'population', '--port', String(ports.sim), '--latency-ms', '10', '--jitter-ms', '20'], {}, /listening|127\.0\.0\.1/);
  const children: ChildProcess[] = [sim];
  try {
    const quiet = { LOG_LEVEL: 'info' }; // as in production, one line per message
    children.push(await launch(['bin/lienthong.js', '--root', fed.national.root, 'start', '--no-sim', '--port', String(ports.national)], { ...quiet, CSDLDC_URL: simUrl, REDIS_URL: '', DATABASE_URL: '' }, /hub listening/));
    children.push(await launch(['bin/lienthong.js', '--root', fed.province.root, 'start', '--no-sim', '--port', String(ports.province)], { ...quiet, REDIS_URL: '', DATABASE_URL: '' }, /hub listening/));
    children.push(await launch([...TSX, 'bench/baseline-two-hop.ts', 'back', String(ports.back), simUrl, fed.keys, 'national'], {}, /ready/));
    children.push(await launch([...TSX, 'bench/baseline-two-hop.ts', 'front', String(ports.front), `https://127.0.0.1:${ports.back}`, fed.keys, 'province'], {}, /ready/));
    const bodies = ['038095999901', '001199999902'].map((soDinhDanh) => JSON.stringify({ soDinhDanh, mucDich: 'Đo hiệu năng' }));
    const hubUrl = `http://127.0.0.1:${ports.province}`;
    const proxyUrl = `http://127.0.0.1:${ports.front}`;
    await load(hubUrl, '/v1/in/onegate-h56/citizen-lookup', bodies, warmSeconds);
    await load(proxyUrl, '/lookup', bodies, warmSeconds);
    const hubRuns: number[] = [];
    const proxyRuns: number[] = [];
    let errors = 0;
    for (let round = 0; round < 3; round++) {
      const h = await load(hubUrl, '/v1/in/onegate-h56/citizen-lookup', bodies, 4);
      const p = await load(proxyUrl, '/lookup', bodies, 4);
      hubRuns.push(h.rps);
      proxyRuns.push(p.rps);
      errors += h.errors;
    }
    if (errors) {
      const { request } = await import('undici');
      const res = await request(`${hubUrl}/v1/in/onegate-h56/citizen-lookup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[0] });
      console.warn(`sync.signed-two-hop: ${errors} non-200 answers through the hubs, e.g. ${res.statusCode} ${(await res.body.text()).slice(0, 300)}`);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const value = median(hubRuns);
    const baseline = median(proxyRuns);
    return { id: 'sync.signed-two-hop', value: Math.round(value), unit: 'req/s (32 callers, 2 hubs, RSA-2048 signatures + mTLS between them, simulator 10–30 ms)', baseline: Math.round(baseline), ratio: Math.round((value / baseline) * 1000) / 1000, target: 'ratio >= 0.7' };
  } finally {
    await Promise.all(children.map(stop));
  }
}
