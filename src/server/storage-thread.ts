import { createSealer } from '../core/seal.js';
import { emitFromThread, serveThread } from '../core/thread.js';
import { openQueue } from '../delivery/index.js';
import { openMessageLog } from '../store/open.js';
import { redisReplayGuard, sqliteReplayGuard } from '../trust/replay-guard.js';
import type { StorageOptions } from './storage.js';

/** A storage thread's entry (see storage.ts): opens the queue, or the message log and replay guard, then serves calls. */
serveThread(async (options: { dataKey: string; queue?: StorageOptions['queue']; log?: StorageOptions['log']; replay?: StorageOptions['replay'] }) => {
  const sealer = createSealer(Buffer.from(options.dataKey, 'base64'));
  if (options.queue) {
    const queue = await openQueue({ ...options.queue, sealer, onError: (error) => emitFromThread('error', error) });
    return { services: { queue }, info: { kind: queue.kind }, close: () => queue.close() };
  }
  const log = await openMessageLog({ ...options.log!, sealer });
  const replay = options.replay && (options.replay.redisUrl
    ? redisReplayGuard({ url: options.replay.redisUrl, prefix: options.replay.redisPrefix, windowMs: options.replay.windowMs })
    : sqliteReplayGuard({ file: options.replay.sqliteFile, windowMs: options.replay.windowMs }));
  return {
    services: { log, replay },
    info: { dialect: log.dialect },
    async close() {
      await replay?.close();
      await log.close();
    },
  };
});
