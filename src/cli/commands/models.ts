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

const row = (v: ModelVersion) => ({
  name: v.name,
  version: v.version,
  status: v.status,
  label: v.label_kind ?? 'return?',
  valid_ic: round(v.metrics.valid_ic),
  test_ic: round(v.metrics.test_ic),
  valid_mse: round(v.metrics.valid_mse, 5),
  mse_zero: round(v.metrics.valid_mse_zero, 5),
  created_at: v.created_at,
  run_id: v.run_id,
});

function round(x: number | null | undefined, d = 4): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? Number(x.toFixed(d)) : null;
}

function warn(io: IO, text: string): void {
  io.stderr.write(`kestrel: warning: ${text}\n`);
}

function parseVersion(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 2_147_483_647) throw new InputError(`version must be a whole number from 1 to 2147483647, got ${JSON.stringify(s)}`, 'bad_usage');
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
  kestrel models promote alpha158-gbdt <version> --force --reason "gate overridden: <why>"
  kestrel models archive alpha158-gbdt 1

label "return?" in the list: a version registered before labels were recorded (served as return).`,
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
      const { checkPromotionGate } = await import('../../ml/promotion-gate.js');
      const found = await withRegistry(ctx, async (r) => ({ model: await r.get(name, v), history: (await r.history(name)).filter((h) => h.version === v) }));
      if (!found.model) throw new InputError(`model ${name} has no version ${v}`, 'not_found');
      const out = { ...found, gate: checkPromotionGate(found.model.metrics) };
      if (opts.json) ctx.json(out);
      else {
        ctx.out(formatTable([row(found.model)], ctx.tty));
        ctx.out(`artifact: ${found.model.artifact_path}`);
        ctx.out(`label:    ${found.model.label_kind ?? 'not recorded (registered before labels were; served as return)'}`);
        ctx.out(`gate:     ${out.gate.passed ? 'passes' : 'fails'}: ${out.gate.checks.map((c) => c.reason).join('; ')}`);
        ctx.out(`metrics:  ${JSON.stringify(found.model.metrics)}`);
        ctx.out(formatTable(found.history, ctx.tty));
      }
    });

  models
    .command('promote')
    .description('make a version the production one (the previous production version is archived); refused when the version fails the promotion gate, unless --force')
    .argument('<name>')
    .argument('<version>')
    .option('--force', 'promote even if the version fails the promotion gate (recorded in the audit trail)')
    .option('--reason <text>', 'why (recorded in the audit trail)')
    .option('--actor <who>', 'who (default $USER)')
    .option('--json', 'machine output')
    .addHelpText(
      'after',
      `
The gate (docs/research.md): on the validation split the version must beat the zero predictor's
MSE and reach valid IC and Rank IC ≥ 0.01, from the metrics stored with the version.

Examples:
  kestrel models promote alpha158-gbdt 2 --reason "better test IC"
  kestrel models promote alpha158-gbdt <version> --force --reason "weak, but the only model we have"`,
    )
    .action(async (name: string, version: string, opts: { force?: boolean; reason?: string; actor?: string; json?: boolean }) => {
      const ctx = createContext('models', io, {}, { quiet: true });
      const v = parseVersion(version);
      const actor = opts.actor ?? ctx.user;
      const { checkPromotionGate } = await import('../../ml/promotion-gate.js');
      const out = await withRegistry(ctx, async (r) => {
        const target = await r.get(name, v);
        if (!target) throw new InputError(`model ${name} has no version ${v}`, 'not_found');
        const gate = checkPromotionGate(target.metrics);
        if (!gate.passed && !opts.force && target.status !== 'production') {
          throw new InputError(`${name} v${v} fails the promotion gate (${gate.reasons.join('; ')}): not promoted; pass --force to promote it anyway`, 'gate_failed');
        }
        const reason = !gate.passed && opts.force ? `forced past the gate (${gate.reasons.join('; ')})${opts.reason ? `: ${opts.reason}` : ''}` : opts.reason;
        return { ...(await r.promote(name, v, actor, reason)), gate };
      });
      if (opts.json) ctx.json(out);
      else {
        ctx.out(`${name} v${v} is production${out.archived ? ` (v${out.archived.version} archived)` : ''}; signal services load it at their next registry check (or POST /api/v1/model/reload)`);
        if (!out.gate.passed) warn(io, `${name} v${v} fails the promotion gate (${out.gate.reasons.join('; ')}); promoted because of --force`);
        const label = out.promoted.label_kind ?? 'return';
        if (label !== 'return') warn(io, `${name} v${v} predicts ${label}, not returns: the long/short orchestrator and kestrel paper-run refuse it (train with --label return for them)`);
      }
    });

  models
    .command('archive')
    .description('archive a version; archiving the production version is refused unless --force (nothing would serve the model)')
    .argument('<name>')
    .argument('<version>')
    .option('--force', 'archive the production version too, leaving the model with no production version')
    .option('--reason <text>', 'why (recorded in the audit trail)')
    .option('--actor <who>', 'who (default $USER)')
    .option('--json', 'machine output')
    .addHelpText(
      'after',
      `
Archiving the production version leaves the name with no production model: signal services
keep serving it until their next registry check (every 5 s by default, or POST
/api/v1/model/reload), then answer 503 no_model, and orchestration runs fail until a version
is promoted. To replace a production version, promote the new one instead: that archives the
old one in the same transaction.

Examples:
  kestrel models archive alpha158-gbdt 1
  kestrel models archive alpha158-gbdt <version> --force --reason "withdrawn: data error"`,
    )
    .action(async (name: string, version: string, opts: { force?: boolean; reason?: string; actor?: string; json?: boolean }) => {
      const ctx = createContext('models', io, {}, { quiet: true });
      const v = parseVersion(version);
      const actor = opts.actor ?? ctx.user;
      const { before, archived } = await withRegistry(ctx, async (r) => {
        const before = await r.get(name, v);
        return { before, archived: await r.archive(name, v, actor, opts.reason, { force: opts.force }) };
      });
      const wasProduction = before?.status === 'production';
      const warning = wasProduction
        ? `${name} has no production version now: signal services unload v${v} at their next registry check and answer 503 no_model until one is promoted (kestrel models promote ${name} <version>)`
        : null;
      if (opts.json) ctx.json({ archived, was_production: wasProduction, warning });
      else {
        ctx.out(`${name} v${v} archived`);
        if (warning) warn(io, warning);
      }
    });
}
