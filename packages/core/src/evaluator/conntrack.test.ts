import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compile, np, ns, pnp, pod } from '../testing/compile.js';
import { Evaluator } from './evaluator.js';
import { Conntrack } from './conntrack.js';
import { feed } from '../testing/compile.js';

const objs = [
  ns('x'),
  pod('x', 'c', { app: 'client' }, '10.0.0.1'),
  pod('x', 's', { app: 'server' }, '10.0.0.2'),
];
const onlyIn = np('x', 'only-client-in', {
  podSelector: { matchLabels: { app: 'server' } },
  ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }] }],
});
const req = {
  src: '10.0.0.1',
  dst: '10.0.0.2',
  protocol: 'TCP' as const,
  srcPort: 40000,
  dstPort: 80,
};
const reply = {
  src: '10.0.0.2',
  dst: '10.0.0.1',
  protocol: 'TCP' as const,
  srcPort: 80,
  dstPort: 40000,
};

describe('conntrack', () => {
  it('lets replies of an allowed connection pass, although the reverse direction is not allowed as a new flow', () => {
    const { ev } = compile([
      ...objs,
      onlyIn,
      np('x', 'client-isolated', {
        podSelector: { matchLabels: { app: 'client' } },
        policyTypes: ['Ingress'],
      }),
    ]);
    const ct = new Conntrack();
    assert.equal(
      ev.evaluate(reply).verdict,
      'deny',
      'a new flow from the server to the client is denied',
    );
    assert.equal(ct.process(ev, req).verdict, 'allow');
    const r = ct.process(ev, reply);
    assert.equal(r.verdict, 'allow');
    assert.ok(r.reply && r.established);
  });

  it('keeps an established flow when an allow is removed, and cuts it on a deny', () => {
    const { engine, ev } = compile([...objs, onlyIn]);
    const ct = new Conntrack();
    assert.equal(ct.process(ev, req).verdict, 'allow');
    feed(engine, [
      np('x', 'only-client-in', { podSelector: { matchLabels: { app: 'server' } }, ingress: [] }),
    ]);
    engine.flush();
    const ev2 = new Evaluator(engine.compiled);
    assert.equal(ev2.evaluate(req).verdict, 'deny', 'a new connection is refused');
    assert.equal(ct.process(ev2, req).verdict, 'allow', 'the established one continues');
    feed(engine, [
      pnp('x', 'cut', { endpointSelector: { matchLabels: { app: 'server' } }, ingressDeny: [{}] }),
    ]);
    engine.flush();
    assert.equal(ct.process(new Evaluator(engine.compiled), req).verdict, 'deny', 'a deny cuts it');
  });
});
