import { Command, Help, type Option } from 'commander';
import { TIME_HELP, UsageError } from './admin-client.js';
import { registerAuditCommand } from './audit.js';
import { checkCommand } from './check.js';
import { dlqDiscard, dlqList, dlqReplay, dlqShow } from './dlq.js';
import { registerKeysCommand } from './keys.js';
import { logSearch, logShow } from './log.js';
import { sendCommand } from './send.js';
import { startCommand } from './start.js';
import { testCommand } from './test.js';

const program = new Command('lienthong')
  .description('lienthong: interoperability hub for Vietnam e-government (liên thông)')
  .version('0.1.0')
  // commander does not mark a requiredOption in --help; every subcommand (made after this) inherits the mark.
  .configureHelp({
    optionDescription(option: Option) {
      const text = Help.prototype.optionDescription.call(this as Help, option);
      return option.mandatory ? `(required) ${text}` : text;
    },
  })
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
  .action((target, file, options) => run(() => sendCommand(target, file, { ...options, root: root() })));

/** A usage error (a time the CLI cannot read, …) exits with 2, as commander's own do; a failure with 1. */
const run = (action: () => Promise<number>) => action().then((code) => { process.exitCode = code; }, (error: Error) => { console.error(`lienthong: ${error.message}`); process.exitCode = error instanceof UsageError ? 2 : 1; });
/** Every state GET /admin/messages takes (src/server/admin.ts, MessageState). */
const STATES = ['received', 'rejected', 'failed', 'duplicate', 'accepted', 'delivered', 'partially-delivered', 'dead-lettered', 'discarded'];
const withFilters = (command: Command) => command
  .option('-d, --destination <connector.operation>', 'only this destination')
  .option('--route <id>', 'only this route')
  .option('-m, --message <id>', 'only this message')
  .option('-k, --key <orderingKey>', 'only this ordering key (e.g. a dossier code)')
  .option('--since <time>', 'dead-lettered at or after (a time: see below)')
  .option('-n, --limit <n>', 'at most this many')
  .option('-u, --url <url>', 'hub base URL')
  .addHelpText('after', `\n${TIME_HELP}`);

const dlq = program.command('dlq').description('dead letters of a running hub: list, show, replay, discard');
withFilters(dlq.command('list').description('list dead letters, oldest first (the order a bulk replay takes)').option('--json', 'JSON output (times in epoch ms)'))
  .action((options) => run(() => dlqList({ ...options, root: root() })));
dlq.command('show').argument('<id>', 'dead-letter (delivery) id').option('-u, --url <url>', 'hub base URL').option('--json', 'as the hub answers it (times in epoch ms, not local time)').description('one dead letter with its message and last error')
  .action((id, options) => run(() => dlqShow(id, { ...options, root: root() })));
withFilters(dlq.command('replay').argument('[ids...]', 'dead-letter ids').option('--all', 'every dead letter (with filters: every match)').description('send dead letters again through the same delivery path'))
  .action((ids, options) => run(() => dlqReplay(ids, { ...options, root: root() })));
// No short flag for --reason: -r is the program's --root, which commander takes after a subcommand too.
dlq.command('discard').argument('<id>', 'dead-letter id').requiredOption('--reason <text>', 'why it is discarded (kept in the log)').option('-u, --url <url>', 'hub base URL').description('remove a dead letter for good')
  .action((id, options) => run(() => dlqDiscard(id, { ...options, root: root() })));

const log = program.command('log').description('search the message log of a running hub')
  .option('--dossier <code>', 'dossier code (mã hồ sơ)').option('--correlation <id>', 'correlation id').option('--participant <id>', 'sender, e.g. VN/GOV/000.00.00.H56/MOTCUA')
  .option('--type <messageType>', 'canonical type').option('--state <state>', STATES.join('|'))
  .option('--from <time>', 'received at or after (a time: see below)').option('--to <time>', 'received before (a time)').option('-n, --limit <n>', 'page size').option('--cursor <c>', 'next page')
  .option('--json', 'JSON output (times in epoch ms)').option('-u, --url <url>', 'hub base URL')
  .addHelpText('after', `\n${TIME_HELP}`)
  .action((options) => run(() => logSearch({ ...options, root: root() })));
log.command('show').argument('<messageId>').option('-u, --url <url>', 'hub base URL').option('--json', 'as the hub answers it (times in epoch ms, not local time)').description("one message's whole history")
  .action((id, options) => run(() => logShow(id, { ...log.opts(), ...options, root: root() })));

registerKeysCommand(program);
registerAuditCommand(program, root);

/** Where the shipped connectors and config/hub.yaml expect each simulator. */
const SIM_PORTS: Record<string, number> = { population: 8091, dvcqg: 8092, emc: 8093, onegate: 8094, payment: 8095 };

program.command('sim')
  .description('start a simulator alone (fictitious data), e.g. `lienthong sim population --port 8091`')
  .argument('<name>', 'population, dvcqg, emc, onegate or payment')
  .option('-p, --port <port>', 'listen port (default: where the shipped connectors look: population 8091, dvcqg 8092, emc 8093, onegate 8094, payment 8095)')
  .action(async (name, options) => {
    const { simulators } = await import('../sim/index.js');
    const start = (simulators as Record<string, (o: { host: string; port: number }) => Promise<{ url: string; close(): Promise<void> }>>)[name];
    if (!start) {
      console.error(`unknown simulator "${name}"; known: ${Object.keys(simulators).join(', ')}`);
      process.exitCode = 2;
      return;
    }
    const port = options.port === undefined ? SIM_PORTS[name] ?? 0 : Number(options.port);
    const sim = await start({ host: '127.0.0.1', port });
    console.log(`${name} simulator listening on ${sim.url}`);
    const stop = () => void sim.close().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });

await program.parseAsync(process.argv);
