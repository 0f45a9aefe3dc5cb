import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { RunningHub } from '../../src/server/hub.js';
import { startDvcqgSim, type DvcqgSim } from '../../src/sim/dvcqg/server.js';
import { startEmcSim, type EmcSim } from '../../src/sim/emc/server.js';
import { REPO, startTestHub } from '../support/hub.js';
import { waitFor } from '../support/wait.js';

const run = promisify(execFile);
const cli = async (...args: string[]) => {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(REPO, 'bin', 'lienthong.js'), ...args], { env: process.env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

/** Each test runs the CLI as child processes, each loading tsx: tens of seconds on a busy 2-core machine. */
const CLI_TIMEOUT = 60_000;

/** The operator's commands, against a running hub's admin API. */
describe('lienthong dlq and lienthong log', () => {
  let dvcqg: DvcqgSim;
  let emc: EmcSim;
  let hub: RunningHub;
  const code = '000.00.14.H56-250308-0042';
  let messageId: string;

  beforeAll(async () => {
    dvcqg = await startDvcqgSim({ port: 0 });
    emc = await startEmcSim({ port: 0 });
    hub = await startTestHub({ DVCQG_URL: dvcqg.url, EMC_URL: emc.url, DVCQG_RETRY_INITIAL_DELAY: '50ms', DVCQG_RETRY_MAX_DELAY: '100ms', DVCQG_RETRY_MAX_ATTEMPTS: '2' });
    dvcqg.setMode('http-500', 60_000);
    const res = await request(`${hub.url}/v1/in/onegate-h56/dossier-status`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ maHoSo: code, trangThai: '4', thoiDiem: '08/03/2025 10:00', maThuTuc: '1.001234', tenThuTuc: 'Đăng ký (mẫu)', kenh: '2', nguoiXuLy: 'Trần Văn Thử', chucDanh: 'Chuyên viên', phongBan: 'Một cửa', noiDungXuLy: 'Xử lý', ngayBatDau: '08/03/2025 09:00', hanXuLy: '20/03/2025 17:00' }),
    });
    messageId = ((await res.body.json()) as { messageId: string }).messageId;
    await waitFor(async () => ((await (await request(`${hub.url}/admin/dead-letters`)).body.json()) as { items: unknown[] }).items.length === 1, 10_000, 'a dead letter');
  });
  afterAll(async () => {
    await hub?.close();
    await Promise.all([dvcqg?.close(), emc?.close()]);
  });

  it('lists dead letters with destination, key, attempts and reason', async () => {
    const out = await cli('dlq', 'list', '--url', hub.url, '--key', code);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('dvcqg.CapNhatTienDoHoSoMC');
    expect(out.stdout).toContain(`key=${code}`);
    expect(out.stdout).toContain('attempts=2');
    expect(out.stdout).toMatch(/gave up after 2 attempts/);
  }, CLI_TIMEOUT);

  it('finds the message by dossier code and shows its history', async () => {
    const found = await cli('log', '--url', hub.url, '--dossier', code);
    expect(found.stdout).toContain(messageId);
    expect(found.stdout).toMatch(/partially-delivered|accepted/);
    const shown = await cli('log', 'show', messageId, '--url', hub.url);
    expect(shown.stdout).toMatch(/dead-lettered/);
    expect(shown.stdout).toMatch(/attempt\s+destination=dvcqg\.CapNhatTienDoHoSoMC attempt=2 succeeded=false .*errorType=transport.auth-unavailable/);
  }, CLI_TIMEOUT);

  it('refuses a bulk replay without ids or filters, then replays by filter with a progress bar', async () => {
    expect((await cli('dlq', 'replay', '--url', hub.url)).code).toBe(2);
    // An empty value (an unset shell variable) is refused, not taken as no filter; --limit alone selects nothing.
    const emptied = await cli('dlq', 'replay', '--url', hub.url, '--destination', '');
    expect(emptied.code).toBe(2);
    expect(emptied.stderr).toContain('--destination is empty');
    expect((await cli('dlq', 'replay', '--url', hub.url, '--limit', '5')).code).toBe(2);
    dvcqg.setMode('normal');
    const out = await cli('dlq', 'replay', '--url', hub.url, '--destination', 'dvcqg.CapNhatTienDoHoSoMC');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('replayed 1 of 1');
    expect(out.stderr).toContain('[##############################] 1/1');
    await waitFor(() => dvcqg.received().some((r) => r.maHoSo === code && r.outcome === 'ok'), 10_000, 'delivered after replay');
  }, CLI_TIMEOUT);

  it('names the ids a replay did not find', async () => {
    // A hub that does not name them (older ones) still gets how many.
    const unknown = await cli('dlq', 'replay', 'no-such-id', '--url', hub.url);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toContain('replayed 0 of 1');
    expect(unknown.stdout).toMatch(/1 not found: no such dead letter on this hub .*: no-such-id|1 not replayed: not dead letters on this hub/);
  }, CLI_TIMEOUT);

  it('says clearly when the hub cannot be reached or a dead letter does not exist', async () => {
    const missing = await cli('dlq', 'discard', 'no-such-id', '--reason', 'kiểm thử', '--url', hub.url);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('404');
    const down = await cli('dlq', 'list', '--url', 'http://127.0.0.1:9');
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('cannot reach the hub');
    // send too: one line, no stack trace
    const unreachable = await cli('send', 'onegate-h56.citizen-lookup', 'package.json', '--url', 'http://127.0.0.1:9');
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^lienthong: cannot reach the hub at http:\/\/127\.0\.0\.1:9/);
    expect(unreachable.stderr).not.toContain('    at ');
    const unreadable = await cli('send', 'onegate-h56.citizen-lookup', 'no-such-file.json', '--url', hub.url);
    expect(unreadable.code).toBe(1);
    expect(unreadable.stderr.trim()).toBe('lienthong: cannot read no-such-file.json: ENOENT');
  }, CLI_TIMEOUT);
});
