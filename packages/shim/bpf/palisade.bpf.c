// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Palisade datapath: tc (clsact) programs on the host side of each pod's veth.
 *
 *   from_pod  (tc ingress of the host veth): packets leaving the pod -> its egress policy
 *   to_pod    (tc egress of the host veth):  packets entering the pod -> its ingress policy
 *
 * For each packet (the same algorithm as packages/core/src/evaluator, which the tests
 * compare against):
 *   1. endpoint := endpoints[ifindex]; none -> drop (fail closed).
 *   2. conntrack: {dir, tuple} hit -> established; {!dir, reversed tuple} hit -> reply.
 *      A tracked packet passes, unless the policy changed since the flow was last checked
 *      (config.policy_epoch) and a deny entry now matches the flow's opening packet.
 *   3. remote := ipcache LPM lookup of the other address (world when none);
 *      v := deny > allow > redirect over two policy LPM lookups, (remote) and (any);
 *      no entry -> drop when the endpoint is isolated in this direction, else pass.
 *   4. a new flow that passes opens a conntrack entry; new flows and drops are reported
 *      as flow events (rate-limited per CPU) and every verdict is counted.
 *
 * Maps are pinned by name under the pin root the loader gives (one directory per node),
 * so they outlive the shim process and the programs keep enforcing while it is away.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include "palisade.h"

/* ICMP types used here (linux/icmp.h pulls in libc headers). */
#define ICMP_ECHOREPLY 0
#define ICMP_ECHO 8
#define ICMPV6_ECHO_REQUEST 128
#define ICMPV6_ECHO_REPLY 129

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Map sizes are defaults; the loader sets the real ones before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct ipcache_key);
	__type(value, struct ipcache_value);
	__uint(max_entries, 524288);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pal_ipcache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct policy_key);
	__type(value, struct policy_value);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pal_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct endpoint_value);
	__uint(max_entries, 4096);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pal_endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct ct_key);
	__type(value, struct ct_value);
	__uint(max_entries, 131072);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pal_conntrack SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, PAL_CNT_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pal_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct pal_config);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pal_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct pal_ratelimit);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pal_ratelimit SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pal_events SEC(".maps");

/* Connection lifetimes. */
#define CT_LIFETIME_TCP (6ULL * 3600 * 1000000000ULL)
#define CT_LIFETIME_TCP_CLOSING (10ULL * 1000000000ULL)
#define CT_LIFETIME_OTHER (60ULL * 1000000000ULL)
/* How stale last_seen may get before a packet refreshes it. */
#define CT_TOUCH_NS (1000000000ULL)

/* What the parser extracts from a packet. */
struct pkt {
	__u8 family;
	__u8 protocol;
	__u8 icmp_type;
	__u8 tcp_flags; /* bit 0 FIN, bit 2 RST (as in the TCP header) */
	__u16 sport_be;
	__u16 dport_be;
	__u16 policy_port; /* host order: destination port, or ICMP type */
	__u8 saddr[16];
	__u8 daddr[16];
};

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&pal_counters, &idx);
	if (c)
		*c += 1;
}

static __always_inline void copy16(__u8 *dst, const __u8 *src)
{
	__builtin_memcpy(dst, src, 16);
}

/* Copies len bytes at off: straight from the packet when they are in its linear part (no
 * helper call: the common case, ~25 ns less per packet), else through bpf_skb_load_bytes.
 * Returns 0, or < 0 when the packet is shorter. */
static __always_inline int load(struct __sk_buff *skb, __u32 off, void *dst, __u32 len)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	if (off <= 0xffff) {
		void *at = data + off;
		if (at + len <= end) {
			__builtin_memcpy(dst, at, len);
			return 0;
		}
	}
	return bpf_skb_load_bytes(skb, off, dst, len);
}

/* Monotonic time for conntrack and the event rate limit: the clock of the last tick
 * (bpf_ktime_get_coarse_ns, Linux >= 5.11; ~15 ns less per packet than reading the clock
 * source) where the kernel has it, else bpf_ktime_get_ns. Both count CLOCK_MONOTONIC, so
 * entries written by either compare correctly; lifetimes are seconds, a tick is <= 10 ms. */
