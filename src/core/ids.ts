import { randomFillSync } from 'node:crypto';

/**
 * Message and delivery ids: UUID version 7 (RFC 9562), a millisecond timestamp followed by random bits.
 * Time order matters for storage: B-tree indexes keyed by random UUIDs scatter every insert over the
 * whole index, so each commit rewrites pages all over the file; time-ordered ids land on the last few
 * pages, which a busy hub's batched commits then write once. They also sort by acceptance in listings.
 */
const pool = Buffer.alloc(16 * 256);
let offset = pool.length;
let lastMs = 0;
let counter = 0;

export function timeOrderedId(): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const bytes = pool.subarray(offset, offset + 16);
  offset += 16;
  let ms = Date.now();
  // Within one millisecond the 12 bits after the version count up, so ids from one process stay in order.
  if (ms <= lastMs) {
    ms = lastMs;
    counter = (counter + 1) & 0xfff;
    if (counter === 0) ms = ++lastMs;
  } else {
    counter = bytes.readUInt16BE(6) & 0x7ff;
    lastMs = ms;
  }
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = 0x70 | (counter >> 8);
  bytes[7] = counter & 0xff;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
