import { createSealer } from '../core/seal.js';
import { emitFromThread, serveThread } from '../core/thread.js';
import { openQueue } from '../delivery/index.js';
import { openMessageLog } from '../store/open.js';
import type { StorageOptions } from './storage.js';

/** The storage thread's entry (see storage.ts): opens the queue and the message log, then serves calls. */
serveThread(async (options: StorageOptions) => {
  const sealer = createSealer(Buffer.from(options.dataKey, 'base64'));
  const onError = (error: Error) => emitFromThread('error', error);
  const queue = options.queue ? await openQueue({ ...options.queue, sealer, onError }) : undefined;
  try {
    const log = await openMessageLog({ ...options.log, sealer });
    return {
      services: { queue, log },
      info: { queue: queue?.kind, log: log.dialect },
      async close() {
        await queue?.close();
        await log.close();
      },
    };
  } catch (error) {
    await queue?.close();
    throw error;
  }
});
