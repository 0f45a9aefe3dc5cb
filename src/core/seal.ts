import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
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

/**
 * v3 names the key that sealed the text (a short id of it), so that after a key change the hub can say which key a
 * text needs, and keeps the old keys for reading (LIENTHONG_DATA_KEY_PREVIOUS). v2 binds the text to its message id
 * (GCM additional data) and v1, from before, opens without one: both are tried with every key the hub holds.
 */
const VERSION = 'v3';
const UNNAMED = 'v2';
const LEGACY = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const aad = (context: string) => Buffer.from(`lienthong-seal:${context}`, 'utf8');

/** A data key's public name: 8 hex digits of a hash of it, safe to log and to store beside what it sealed. */
export function dataKeyId(key: Buffer): string {
  return createHash('sha256').update('lienthong-data-key-id:').update(key).digest('hex').slice(0, 8);
}

/** Seals with `key`; opens what `key` or any of `previous` (keys the hub used before) sealed. */
export function createSealer(key: Buffer, previous: Buffer[] = []): Sealer {
  for (const k of [key, ...previous]) if (k.length !== 32) throw new Error('the data key must be 32 bytes (AES-256)');
  const currentId = dataKeyId(key);
  const byId = new Map([key, ...previous].map((k) => [dataKeyId(k), k] as const));
  const held = () => [...byId.keys()].join(', ');
  const openWith = (k: Buffer, iv: Buffer, tag: Buffer, body: string, context: string | undefined) => {
    const decipher = createDecipheriv('aes-256-gcm', k, iv, { authTagLength: TAG_BYTES });
    if (context !== undefined) decipher.setAAD(aad(context));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
  };
  return {
    seal(plain, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad(context));
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return `${VERSION}:${currentId}:${iv.toString('base64')}:${cipher.getAuthTag().toString('base64')}:${body.toString('base64')}`;
    },
    open(sealed, context) {
      const parts = sealed.split(':');
      const version = parts[0];
      const named = version === VERSION;
      if (!named && version !== UNNAMED && version !== LEGACY) throw new Error('not a sealed payload');
      const [keyId, ivText, tagText, body] = named ? parts.slice(1) : [undefined, ...parts.slice(1)];
      if (!ivText || !tagText || body === undefined) throw new Error('not a sealed payload');
      const iv = Buffer.from(ivText, 'base64');
      const tag = Buffer.from(tagText, 'base64');
      // A shortened tag would still authenticate, with fewer forgery attempts needed: only the full one is accepted.
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new Error('not a sealed payload (wrong nonce or tag length)');
      const aadContext = version === LEGACY ? undefined : context;
      if (named) {
        const k = byId.get(keyId!);
        if (!k) throw new Error(`sealed with data key ${keyId}, which this hub does not hold (it holds ${held()}): give that key in LIENTHONG_DATA_KEY_PREVIOUS`);
        return openWith(k, iv, tag, body, aadContext);
      }
      let failure: unknown;
      for (const k of byId.values()) {
        try {
          return openWith(k, iv, tag, body, aadContext);
        } catch (error) {
          failure = error;
        }
      }
      throw failure;
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

/** The keys a hub holds: it seals with `key`, and opens with it and with `previous`. */
export interface DataKeys {
  key: Buffer;
  previous: Buffer[];
}

/** One text for a storage thread (keys cannot be posted as KeyObjects): the current key first, then the previous ones. */
export const dataKeysText = ({ key, previous }: DataKeys) => [key, ...previous].map((k) => k.toString('base64')).join(',');
export function sealerFromText(text: string): Sealer {
  const [key, ...previous] = text.split(',').map((k) => Buffer.from(k, 'base64'));
  return createSealer(key!, previous);
}

/**
 * The data key from the environment, or a generated one kept in `keyFile` (single-node default), and the keys used
 * before (LIENTHONG_DATA_KEY_PREVIOUS, comma-separated), kept to open what they sealed.
 * A key file that exists is always used, never replaced: a new key would leave every payload sealed
 * before unreadable. So a damaged key file is refused, and the file is created only if absent (another
 * process starting at the same moment may have just written it: then its key is the one). When LIENTHONG_DATA_KEY is
 * set on a node that ran on a generated key, that key stays one of the previous keys (`keptFile`), so nothing sealed
 * with it is lost.
 */
export function dataKeyFromEnv(env: NodeJS.ProcessEnv, keyFile: string): DataKeys & { generated: boolean; keptFile: boolean } {
  const previous = (env.LIENTHONG_DATA_KEY_PREVIOUS ?? '').split(/[\s,]+/).filter(Boolean).map((text) => keyFromText(text, 'LIENTHONG_DATA_KEY_PREVIOUS holds a key that is not'));
  const given = env.LIENTHONG_DATA_KEY;
  if (given) {
    const key = keyFromText(given, 'LIENTHONG_DATA_KEY must be');
    const fileKey = existsSync(keyFile) ? readKeyFile(keyFile) : undefined;
    const keptFile = !!fileKey && !fileKey.equals(key) && !previous.some((k) => k.equals(fileKey));
    return { key, previous: keptFile ? [...previous, fileKey] : previous, generated: false, keptFile };
  }
  if (existsSync(keyFile)) return { key: readKeyFile(keyFile), previous, generated: false, keptFile: false };
  mkdirSync(dirname(keyFile), { recursive: true });
  const key = randomBytes(32);
  try {
    writeFileSync(keyFile, key.toString('base64'), { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { key: readKeyFile(keyFile), previous, generated: false, keptFile: false };
    throw error;
  }
  return { key, previous, generated: true, keptFile: false };
}

function keyFromText(given: string, problem: string): Buffer {
  // Buffer.from(…, 'base64') skips characters outside the alphabet: check the text itself.
  const text = given.trim();
  const key = Buffer.from(text, 'base64');
  if (!KEY_TEXT.test(text) || key.length !== 32) throw new Error(`${problem} 32 random bytes in base64 (e.g. \`openssl rand -base64 32\`)`);
  return key;
}

function readKeyFile(keyFile: string): Buffer {
  const text = readFileSync(keyFile, 'utf8').trim();
  const key = Buffer.from(text, 'base64');
  if (!KEY_TEXT.test(text) || key.length !== 32) {
    throw new Error(`the data key file ${keyFile} does not hold 32 bytes in base64: restore it from a backup (payloads sealed with it cannot be opened with another key), or set LIENTHONG_DATA_KEY`);
  }
  return key;
}
