import type { Command } from 'commander';
import { InputError } from '../../core/errors.js';
import type { ModelVersion } from '../../registry/models.js';
import type { IO } from '../context.js';
import { createContext, type CliContext } from '../context.js';
import { formatTable } from '../table.js';

/** `kestrel models list|show|promote|archive`: the model registry from the command line. */
async function withRegistry<T>(ctx: CliContext, fn: (reg: import('../../registry/models.js').ModelRegistry) => Promise<T>): Promise<T> {
  const [{ openDb }, { ModelRegistry }] = await Promise.all([import('../../db/open.js'), import('../../registry/models.js')]);
  const db = await openDb(ctx.config);
  try {
    return await fn(new ModelRegistry(db, ctx.clock));
  } finally {
    await db.close();
  }
}

const row = (v: ModelVersion) => ({ name: v.name, version: v.version, status: v.status, test_ic: v.metrics.test_ic ?? null, valid_mse: v.metrics.valid_mse ?? null, created_at: v.created_at, run_id: v.run_id });

function parseVersion(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new InputError(`version must be a positive whole number, got ${JSON.stringify(s)}`, 'bad_usage');
  return n;
}

export function registerModels(program: Command, io: IO): void {
  const models = program
    .command('models')
    .description('model registry: list, show, promote, archive versions')
    .addHelpText(
      'after',
      `
Examples:
  kestrel models list
  kestrel models show alpha158-gbdt 2
  kestrel models promote alpha158-gbdt 2 --reason "better test IC"
  kestrel models archive alpha158-gbdt 1`,
    );

  models
    .command('list')
    .description('list model versions')
    .argument('[name]', 'only this model')
    .option('--json', 'machine output')
    .action(async (name: string | undefined, opts: { json?: boolean }) => {
      const ctx = createContext('models', io, {}, { quiet: true });
      const list = await withRegistry(ctx, (r) => r.list(name));
      if (opts.json) ctx.json(list);
      else ctx.out(list.length ? formatTable(list.map(row), ctx.tty) : 'no models registered yet: run `kestrel train`');
    });

  models
    .command('show')
    .description('one version with its metrics and history')
    .argument('<name>')
    .argument('<version>')
    .option('--json', 'machine output')
    .action(async (name: string, version: string, opts: { json?: boolean }) => {
      const ctx = createContext('models', io, {}, { quiet: true });
      const v = parseVersion(version);
      const out = await withRegistry(ctx, async (r) => ({ model: await r.get(name, v), history: (await r.history(name)).filter((h) => h.version === v) }));
      if (!out.model) throw new InputError(`model ${name} has no version ${v}`, 'not_found');
      if (opts.json) ctx.json(out);
      else {
        ctx.out(formatTable([row(out.model)], ctx.tty));
        ctx.out(`artifact: ${out.model.artifact_path}`);
        ctx.out(`metrics:  ${JSON.stringify(out.model.metrics)}`);
        ctx.out(formatTable(out.history, ctx.tty));
      }
    });

  for (const action of ['promote', 'archive'] as const) {
    models
      .command(action)
      .description(action === 'promote' ? 'make a version the production one (the previous production version is archived)' : 'archive a version')
      .argument('<name>')
      .argument('<version>')
      .option('--reason <text>', 'why (recorded in the audit trail)')
      .option('--actor <who>', 'who (default $USER)')
      .option('--json', 'machine output')
      .action(async (name: string, version: string, opts: { reason?: string; actor?: string; json?: boolean }) => {
        const ctx = createContext('models', io, {}, { quiet: true });
        const v = parseVersion(version);
        const actor = opts.actor ?? ctx.user;
        const out = await withRegistry(ctx, (r) => (action === 'promote' ? r.promote(name, v, actor, opts.reason) : r.archive(name, v, actor, opts.reason).then((m) => ({ promoted: m, archived: null }))));
        if (opts.json) ctx.json(out);
        else ctx.out(action === 'promote' ? `${name} v${v} is production${out.archived ? ` (v${out.archived.version} archived)` : ''}` : `${name} v${v} archived`);
      });
  }
}
