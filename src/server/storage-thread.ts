import { createPrivateKey, randomUUID } from 'node:crypto';
import { sealerFromText } from '../core/seal.js';
import { emitFromThread, serveThread } from '../core/thread.js';
import { withoutPassword } from '../core/urls.js';
import { openQueue } from '../delivery/index.js';
import { openMessageLog } from '../store/open.js';
import { splitPemCertificates } from '../trust/pki.js';
import { redisReplayGuard, sqliteReplayGuard } from '../trust/replay-guard.js';
import { batchSigner, localKeySigner } from '../trust/signer.js';
import type { StorageOptions } from './storage.js';

/** A storage thread's entry (see storage.ts): opens the queue, or the message log and replay guard, then serves calls. */
serveThread(async (options: { dataKey: string; queue?: StorageOptions['queue']; log?: StorageOptions['log']; replay?: StorageOptions['replay']; auditSigner?: StorageOptions['auditSigner'] }) => {
  const sealer = sealerFromText(options.dataKey);
  if (options.queue) {
    const queue = await openQueue({ ...options.queue, sealer, onError: (error) => emitFromThread('error', error) });
    return { services: { queue }, info: { kind: queue.kind, durabilityWarning: queue.durabilityWarning }, close: () => queue.close() };
  }
  // Checkpoints of the log's hash chain are signed by the hub's key, loaded here once: a signer cannot be posted.
  const signing = options.auditSigner;
  const signer = signing && batchSigner(localKeySigner(
    createPrivateKey(signing.keyPassphrase === undefined ? signing.keyPem : { key: signing.keyPem, passphrase: signing.keyPassphrase }),
    splitPemCertificates(signing.certificatePem),
  ));
  const log = await openMessageLog({ ...options.log!, sealer, audit: signing ? { signer, chainId: `${signing.chainPrefix}#${randomUUID().slice(0, 8)}` } : {} }).catch((cause: unknown) => {
    const where = options.log!.databaseUrl ? `PostgreSQL at ${withoutPassword(options.log!.databaseUrl)} (DATABASE_URL)` : options.log!.sqliteFile;
    throw new Error(`cannot open the message log on ${where}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  });
  const replay = options.replay && (options.replay.redisUrl
    ? redisReplayGuard({ url: options.replay.redisUrl, prefix: options.replay.redisPrefix, windowMs: options.replay.windowMs })
    : sqliteReplayGuard({ file: options.replay.sqliteFile, windowMs: options.replay.windowMs }));
  return {
    services: { log, replay },
    info: { dialect: log.dialect },
    async close() {
      await replay?.close();
      await log.close();
      await signer?.close();
    },
  };
});
