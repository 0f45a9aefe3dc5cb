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

/** 32 bytes in base64 (standard or URL-safe alphabet, padding optional): anything else is a mistake, not a key. */
const KEY_TEXT = /^[A-Za-z0-9+/_-]{43}=?$/;

/**
 * The data key from the environment, or a generated one kept in `keyFile` (single-node default).
 * A key file that exists is always used, never replaced: a new key would leave every payload sealed
 * before unreadable. So a damaged key file is refused, and the file is created only if absent (another
 * process starting at the same moment may have just written it: then its key is the one).
 */
export function dataKeyFromEnv(env: NodeJS.ProcessEnv, keyFile: string): { key: Buffer; generated: boolean } {
  const given = env.LIENTHONG_DATA_KEY;
  if (given) {
    // Buffer.from(…, 'base64') skips characters outside the alphabet: check the text itself.
    const text = given.trim();
    const key = Buffer.from(text, 'base64');
    if (!KEY_TEXT.test(text) || key.length !== 32) throw new Error('LIENTHONG_DATA_KEY must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`)');
    return { key, generated: false };
  }
  if (existsSync(keyFile)) return { key: readKeyFile(keyFile), generated: false };
  mkdirSync(dirname(keyFile), { recursive: true });
  const key = randomBytes(32);
  try {
    writeFileSync(keyFile, key.toString('base64'), { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { key: readKeyFile(keyFile), generated: false };
    throw error;
  }
  return { key, generated: true };
}

function readKeyFile(keyFile: string): Buffer {
  const text = readFileSync(keyFile, 'utf8').trim();
  const key = Buffer.from(text, 'base64');
  if (!KEY_TEXT.test(text) || key.length !== 32) {
    throw new Error(`the data key file ${keyFile} does not hold 32 bytes in base64: restore it from a backup (payloads sealed with it cannot be opened with another key), or set LIENTHONG_DATA_KEY`);
  }
  return key;
}
