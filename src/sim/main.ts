/**
 * Start one simulator alone: `node --import tsx src/sim/main.ts <population|dvcqg|emc|payment|onegate> --port 8091 [--host 127.0.0.1] [--latency-ms 0] [--jitter-ms 0]`.
 * Prints one line with its URL; closes on SIGTERM/SIGINT.
 */
import { parseArgs } from 'node:util';
import { simulators, type SimulatorName } from './index.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'latency-ms': { type: 'string', default: '0' },
    'jitter-ms': { type: 'string', default: '0' },
  },
});

const name = positionals[0] as SimulatorName | undefined;
if (!name || !(name in simulators)) {
  process.stderr.write(`usage: sim <${Object.keys(simulators).join('|')}> [--port N] [--host H] [--latency-ms N] [--jitter-ms N]\n`);
  process.exit(2);
}

const sim = await simulators[name]({ host: values.host, port: Number(values.port), latencyMs: Number(values['latency-ms']), jitterMs: Number(values['jitter-ms']) });
process.stdout.write(`${name} simulator listening on ${sim.url}${'endpoint' in sim ? ` (SOAP endpoint ${sim.endpoint})` : ''}\n`);

let closing = false;
const shutdown = () => {
  if (closing) return;
  closing = true;
  sim.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
