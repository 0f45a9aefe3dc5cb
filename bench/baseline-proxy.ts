/**
 * The baseline for `sync.lookup`: the least a proxy can do for the same request: fastify parses the
 * JSON, a template string builds the SOAP envelope, undici forwards it to the same simulator, and the
 * simulator's bytes go back untouched. No validation, no mapping, no XML parsing, no logging.
 */
import Fastify from 'fastify';
import { Pool } from 'undici';

const [simUrl, portText] = process.argv.slice(2);
const pool = new Pool(simUrl!, { connections: 64 });
const app = Fastify({ logger: false });
let counter = 0;
const escape = (s: string) => s.replace(/[<>&]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&amp;'));

app.post('/lookup', async (request, reply) => {
  const body = request.body as { soDinhDanh: string };
  const envelope = `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:qldc="http://dancuquocgia.bca"><soap:Body><qldc:TraCuuThongTinCongDan><qldc:MaYeuCau>${++counter}</qldc:MaYeuCau><qldc:MaDVC>X</qldc:MaDVC><qldc:MaTichHop>000.00.00.H56</qldc:MaTichHop><qldc:SoDinhDanh>${escape(String(body.soDinhDanh))}</qldc:SoDinhDanh></qldc:TraCuuThongTinCongDan></soap:Body></soap:Envelope>`;
  const answer = await pool.request({ path: '/CSDLDanCu', method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '"http://dancuquocgia.bca/TraCuuThongTinCongDan"' }, body: envelope });
  const text = await answer.body.text();
  reply.code(answer.statusCode === 200 ? 200 : 502).type('text/xml; charset=utf-8').send(text);
});

await app.listen({ host: '127.0.0.1', port: Number(portText) });
process.stdout.write('ready\n');
process.on('SIGTERM', () => void app.close().then(() => pool.close()).then(() => process.exit(0)));
