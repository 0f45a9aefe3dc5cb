import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describeAuditJournal } from './audit-behaviour.js';
import { describeMessageLog, type TestStore } from './log-behaviour.js';

async function sqliteStore(): Promise<TestStore> {
  const dir = mkdtempSync(join(tmpdir(), 'lienthong-store-'));
  const file = join(dir, 'nested', 'log.db');
  return {
    location: { sqliteFile: file },
    async raw(sqlText, params = []) {
      const db = new Database(file, { readonly: true, fileMustExist: true });
      try {
        return db.prepare(sqlText).all(...params) as Array<Record<string, unknown>>;
      } finally {
        db.close();
      }
    },
    async exec(sqlText, params = []) {
      const db = new Database(file, { fileMustExist: true });
      try {
        db.prepare(sqlText).run(...params);
      } finally {
        db.close();
      }
    },
    async dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describeMessageLog('SQLite', sqliteStore);
describeAuditJournal('SQLite', sqliteStore);
