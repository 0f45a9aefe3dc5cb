import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSealer, dataKeyFromEnv } from '../../src/core/seal.js';
import { createHub } from '../../src/server/hub.js';
import { createLogger } from '../../src/server/logger.js';
import { LogCapture, hubEnv, loadShipped } from '../support/hub.js';

// existsSync passes through to the real one, except where a test makes it answer "no" once: the moment
// between another process's check and its write, when both found no key file.
vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  return { ...actual, existsSync: vi.fn(actual.existsSync) };
});

/**
 * The data key that seals payloads at rest: LIENTHONG_DATA_KEY (32 bytes, base64), else a key generated
 * once into a file beside the data and used from then on. A key that is not 32 bytes of base64 is refused,
 * and a key file is never replaced: a new key would leave every payload sealed before unreadable.
 */
const KEY_ERROR = /LIENTHONG_DATA_KEY must be 32 random bytes in base64/;

describe('the data key', () => {
  let dir: string;
  let keyFile: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(join(tmpdir(), 'lienthong-data-key-'));
    keyFile = join(dir, 'nested', 'data', 'data.key');
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('from LIENTHONG_DATA_KEY', () => {
    const key = randomBytes(32);

    it('takes 32 bytes in base64, as `openssl rand -base64 32` prints them (a trailing newline too), or URL-safe', () => {
      for (const text of [key.toString('base64'), `${key.toString('base64')}\n`, key.toString('base64url')]) {
        const found = dataKeyFromEnv({ LIENTHONG_DATA_KEY: text }, keyFile);
        expect(found.generated).toBe(false);
        expect(found.key.equals(key), JSON.stringify(text)).toBe(true);
      }
      // A given key writes no key file.
      expect(fs.existsSync(keyFile)).toBe(false);
    });

    it('is refused, with a message that says what is wanted, when it is not 32 bytes of base64', () => {
      const good = key.toString('base64');
      const malformed: Record<string, string> = {
        'too short': 'c2hvcnQ=',
        '16 bytes': randomBytes(16).toString('base64'),
        '31 bytes': randomBytes(31).toString('base64'),
        '33 bytes': randomBytes(33).toString('base64'),
        '64 bytes': randomBytes(64).toString('base64'),
        'hex (openssl rand -hex 32)': key.toString('hex'),
        'a passphrase': 'mật khẩu rất dài của tôi, không phải base64 gì cả!',
        'base64 with a stray character in it': `${good.slice(0, 20)}*${good.slice(20)}`,
        'base64 in quotes': `"${good}"`,
        'base64 with spaces in it': `${good.slice(0, 22)} ${good.slice(22)}`,
        'only spaces': '   ',
      };
      for (const [what, text] of Object.entries(malformed)) {
        expect(() => dataKeyFromEnv({ LIENTHONG_DATA_KEY: text }, keyFile), what).toThrow(KEY_ERROR);
      }
      expect(() => dataKeyFromEnv({ LIENTHONG_DATA_KEY: 'x' }, keyFile)).toThrow(/openssl rand -base64 32/);
      // Refused outright: no key was generated in its place.
      expect(fs.existsSync(keyFile)).toBe(false);
    });

    it('wins over a key file, which it leaves alone', () => {
      fs.mkdirSync(join(dir, 'nested', 'data'), { recursive: true });
      const other = randomBytes(32).toString('base64');
      fs.writeFileSync(keyFile, other, { mode: 0o600 });
      const found = dataKeyFromEnv({ LIENTHONG_DATA_KEY: key.toString('base64') }, keyFile);
      expect(found.key.equals(key)).toBe(true);
      expect(fs.readFileSync(keyFile, 'utf8')).toBe(other);
      // …and keeps for reading: what the generated key sealed before the operator set one still opens.
      expect(found.keptFile).toBe(true);
      const sealedBefore = createSealer(Buffer.from(other, 'base64')).seal('{"hoVaTen":"Trần Văn Thử"}', 'm-1');
      expect(createSealer(found.key, found.previous).open(sealedBefore, 'm-1')).toContain('Thử');
    });

    it('keeps the keys in LIENTHONG_DATA_KEY_PREVIOUS for reading, and refuses one that is not a key', () => {
      const old1 = randomBytes(32);
      const old2 = randomBytes(32);
      const found = dataKeyFromEnv({ LIENTHONG_DATA_KEY: key.toString('base64'), LIENTHONG_DATA_KEY_PREVIOUS: `${old1.toString('base64')}, ${old2.toString('base64')}` }, keyFile);
      expect(found.previous.map((k) => k.toString('hex'))).toEqual([old1.toString('hex'), old2.toString('hex')]);
      expect(found.keptFile).toBe(false);
      expect(() => dataKeyFromEnv({ LIENTHONG_DATA_KEY: key.toString('base64'), LIENTHONG_DATA_KEY_PREVIOUS: 'not-a-key' }, keyFile)).toThrow(/LIENTHONG_DATA_KEY_PREVIOUS holds a key that is not 32 random bytes/);
    });
  });

  describe('generated into a key file (no LIENTHONG_DATA_KEY)', () => {
    it('is generated once, into a file only its owner can read (0600), in a folder made for it', () => {
      const first = dataKeyFromEnv({}, keyFile);
      expect(first.generated).toBe(true);
      expect(first.key.length).toBe(32);
      expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(Buffer.from(fs.readFileSync(keyFile, 'utf8'), 'base64').equals(first.key)).toBe(true);
    });

    it('is read back, not generated again, after a restart: a payload sealed before opens after', () => {
      const first = dataKeyFromEnv({}, keyFile);
      const written = fs.readFileSync(keyFile, 'utf8');
      const sealed = createSealer(first.key).seal('{"soDinhDanh":"038095999901"}', 'msg-1');

      const again = dataKeyFromEnv({}, keyFile);
      expect(again.generated).toBe(false);
      expect(again.key.equals(first.key)).toBe(true);
      expect(createSealer(again.key).open(sealed, 'msg-1')).toBe('{"soDinhDanh":"038095999901"}');
      expect(fs.readFileSync(keyFile, 'utf8')).toBe(written);
    });

    it("takes the key another process wrote between its check and its write, and does not overwrite it", () => {
      fs.mkdirSync(join(dir, 'nested', 'data'), { recursive: true });
      const theirs = randomBytes(32);
      fs.writeFileSync(keyFile, theirs.toString('base64'), { mode: 0o600 });
      vi.mocked(fs.existsSync).mockImplementationOnce(() => false);

      const found = dataKeyFromEnv({}, keyFile);
      expect(found.generated).toBe(false);
      expect(found.key.equals(theirs)).toBe(true);
      expect(Buffer.from(fs.readFileSync(keyFile, 'utf8'), 'base64').equals(theirs)).toBe(true);
    });

    it('refuses a damaged key file, naming it, and leaves it as it was', () => {
      fs.mkdirSync(join(dir, 'nested', 'data'), { recursive: true });
      const good = randomBytes(32).toString('base64');
      for (const [what, text] of Object.entries({ empty: '', truncated: good.slice(0, 30), 'not base64': 'này không phải là khoá dữ liệu nào cả!!!!!!!' })) {
        fs.writeFileSync(keyFile, text, { mode: 0o600 });
        expect(() => dataKeyFromEnv({}, keyFile), what).toThrow(keyFile);
        expect(fs.readFileSync(keyFile, 'utf8'), what).toBe(text);
      }
    });
  });

  it('a hub restarted on the same data folder opens the payloads it sealed before, and warns only when it generated the key', async () => {
    const dataDir = join(dir, 'hub');
    const env = hubEnv({ LIENTHONG_DATA_DIR: dataDir });
    delete env.LIENTHONG_DATA_KEY;
    const registry = loadShipped({ LIENTHONG_DATA_DIR: dataDir });
    const start = async () => {
      const logs = new LogCapture();
      const hub = await createHub({ registry, log: createLogger({ level: 'info', destination: logs }), env, workers: false });
      const warned = logs.records().some((r) => typeof r.msg === 'string' && r.msg.includes('generated a data key'));
      return { hub, warned };
    };
    const payload = JSON.stringify({ maHoSo: '000.00.14.H56-250304-9001', chuHoSo: { hoTen: 'Nguyễn Văn Thử' } });
    const messageId = randomUUID();
    const id = randomUUID();

    const first = await start();
    try {
      expect(first.warned).toBe(true);
      expect(fs.statSync(join(dataDir, 'data.key')).mode & 0o777).toBe(0o600);
      const accepted = await first.hub.queue!.accept({
        messageId,
        deliveries: [{ id, messageId, routeId: 'data-key-test', destination: 'emc.TrackingMCDT', orderingKey: '', payload, acceptedAt: Date.now() }],
        lease: { workerId: 'data-key-test', leaseMs: 60_000, limit: 1 },
      });
      await first.hub.queue!.deadLetter(id, accepted.leased![0].lease, 'kiểm thử');
    } finally {
      await first.hub.close();
    }

    const second = await start();
    try {
      expect(second.warned).toBe(false);
      expect((await second.hub.queue!.getDead(id))?.payload).toBe(payload);
    } finally {
      await second.hub.close();
    }
  }, 60_000); // two hub starts: seconds each on a busy machine
});
