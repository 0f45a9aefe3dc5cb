import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shutdownGraceMs } from '../../src/cli/start.js';
import { startDvcqgSim } from '../../src/sim/dvcqg/server.js';
import { startEmcSim } from '../../src/sim/emc/server.js';
import { freePort, startChildHub, type ChildHub } from '../support/child-hub.js';
import { REPO, hubEnv, loadShipped, tempDataDir } from '../support/hub.js';
import { waitFor } from '../support/wait.js';

/**
 * `lienthong start` as an operator runs it (a child process), on the day-2 findings:
 * - demo simulators are announced at warn level, and a connector left at its default address with --no-sim is named;
 * - a simulator port already taken is a one-line "cannot start", exit 1, not a stack trace;
 * - a connector pointed at a real system with a demo credential is refused;
 * - SIGHUP does not stop the hub;
 * - the shutdown grace is configurable, and deliveries still in flight when it runs out are handed back to the
 *   queue, so the next start delivers them at once (the lease here is 10 minutes: only a handed-back lease lets the
 *   restarted hub have it within the test).
 */
const SIM_PORTS = ['CSDLDC_SIM_PORT', 'DVCQG_SIM_PORT', 'EMC_SIM_PORT', 'ONEGATE_H56_SIM_PORT', 'DVCQG_PAYMENT_SIM_PORT'];
const ADDRESSES = ['CSDLDC_URL', 'DVCQG_URL', 'EMC_URL', 'ONEGATE_H56_URL', 'DVCQG_PAYMENT_URL'];