static __always_inline __u64 coarse_now(void)
{
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_ktime_get_coarse_ns))
		return bpf_ktime_get_coarse_ns();
	return bpf_ktime_get_ns();
}

/* Returns 1 on success, 0 for a packet to pass untouched (not IP, neighbour discovery),
 * -1 when it is malformed. */
static __always_inline int parse(struct __sk_buff *skb, struct pkt *p)
{
	__u16 proto = skb->protocol;
	__u32 off = ETH_HLEN;
	__u8 nexthdr;
	int frag_nonfirst = 0;

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;
		if (load(skb, off, &ip, sizeof(ip)) < 0)
			return -1;
		if (ip.ihl < 5)
			return -1;
		p->family = 4;
		__builtin_memset(p->saddr, 0, 16);
		__builtin_memset(p->daddr, 0, 16);
		__builtin_memcpy(p->saddr, &ip.saddr, 4);
		__builtin_memcpy(p->daddr, &ip.daddr, 4);
		nexthdr = ip.protocol;
		/* Non-first fragments carry no ports: they are checked as port 0. */
		if (ip.frag_off & bpf_htons(0x1fff))
			frag_nonfirst = 1;
		off += ip.ihl * 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;
		if (load(skb, off, &ip6, sizeof(ip6)) < 0)
			return -1;
		p->family = 6;
		copy16(p->saddr, (const __u8 *)&ip6.saddr);
		copy16(p->daddr, (const __u8 *)&ip6.daddr);
		nexthdr = ip6.nexthdr;
		off += sizeof(ip6);
		/* Walk a few extension headers. */
#pragma unroll
		for (int i = 0; i < 4; i++) {
			if (nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
			    nexthdr == IPPROTO_DSTOPTS) {
				__u8 h[2];
				if (load(skb, off, h, 2) < 0)
					return -1;
				nexthdr = h[0];
				off += (h[1] + 1) * 8;
			} else if (nexthdr == IPPROTO_FRAGMENT) {
				__u8 h[4];
				if (load(skb, off, h, 4) < 0)
					return -1;
				nexthdr = h[0];
				if (((h[2] << 8) | h[3]) & 0xfff8)
					frag_nonfirst = 1;
				off += 8;
			} else {
				break;
			}
		}
	} else {
		return 0;
	}

	p->protocol = nexthdr;
	p->sport_be = 0;
	p->dport_be = 0;
	p->policy_port = 0;
	p->icmp_type = 0;
	p->tcp_flags = 0;
	if (frag_nonfirst)
		return 1;

	switch (nexthdr) {
	case IPPROTO_TCP: {
		__u8 h[14];
		if (load(skb, off, h, sizeof(h)) < 0)
			return -1;
		__builtin_memcpy(&p->sport_be, &h[0], 2);
		__builtin_memcpy(&p->dport_be, &h[2], 2);
		p->tcp_flags = h[13];
		p->policy_port = bpf_ntohs(p->dport_be);
		break;
	}
	case IPPROTO_UDP:
	case IPPROTO_SCTP: {
		__u16 ports[2];
		if (load(skb, off, ports, sizeof(ports)) < 0)
			return -1;
		p->sport_be = ports[0];
		p->dport_be = ports[1];
		p->policy_port = bpf_ntohs(p->dport_be);
		break;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		__u8 h[8];
		if (load(skb, off, h, sizeof(h)) < 0)
			return -1;
		p->icmp_type = h[0];
		p->policy_port = h[0];
		if (nexthdr == IPPROTO_ICMPV6 &&
		    ((h[0] >= 133 && h[0] <= 137) || (h[0] >= 130 && h[0] <= 132) || h[0] == 143))
			return 0; /* neighbour discovery, router messages, multicast listener (MLD) */
		/* Echo request/reply: the id stands for both ports. */
		if ((nexthdr == IPPROTO_ICMP && (h[0] == ICMP_ECHO || h[0] == ICMP_ECHOREPLY)) ||
		    (nexthdr == IPPROTO_ICMPV6 &&
		     (h[0] == ICMPV6_ECHO_REQUEST || h[0] == ICMPV6_ECHO_REPLY))) {
			__builtin_memcpy(&p->sport_be, &h[4], 2);
			p->dport_be = p->sport_be;
		}
		break;
	}
	default:
		break;
	}
	return 1;
}

