/**
 * Seeded random NetworkPolicy sets over the shared model (docs/policy-fixtures.md), for the
 * differential test against cyclonus. Every policy is valid per Kubernetes API validation.
 *
 * @module
 */

/** A port/protocol the differential test probes. */
export interface ProbePortProtocol {
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

/** The ports to probe: 80 and 81 on TCP, UDP and SCTP (every port the model serves). */
export const PROBE_PORTS: ProbePortProtocol[] = [80, 81].flatMap((port) =>
  (['TCP', 'UDP', 'SCTP'] as const).map((protocol) => ({ port, protocol })),
);

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const NAMESPACES = ['x', 'y', 'z'] as const;
const PODS = ['a', 'b', 'c'] as const;
const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;

/** Small deterministic PRNG (mulberry32) with the helpers the generator needs. */
class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** 1..max distinct items, in their original order. */
  subset<T>(items: readonly T[], max = items.length): T[] {
    const n = this.int(1, Math.min(max, items.length));
    const chosen = new Set<T>();
    while (chosen.size < n) chosen.add(this.pick(items));
    return items.filter((i) => chosen.has(i));
  }
}

/**
 * A label selector for pods (labels: `pod`) or namespaces (labels: `ns`,
 * `kubernetes.io/metadata.name`). `NotIn` is only used on a key every such object carries:
 * cyclonus v0.5.6 treats `NotIn` on a missing key as no match, where Kubernetes matches.
 */
function selector(rng: Rng, kind: 'pod' | 'namespace', allowEmpty: boolean): JsonObject {
  const key = kind === 'pod' ? 'pod' : rng.pick(['ns', 'kubernetes.io/metadata.name']);
  const values: readonly string[] = kind === 'pod' ? PODS : NAMESPACES;
  const absentKey = kind === 'pod' ? 'app' : 'team';
  const roll = rng.int(allowEmpty ? 0 : 1, 6);
  switch (roll) {
    case 0:
      return {};
    case 1:
    case 2:
      return { matchLabels: { [key]: rng.pick(values) } };
    case 3:
      return { matchExpressions: [{ key, operator: 'In', values: rng.subset(values, 2) }] };
    case 4:
      return { matchExpressions: [{ key, operator: 'NotIn', values: rng.subset(values, 2) }] };
    case 5:
      return {
        matchExpressions: [
          { key: rng.pick([key, absentKey]), operator: rng.pick(['Exists', 'DoesNotExist']) },
        ],
      };
    default:
      // matchLabels and matchExpressions together (ANDed).
      return {
        matchLabels: { [key]: rng.pick(values) },
        matchExpressions: [{ key: absentKey, operator: 'DoesNotExist' }],
      };
  }
}

function podIp(ns: number, pod: number): string {
  return `10.244.${ns + 1}.${pod + 1}`;
}

/** An ipBlock whose `except` entries are strict subnets of `cidr` (canonical CIDRs only). */
function ipBlock(rng: Rng): JsonObject {
  const ns = rng.int(0, 2);
  const pod = rng.int(0, 2);
  const slash32 = `${podIp(ns, pod)}/32`;
  const slash24 = `10.244.${ns + 1}.0/24`;
  switch (rng.int(0, 3)) {
    case 0:
      return { cidr: slash32 };
    case 1:
      return rng.chance(0.5) ? { cidr: slash24, except: [slash32] } : { cidr: slash24 };
    case 2: {
      const except = rng.subset([slash24, `${podIp(rng.int(0, 2), rng.int(0, 2))}/32`], 2);
      return rng.chance(0.6)
        ? { cidr: '10.244.0.0/16', except: [...new Set(except)] }
        : { cidr: '10.244.0.0/16' };
    }
    default: {
      const except = rng.subset(['10.244.0.0/16', slash24, slash32], 2);
      return rng.chance(0.6) ? { cidr: '0.0.0.0/0', except } : { cidr: '0.0.0.0/0' };
    }
  }
}

function peer(rng: Rng): JsonObject {
  switch (rng.int(0, 3)) {
    case 0:
      return { podSelector: selector(rng, 'pod', true) };
    case 1:
      return { namespaceSelector: selector(rng, 'namespace', true) };
    case 2:
      return {
        podSelector: selector(rng, 'pod', true),
        namespaceSelector: selector(rng, 'namespace', true),
      };
    default:
      return { ipBlock: ipBlock(rng) };
  }
}

