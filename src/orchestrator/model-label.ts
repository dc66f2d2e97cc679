/**
 * The long/short strategy trades the signal service's scores as expected returns: it buys
 * the highest and sells the lowest. A model trained on anything else — `abs_return`, the size
 * of the next move (volatility) — ranks names by how much they will move, not which way, and
 * trading it as a return forecast is a bet on noise. Such models are refused, naming the fix.
 */
export const RETURN_LABELS: ReadonlySet<string> = new Set(['return']);

const MEANING: Record<string, string> = { abs_return: 'the size of the coming return, i.e. volatility, not its direction' };

export class UnusableModelError extends Error {
  readonly code = 'model_label_unusable';
  constructor(
    message: string,
    readonly model: { name: string; version: number; label: string },
  ) {
    super(message);
    this.name = 'UnusableModelError';
  }
}

/** Why a model with this label cannot drive the long/short strategy, or null when it can (an unknown label = an older service: null). */
export function labelProblem(model: { name: string; version: number; label?: string | null }): string | null {
  const label = model.label;
  if (label === undefined || label === null || RETURN_LABELS.has(label)) return null;
  return (
    `model ${model.name} v${model.version} predicts ${label}${MEANING[label] ? ` (${MEANING[label]})` : ''}, not returns: the long/short strategy ranks scores as expected returns and cannot trade it; ` +
    `promote a model trained with --label return (\`kestrel models promote ${model.name} <version>\`, or \`kestrel train --label return --promote always\`)`
  );
}

/** Throws UnusableModelError when the model's label is not a return label. */
export function assertReturnModel(model: { name: string; version: number; label?: string | null }): void {
  const problem = labelProblem(model);
  if (problem) throw new UnusableModelError(problem, { name: model.name, version: model.version, label: model.label! });
}
