import { describe, expect, it } from 'vitest';
import { dec } from '../core/money.js';
import { defaultRiskConfig } from '../risk/config.js';
import { checkRiskFit } from './paper-run.js';

const limits = defaultRiskConfig().limits; // max_position_pct 0.1, gross 1.5, net 1, order notional 250000

describe('paper-run options against the risk limits (warned before the run)', () => {
  it('the --help example of old, --top-n 10 --bottom-n 10 at 10 %, is 200 % gross against 150 %', () => {
    const w = checkRiskFit({ capital: '1000000', maxPositionPct: '0.1', topN: 10, bottomN: 10 }, limits);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/gross exposure 200% of capital, over the risk limit max_gross_exposure_pct 1\.5 \(150%\).*keep top-n \+ bottom-n at 15 or fewer/);
  });

  it('close to the gross limit: warned that turnover days will be refused (6 + 6 at 10 % was refused on 25 of 60 days, 5 + 5 once)', () => {
    const w = checkRiskFit({ capital: '1000000', maxPositionPct: '0.1', topN: 6, bottomN: 6 }, limits);
    expect(w).toEqual([expect.stringMatching(/gross exposure 120% of capital, within 3 positions of the risk limit max_gross_exposure_pct 1\.5 \(150%\).*top-n \+ bottom-n of 11 or fewer at this size/)]);
    expect(checkRiskFit({ capital: '1000000', maxPositionPct: '0.1', topN: 7, bottomN: 7 }, limits)).toHaveLength(1);
    expect(checkRiskFit({ capital: '1000000', maxPositionPct: '0.1', topN: 6, bottomN: 5 }, limits)).toEqual([]);
  });

  it('the defaults and the documented examples fit', () => {
    expect(checkRiskFit({ capital: '1000000', maxPositionPct: '0.1', topN: 5, bottomN: 5 }, limits)).toEqual([]);
    expect(checkRiskFit({ capital: '250000', maxPositionPct: '0.05', topN: 10, bottomN: 10 }, limits)).toEqual([]);
    // A weight of 1/N below the cap sizes each name at 1/N: 3 longs of 1/3 hit the 10 % cap, 3 × 10 % = 30 %.
    expect(checkRiskFit({ capital: '1000000', maxPositionPct: '0.5', topN: 20, bottomN: 0 }, limits)).toEqual([]);
  });

  it('names each limit the options exceed', () => {
    const w = checkRiskFit({ capital: '5000000', maxPositionPct: '0.2', topN: 4, bottomN: 0 }, limits).join('\n');
    expect(w).toMatch(/sized at 20% of capital, over the risk limit max_position_pct 0\.1/);
    expect(w).toMatch(/opening a position of 20% × capital 5000000\.00 = 1000000\.00 .* max_order_notional 250000\.00/);
    // Long-only 10 names at 10 % is 100 % net: over a 50 % net limit.
    const net = checkRiskFit({ capital: '1000000', maxPositionPct: '0.1', topN: 10, bottomN: 0 }, { ...limits, max_net_exposure_pct: 0.5 }).join('\n');
    expect(net).toMatch(/net exposure 100% of capital, over the risk limit max_net_exposure_pct 0\.5 \(50%\)/);
  });

  it('limits switched off (or risk disabled) warn about nothing', () => {
    expect(checkRiskFit({ capital: '1000000', maxPositionPct: '1', topN: 50, bottomN: 50 }, null)).toEqual([]);
    const off = { max_position_pct: null, max_gross_exposure_pct: null, max_net_exposure_pct: null, max_order_notional: null };
    expect(checkRiskFit({ capital: '1000000', maxPositionPct: '1', topN: 1, bottomN: 0 }, off)).toEqual([]);
    expect(checkRiskFit({ capital: '1000000', maxPositionPct: '1', topN: 1, bottomN: 0 }, { ...off, max_order_notional: dec('2000000') })).toEqual([]);
  });
});