static __always_inline __u32 ipcache_identity(__u8 family, const __u8 *addr)
{
	struct ipcache_key k = {};
	k.prefixlen = 32 + (family == 4 ? 32 : 128);
	k.family = family;
	copy16(k.addr_be, addr);
	struct ipcache_value *v = bpf_map_lookup_elem(&pal_ipcache, &k);
	return v ? v->identity : PAL_ID_WORLD;
}

static __always_inline int level(__u8 verdict)
{
	switch (verdict) {
	case PAL_VERDICT_DENY:
		return 3;
	case PAL_VERDICT_ALLOW:
		return 2;
	case PAL_VERDICT_REDIRECT:
		return 1;
	}
	return 0;
}

/* Two LPM lookups (remote, then any) combined deny > allow > redirect. Returns the winning
 * verdict (0 when nothing matched) and its rule reference. */
static __always_inline __u8 policy_verdict(__u32 subject, __u32 remote, __u8 dir,
					   __u8 protocol, __u16 port, __u32 *rule_ref)
{
	struct policy_key k = {};
	k.prefixlen = PAL_POLICY_PREFIX_FULL;
	k.subject = subject;
	k.remote = remote;
	k.direction = dir;
	k.protocol = protocol;
	k.port_be = bpf_htons(port);
	__u8 best = 0;
	struct policy_value *v = bpf_map_lookup_elem(&pal_policy, &k);
	if (v) {
		best = v->verdict;
		*rule_ref = v->rule_ref;
	}
	if (remote != PAL_ID_ANY) {
		k.remote = PAL_ID_ANY;
		v = bpf_map_lookup_elem(&pal_policy, &k);
		if (v && level(v->verdict) > level(best)) {
			best = v->verdict;
			*rule_ref = v->rule_ref;
		}
	}
	return best;
}

static __always_inline void ct_tuple(struct ct_key *k, const struct pkt *p, __u8 dir, int reverse)
{
	k->family = p->family;
	k->protocol = p->protocol;
	k->direction = dir;
	k->pad = 0;
	if (!reverse) {
		k->sport_be = p->sport_be;
		k->dport_be = p->dport_be;
		copy16(k->saddr_be, p->saddr);
		copy16(k->daddr_be, p->daddr);
	} else {
		k->sport_be = p->dport_be;
		k->dport_be = p->sport_be;
		copy16(k->saddr_be, p->daddr);
		copy16(k->daddr_be, p->saddr);
	}
}

static __always_inline int ct_expired(const struct ct_value *v, __u8 protocol, __u64 now)
{
	__u64 life = CT_LIFETIME_OTHER;
	if (protocol == IPPROTO_TCP)
		life = (v->flags & (PAL_CT_TCP_FIN_SEEN | PAL_CT_TCP_RST_SEEN)) ?
			       CT_LIFETIME_TCP_CLOSING :
			       CT_LIFETIME_TCP;
	return now > v->last_seen_ns && now - v->last_seen_ns > life;
}

static __always_inline int take_token(const struct pal_config *cfg, __u64 now)
{
	__u32 zero = 0;
	struct pal_ratelimit *rl = bpf_map_lookup_elem(&pal_ratelimit, &zero);
	if (!rl || cfg->events_per_sec == 0)
		return 0;
	__u64 cap = (__u64)(cfg->events_burst ? cfg->events_burst : 1) * 1000000000ULL;
	__u64 elapsed = now - rl->last_ns;
	if (elapsed > 10ULL * 1000000000ULL)
		elapsed = 10ULL * 1000000000ULL;
	__u64 t = rl->tokens_ns + elapsed * cfg->events_per_sec;
	if (t > cap)
		t = cap;
	rl->last_ns = now;
	if (t < 1000000000ULL) {
		rl->tokens_ns = t;
		return 0;
	}
	rl->tokens_ns = t - 1000000000ULL;
	return 1;
}

