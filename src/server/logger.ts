import pino, { type Logger, type DestinationStream } from 'pino';

/**
 * The application log. It never receives payloads: serializers keep only method, path without
 * query (a query string may carry a CCCD), status and ids; redaction guards credentials in case a
 * header object is ever logged by a library.
 */
export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  const logger = pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      base: { service: 'lienthong' },
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]', 'headers.authorization', 'password', 'clientSecret', 'session'], censor: '[redacted]' },
      serializers: {
        req: (req: { method?: string; url?: string; id?: string }) => ({ method: req.method, path: (req.url ?? '').split('?', 1)[0] }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
        err: errorWithoutPacket,
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? bufferedStdout(),
  );
  return logger;
}

/**
 * Node's HTTP parser errors carry the raw bytes of the bad request (`rawPacket`): body, CCCD and credentials included.
 * Fastify logs them as they are for a client error, so the serializer leaves them out.
 */
function errorWithoutPacket(error: Error): Record<string, unknown> {
  const { rawPacket: _packet, ...serialized } = pino.stdSerializers.err(error) as unknown as Record<string, unknown>;
  return serialized;
}

/**
 * Standard output, written in blocks rather than one write(2) per line: a busy hub logs thousands of
 * lines a second. A line waits at most 100 ms; pino flushes what is left when the process exits.
 */
function bufferedStdout(): DestinationStream {
  const stream = pino.destination({ dest: 1, sync: false, minLength: 8192 });
  setInterval(() => stream.flush(), 100).unref();
  return stream;
}
