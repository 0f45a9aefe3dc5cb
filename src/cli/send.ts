import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { loadRegistry } from '../config/load.js';
import { findOperation } from '../config/registry.js';
import { resolveRoot } from './root.js';

/**
 * `lienthong send <connector.operation> <file|->`: posts a message to a running hub exactly as that
 * connector's system would (REST JSON or SOAP), and prints the answer. For trying a route by hand.
 */
export async function sendCommand(target: string, file: string, options: { root?: string; url?: string; correlationId?: string }): Promise<number> {
  const root = resolveRoot(options.root);
  const { registry } = loadRegistry(root);
  const found = registry && findOperation(registry, target);
  if (!registry || !found) {
    console.error(`unknown connector operation "${target}"${registry ? `; inbound operations: ${[...registry.routes.keys()].join(', ')}` : ' (and the configuration has errors: run lienthong check)'}`);
    return 2;
  }
  const { connector, operation } = found;
  let body: Buffer;
  try {
    body = file === '-' ? readFileSync(0) : readFileSync(file);
  } catch (error) {
    throw new Error(`cannot read ${file === '-' ? 'standard input' : file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const base = (options.url ?? `http://127.0.0.1:${registry.hub.server.port}`).replace(/\/+$/, '');
  const soap = connector.transport === 'soap' ? connector.soap! : undefined;
  const path = soap ? `/v1/soap/${connector.id}` : `/v1/in/${connector.id}/${operation.id}`;
  const headers: Record<string, string> = { 'content-type': soap ? (soap.version === '1.1' ? 'text/xml; charset=utf-8' : 'application/soap+xml; charset=utf-8') : 'application/json' };
  if (options.correlationId) headers['x-correlation-id'] = options.correlationId;
  const answer = await request(`${base}${path}`, { method: 'POST', headers, body }).catch((error: Error) => {
    throw new Error(`cannot reach the hub at ${base} (${error.message}); is it running? use --url to point elsewhere`);
  });
  const text = await answer.body.text();
  console.error(`HTTP ${answer.statusCode} ${answer.headers['content-type'] ?? ''} message ${answer.headers['x-message-id'] ?? '-'}`);
  const pretty = (() => {
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return text;
    }
  })();
  console.log(pretty);
  return answer.statusCode < 400 ? 0 : 1;
}
