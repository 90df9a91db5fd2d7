/**
 * One side of a flow's decision in words: who decided, the verdict, and the rules or the
 * isolating policies behind it. `palisade policy explain` prints it, and the integrators'
 * API answers `Simulate` with it.
 */
import { formatRef } from '../errors.js';
import { RESERVED_NAMES } from '../identity/reserved.js';
import type { PolicyEngine } from '../compiler/engine.js';
import type { Decision } from './evaluator.js';

/** A decision explained. */
export interface DecisionExplanation {
  /** The rules that decided (for policy-allow / policy-deny / policy-redirect). */
  readonly rules: readonly {
    readonly policy: string;
    readonly rule: string;
    readonly action: string;
  }[];
  /** The policies that isolate the endpoint (for default-deny). */
  readonly isolatedBy: readonly string[];
  readonly text: string;
}

function identityName(id: number): string {
  if (id === 0) return 'any';
  const reserved = RESERVED_NAMES[id];
  return reserved && id < 256 ? `${id} (${reserved})` : `${id}`;
}

/**
 * Explains one side of a flow. `port` is how the port is shown (`80/TCP`), `peer` how the
 * other end is named.
 */
export function explainDecision(
  engine: PolicyEngine,
  d: Decision,
  port: string,
  peer: string,
): DecisionExplanation {
  const rules = (d.value?.rules ?? []).map((id) => {
    const r = engine.ruleInfo(id);
    return { policy: r ? formatRef(r.policy) : id, rule: r?.path ?? '?', action: r?.action ?? '?' };
  });
  const isolatedBy = engine.isolatingPolicies(d.endpoint.identity, d.direction).map(formatRef);
  const who = `${d.direction} of ${d.endpoint.pod} (identity ${d.endpoint.identity})`;
  const ruleText = rules.map((r) => `${r.policy} ${r.rule}`).join('; ');
  let text: string;
  switch (d.reason) {
    case 'not-isolated':
      text = `${who}: allow — no policy selects ${d.endpoint.pod} for ${d.direction}, so it is not isolated`;
      break;
    case 'policy-allow':
      text = `${who}: allow — allowed by ${ruleText}`;
      break;
    case 'policy-redirect':
      text = `${who}: allow via the L7 proxy — HTTP rules of ${ruleText}`;
      break;
    case 'policy-deny':
      text = `${who}: deny — denied by ${ruleText} (deny beats allow)`;
      break;
    case 'default-deny':
      text = `${who}: deny — isolated for ${d.direction} by ${isolatedBy.join(', ')}, and no rule allows ${peer} (identity ${identityName(d.remote)}) on ${port}`;
      break;
  }
  return { rules, isolatedBy, text };
}
