/**
 * `npm run bench`: each figure is a ratio against a baseline measured in the same run, never an
 * absolute timing. Writes bench/results.json ([{id, value, unit, baseline, ratio, target}]) and prints
 * a table. Every load targets 127.0.0.1 only and stops by itself (fixed duration, bounded requests).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import jsonata from 'jsonata';
import { Pool } from 'undici';
import { decodeSoap } from '../src/codec/soap.js';
import { loadRegistry } from '../src/config/load.js';
import { CITIZEN_FIXTURE, JSONATA_CITIZEN, handMapCitizen } from './hand-mapping.js';

const ROOT = join(import.meta.dirname, '..');
/**
 * Load before measuring a server: V8 keeps optimising a hub's code for ~10 s at these rates (the
 * compiler threads took a fifth of its CPU in the first seconds), so a short warm-up measures the JIT.
 */
const WARM_SECONDS = 8;
const TSX = ['--import', 'tsx'];

interface Result { id: string; value: number; unit: string; baseline: number; ratio: number; target: string }
const results: Result[] = [];

function record(id: string, value: number, unit: string, baseline: number, target: string): void {
  results.push({ id, value: round(value), unit, baseline: round(baseline), ratio: Math.round((value / baseline) * 1000) / 1000, target });
}
const round = (n: number) => (n >= 100 ? Math.round(n) : Math.round(n * 100) / 100);

/** Runs fn repeatedly for `ms`, returns calls per second (best of `rounds`). */
async function rate(fn: () => unknown, ms = 1000, rounds = 3): Promise<number> {
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const end = performance.now() + ms;
    while (performance.now() < end) {
      for (let i = 0; i < 100; i++) await fn();
      n += 100;
    }
    best = Math.max(best, n / (ms / 1000));
  }
  return best;
}
function rateSync(fn: () => unknown, ms = 1000, rounds = 3): number {
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const start = performance.now();
    const end = start + ms;
    while (performance.now() < end) {
      for (let i = 0; i < 200; i++) fn();
      n += 200;
    }
    best = Math.max(best, n / ((performance.now() - start) / 1000));
  }
  return best;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/** Hubs run as `npm start` runs one: with its node flags (package.json), then any BENCH_CHILD_ARGS. */
const START_FLAGS = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start!.split(/\s+/).filter((arg) => arg.startsWith('--'));

function launch(args: string[], env: Record<string, string>, ready: RegExp): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...START_FLAGS, ...(process.env.BENCH_CHILD_ARGS ?? '').split(' ').filter(Boolean), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`timed out starting ${args.join(' ')}:\n${seen}`)), 30_000);
    const watch = (chunk: Buffer) => {
      if (seen.length < 20_000) seen += chunk.toString();
      if (ready.test(seen)) {
        clearTimeout(timer);
        child.stdout!.removeAllListeners('data');
        child.stdout!.resume();
        child.stderr!.resume();
        resolve(child);
      }
    };
    child.stdout!.on('data', watch);
    child.stderr!.on('data', watch);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}:\n${seen}`)));
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null) return done();
    child.removeAllListeners('exit');
    child.once('exit', () => done());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

/** Closed-loop load on 127.0.0.1: `connections` requests in flight for `seconds`, then stop. */
async function load(url: string, path: string, bodies: string[], seconds: number, connections = 32): Promise<{ rps: number; errors: number }> {
  const target = new URL(url);
  if (target.hostname !== '127.0.0.1') throw new Error('bench load targets 127.0.0.1 only');
  const pool = new Pool(url, { connections });
  let ok = 0;
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  let i = 0;
  const worker = async () => {
    while (performance.now() < end) {
      const body = bodies[i++ % bodies.length]!;
      try {
        const res = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json' }, body });
        await res.body.dump();
        if (res.statusCode === 200) ok++;
        else errors++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  const elapsed = (performance.now() - started) / 1000;
  await pool.close();
  return { rps: ok / elapsed, errors };
}

/**
 * Citizen lookups through the hub versus a bare pass-through proxy, both calling the same simulator.
 * Two settings: `sync.lookup` gives the simulator a 10–30 ms answer time (a national database behind a
 * network is never faster, nor in lockstep) with 32 callers, which is how the hub is used; `sync.lookup-saturated` gives
 * it none, so that everything is CPU-bound on this 2-core machine shared by load generator, hub and
 * simulator. The second shows the hub's own cost bare: it validates, maps and parses the 2.5 KB SOAP
 * answer (hardened fast-xml-parser, ~150 µs) where the proxy forwards bytes untouched.
 */
async function syncLookup(id: string, latencyMs: number, jitterMs: number, connections: number, target: string): Promise<void> {
  const simPort = await freePort();
  const hubPort = await freePort();
  const proxyPort = await freePort();
  const sim = await launch([...TSX, 'src/sim/main.ts', 'population', '--port', String(simPort), '--latency-ms', String(latencyMs), '--jitter-ms', String(jitterMs)], {}, /listening|127\.0\.0\.1/);
  const simUrl = `http://127.0.0.1:${simPort}`;
  const hub = await launch(['bin/lienthong.js', 'start', '--no-sim', '--port', String(hubPort)], { CSDLDC_URL: simUrl, LOG_LEVEL: 'info' }, /hub listening/);
  const proxy = await launch([...TSX, 'bench/baseline-proxy.ts', simUrl, String(proxyPort)], {}, /ready/);
  try {
    const ids = ['038095999901', '001199999902'];
    const bodies = ids.map((soDinhDanh) => JSON.stringify({ soDinhDanh, mucDich: 'Đo hiệu năng' }));
    const hubUrl = `http://127.0.0.1:${hubPort}`;
    const proxyUrl = `http://127.0.0.1:${proxyPort}`;
    // Warm both (JIT, pools) for WARM_SECONDS, then alternate so that drift affects both alike.
    await load(hubUrl, '/v1/in/onegate-h56/citizen-lookup', bodies, WARM_SECONDS, connections);
    await load(proxyUrl, '/lookup', bodies, WARM_SECONDS, connections);
    const hubRuns: number[] = [];
    const proxyRuns: number[] = [];
    let hubErrors = 0;
    for (let round = 0; round < 3; round++) {
      const h = await load(hubUrl, '/v1/in/onegate-h56/citizen-lookup', bodies, 4, connections);
      const p = await load(proxyUrl, '/lookup', bodies, 4, connections);
      hubRuns.push(h.rps);
      proxyRuns.push(p.rps);
      hubErrors += h.errors;
    }
    if (hubErrors) console.warn(`${id}: ${hubErrors} non-200 answers from the hub`);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    record(id, median(hubRuns), `req/s (${connections} callers, simulator ${latencyMs}–${latencyMs + jitterMs} ms)`, median(proxyRuns), target);
  } finally {
    await Promise.all([stop(hub), stop(proxy), stop(sim)]);
  }
}