static __always_inline void emit(const struct pal_config *cfg, struct __sk_buff *skb,
				 const struct pkt *p, __u8 dir, __u32 subject, __u32 remote,
				 __u32 rule_ref, __u8 verdict, __u8 reason, __u64 now)
{
	if (!cfg || !take_token(cfg, now)) {
		count(PAL_CNT_EVENTS_RATE_LIMITED);
		return;
	}
	struct flow_event *e = bpf_ringbuf_reserve(&pal_events, sizeof(*e), 0);
	if (!e) {
		count(PAL_CNT_EVENTS_LOST);
		return;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->ifindex = skb->ifindex;
	e->subject = subject;
	e->remote = remote;
	e->rule_ref = rule_ref;
	e->family = p->family;
	e->protocol = p->protocol;
	e->direction = dir;
	e->verdict = verdict;
	e->reason = reason;
	e->icmp_type = p->icmp_type;
	e->pad = 0;
	e->sport_be = p->sport_be;
	e->dport_be = p->dport_be;
	copy16(e->saddr_be, p->saddr);
	copy16(e->daddr_be, p->daddr);
	bpf_ringbuf_submit(e, 0);
	count(PAL_CNT_EVENTS_SENT);
}

static __always_inline int handle(struct __sk_buff *skb, __u8 dir)
{
	struct pkt p = {};
	int r = parse(skb, &p);
	if (r == 0) {
		count(PAL_CNT_PASS_CONTROL);
		return TC_ACT_OK;
	}
	if (r < 0) {
		count(PAL_CNT_DROP_MALFORMED);
		return TC_ACT_SHOT;
	}

	__u64 now = coarse_now();
	__u32 zero = 0;
	struct pal_config *cfg = bpf_map_lookup_elem(&pal_config, &zero);
	__u32 epoch = cfg ? cfg->policy_epoch : 0;
	/* The other end: the destination of a packet leaving the pod, else the source. */
	const __u8 *other = dir == PAL_DIR_EGRESS ? p.daddr : p.saddr;

	__u32 ifindex = skb->ifindex;
	struct endpoint_value *ep = bpf_map_lookup_elem(&pal_endpoints, &ifindex);
	if (!ep) {
		count(PAL_CNT_DROP_NO_ENDPOINT);
		emit(cfg, skb, &p, dir, 0, 0, 0, PAL_VERDICT_DENY, PAL_REASON_NO_ENDPOINT, now);
		return TC_ACT_SHOT;
	}
	__u32 subject = ep->identity;
	if (ep->flags & PAL_EP_NOT_READY) {
		count(PAL_CNT_DROP_NOT_READY);
		emit(cfg, skb, &p, dir, subject, 0, 0, PAL_VERDICT_DENY, PAL_REASON_NOT_READY, now);
		return TC_ACT_SHOT;
	}

	/* Connection tracking. */
	struct ct_key ck;
	int reply = 0;
	ct_tuple(&ck, &p, dir, 0);
	struct ct_value *ct = bpf_map_lookup_elem(&pal_conntrack, &ck);
	if (!ct) {
		ct_tuple(&ck, &p, dir ^ 1, 1);
		ct = bpf_map_lookup_elem(&pal_conntrack, &ck);
		reply = 1;
	}
	if (ct && ct_expired(ct, p.protocol, now)) {
		bpf_map_delete_elem(&pal_conntrack, &ck);
		ct = NULL;
	}
	if (ct) {
		if (ct->policy_epoch != epoch) {
			/* Policy changed: only a deny on the flow's opening packet cuts it. */
			__u8 odir = reply ? dir ^ 1 : dir;
			__u32 remote = ipcache_identity(p.family, other);
			__u32 ref = 0;
			__u8 v = policy_verdict(subject, remote, odir, p.protocol, ct->policy_port,
						&ref);
			if (v == PAL_VERDICT_DENY) {
				bpf_map_delete_elem(&pal_conntrack, &ck);
				count(PAL_CNT_DROP_ESTABLISHED_DENY);
				emit(cfg, skb, &p, dir, subject, remote, ref, PAL_VERDICT_DENY,
				     PAL_REASON_POLICY_DENY, now);
				return TC_ACT_SHOT;
			}
			ct->policy_epoch = epoch;
		}
		/* Writes to the shared entry only when something changes (at most every
		 * CT_TOUCH_NS for the timestamp): a write per packet bounces the cache line
		 * between CPUs. */
		if (now > ct->last_seen_ns + CT_TOUCH_NS)
			ct->last_seen_ns = now;
		if (p.protocol == IPPROTO_TCP && (p.tcp_flags & 0x05)) {
			if (p.tcp_flags & 0x01)
				ct->flags |= PAL_CT_TCP_FIN_SEEN;
			if (p.tcp_flags & 0x04)
				ct->flags |= PAL_CT_TCP_RST_SEEN;
		}
		if (reply) {
			if (!(ct->flags & PAL_CT_REPLY_SEEN))
				ct->flags |= PAL_CT_REPLY_SEEN;
			count(PAL_CNT_PASS_REPLY);
		} else {
			count(PAL_CNT_PASS_ESTABLISHED);
		}
		return TC_ACT_OK;
	}

	/* A new flow: policy. */
	__u32 remote = ipcache_identity(p.family, other);
	__u32 ref = 0;
	__u8 v = policy_verdict(subject, remote, dir, p.protocol, p.policy_port, &ref);
	__u8 reason;
	if (v == PAL_VERDICT_DENY) {
		count(PAL_CNT_DROP_POLICY_DENY);
		emit(cfg, skb, &p, dir, subject, remote, ref, PAL_VERDICT_DENY,
		     PAL_REASON_POLICY_DENY, now);
		return TC_ACT_SHOT;
	}
	if (v == PAL_VERDICT_ALLOW) {
		reason = PAL_REASON_POLICY_ALLOW;
	} else if (v == PAL_VERDICT_REDIRECT) {
		reason = PAL_REASON_POLICY_REDIRECT;
		count(PAL_CNT_PASS_REDIRECT);
	} else {
		__u32 iso = dir == PAL_DIR_EGRESS ? PAL_EP_EGRESS_ISOLATED : PAL_EP_INGRESS_ISOLATED;
		if (ep->flags & iso) {
			count(PAL_CNT_DROP_DEFAULT_DENY);
			emit(cfg, skb, &p, dir, subject, remote, 0, PAL_VERDICT_DENY,
			     PAL_REASON_DEFAULT_DENY, now);
			return TC_ACT_SHOT;
		}
		reason = PAL_REASON_NOT_ISOLATED;
	}

	struct ct_value nv = {};
	nv.created_ns = now;
	nv.last_seen_ns = now;
	nv.policy_epoch = epoch;
	nv.rule_ref = ref;
	nv.remote = remote;
	nv.policy_port = p.policy_port;
	if (p.protocol == IPPROTO_TCP && (p.tcp_flags & 0x04))
		nv.flags |= PAL_CT_TCP_RST_SEEN;
	ct_tuple(&ck, &p, dir, 0);
	bpf_map_update_elem(&pal_conntrack, &ck, &nv, BPF_ANY);
	count(PAL_CNT_PASS_NEW);
	emit(cfg, skb, &p, dir, subject, remote, ref,
	     v == PAL_VERDICT_REDIRECT ? PAL_VERDICT_REDIRECT : PAL_VERDICT_ALLOW, reason, now);
	return TC_ACT_OK;
}

SEC("tc")
int from_pod(struct __sk_buff *skb)
{
	return handle(skb, PAL_DIR_EGRESS);
}

SEC("tc")
int to_pod(struct __sk_buff *skb)
{
	return handle(skb, PAL_DIR_INGRESS);
}

/*
 * Anchors the ring buffer's event layout in the object's BTF (ring buffers carry no value
 * type), so the layout test can check the TypeScript codec against it. Never loaded.
 */
struct flow_event *pal_layout_flow_event __attribute__((section(".layout"), used));
