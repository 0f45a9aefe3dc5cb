import { createSealer } from '../core/seal.js';
import { emitFromThread, serveThread } from '../core/thread.js';
import { openQueue } from '../delivery/index.js';
import { openMessageLog } from '../store/open.js';
import type { StorageOptions } from './storage.js';

/** A storage thread's entry (see storage.ts): opens the queue or the message log, then serves calls. */
serveThread(async (options: { dataKey: string; queue?: StorageOptions['queue']; log?: StorageOptions['log'] }) => {
  const sealer = createSealer(Buffer.from(options.dataKey, 'base64'));
  if (options.queue) {
    const queue = await openQueue({ ...options.queue, sealer, onError: (error) => emitFromThread('error', error) });
    return { services: { queue }, info: { kind: queue.kind }, close: () => queue.close() };
  }
  const log = await openMessageLog({ ...options.log!, sealer });
  return { services: { log }, info: { dialect: log.dialect }, close: () => log.close() };
});
