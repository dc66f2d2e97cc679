import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.js';
import { GbdtModel, loadLightGBMText } from '../gbdt/model.js';

const text = readFileSync(new URL('../fixtures/lightgbm-model.txt', import.meta.url), 'utf8');

/*
 * The fixture (written by hand in LightGBM's text format), 5 features f0..f4:
 *
 * Tree 0: node0  f0 <= 0.5, decision_type 10 = default-left | missing NaN  → left: node1, right: leaf1 (0.7)
 *         node1  f1 <= -1.25, decision_type 0 = missing None (NaN → 0), default right
 *                                                            → left: leaf0 (0.1), right: leaf2 (-0.3)
 * Tree 1: node0  f2 <= -0.5, decision_type 6 = default-left | missing Zero (0 and NaN use the default)
 *                                                            → left: leaf0 (-0.05), right: leaf1 (0.25)
 * Tree 2: node0  f4 <= 1e-35f, decision_type 8 = missing NaN, default right → left: leaf0 (0.03), right: node1
 *         node1  f3 <= 10, decision_type 2 = default-left bit but missing None (NaN compared as 0)
 *                                                            → left: leaf1 (-0.02), right: leaf2 (0.05)
 */
const N = NaN;
const cases: Array<{ row: number[]; expected: number; why: string }> = [
  // T0: 0.2<=0.5, -2<=-1.25 → 0.1; T1: f2=0 is "zero" → default left −0.05; T2: −0.5<=1e-35 → 0.03.
  { row: [0.2, -2, 0, 5, -0.5], expected: 0.1 - 0.05 + 0.03, why: 'zero-missing goes default left' },
  // T0: NaN → default left → node1: 0 > −1.25 → −0.3; T1: 0.1 > −0.5 → 0.25; T2: 0.5 > 1e-35 → node1: 12 > 10 → 0.05.
  { row: [N, 0, 0.1, 12, 0.5], expected: -0.3 + 0.25 + 0.05, why: 'NaN default-left split' },
  // T0: 0.9 > 0.5 → 0.7; T1: −1 <= −0.5 → −0.05; T2: NaN (NaN type, default right) → node1: NaN as 0 <= 10 → −0.02.
  { row: [0.9, N, -1, N, N], expected: 0.7 - 0.05 - 0.02, why: 'NaN default-right, then None-type NaN as 0' },
  // T0: 0.5 <= 0.5 (ties go left) → node1: NaN as 0 > −1.25 → −0.3; T1: NaN is missing for Zero → −0.05; T2: 0 <= 1e-35 → 0.03.
  { row: [0.5, N, N, 10, 0], expected: -0.3 - 0.05 + 0.03, why: 'threshold ties go left' },
  // T0: +Inf compared (not missing) → 0.7; T1: 1e-40 counts as zero → −0.05; T2: +Inf → node1: 10.0000001 > 10 → 0.05.
  { row: [Infinity, -1.25, 1e-40, 10.0000001, Infinity], expected: 0.7 - 0.05 + 0.05, why: 'infinities are compared' },
  // T0: −Inf <= 0.5 → node1: −1.25 <= −1.25 → 0.1; T1: −0.5 <= −0.5 → −0.05; T2: 1e-300 <= 1e-35 → 0.03.
  { row: [-Infinity, -1.25, -0.5, 0, 1e-300], expected: 0.1 - 0.05 + 0.03, why: 'tiny positive is below the 1e-35 threshold' },
];

describe('loadLightGBMText', () => {
  const model = loadLightGBMText(text);

  it('is the same through the GbdtModel static', () => {
    expect(GbdtModel.loadLightGBMText(text).toJSON()).toEqual(model.toJSON());
  });

  it('reads the header and trees', () => {
    expect(model.nFeatures).toBe(5);
    expect(model.numTrees).toBe(3);
    expect(model.featureNames).toEqual(['f0', 'f1', 'f2', 'f3', 'f4']);
    expect(model.source).toBe('lightgbm');
    expect(model.trees[0].leftChild).toEqual(Int32Array.of(1, -1));
  });

  it('predicts the hand-computed values', () => {
    const X = Float64Array.from(cases.flatMap((c) => c.row));
    const p = model.predict(X, cases.length);
    cases.forEach((c, i) => expect(p[i], c.why).toBeCloseTo(c.expected, 12));
  });

  it('survives a JSON round trip with identical predictions', () => {
    const X = Float64Array.from(cases.flatMap((c) => c.row));
    const back = GbdtModel.fromJSON(JSON.stringify(model.toJSON()));
    expect(back.predict(X, cases.length)).toEqual(model.predict(X, cases.length));
  });

  it('averages trees for average_output models', () => {
    const avg = loadLightGBMText(text.replace('objective=regression\n', 'objective=regression\naverage_output\n'));
    const X = Float64Array.from(cases[0].row);
    expect(avg.predict(X, 1)[0]).toBeCloseTo(cases[0].expected / 3, 12);
  });

  it('rejects what it cannot predict', () => {
    expect(() => loadLightGBMText(text.replace('decision_type=10 0', 'decision_type=11 0'))).toThrow(/categorical/);
    expect(() => loadLightGBMText(text.replace('num_cat=0', 'num_cat=1'))).toThrow(/categorical/);
    expect(() => loadLightGBMText(text.replace('objective=regression', 'objective=binary sigmoid:1'))).toThrow(InputError);
    expect(loadLightGBMText(text.replace('objective=regression', 'objective=binary sigmoid:1'), { rawScore: true }).numTrees).toBe(3);
    expect(() => loadLightGBMText(text.replace('left_child=1 -1', 'left_child=1'))).toThrow(/left_child has 1 values/);
    expect(() => loadLightGBMText(text.replace('left_child=1 -1', 'left_child=1 -7'))).toThrow(/out of range/);
    expect(() => loadLightGBMText(text.replace('threshold=0.5 -1.25', 'threshold=0.5 abc'))).toThrow(/not a number/);
    expect(() => loadLightGBMText('hello')).toThrow(InputError);
  });
});
