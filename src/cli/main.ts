import { Command } from 'commander';
import { checkCommand } from './check.js';
import { sendCommand } from './send.js';
import { startCommand } from './start.js';
import { testCommand } from './test.js';

const program = new Command('lienthong')
  .description('lienthong: interoperability hub for Vietnam e-government (liên thông)')
  .version('0.1.0')
  .option('-r, --root <dir>', 'folder holding config/, connectors/, schemas/, mappings/ (default: current folder)');

const root = () => program.opts<{ root?: string }>().root;

program.command('start')
  .description('check the configuration, start the demo simulators it names, and serve')
  .option('-p, --port <port>', 'listen port (default: server.port in config/hub.yaml)')
  .option('-H, --host <host>', 'listen address (default: server.host)')
  .option('--no-sim', 'do not start the demo simulators')
  .action(async (options) => startCommand({ ...options, root: root() }));

program.command('check')
  .description('validate every config file, schema and mapping; exit 1 on any error')
  .action(() => { process.exitCode = checkCommand({ root: root() }); });

program.command('test')
  .description('run the golden cases of every mapping (*.test.yaml)')
  .option('-f, --filter <text>', 'only cases whose file or name contains this text')
  .action((options) => { process.exitCode = testCommand({ ...options, root: root() }); });

program.command('send')
  .description('send a message file to a running hub as <connector>.<operation> would, and print the answer')
  .argument('<target>', 'connector.operation, e.g. onegate-h56.citizen-lookup')
  .argument('<file>', 'message file, or - for standard input')
  .option('-u, --url <url>', 'hub base URL (default: http://127.0.0.1:<server.port>)')
  .option('-c, --correlation-id <id>', 'correlation id to send')
  .action(async (target, file, options) => { process.exitCode = await sendCommand(target, file, { ...options, root: root() }); });

program.command('sim')
  .description('start a simulator alone (fictitious data), e.g. `lienthong sim population --port 8091`')
  .argument('<name>', 'population')
  .option('-p, --port <port>', 'listen port', '8091')
  .action(async (name, options) => {
    const { simulators } = await import('../sim/index.js');
    const start = (simulators as Record<string, (o: { host: string; port: number }) => Promise<{ url: string; close(): Promise<void> }>>)[name];
    if (!start) {
      console.error(`unknown simulator "${name}"; known: ${Object.keys(simulators).join(', ')}`);
      process.exitCode = 2;
      return;
    }
    const sim = await start({ host: '127.0.0.1', port: Number(options.port) });
    console.log(`${name} simulator listening on ${sim.url}`);
    const stop = () => void sim.close().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });

await program.parseAsync(process.argv);
