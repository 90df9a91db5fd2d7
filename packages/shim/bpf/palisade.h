/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Palisade datapath: the one definition of every map key, value and event layout.
 *
 * The TypeScript codecs in packages/shim/src/bpf/layouts.ts mirror these structs field by
 * field (each names the struct it mirrors) and a test checks their sizes against the
 * sizes compiled into the object file (BTF). Byte order shows in field names: `_be` is
 * network (big-endian) order; every other multi-byte field is in host order.
 */
#ifndef PALISADE_H
#define PALISADE_H

#include <linux/types.h>

/* Direction, from the endpoint's point of view. */
#define PAL_DIR_INGRESS 0
#define PAL_DIR_EGRESS 1

/* Policy verdicts in policy_value.verdict. 0 never appears in the map. */
#define PAL_VERDICT_ALLOW 1
#define PAL_VERDICT_DENY 2
#define PAL_VERDICT_REDIRECT 3

/* endpoint_value.flags */
#define PAL_EP_INGRESS_ISOLATED (1u << 0)
#define PAL_EP_EGRESS_ISOLATED (1u << 1)
/* The endpoint's identity is not known yet: all its traffic is dropped (fail closed). */
#define PAL_EP_NOT_READY (1u << 2)

/* Reserved identities (design brief section 2). */
#define PAL_ID_ANY 0
#define PAL_ID_WORLD 2

/* Why a packet got its verdict: flow_event.reason. */
enum pal_reason {
	PAL_REASON_NONE = 0,
	PAL_REASON_NOT_ISOLATED = 1,   /* no entry, endpoint not isolated in this direction */
	PAL_REASON_POLICY_ALLOW = 2,   /* an allow entry matched */
	PAL_REASON_POLICY_REDIRECT = 3, /* an L7 redirect entry matched (passed at L4) */
	PAL_REASON_POLICY_DENY = 4,    /* a deny entry matched */
	PAL_REASON_DEFAULT_DENY = 5,   /* no entry, endpoint isolated in this direction */
	PAL_REASON_ESTABLISHED = 6,    /* part of a tracked connection */
	PAL_REASON_NO_ENDPOINT = 7,    /* the device is not a known endpoint */
	PAL_REASON_NOT_READY = 8,      /* the endpoint has no identity yet */
};

/* Indexes of the per-CPU counters. */
enum pal_counter {
	PAL_CNT_PASS_NEW = 0,        /* first packet of a flow, allowed (any reason) */
	PAL_CNT_PASS_ESTABLISHED = 1, /* later packet of a tracked flow, original direction */
	PAL_CNT_PASS_REPLY = 2,      /* later packet of a tracked flow, reply direction */
	PAL_CNT_PASS_REDIRECT = 3,   /* allowed by an L7 redirect entry (also counted as new) */
	PAL_CNT_PASS_CONTROL = 4,    /* not IP, or IPv6 neighbour discovery */
	PAL_CNT_DROP_POLICY_DENY = 5,
	PAL_CNT_DROP_DEFAULT_DENY = 6,
	PAL_CNT_DROP_ESTABLISHED_DENY = 7, /* a tracked flow cut by a new deny */
	PAL_CNT_DROP_NO_ENDPOINT = 8,
	PAL_CNT_DROP_NOT_READY = 9,
	PAL_CNT_DROP_MALFORMED = 10,
	PAL_CNT_EVENTS_SENT = 11,
	PAL_CNT_EVENTS_RATE_LIMITED = 12,
	PAL_CNT_EVENTS_LOST = 13, /* ring buffer full */
	PAL_CNT_MAX = 16,
};

/*
 * ipcache: LPM trie, address prefix -> identity. `prefixlen` counts the bits matched after
 * the field itself: 32 for family and pad, then the address prefix (so /24 -> 56).
 */
struct ipcache_key {
	__u32 prefixlen;
	__u8 family; /* 4 or 6 */
	__u8 pad[3];
	__u8 addr_be[16]; /* IPv4 in the first 4 bytes */
};

struct ipcache_value {
	__u32 identity;
	__u32 flags; /* reserved, 0 */
};

/*
 * policy: LPM trie. Exact on (subject, remote, direction); then protocol (8 bits) and a
 * prefix of the 16-bit port: prefixlen = 72 (any protocol), 80 (protocol, any port) or
 * 80 + n (first n bits of the port). For ICMP the "port" is the ICMP type.
 */
struct policy_key {
	__u32 prefixlen;
	__u32 subject; /* identity of the local endpoint */
	__u32 remote;  /* identity of the other end; 0 = any */
	__u8 direction;
	__u8 protocol; /* IANA number */
	__u16 port_be;
};

#define PAL_POLICY_PREFIX_ANY_PROTO 72
#define PAL_POLICY_PREFIX_FULL 96

struct policy_value {
	__u8 verdict; /* PAL_VERDICT_* */
	__u8 flags;   /* reserved, 0 */
	__u16 proxy_port_be; /* for redirect: the L7 proxy's port, 0 = none on this node */
	__u32 rule_ref; /* the shim's reference to the rules that decided (for flow events) */
};

/* endpoints: hash, ifindex of the pod's host-side veth -> endpoint. */
struct endpoint_value {
	__u32 identity;
	__u32 flags; /* PAL_EP_* */
};

/*
 * conntrack: LRU hash. The key is the tuple of the packet that opened the flow, with the
 * direction in which the endpoint's policy allowed it. A packet at a hook of direction d
 * is "established" when {d, tuple} exists and a "reply" when {!d, reversed tuple} does.
 * ICMP echo uses the echo id as both ports.
 */
struct ct_key {
	__u8 family;
	__u8 protocol;
	__u8 direction;
	__u8 pad;
	__u16 sport_be;
	__u16 dport_be;
	__u8 saddr_be[16];
	__u8 daddr_be[16];
};

#define PAL_CT_TCP_FIN_SEEN (1u << 0)
#define PAL_CT_TCP_RST_SEEN (1u << 1)
#define PAL_CT_REPLY_SEEN (1u << 2)

struct ct_value {
	__u64 created_ns;
	__u64 last_seen_ns;
	__u32 flags; /* PAL_CT_* */
	__u32 policy_epoch; /* config.policy_epoch when the flow was last checked for deny */
	__u32 rule_ref;
	__u32 remote; /* remote identity when opened */
	__u16 policy_port; /* the port (or ICMP type) the opening packet was checked with */
	__u16 pad;
	__u32 pad2;
};

/* config: array of one. Written by the shim. */
struct pal_config {
	__u32 policy_epoch; /* bumped by the shim after every policy change */
	__u32 events_per_sec; /* flow events per second per CPU; 0 = none */
	__u32 events_burst;
	__u32 flags; /* reserved, 0 */
};

/* Per-CPU token bucket for flow events. */
struct pal_ratelimit {
	__u64 tokens_ns; /* tokens, in nanoseconds' worth of rate (one event = 1e9) */
	__u64 last_ns;
};

/* A flow event in the ring buffer: a new flow allowed, or a packet dropped. */
struct flow_event {
	__u64 ts_ns;
	__u32 ifindex;
	__u32 subject;
	__u32 remote;
	__u32 rule_ref;
	__u8 family;
	__u8 protocol;
	__u8 direction;
	__u8 verdict; /* PAL_VERDICT_ALLOW, PAL_VERDICT_DENY or PAL_VERDICT_REDIRECT */
	__u8 reason;  /* enum pal_reason */
	__u8 icmp_type;
	__u16 pad;
	__u16 sport_be;
	__u16 dport_be;
	__u8 saddr_be[16];
	__u8 daddr_be[16];
};

#endif
