import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Payloads at rest (queued deliveries, message-log copies kept for replay) hold personal data, so they
 * are sealed with AES-256-GCM. The key comes from LIENTHONG_DATA_KEY (32 bytes, base64); a single-node
 * demo without it gets a generated key file beside its data, and is told so.
 */
export interface Sealer {
  seal(plain: string): string;
  open(sealed: string): string;
}

const VERSION = 'v1';

export function createSealer(key: Buffer): Sealer {
  if (key.length !== 32) throw new Error('the data key must be 32 bytes (AES-256)');
  return {
    seal(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return `${VERSION}:${iv.toString('base64')}:${cipher.getAuthTag().toString('base64')}:${body.toString('base64')}`;
    },
    open(sealed) {
      const [version, iv, tag, body] = sealed.split(':');
      if (version !== VERSION || !iv || !tag || body === undefined) throw new Error('not a sealed payload');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
      decipher.setAuthTag(Buffer.from(tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
    },
  };
}

/** Seals each text; equal texts (one message's deliveries carry the same payload) are sealed once. */
export function sealEach(sealer: Sealer, plains: string[]): string[] {
  const sealed = new Map<string, string>();
  return plains.map((plain) => {
    let text = sealed.get(plain);
    if (text === undefined) sealed.set(plain, (text = sealer.seal(plain)));
    return text;
  });
}

/** The data key from the environment, or a generated one kept in `keyFile` (single-node default). */
export function dataKeyFromEnv(env: NodeJS.ProcessEnv, keyFile: string): { key: Buffer; generated: boolean } {
  const given = env.LIENTHONG_DATA_KEY;
  if (given) {
    const key = Buffer.from(given, 'base64');
    if (key.length !== 32) throw new Error('LIENTHONG_DATA_KEY must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`)');
    return { key, generated: false };
  }
  if (existsSync(keyFile)) return { key: Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64'), generated: false };
  mkdirSync(dirname(keyFile), { recursive: true });
  const key = randomBytes(32);
  writeFileSync(keyFile, key.toString('base64'), { mode: 0o600 });
  return { key, generated: true };
}
