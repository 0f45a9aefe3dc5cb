/**
 * The baseline for `sync.signed-two-hop`: the least two proxies can do for the same lookup over the same
 * path. The front proxy takes the caller's JSON and forwards it over mutual TLS (the same certificates as
 * the hubs) to the back proxy, which builds the SOAP envelope with a template string and forwards it to
 * the simulator; the simulator's bytes come back untouched through both. No signatures, no validation,
 * no mapping, no XML parsing, no logging.
 *   node --import tsx bench/baseline-two-hop.ts front <port> <backUrl> <keysDir> <name>
 *   node --import tsx bench/baseline-two-hop.ts back <port> <simUrl> <keysDir> <name>
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { Pool } from 'undici';

const [mode, portText, upstream, keys, name] = process.argv.slice(2) as [string, string, string, string, string];
const tls = { key: readFileSync(join(keys, `${name}.key`)), cert: readFileSync(join(keys, `${name}.crt`)), ca: readFileSync(join(keys, 'ca.crt')) };
let counter = 0;
const escape = (s: string) => s.replace(/[<>&]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&amp;'));

if (mode === 'front') {
  const pool = new Pool(upstream, { connections: 64, connect: tls });
  const app = Fastify({ logger: false });
  app.post('/lookup', async (request, reply) => {
    const answer = await pool.request({ path: '/lookup', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request.body) });
    const text = await answer.body.text();
    reply.code(answer.statusCode).type('text/xml; charset=utf-8').send(text);
  });
  await app.listen({ host: '127.0.0.1', port: Number(portText) });
  process.on('SIGTERM', () => void app.close().then(() => pool.close()).then(() => process.exit(0)));
} else {
  const pool = new Pool(upstream, { connections: 64 });
  const app = Fastify({ logger: false, https: { ...tls, requestCert: true, rejectUnauthorized: true } });
  app.post('/lookup', async (request, reply) => {
    const body = request.body as { soDinhDanh: string };
    const envelope = `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:qldc="http://dancuquocgia.bca"><soap:Body><qldc:TraCuuThongTinCongDan><qldc:MaYeuCau>${++counter}</qldc:MaYeuCau><qldc:MaDVC>X</qldc:MaDVC><qldc:MaTichHop>000.00.00.H56</qldc:MaTichHop><qldc:SoDinhDanh>${escape(String(body.soDinhDanh))}</qldc:SoDinhDanh></qldc:TraCuuThongTinCongDan></soap:Body></soap:Envelope>`;
    const answer = await pool.request({ path: '/CSDLDanCu', method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '"http://dancuquocgia.bca/TraCuuThongTinCongDan"' }, body: envelope });
    const text = await answer.body.text();
    reply.code(answer.statusCode === 200 ? 200 : 502).type('text/xml; charset=utf-8').send(text);
  });
  await app.listen({ host: '127.0.0.1', port: Number(portText) });
  process.on('SIGTERM', () => void app.close().then(() => pool.close()).then(() => process.exit(0)));
}

process.stdout.write('ready\n');