/** A NetworkPolicyPort: empty, protocol only, numeric, named, or a numeric range. */
function port(rng: Rng): JsonObject {
  const out: JsonObject = {};
  const roll = rng.int(0, 9);
  if (roll === 0) return out; // {}: every TCP port
  if (roll <= 4) {
    out['port'] = rng.pick([80, 80, 81, 81, 82]);
  } else if (roll <= 7) {
    // Mostly the model's own names, occasionally one no container has.
    const p = rng.pick([80, 81]);
    const proto = rng.pick(PROTOCOLS).toLowerCase();
    out['port'] = rng.chance(0.9) ? `serve-${p}-${proto}` : 'serve-82-tcp';
  } else if (roll === 8) {
    const start = rng.pick([1, 79, 80, 81]);
    out['port'] = start;
    out['endPort'] = rng.pick([start, start + 1, 81, 1024, 65535].filter((e) => e >= start));
  }
  // roll === 9: protocol only
  if (roll === 9 || rng.chance(0.7)) {
    const named =
      typeof out['port'] === 'string' ? out['port'].split('-')[2]?.toUpperCase() : undefined;
    // A named port usually gets its own protocol (else the rule never matches it).
    out['protocol'] = named !== undefined && rng.chance(0.7) ? named : rng.pick(PROTOCOLS);
  }
  return out;
}

/** A rule's peer or port list: absent, empty, or 1–3 entries. */
function list(rng: Rng, make: (r: Rng) => JsonObject): Json[] | undefined {
  const roll = rng.int(0, 5);
  if (roll === 0) return undefined;
  if (roll === 1) return [];
  return Array.from({ length: rng.int(1, 3) }, () => make(rng));
}

function rule(rng: Rng, peerKey: 'from' | 'to'): JsonObject {
  const out: JsonObject = {};
  const peers = list(rng, peer);
  const ports = list(rng, port);
  if (peers !== undefined) out[peerKey] = peers;
  if (ports !== undefined) out['ports'] = ports;
  return out;
}

/** A rule list: absent, `[]` (deny all), `[{}]` (allow all), or 1–3 generated rules. */
function rules(rng: Rng, peerKey: 'from' | 'to'): Json[] | undefined {
  switch (rng.int(0, 5)) {
    case 0:
      return undefined;
    case 1:
      return [];
    case 2:
      return [{}];
    default:
      return Array.from({ length: rng.int(1, 3) }, () => rule(rng, peerKey));
  }
}

function policy(rng: Rng, index: number): JsonObject {
  const spec: JsonObject = { podSelector: selector(rng, 'pod', true) };
  const types = rng.pick([
    undefined,
    ['Ingress'],
    ['Egress'],
    ['Ingress', 'Egress'],
    ['Egress', 'Ingress'],
  ]);
  if (types !== undefined) spec['policyTypes'] = types;
  const ingress = rules(rng, 'from');
  const egress = rules(rng, 'to');
  if (ingress !== undefined) spec['ingress'] = ingress;
  if (egress !== undefined) spec['egress'] = egress;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `random-${index}`, namespace: rng.pick(NAMESPACES) },
    spec,
  };
}

/**
 * Generates 1–4 `networking.k8s.io/v1` NetworkPolicy objects over the shared model
 * (namespaces x, y, z; pods a, b, c; ports 80/81 on TCP, UDP, SCTP).
 *
 * Deterministic: the same seed always yields the same (deeply equal) objects. Covers empty,
 * `matchLabels` and `matchExpressions` (In/NotIn/Exists/DoesNotExist) selectors; absent and
 * explicit `policyTypes`; absent, empty, `[{}]` and peer-bearing rule lists; pod, namespace,
 * pod+namespace and ipBlock (with `except`) peers; absent, numeric, named and ranged
 * (`endPort`) ports with TCP/UDP/SCTP/absent protocols.
 *
 * @param seed any number; only its low 32 bits matter.
 * @returns plain JSON-compatible objects, safe to serialise as YAML or JSON.
 */
export function randomPolicySet(seed: number): unknown[] {
  const rng = new Rng(seed);
  return Array.from({ length: rng.int(1, 4) }, (_, i) => policy(rng, i));
}
