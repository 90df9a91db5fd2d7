import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { addon } from '../native/addon.js';
import { ensureBpffs, ip, privilegedSkipReason, TEST_BPFFS } from '../testing/nodeFixture.js';
import { Datapath } from './datapath.js';
import { attachedPrograms, kernelHasTcx } from './hooks.js';

const skip = privilegedSkipReason();
const DEV = `palh${process.pid % 100000}`;
const NODE = `hooks${process.pid}`;

describe('program hooks', { skip }, () => {
  let ifindex = 0;
  before(() => {
    ensureBpffs();
    ip('link', 'add', DEV, 'type', 'veth', 'peer', 'name', `${DEV}p`);
    ifindex = addon().ifindex(DEV);
  });
  after(() => {
    try {
      ip('link', 'del', DEV);
    } catch {
      // already gone
    }
    rmSync(join(TEST_BPFFS, 'palisade', NODE), { recursive: true, force: true });
  });

  const load = (hook: 'tcx' | 'tc'): Datapath =>
    Datapath.open({ node: NODE, bpffs: TEST_BPFFS, hook });

  it('moves between a tc filter and tcx, replacing in place and leaving nothing behind', (t) => {
    if (!kernelHasTcx()) return t.skip('the kernel has no tcx (Linux < 6.6)');
    const first = load('tc');
    first.attach(ifindex);
    const ids1 = first.programIds();
    assert.deepEqual(attachedPrograms(ifindex), {
      ingress: ids1.fromPod,
      egress: ids1.toPod,
      hook: 'tc',
    });

    const second = load('tcx'); // a restarted shim: new programs, same maps
    second.attach(ifindex);
    const ids2 = second.programIds();
    assert.deepEqual(attachedPrograms(ifindex), {
      ingress: ids2.fromPod,
      egress: ids2.toPod,
      hook: 'tcx',
    });
    const a = addon();
    assert.equal(a.tcQuery(ifindex, 'ingress', 1, 1), 0, 'the tc filter is gone');

    const third = load('tcx');
    third.attach(ifindex);
    const ids3 = third.programIds();
    assert.equal(attachedPrograms(ifindex).ingress, ids3.fromPod, 'replaced in place');
    assert.equal(a.tcxQuery(ifindex, 'ingress', 'from_pod'), ids3.fromPod);

    third.detach(ifindex);
    assert.deepEqual(attachedPrograms(ifindex), { ingress: 0, egress: 0 });
    for (const d of [first, second, third]) d.close();
  });
});