/** The JSON lines of a hub's output (other lines are left out). */
function records(output: string): Array<Record<string, unknown>> {
  return output.split('\n').flatMap((line) => {
    try {
      const value = JSON.parse(line) as unknown;
      return value && typeof value === 'object' ? [value as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}

/** Runs `lienthong start …` until it exits by itself (a start refused); kills it if it does not. */
function runStart(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [join(REPO, 'bin', 'lienthong.js'), '--root', REPO, 'start', ...args], {
    env: withoutAddresses(hubEnv({ LIENTHONG_DATA_DIR: tempDataDir(), ...env })), stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => { output += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { output += c.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) => child.once('exit', (code) => {
    clearTimeout(timer);
    resolve({ code, output });
  }));
}

/** The environment without the test runner's own connector addresses, plus `env`. */
function withoutAddresses(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !ADDRESSES.includes(k) || k in env)) as NodeJS.ProcessEnv;
}

async function simPorts(): Promise<Record<string, string>> {
  const ports: Record<string, string> = {};
  for (const name of SIM_PORTS) ports[name] = String(await freePort());
  return ports;
}

describe('lienthong start: demo simulators', () => {
  let hub: ChildHub;
  beforeAll(async () => {
    hub = await startChildHub({ ...(await simPorts()), LIENTHONG_DATA_DIR: tempDataDir(), LOG_LEVEL: 'warn' }, undefined, { simulators: true });
  }, 60_000);
  afterAll(async () => {
    await hub?.kill('SIGTERM');
  });

  it('announces every simulator it starts at warn level, naming the variable that would point the connector elsewhere', async () => {
    await waitFor(() => records(hub.output()).filter((r) => String(r.msg).startsWith('demo simulator started')).length === 5, 10_000, 'five simulator lines');
    const started = records(hub.output()).filter((r) => String(r.msg).startsWith('demo simulator started'));
    expect(started.map((r) => r.simulator).sort()).toEqual(['dvcqg', 'emc', 'onegate', 'payment', 'population']);
    for (const line of started) {
      expect(line.level).toBe(40);
      expect(line.msg).toContain(`${String(line.env)} is not set`);
      expect(line.msg).toContain('--no-sim');
    }
  });

  it('ignores SIGHUP with a warning that configuration changes need a restart, and keeps serving', async () => {
    hub.process.kill('SIGHUP');
    const line = await waitFor(() => records(hub.output()).find((r) => r.signal === 'SIGHUP'), 10_000, 'the SIGHUP line');
    expect(line).toMatchObject({ level: 40, msg: expect.stringContaining('restart the hub') });
    expect(line!.msg).not.toContain('shutting down');
    const res = await request(`${hub.url}/ready`);
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(hub.process.exitCode).toBeNull();
    // SIGTERM still stops it, cleanly.
    expect(await hub.kill('SIGTERM')).toBe(0);
  });
});

describe('lienthong start: refusals', () => {
  let taken: Server;
  beforeAll(async () => {
    taken = createServer();
    await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done));
  });
  afterAll(async () => {
    await new Promise<void>((done) => taken.close(() => done()));
  });

  it('a simulator port already in use: one line "cannot start", exit 1, no stack trace', async () => {
    const port = (taken.address() as { port: number }).port;
    const { code, output } = await runStart(['--port', String(await freePort())], { ...(await simPorts()), CSDLDC_SIM_PORT: String(port), LOG_LEVEL: 'warn' });
    expect(code, output).toBe(1);
    expect(output).toContain(`lienthong: cannot start: demo simulator population: listen EADDRINUSE: address already in use 127.0.0.1:${port}`);
    expect(output).not.toMatch(/^\s+at /m);
  }, 40_000);

  it('a connector sent to a real system with its demo credential: the configuration is refused', async () => {
    const { code, output } = await runStart(['--no-sim', '--port', String(await freePort())], { DVCQG_URL: 'https://dichvucong.gov.vn' });
    expect(code, output).toBe(1);
    expect(output).toMatch(/connectors\/dvcqg\.yaml:\d+:\d+ \[auth\.password\]: .*DVCQG_PASSWORD is not set/);
    expect(output).toContain('lienthong: configuration has errors');
  }, 40_000);

  it('a shutdown grace that is not a duration: one line "cannot start", exit 1', async () => {
    const { code, output } = await runStart(['--no-sim', '--port', String(await freePort())], { LIENTHONG_SHUTDOWN_GRACE: 'ten seconds' });
    expect(code, output).toBe(1);
    expect(output).toContain('lienthong: cannot start: LIENTHONG_SHUTDOWN_GRACE: bad duration "ten seconds"');
  }, 40_000);
});

describe('lienthong start: shutdown grace', () => {
  it('defaults to more than the slowest connector attempt (connect + request timeout), and takes LIENTHONG_SHUTDOWN_GRACE', () => {
    const registry = loadShipped();
    const slowest = Math.max(...[...registry.connectors.values()].map((c) => c.timeouts.connectMs + c.timeouts.requestMs));
    expect(shutdownGraceMs(registry, undefined)).toBeGreaterThan(slowest);
    expect(shutdownGraceMs(registry, undefined)).toBeGreaterThanOrEqual(20_000);
    expect(shutdownGraceMs(registry, '')).toBe(shutdownGraceMs(registry, undefined));
    expect(shutdownGraceMs(registry, '45s')).toBe(45_000);
    expect(shutdownGraceMs(registry, '1500')).toBe(1500);
    expect(() => shutdownGraceMs(registry, '0')).toThrow(/longer than 0/);
  });

  it('hands back the leases of deliveries still in flight when it runs out: the next start delivers them at once', async () => {
    const dvcqg = await startDvcqgSim({ port: 0 });
    const emc = await startEmcSim({ port: 0, slowMs: 120_000 });
    const env = {
      DVCQG_URL: dvcqg.url, EMC_URL: emc.url, LIENTHONG_DATA_DIR: tempDataDir(), LIENTHONG_DELIVERY_LEASE: '10m',
      LIENTHONG_SHUTDOWN_GRACE: '1s', LOG_LEVEL: 'info',
    };
    const code = '000.00.14.H56-250305-3001';
    let hub = await startChildHub(env);
    try {
      emc.setMode('slow'); // EMC holds the request past the grace (and past its 10 s request timeout)
      const res = await request(`${hub.url}/v1/in/onegate-h56/dossier-status`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ maHoSo: code, trangThai: '4', thoiDiem: '05/03/2025 10:15', kenh: '2', chucDanh: 'Chuyên viên', phongBan: 'Bộ phận một cửa (mẫu)', noiDungXuLy: 'Xử lý hồ sơ', ngayBatDau: '05/03/2025 08:00', hanXuLy: '19/03/2025 17:00', maThuTuc: '1.001234', tenThuTuc: 'Đăng ký (mẫu)', nguoiXuLy: 'Trần Văn Thử' }),
      });
      expect(res.statusCode).toBe(202);
      await res.body.dump();
      await waitFor(() => dvcqg.received().some((r) => r.outcome === 'ok'), 20_000, 'the DVCQG delivery');
      await waitFor(async () => /^lienthong_queue_depth\{state="active"\} 1$/m.test(await (await request(`${hub.url}/metrics`)).body.text()), 20_000, 'the EMC delivery in flight');

      const exit = await hub.kill('SIGTERM');
      const output = hub.output();
      expect(exit, output).toBe(1);
      const forced = records(output).find((r) => String(r.msg).startsWith('shutdown grace period'));
      expect(forced, output).toMatchObject({ level: 50, graceMs: 1000, released: 1 });
      expect(output).not.toContain('killed by timeout');
      // With --no-sim, the connectors left at their file's default address are named.
      expect(records(output).find((r) => r.env === 'CSDLDC_URL')).toMatchObject({ level: 40, msg: expect.stringContaining('--no-sim') });

      emc.setMode('normal');
      hub = await startChildHub(env);
      await waitFor(() => emc.received().some((r) => r.maHoSo === code && r.outcome === 'ok'), 20_000, 'the EMC delivery after the restart');
    } finally {
      await hub.kill('SIGTERM');
      await dvcqg.close();
      await emc.close();
    }
  }, 90_000);
});
