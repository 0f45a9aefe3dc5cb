import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Payloads at rest (queued deliveries, message-log copies kept for replay) hold personal data, so they
 * are sealed with AES-256-GCM. The key comes from LIENTHONG_DATA_KEY (32 bytes, base64); a single-node
 * demo without it gets a generated key file beside its data, and is told so.
 */
export interface Sealer {
  /**
   * Seals `plain` for one record: `context` (the message id) is authenticated with it, so that a sealed text copied
   * onto another message's row does not open there.
   */
  seal(plain: string, context: string): string;
  open(sealed: string, context: string): string;
}

/** v2 binds the text to its message id (GCM additional data); v1, from before, opens without one. */
const VERSION = 'v2';
const LEGACY = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const aad = (context: string) => Buffer.from(`lienthong-seal:${context}`, 'utf8');

export function createSealer(key: Buffer): Sealer {
  if (key.length !== 32) throw new Error('the data key must be 32 bytes (AES-256)');
  return {
    seal(plain, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad(context));
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return `${VERSION}:${iv.toString('base64')}:${cipher.getAuthTag().toString('base64')}:${body.toString('base64')}`;
    },
    open(sealed, context) {
      const [version, ivText, tagText, body] = sealed.split(':');
      if ((version !== VERSION && version !== LEGACY) || !ivText || !tagText || body === undefined) throw new Error('not a sealed payload');
      const iv = Buffer.from(ivText, 'base64');
      const tag = Buffer.from(tagText, 'base64');
      // A shortened tag would still authenticate, with fewer forgery attempts needed: only the full one is accepted.
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new Error('not a sealed payload (wrong nonce or tag length)');
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      if (version === VERSION) decipher.setAAD(aad(context));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
    },
  };
}

/** Seals the texts of one message's deliveries; equal texts (they usually carry the same payload) are sealed once. */
export function sealEach(sealer: Sealer, plains: string[], messageId: string): string[] {
  const sealed = new Map<string, string>();
  return plains.map((plain) => {
    let text = sealed.get(plain);
    if (text === undefined) sealed.set(plain, (text = sealer.seal(plain, messageId)));
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