async function mappingSpeed(): Promise<void> {
  const { registry, issues } = loadRegistry(ROOT, { env: { ...process.env, CSDLDC_URL: 'http://127.0.0.1:8091' } });
  if (!registry) throw new Error(issues.map((i) => i.message).join('\n'));
  const mapping = registry.mappings.get('csdldc/TraCuuThongTinCongDan.in')!;
  const expression = jsonata(JSONATA_CITIZEN);
  // Same answers first: a benchmark of different work would be meaningless.
  const ours = mapping.run(CITIZEN_FIXTURE);
  const hand = handMapCitizen(CITIZEN_FIXTURE);
  if (JSON.stringify(sortKeys(ours)) !== JSON.stringify(sortKeys(hand))) throw new Error(`hand-written mapping differs:\n${JSON.stringify(ours)}\n${JSON.stringify(hand)}`);
  const viaJsonata = await expression.evaluate(CITIZEN_FIXTURE);
  if ((viaJsonata as { name: { full: string } }).name.full !== 'Trần Văn Thử') throw new Error('JSONata mapping is wrong');

  const ourRate = rateSync(() => mapping.run(CITIZEN_FIXTURE));
  const handRate = rateSync(() => handMapCitizen(CITIZEN_FIXTURE));
  const jsonataRate = await rate(() => expression.evaluate(CITIZEN_FIXTURE), 1000, 2);
  record('mapping.vs-hand', ourRate, 'maps/s', handRate, 'ratio >= 0.5');
  record('mapping.vs-jsonata', ourRate, 'maps/s', jsonataRate, 'ratio >= 20');
}

function soapDecode(): void {
  const fields = Array.from({ length: 30 }, (_, i) => `<qldc:Truong${i} loai="chuoi">Giá trị số ${i} &amp; Trần Văn Thử, Số 1 phố Giả Định, xã Mẫu</qldc:Truong${i}>`).join('');
  const envelope = `<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:qldc="http://dancuquocgia.bca"><soapenv:Header><wsse:Security><wsse:UsernameToken><wsse:Username>lienthong</wsse:Username></wsse:UsernameToken></wsse:Security></soapenv:Header><soapenv:Body><qldc:CongdanCollection><qldc:CongDan>${fields}</qldc:CongDan></qldc:CongdanCollection></soapenv:Body></soapenv:Envelope>`;
  const padded = envelope.length < 5000 ? envelope.replace('</qldc:CongDan>', `<qldc:GhiChu>${'x'.repeat(5000 - envelope.length - 30)}</qldc:GhiChu></qldc:CongDan>`) : envelope;
  const bytes = Buffer.from(padded);
  const plain = new XMLParser();
  const ours = rateSync(() => decodeSoap(bytes));
  const baseline = rateSync(() => plain.parse(bytes.toString('utf8')));
  record('codec.soap-decode', ours, `decodes/s (${(bytes.length / 1024).toFixed(1)} KiB)`, baseline, 'report; baseline = fast-xml-parser defaults, unhardened');
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, sortKeys(v)]));
  return value;
}

const only = process.argv[2];
if (!only || only.startsWith('async') || only === 'log.postgres') {
  const { asyncBenchmarks } = await import('./async.js');
  results.push(...(await asyncBenchmarks(launch, stop, freePort, only === 'async' ? undefined : only)));
}
if (!only || only === 'mapping') await mappingSpeed();
if (!only || only === 'signer') {
  const { signerBench } = await import('./signer.js');
  results.push(await signerBench());
}
if (!only || only === 'soap') {
  const { xmlSignatureBench } = await import('./xml-signature.js');
  results.push(await xmlSignatureBench());
}
if (!only || only === 'codec') soapDecode();
if (!only || only === 'sync') {
  await syncLookup('sync.lookup', 10, 20, 32, 'ratio >= 0.7');
  await syncLookup('sync.lookup-saturated', 0, 0, 32, 'report (CPU-bound; see README)');
}
if (!only || only === 'sync' || only === 'federation') {
  const { signedTwoHop } = await import('./federation.js');
  results.push(await signedTwoHop(launch, stop, freePort, load, WARM_SECONDS));
}

writeFileSync(join(ROOT, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
console.table(results);
