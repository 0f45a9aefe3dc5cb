import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../support/hub.js';

/**
 * The CLI's options and help, as commander builds them from src/cli/main.ts: read in a child process that replaces
 * `parseAsync` with a dump of the command tree, then loads main.ts as bin/lienthong.js does.
 */
const run = promisify(execFile);
const CLI_TIMEOUT = 60_000;

interface Node { name: string; options: Array<{ flags: string; short?: string; long?: string; description: string }>; commands: Node[] }

const DUMP = `
const { register } = await import('tsx/esm/api');
register();
const { Command } = await import('commander');
const tree = (c) => ({ name: c.name(), options: c.options.map((o) => ({ flags: o.flags, short: o.short, long: o.long, description: o.description })), commands: c.commands.map(tree) });
Command.prototype.parseAsync = async function () { process.stdout.write(JSON.stringify(tree(this))); };
await import(${JSON.stringify(pathToFileURL(join(REPO, 'src', 'cli', 'main.ts')).href)});
`;

const cli = async (args: string[], env: Record<string, string> = {}) => {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(REPO, 'bin', 'lienthong.js'), ...args], { cwd: REPO, env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

let program: Node;
const find = (path: string[]) => path.reduce((node, name) => node.commands.find((c) => c.name === name)!, program);

beforeAll(async () => {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', DUMP], { cwd: REPO });
  program = JSON.parse(stdout) as Node;
}, CLI_TIMEOUT);

describe('lienthong options', () => {
  it('gives no subcommand an option whose flag an enclosing command already takes', () => {
    // commander reads an enclosing command's options after a subcommand too: `dlq discard <id> -r why` set --root.
    const clashes: string[] = [];
    const walk = (node: Node, path: string[], taken: Map<string, { flags: string; where: string }>) => {
      for (const o of node.options) {
        for (const flag of [o.short, o.long]) {
          // The same option again (log show's --url, which log takes and hands down) is no clash; another meaning is.
          if (flag && taken.has(flag) && taken.get(flag)!.flags !== o.flags) clashes.push(`${[...path, node.name].join(' ')} ${o.flags} vs ${taken.get(flag)!.where}`);
        }
      }
      const mine = new Map(taken);
      for (const o of node.options) for (const flag of [o.short, o.long]) if (flag) mine.set(flag, { flags: o.flags, where: `${[...path, node.name].join(' ')} ${o.flags}` });
      for (const child of node.commands) walk(child, [...path, node.name], mine);
    };
    walk(program, [], new Map());
    expect(clashes).toEqual([]);
    expect(find(['dlq', 'discard']).options.map((o) => o.flags)).toContain('--reason <text>');
  });

  it('lists every state the admin API takes under log --state', () => {
    // The API's list, from its schema (src/server/admin.ts).
    const source = readFileSync(join(REPO, 'src', 'server', 'admin.ts'), 'utf8');
    const listed = /state:\s*\{\s*enum:\s*\[([^\]]+)\]/.exec(source);
    expect(listed, 'the state enum of GET /admin/messages in src/server/admin.ts').not.toBeNull();
    const states = [...listed![1]!.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
    expect(states).toEqual(expect.arrayContaining(['failed', 'duplicate', 'discarded']));
    const help = find(['log']).options.find((o) => o.long === '--state')!.description;
    expect(help.split('|').sort()).toEqual([...states].sort());
  });
});

describe('lienthong dlq and log from the command line', () => {
  let server: Server;
  let url: string;
  const asked: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      asked.push(`${req.method} ${req.url}`);
      req.resume();
      res.writeHead(req.url?.endsWith('/discard') ? 404 : 200, { 'content-type': 'application/json' })
        .end(JSON.stringify(req.url?.endsWith('/discard') ? { type: 'client.not-found', message: 'no dead letter nope' } : { items: [] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('advertises no -r for --reason, and says what is missing when -r is given', async () => {
    const help = await cli(['dlq', 'discard', '--help']);
    expect(help.stdout).toMatch(/^\s+--reason <text>/m);
    expect(help.stdout).not.toContain('-r, --reason');
    const short = await cli(['dlq', 'discard', 'nope', '-r', 'kiểm thử', '--url', url]);
    expect(short.code).toBe(1);
    expect(short.stderr).toContain("required option '--reason <text>' not specified");
    const long = await cli(['dlq', 'discard', 'nope', '--reason', 'kiểm thử', '--url', url]);
    expect(long.code).toBe(1);
    expect(long.stderr).toContain('404 client.not-found: no dead letter nope');
  }, CLI_TIMEOUT);

  it('refuses a compact date with exit 2 and asks the hub nothing', async () => {
    asked.length = 0;
    const out = await cli(['dlq', 'replay', '--since', '20261207', '--url', url], { TZ: 'Asia/Ho_Chi_Minh' });
    expect(out.code).toBe(2);
    expect(out.stderr.trim()).toBe('lienthong: --since 20261207: a compact date is not read as a time (nor as epoch milliseconds); write 2026-12-07 (local midnight) or 2026-12-07T08:00+07:00');
    expect(asked).toEqual([]);
  }, CLI_TIMEOUT);

  it('documents how times are read and printed in --help', async () => {
    const commands = [['log', '--help'], ['dlq', 'replay', '--help'], ['dlq', 'list', '--help']];
    const helps = await Promise.all(commands.map((args) => cli(args)));
    for (const [i, { stdout }] of helps.entries()) {
      const args = commands[i]!;
      expect(stdout, args.join(' ')).toContain('2025-03-04              midnight at the start of that day, local time');
      expect(stdout).toContain('TZ=Asia/Ho_Chi_Minh, UTC+7');
      expect(stdout).toContain('a compact date (20250304) is refused');
      expect(stdout).toContain('printed in local time with their offset: 2025-03-04 09:15:00+07:00');
    }
  }, CLI_TIMEOUT);
});
