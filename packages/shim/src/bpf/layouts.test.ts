import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { addon, ADDON_PATH, BPF_OBJECT_PATH } from '../native/addon.js';
import {
  FIELD_OFFSETS,
  LAYOUTS,
  ipcacheKey,
  policyKey,
  policyValue,
  flowEvent,
  POLICY_PREFIX_ANY_PROTO,
  POLICY_PREFIX_FULL,
} from './layouts.js';

const built = existsSync(ADDON_PATH) && existsSync(BPF_OBJECT_PATH);

describe('binary layouts match the C structs (BTF of the built object)', () => {
  it(
    'every codec has the size of the struct it mirrors',
    { skip: !built && 'native parts not built' },
    () => {
      for (const l of LAYOUTS) {
        const s = addon().btfStruct(BPF_OBJECT_PATH, l.struct);
        assert.ok(s, `struct ${l.struct} is in the object's BTF`);
        assert.equal(l.size, s.size, `sizeof(struct ${l.struct})`);
      }
    },
  );

  it(
    'every field a codec reads or writes is at the C offset',
    { skip: !built && 'native parts not built' },
    () => {
      for (const [struct, fields] of Object.entries(FIELD_OFFSETS)) {
        const s = addon().btfStruct(BPF_OBJECT_PATH, struct);
        assert.ok(s, struct);
        for (const [name, off] of Object.entries(fields)) {
          const m: { name: string; offset: number } | undefined = s.members.find(
            (x) => x.name === name,
          );
          assert.ok(m, `${struct}.${name} exists`);
          assert.equal(off, m.offset, `offsetof(${struct}, ${name})`);
        }
      }
    },
  );
});

describe('codecs', () => {
  it('policy keys: prefix length says which fields match', () => {
    const b = Buffer.alloc(policyKey.size);
    policyKey.encode(b, 0, {
      subject: 300,
      remote: 0,
      direction: 1,
      protocol: 0,
      port: 0,
      portPrefixLen: 0,
    });
    assert.equal(b.readUInt32LE(0), POLICY_PREFIX_ANY_PROTO);
    policyKey.encode(b, 0, {
      subject: 300,
      remote: 7,
      direction: 0,
      protocol: 6,
      port: 8080,
      portPrefixLen: 16,
    });
    assert.equal(b.readUInt32LE(0), POLICY_PREFIX_FULL);
    assert.equal(b.readUInt16BE(14), 8080, 'port in network order');
    assert.deepEqual(policyKey.decode(b, 0), {
      subject: 300,
      remote: 7,
      direction: 0,
      protocol: 6,
      port: 8080,
      portPrefixLen: 16,
    });
  });

  it('ipcache keys carry family, address bytes in network order, and 32 + prefix length', () => {
    const b = Buffer.alloc(ipcacheKey.size);
    ipcacheKey.encode(b, 0, 4, 0x0a000102n, 24);
    assert.equal(b.readUInt32LE(0), 56);
    assert.deepEqual([...b.subarray(8, 12)], [10, 0, 1, 2]);
    assert.deepEqual(ipcacheKey.decode(b, 0), { family: 4, addr: 0x0a000102n, prefixLen: 24 });
    ipcacheKey.encode(b, 0, 6, 0xfd000000000000000000000000000001n, 128);
    assert.equal(b[8], 0xfd);
    assert.equal(b[23], 1);
  });

  it('policy values round-trip', () => {
    const b = Buffer.alloc(policyValue.size);
    policyValue.encode(b, 0, 3, 0xdeadbeef, 15001);
    assert.deepEqual(policyValue.decode(b, 0), {
      verdict: 3,
      proxyPort: 15001,
      ruleRef: 0xdeadbeef,
    });
  });

  it('flow events decode addresses, ports and reasons', () => {
    const b = Buffer.alloc(flowEvent.size);
    b.writeBigUInt64LE(5n, 0);
    b.writeUInt32LE(9, 8);
    b.writeUInt32LE(256, 12);
    b.writeUInt32LE(2, 16);
    b.writeUInt32LE(77, 20);
    b[24] = 4;
    b[25] = 17;
    b[26] = 1;
    b[27] = 2;
    b[28] = 5;
    b.writeUInt16BE(40000, 32);
    b.writeUInt16BE(53, 34);
    Buffer.from([10, 1, 0, 5]).copy(b, 36);
    Buffer.from([8, 8, 8, 8]).copy(b, 52);
    const e = flowEvent.decode(b);
    assert.equal(e.src, '10.1.0.5');
    assert.equal(e.dst, '8.8.8.8');
    assert.equal(e.direction, 'egress');
    assert.equal(e.verdict, 'deny');
    assert.equal(e.reason, 'default-deny');
    assert.equal(e.srcPort, 40000);
    assert.equal(e.dstPort, 53);
    assert.equal(e.ruleRef, 77);
  });
});
