import type { Logger } from 'pino';

/**
 * Writes to the message log again, with a growing pause (0.5 s doubling to 1 min), until the log takes it. For a
 * record whose message has already gone its way (accepted, delivered): refusing or redoing the message because its
 * record could not be written would deliver it twice, so the record follows when the log is back. Resolves once
 * written; never rejects.
 */
export async function writeLater(write: () => Promise<unknown>, log: Logger, facts: Record<string, unknown>): Promise<void> {
  for (let pauseMs = 500; ; pauseMs = Math.min(pauseMs * 2, 60_000)) {
    await new Promise((resolve) => setTimeout(resolve, pauseMs).unref());
    try {
      await write();
      log.info(facts, 'message log written after an earlier failure');
      return;
    } catch (error) {
      log.error({ ...facts, err: error, retryInMs: Math.min(pauseMs * 2, 60_000) }, 'message log write failed again; it will be written later');
    }
  }
}
