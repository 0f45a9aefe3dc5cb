import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSealer, dataKeyId, sealEach } from '../../src/core/seal.js';

describe('sealed payloads (AES-256-GCM)', () => {
  const key = randomBytes(32);
  const sealer = createSealer(key);
  const citizen = '{"soDinhDanh":"001099999981","hoVaTen":"Trần Văn Thử"}';

  it('opens what it sealed for the same message, and never shows the text', () => {
    const sealed = sealer.seal(citizen, 'msg-1');
    expect(sealed).toMatch(/^v3:[0-9a-f]{8}:/);
    expect(sealed).not.toContain('001099999981');
    expect(sealer.open(sealed, 'msg-1')).toBe(citizen);
    expect(sealer.seal(citizen, 'msg-1')).not.toBe(sealed); // a fresh nonce each time
  });

  it('does not open a sealed text copied onto another message\'s row', () => {
    const sealed = sealer.seal(citizen, 'msg-1');
    expect(() => sealer.open(sealed, 'msg-2')).toThrow();
  });

  it('refuses a shortened authentication tag, which GCM would otherwise accept', () => {
    const [version, keyId, iv, tag, body] = sealer.seal(citizen, 'msg-1').split(':');
    const short = Buffer.from(tag!, 'base64').subarray(0, 4).toString('base64');
    expect(() => sealer.open([version, keyId, iv, short, body].join(':'), 'msg-1')).toThrow(/tag length/);
  });

  it('still opens payloads sealed before (v1, without the message id)', () => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const body = Buffer.concat([cipher.update(citizen, 'utf8'), cipher.final()]);
    const v1 = `v1:${iv.toString('base64')}:${cipher.getAuthTag().toString('base64')}:${body.toString('base64')}`;
    expect(sealer.open(v1, 'any-message')).toBe(citizen);
  });

  it('seals equal texts of one message once', () => {
    const [a, b, c] = sealEach(sealer, [citizen, citizen, '{}'], 'msg-3');
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    expect(sealer.open(c!, 'msg-3')).toBe('{}');
  });

  it('after a key change, opens what the previous key sealed, and seals with the new one', () => {
    const next = randomBytes(32);
    const rotated = createSealer(next, [key]);
    const old = sealer.seal(citizen, 'msg-4');
    expect(rotated.open(old, 'msg-4')).toBe(citizen);
    const fresh = rotated.seal(citizen, 'msg-4');
    expect(fresh.split(':')[1]).toBe(dataKeyId(next));
    expect(() => sealer.open(fresh, 'msg-4')).toThrow(new RegExp(`sealed with data key ${dataKeyId(next)}, which this hub does not hold.*LIENTHONG_DATA_KEY_PREVIOUS`));
  });

  it('opens v2 texts (no key named) with any key it holds', () => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from('lienthong-seal:msg-5', 'utf8'));
    const body = Buffer.concat([cipher.update(citizen, 'utf8'), cipher.final()]);
    const v2 = `v2:${iv.toString('base64')}:${cipher.getAuthTag().toString('base64')}:${body.toString('base64')}`;
    expect(createSealer(randomBytes(32), [key]).open(v2, 'msg-5')).toBe(citizen);
    expect(() => createSealer(randomBytes(32)).open(v2, 'msg-5')).toThrow();
  });
});
