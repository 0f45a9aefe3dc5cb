import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { loadRegistry } from '../../src/config/load.js';
import { startHub, type RunningHub } from '../../src/server/hub.js';
import { createLogger } from '../../src/server/logger.js';
import { startPopulationSim } from '../../src/sim/population/server.js';
import { hubEnv, LogCapture, REPO, tempDataDir } from '../support/hub.js';

/**
 * `$request` on the outbound side: a destination's response mapping reads the request the hub sent it. The shipped
 * CSDLDC answer mapping is edited to take the hometown detail from the request's MaTichHop, which the answer does not
 * carry, so the value can only have come through `$request`.
 */
describe('a response mapping that reads the request the hub sent ($request)', () => {
  let root: string;
  let sim: Awaited<ReturnType<typeof startPopulationSim>>;
  let hub: RunningHub;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'lienthong-request-echo-'));
    for (const part of ['config', 'connectors', 'schemas', 'mappings']) cpSync(join(REPO, part), join(root, part), { recursive: true });
    const file = join(root, 'mappings/csdldc/TraCuuThongTinCongDan.in.yaml');
    const text = readFileSync(file, 'utf8')
      .replace('target: canonical/CitizenRecord\n', 'target: canonical/CitizenRecord\nrequest: csdldc/TraCuuThongTinCongDan.request\n')
      .replace(/  addresses\.hometown\.detail: \{[^\n]*\}/, '  addresses.hometown.detail: { from: $request.TraCuuThongTinCongDan.MaTichHop }');
    expect(text).toContain('$request.TraCuuThongTinCongDan.MaTichHop');
    writeFileSync(file, text);
    sim = await startPopulationSim({ host: '127.0.0.1', port: 0 });
    const env = { CSDLDC_URL: sim.url, LIENTHONG_DATA_DIR: tempDataDir() };
    const { registry, issues } = loadRegistry(root, { env: { ...process.env, ...env } });
    expect(issues.filter((i) => i.severity === 'error')).toEqual([]);
    hub = await startHub({ registry: registry!, log: createLogger({ level: 'info', destination: new LogCapture() }), host: '127.0.0.1', port: 0, env: hubEnv(env) });
  });
  afterAll(async () => {
    await hub?.close();
    await sim?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('maps a field of the request it sent into the canonical answer', async () => {
    const res = await request(`${hub.url}/v1/in/onegate-h56/citizen-lookup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ soDinhDanh: '038095999901', mucDich: 'Kiểm thử' }) });
    const body = (await res.body.json()) as { ketQua: string; congDan: { queQuan: { chiTiet: string } } };
    expect(res.statusCode, JSON.stringify(body)).toBe(200);
    expect(body.ketQua).toBe('TIM_THAY');
    expect(body.congDan.queQuan.chiTiet).toBe('000.00.00.H56');
  });
});
