/*
 * palisade-probe-agent: a traffic generator and responder for privileged datapath tests.
 *
 * Started inside a network namespace (`ip netns exec <ns> palisade-probe-agent`), it reads
 * one command per line on stdin and writes exactly one JSON line per command on stdout.
 *
 *   hello                                              -> {"ok":true,"agent":...,"version":1}
 *   serve <tcp|udp|sctp> <port>                        -> {"ok":true}
 *   probe <tcp|udp|sctp|icmp> <dst> <port> <timeout_ms> [src_port]
 *                                                      -> {"ok":true,"ms":1.234}
 *   stream <udp|tcp> <dst> <port> <count> <interval_us> [timeout_ms]
 *                                                      -> {"ok":true,"sent":N,"received":M,"lost":[..]}
 *   flood udp <dst> <port> <seconds> <payload_bytes>   -> {"ok":true,"sent":N,"seconds":S}
 *   count udp <port>  (serve in counting mode: no echo) -> {"ok":true}
 *   counted <port>                                     -> {"ok":true,"received":N}
 *   quit                                               -> {"ok":true}, then exit 0
 *
 * Failures are {"ok":false,"error":"..."}. Serving runs in a second thread (one poll loop over
 * every listening socket), so probes never block serving. Commands run one at a time.
 *
 * SCTP needs no kernel SCTP support: both sides use raw IPPROTO_SCTP sockets. The client sends
 * a well-formed INIT (verification tag 0, random initiate tag, CRC32c); the responder answers
 * every INIT addressed to a served port with the same bytes, ports swapped, chunk type changed
 * to INIT ACK and the verification tag set to the INIT's initiate tag (what a real SCTP stack
 * would put there). It never answers packets whose verification tag is non-zero, so two
 * responders cannot ping-pong and a responder never answers replies (its own or others').
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif

#define AGENT_VERSION 1
#define MAX_LOST_REPORTED 20
#define SCTP_CHUNK_INIT 1
#define SCTP_CHUNK_INIT_ACK 2
#define SCTP_CHUNK_ABORT 6

/* ------------------------------------------------------------------------------------------ */
/* small helpers                                                                               */

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint32_t rnd32(void) {
    uint32_t v;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) v = (uint32_t)now_ns() ^ (uint32_t)getpid();
    return v;
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t rd32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static void wr16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Waits until fd has one of `events` or the deadline passes. >0: revents, 0: timeout, -1: error. */
static int wait_fd(int fd, short events, int64_t deadline) {
    for (;;) {
        int64_t left = deadline - now_ns();
        if (left <= 0) return 0;
        struct timespec ts = {.tv_sec = left / 1000000000LL, .tv_nsec = left % 1000000000LL};
        struct pollfd p = {.fd = fd, .events = events};
        int r = ppoll(&p, 1, &ts, NULL);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) return 0;
        return p.revents;
    }
}

static const char *errname(int e) {
    switch (e) {
    case ECONNREFUSED: return "refused";
    case ETIMEDOUT: return "timeout";
    case ECONNRESET: return "reset";
    case EPIPE: return "reset";
    case EHOSTUNREACH: return "host unreachable";
    case ENETUNREACH: return "network unreachable";
    case EADDRINUSE: return "address in use";
    case EADDRNOTAVAIL: return "address not available";
    case EACCES: return "permission denied";
    case EPERM: return "operation not permitted";
    default: return strerror(e);
    }
}

/* CRC32c (Castagnoli, reflected 0x82F63B78), as used by SCTP (RFC 9260 appendix A). */
static uint32_t crc32c_tab[256];
static void crc32c_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc32c_tab[i] = c;
    }
}
static uint32_t crc32c(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    while (n--) c = crc32c_tab[(c ^ *p++) & 0xFF] ^ (c >> 8);
    return ~c;
}
/* The checksum field (bytes 8..11) holds the CRC least significant byte first. */
static void sctp_set_cksum(uint8_t *p, size_t n) {
    memset(p + 8, 0, 4);
    uint32_t c = crc32c(p, n);
    p[8] = (uint8_t)c;
    p[9] = (uint8_t)(c >> 8);
    p[10] = (uint8_t)(c >> 16);
    p[11] = (uint8_t)(c >> 24);
}
static int sctp_cksum_ok(uint8_t *p, size_t n) {
    uint8_t saved[4];
    memcpy(saved, p + 8, 4);
    sctp_set_cksum(p, n);
    int ok = memcmp(saved, p + 8, 4) == 0;
    memcpy(p + 8, saved, 4);
    return ok;
}

static uint16_t inet_cksum(const uint8_t *p, size_t n) {
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2) s += (uint32_t)((p[i] << 8) | p[i + 1]);
    if (n & 1) s += (uint32_t)(p[n - 1] << 8);
    while (s >> 16) s = (s & 0xFFFF) + (s >> 16);
    return (uint16_t)~s;
}

/* ------------------------------------------------------------------------------------------ */
/* JSON output (main thread only)                                                              */

struct jb {
    char b[8192];
    size_t n;
};

static void jb_add(struct jb *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jb_add(struct jb *j, const char *fmt, ...) {
    if (j->n >= sizeof j->b - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(j->b + j->n, sizeof j->b - j->n, fmt, ap);
    va_end(ap);
    if (r < 0) return;
    j->n += (size_t)r < sizeof j->b - j->n ? (size_t)r : sizeof j->b - j->n - 1;
}

static void jb_str(struct jb *j, const char *s) {
    jb_add(j, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') jb_add(j, "\\%c", c);
        else if (c < 0x20) jb_add(j, "\\u%04x", c);
        else jb_add(j, "%c", c);
    }
    jb_add(j, "\"");
}

static void jb_emit(struct jb *j) {
    j->b[j->n] = 0;
    if (fputs(j->b, stdout) == EOF || fputc('\n', stdout) == EOF || fflush(stdout) == EOF) exit(1);
}

static void reply_ok(void) {
    struct jb j = {0};
    jb_add(&j, "{\"ok\":true}");
    jb_emit(&j);
}

static void reply_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply_err(const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct jb j = {0};
    jb_add(&j, "{\"ok\":false,\"error\":");
    jb_str(&j, msg);
    jb_add(&j, "}");
    jb_emit(&j);
}

/* ------------------------------------------------------------------------------------------ */
/* addresses                                                                                   */

struct addr {
    struct sockaddr_storage ss;
    socklen_t len;
    int family;
};

/* IPv6 when the text contains ':' (optionally with %scope), IPv4 dotted quad otherwise. */
static int parse_ip(const char *s, uint16_t port, struct addr *a) {
    memset(a, 0, sizeof *a);
    if (strchr(s, ':')) {
        char tmp[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
        if (strlen(s) >= sizeof tmp) return -1;
        strcpy(tmp, s);
        uint32_t scope = 0;
        char *pct = strchr(tmp, '%');
        if (pct) {
            *pct++ = 0;
            scope = if_nametoindex(pct);
            if (!scope) {
                char *end;
                unsigned long v = strtoul(pct, &end, 10);
                if (*pct == 0 || *end != 0 || v == 0 || v > UINT32_MAX) return -1;
                scope = (uint32_t)v;
            }
        }
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
        if (inet_pton(AF_INET6, tmp, &s6->sin6_addr) != 1) return -1;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        s6->sin6_scope_id = scope;
        a->len = sizeof *s6;
        a->family = AF_INET6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
        if (inet_pton(AF_INET, s, &s4->sin_addr) != 1) return -1;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        a->len = sizeof *s4;
        a->family = AF_INET;
    }
    return 0;
}

static uint16_t ss_port(const struct sockaddr_storage *ss) {
    if (ss->ss_family == AF_INET) return ntohs(((const struct sockaddr_in *)ss)->sin_port);
    if (ss->ss_family == AF_INET6) return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    return 0;
}

/* Same IP address (ports and scope ignored). */
static int same_ip(const struct sockaddr_storage *x, const struct addr *a) {
    if (x->ss_family != a->family) return 0;
    if (a->family == AF_INET)
        return ((const struct sockaddr_in *)x)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr;
    return memcmp(&((const struct sockaddr_in6 *)x)->sin6_addr,
                  &((const struct sockaddr_in6 *)&a->ss)->sin6_addr, 16) == 0;
}

static void any_addr(int family, uint16_t port, struct addr *a) {
    memset(a, 0, sizeof *a);
    a->family = family;
    if (family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        s4->sin_addr.s_addr = htonl(INADDR_ANY);
        a->len = sizeof *s4;
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        s6->sin6_addr = in6addr_any;
        a->len = sizeof *s6;
    }
}

static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out) {
    if (!s || !*s || *s == '-' || *s == '+') return -1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* server thread                                                                               */

enum kind { K_LISTEN, K_CONN, K_UDP, K_SCTP };

struct sfd {
    int fd;
    enum kind kind;
    int family;
    uint16_t port;
    uint8_t *pend; /* K_CONN: echo bytes the socket did not take yet */
    size_t pend_len, pend_off;
};

enum { UDP_NONE = 0, UDP_ECHO = 1, UDP_COUNT = 2 };
static _Atomic uint8_t udp_mode[65536];
static _Atomic uint64_t udp_count[65536];
static _Atomic uint8_t sctp_served[65536];

static pthread_mutex_t pend_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sfd *pend_v;
static size_t pend_n, pend_cap;
static int wake_fd = -1;

static struct {
    struct sfd *v;
    size_t n, cap;
} S; /* owned by the server thread */

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "palisade-probe-agent: out of memory\n");
        exit(2);
    }
    return q;
}

static void sv_append(struct sfd e) {
    if (S.n == S.cap) {
        S.cap = S.cap ? S.cap * 2 : 16;
        S.v = xrealloc(S.v, S.cap * sizeof *S.v);
    }
    S.v[S.n++] = e;
}

/* Main thread: passes a ready socket to the server thread. */
static void hand_over(int fd, enum kind kind, int family, uint16_t port) {
    pthread_mutex_lock(&pend_mu);
    if (pend_n == pend_cap) {
        pend_cap = pend_cap ? pend_cap * 2 : 16;
        pend_v = xrealloc(pend_v, pend_cap * sizeof *pend_v);
    }
    pend_v[pend_n++] = (struct sfd){.fd = fd, .kind = kind, .family = family, .port = port};
    pthread_mutex_unlock(&pend_mu);
    uint64_t one = 1;
    if (write(wake_fd, &one, sizeof one) < 0) perror("palisade-probe-agent: wake");
}

static void sv_close(size_t i) {
    close(S.v[i].fd);
    free(S.v[i].pend);
    S.v[i].pend = NULL;
    S.v[i].fd = -1;
}

static void on_listen(size_t i) {
    for (int k = 0; k < 64; k++) {
        int c = accept4(S.v[i].fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) return;
        sv_append((struct sfd){.fd = c, .kind = K_CONN, .family = S.v[i].family, .port = S.v[i].port});
    }
}

static uint8_t sbuf[65536]; /* server thread scratch */

static void on_conn(size_t i, short rev) {
    struct sfd *c = &S.v[i];
    if (c->pend) {
        if (!(rev & POLLOUT)) {
            if (rev & (POLLERR | POLLHUP | POLLNVAL)) sv_close(i);
            return;
        }
        ssize_t w = send(c->fd, c->pend + c->pend_off, c->pend_len - c->pend_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno != EAGAIN && errno != EINTR) sv_close(i);
            return;
        }
        c->pend_off += (size_t)w;
        if (c->pend_off == c->pend_len) {
            free(c->pend);
            c->pend = NULL;
        }
        return;
    }
    for (int k = 0; k < 16; k++) {
        ssize_t r = recv(c->fd, sbuf, sizeof sbuf, MSG_DONTWAIT);
        if (r == 0) {
            sv_close(i);
            return;
        }
        if (r < 0) {
            if (errno != EAGAIN && errno != EINTR) sv_close(i);
            return;
        }
        ssize_t w = send(c->fd, sbuf, (size_t)r, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                sv_close(i);
                return;
            }
            w = 0;
        }
        if (w < r) {
            c->pend_len = (size_t)(r - w);
            c->pend_off = 0;
            c->pend = xrealloc(NULL, c->pend_len);
            memcpy(c->pend, sbuf + w, c->pend_len);
            return;
        }
    }
}

#define UDP_BATCH 32
static void on_udp_count(size_t i) {
    static uint8_t bufs[UDP_BATCH][64];
    struct mmsghdr m[UDP_BATCH];
    struct iovec iov[UDP_BATCH];
    for (int k = 0; k < 32; k++) {
        memset(m, 0, sizeof m);
        for (int b = 0; b < UDP_BATCH; b++) {
            iov[b] = (struct iovec){.iov_base = bufs[b], .iov_len = sizeof bufs[b]};
            m[b].msg_hdr.msg_iov = &iov[b];
            m[b].msg_hdr.msg_iovlen = 1;
        }
        int r = recvmmsg(S.v[i].fd, m, UDP_BATCH, MSG_DONTWAIT, NULL);
        if (r <= 0) return;
        atomic_fetch_add(&udp_count[S.v[i].port], (uint64_t)r);
    }
}

static void on_udp(size_t i) {
    struct sfd *u = &S.v[i];
    if (atomic_load(&udp_mode[u->port]) == UDP_COUNT) {
        on_udp_count(i);
        return;
    }
    for (int k = 0; k < 64; k++) {
        struct sockaddr_storage from;
        union {
            char b[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo))];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = {.iov_base = sbuf, .iov_len = sizeof sbuf};
        struct msghdr mh = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov,
                            .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b};
        ssize_t r = recvmsg(u->fd, &mh, MSG_DONTWAIT);
        if (r < 0) return;
        if (atomic_load(&udp_mode[u->port]) == UDP_COUNT) {
            atomic_fetch_add(&udp_count[u->port], 1);
            continue;
        }
        /* Reply from the address the datagram was sent to. */
        union {
            char b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
            struct cmsghdr align;
        } out;
        memset(&out, 0, sizeof out);
        size_t outlen = 0;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
            if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
                struct in_pktinfo in;
                memcpy(&in, CMSG_DATA(cm), sizeof in);
                struct in_pktinfo pi = {.ipi_spec_dst = in.ipi_spec_dst};
                struct cmsghdr *oc = (struct cmsghdr *)out.b;
                oc->cmsg_level = IPPROTO_IP;
                oc->cmsg_type = IP_PKTINFO;
                oc->cmsg_len = CMSG_LEN(sizeof pi);
                memcpy(CMSG_DATA(oc), &pi, sizeof pi);
                outlen = CMSG_SPACE(sizeof pi);
            } else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
                struct in6_pktinfo in;
                memcpy(&in, CMSG_DATA(cm), sizeof in);
                if (IN6_IS_ADDR_MULTICAST(&in.ipi6_addr)) continue;
                struct in6_pktinfo pi = {.ipi6_addr = in.ipi6_addr, .ipi6_ifindex = 0};
                if (IN6_IS_ADDR_LINKLOCAL(&in.ipi6_addr)) pi.ipi6_ifindex = in.ipi6_ifindex;
                struct cmsghdr *oc = (struct cmsghdr *)out.b;
                oc->cmsg_level = IPPROTO_IPV6;
                oc->cmsg_type = IPV6_PKTINFO;
                oc->cmsg_len = CMSG_LEN(sizeof pi);
                memcpy(CMSG_DATA(oc), &pi, sizeof pi);
                outlen = CMSG_SPACE(sizeof pi);
            }
        }
        struct iovec oiov = {.iov_base = sbuf, .iov_len = (size_t)r};
        struct msghdr om = {.msg_name = &from, .msg_namelen = mh.msg_namelen, .msg_iov = &oiov,
                            .msg_iovlen = 1, .msg_control = outlen ? out.b : NULL, .msg_controllen = outlen};
        sendmsg(u->fd, &om, MSG_DONTWAIT);
    }
}

static void on_sctp(size_t i) {
    static uint8_t rbuf[65536];
    struct sfd *s = &S.v[i];
    for (int k = 0; k < 64; k++) {
        struct sockaddr_storage from;
        union {
            char b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = {.iov_base = sbuf, .iov_len = sizeof sbuf};
        struct msghdr mh = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov,
                            .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b};
        ssize_t n = recvmsg(s->fd, &mh, MSG_DONTWAIT);
        if (n < 0) return;
        uint8_t *p;
        size_t len;
        struct in_addr dst4 = {0};
        struct in6_addr dst6 = IN6ADDR_ANY_INIT;
        int have_dst6 = 0;
        if (s->family == AF_INET) {
            /* IPv4 raw sockets see the IP header. */
            if (n < 20) continue;
            size_t ihl = (size_t)(sbuf[0] & 0x0F) * 4;
            size_t tot = rd16(sbuf + 2);
            if (sbuf[9] != IPPROTO_SCTP || ihl < 20 || (size_t)n < ihl) continue;
            if (tot > (size_t)n || tot < ihl) tot = (size_t)n;
            memcpy(&dst4, sbuf + 16, 4);
            p = sbuf + ihl;
            len = tot - ihl;
        } else {
            p = sbuf;
            len = (size_t)n;
            for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
                if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
                    struct in6_pktinfo pi;
                    memcpy(&pi, CMSG_DATA(cm), sizeof pi);
                    dst6 = pi.ipi6_addr;
                    have_dst6 = 1;
                }
            }
        }
        if (len < 12 + 20) continue;
        uint16_t dport = rd16(p + 2);
        if (!atomic_load(&sctp_served[dport])) continue;
        /* Only INITs (vtag 0) are answered: replies carry a non-zero tag, so no loops. */
        if (rd32(p + 4) != 0 || p[12] != SCTP_CHUNK_INIT || rd16(p + 14) < 20) continue;
        uint32_t itag = rd32(p + 16);
        if (itag == 0) continue;
        if (!sctp_cksum_ok(p, len)) {
            fprintf(stderr, "palisade-probe-agent: sctp: bad checksum, packet to port %u ignored\n", dport);
            continue;
        }
        memcpy(rbuf, p, len);
        wr16(rbuf, dport);
        wr16(rbuf + 2, rd16(p));
        wr32(rbuf + 4, itag);
        rbuf[12] = SCTP_CHUNK_INIT_ACK;
        sctp_set_cksum(rbuf, len);

        union {
            char b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
            struct cmsghdr align;
        } out;
        memset(&out, 0, sizeof out);
        size_t outlen = 0;
        struct cmsghdr *oc = (struct cmsghdr *)out.b;
        if (s->family == AF_INET) {
            struct in_pktinfo pi = {.ipi_spec_dst = dst4};
            oc->cmsg_level = IPPROTO_IP;
            oc->cmsg_type = IP_PKTINFO;
            oc->cmsg_len = CMSG_LEN(sizeof pi);
            memcpy(CMSG_DATA(oc), &pi, sizeof pi);
            outlen = CMSG_SPACE(sizeof pi);
            ((struct sockaddr_in *)&from)->sin_port = 0;
        } else {
            if (have_dst6 && !IN6_IS_ADDR_MULTICAST(&dst6)) {
                struct in6_pktinfo pi = {.ipi6_addr = dst6, .ipi6_ifindex = 0};
                oc->cmsg_level = IPPROTO_IPV6;
                oc->cmsg_type = IPV6_PKTINFO;
                oc->cmsg_len = CMSG_LEN(sizeof pi);
                memcpy(CMSG_DATA(oc), &pi, sizeof pi);
                outlen = CMSG_SPACE(sizeof pi);
            }
            ((struct sockaddr_in6 *)&from)->sin6_port = 0;
        }
        struct iovec oiov = {.iov_base = rbuf, .iov_len = len};
        struct msghdr om = {.msg_name = &from, .msg_namelen = mh.msg_namelen, .msg_iov = &oiov,
                            .msg_iovlen = 1, .msg_control = outlen ? out.b : NULL, .msg_controllen = outlen};
        if (sendmsg(s->fd, &om, MSG_DONTWAIT) < 0)
            fprintf(stderr, "palisade-probe-agent: sctp reply: %s\n", strerror(errno));
    }
}

static void *server_main(void *arg) {
    (void)arg;
    struct pollfd *pfd = NULL;
    size_t pcap = 0;
    for (;;) {
        pthread_mutex_lock(&pend_mu);
        for (size_t k = 0; k < pend_n; k++) sv_append(pend_v[k]);
        pend_n = 0;
        pthread_mutex_unlock(&pend_mu);

        if (pcap < S.n + 1) {
            pcap = (S.n + 1) * 2;
            pfd = xrealloc(pfd, pcap * sizeof *pfd);
        }
        pfd[0] = (struct pollfd){.fd = wake_fd, .events = POLLIN};
        for (size_t k = 0; k < S.n; k++) {
            short ev = (S.v[k].kind == K_CONN && S.v[k].pend) ? POLLOUT : POLLIN;
            pfd[k + 1] = (struct pollfd){.fd = S.v[k].fd, .events = ev};
        }
        size_t npoll = S.n;
        int r = poll(pfd, npoll + 1, -1);
        if (r < 0) {
            if (errno == EINTR) continue;
            perror("palisade-probe-agent: poll");
            exit(2);
        }
        if (pfd[0].revents) {
            uint64_t v;
            if (read(wake_fd, &v, sizeof v) < 0 && errno != EAGAIN) perror("palisade-probe-agent: wake read");
        }
        for (size_t k = 0; k < npoll; k++) {
            short rev = pfd[k + 1].revents;
            if (!rev || S.v[k].fd < 0) continue;
            switch (S.v[k].kind) {
            case K_LISTEN: on_listen(k); break;
            case K_CONN: on_conn(k, rev); break;
            case K_UDP: on_udp(k); break;
            case K_SCTP: on_sctp(k); break;
            }
        }
        size_t w = 0;
        for (size_t k = 0; k < S.n; k++)
            if (S.v[k].fd >= 0) S.v[w++] = S.v[k];
        S.n = w;
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* serve / count (main thread)                                                                 */

static uint8_t tcp_open[65536], udp_open[65536];
static int sctp_open;

/* Opens a socket for one family. Returns fd, or -1 with errno set. */
static int open_server(int family, int type, int proto, uint16_t port) {
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (fd < 0) return -1;
    int one = 1;
    if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (type == SOCK_RAW) {
        if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
        int big = 4 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
        return fd;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (type == SOCK_DGRAM) {
        if (family == AF_INET) setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
        else setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
        int big = 8 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    }
    struct addr a;
    any_addr(family, port, &a);
    if (bind(fd, (struct sockaddr *)&a.ss, a.len) < 0 || (type == SOCK_STREAM && listen(fd, 1024) < 0)) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Opens IPv4 and IPv6 sockets; IPv6 may be missing (no IPv6 in the namespace) with a warning. */
static int open_pair(int type, int proto, uint16_t port, enum kind kind, char *warn, size_t warnlen) {
    int f4 = open_server(AF_INET, type, proto, port);
    if (f4 < 0) {
        reply_err("ipv4: %s", errname(errno));
        return -1;
    }
    int f6 = open_server(AF_INET6, type, proto, port);
    if (f6 < 0) {
        int e = errno;
        if (e != EAFNOSUPPORT && e != EADDRNOTAVAIL) {
            close(f4);
            reply_err("ipv6: %s", errname(e));
            return -1;
        }
        snprintf(warn, warnlen, "ipv6: %s", errname(e));
    }
    hand_over(f4, kind, AF_INET, port);
    if (f6 >= 0) hand_over(f6, kind, AF_INET6, port);
    return 0;
}

static void reply_ok_warn(const char *warn) {
    if (!*warn) {
        reply_ok();
        return;
    }
    struct jb j = {0};
    jb_add(&j, "{\"ok\":true,\"warning\":");
    jb_str(&j, warn);
    jb_add(&j, "}");
    jb_emit(&j);
}

static void cmd_serve(const char *proto, uint16_t port, int counting) {
    char warn[128] = "";
    if (!strcmp(proto, "tcp")) {
        if (!tcp_open[port]) {
            if (open_pair(SOCK_STREAM, 0, port, K_LISTEN, warn, sizeof warn) < 0) return;
            tcp_open[port] = 1;
        }
    } else if (!strcmp(proto, "udp")) {
        if (counting) atomic_store(&udp_count[port], 0);
        atomic_store(&udp_mode[port], counting ? UDP_COUNT : UDP_ECHO);
        if (!udp_open[port]) {
            if (open_pair(SOCK_DGRAM, 0, port, K_UDP, warn, sizeof warn) < 0) {
                atomic_store(&udp_mode[port], UDP_NONE);
                return;
            }
            udp_open[port] = 1;
        }
    } else if (!strcmp(proto, "sctp")) {
        if (!sctp_open) {
            if (open_pair(SOCK_RAW, IPPROTO_SCTP, 0, K_SCTP, warn, sizeof warn) < 0) return;
            sctp_open = 1;
        }
        atomic_store(&sctp_served[port], 1);
    } else {
        reply_err("unknown protocol '%s' (serve: tcp|udp|sctp)", proto);
        return;
    }
    reply_ok_warn(warn);
}

/* ------------------------------------------------------------------------------------------ */
/* probes (main thread)                                                                        */

static void reply_ms(int64_t t0) {
    struct jb j = {0};
    jb_add(&j, "{\"ok\":true,\"ms\":%.3f}", (double)(now_ns() - t0) / 1e6);
    jb_emit(&j);
}

static int bind_src(int fd, int family, uint16_t src_port) {
    struct addr a;
    any_addr(family, src_port, &a);
    return bind(fd, (struct sockaddr *)&a.ss, a.len);
}

/* Non-blocking TCP connect with a deadline. Returns the fd, or -1 with the error text in *err. */
static int tcp_connect(const struct addr *dst, uint16_t src_port, int64_t deadline, const char **err) {
    int fd = socket(dst->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = errname(errno);
        return -1;
    }
    if (src_port) {
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind_src(fd, dst->family, src_port) < 0) {
            *err = errname(errno);
            close(fd);
            return -1;
        }
    }
    if (connect(fd, (const struct sockaddr *)&dst->ss, dst->len) < 0 && errno != EINPROGRESS) {
        *err = errname(errno);
        close(fd);
        return -1;
    }
    int r = wait_fd(fd, POLLOUT, deadline);
    if (r <= 0) {
        *err = r == 0 ? "timeout" : errname(errno);
        close(fd);
        return -1;
    }
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (soerr) {
        *err = errname(soerr);
        close(fd);
        return -1;
    }
    return fd;
}

/* With an explicit source port close with RST: no TIME_WAIT, so the same port can be reused. */
static void tcp_close(int fd, int abortive) {
    if (abortive) {
        struct linger l = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close(fd);
}

static void probe_tcp(const struct addr *dst, int timeout_ms, uint16_t src_port) {
    int64_t t0 = now_ns(), deadline = t0 + (int64_t)timeout_ms * 1000000;
    const char *err;
    int fd = tcp_connect(dst, src_port, deadline, &err);
    if (fd < 0) {
        reply_err("%s", err);
        return;
    }
    static const char msg[] = "ping\n";
    size_t mlen = sizeof msg - 1;
    if (send(fd, msg, mlen, MSG_NOSIGNAL) != (ssize_t)mlen) {
        reply_err("%s", errname(errno));
        tcp_close(fd, 1);
        return;
    }
    char got[8];
    size_t have = 0;
    while (have < mlen) {
        int r = wait_fd(fd, POLLIN, deadline);
        if (r == 0) {
            reply_err("timeout");
            tcp_close(fd, src_port != 0);
            return;
        }
        ssize_t n = recv(fd, got + have, mlen - have, MSG_DONTWAIT);
        if (n == 0) {
            reply_err("closed");
            tcp_close(fd, src_port != 0);
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            reply_err("%s", errname(errno));
            tcp_close(fd, 1);
            return;
        }
        have += (size_t)n;
    }
    if (memcmp(got, msg, mlen) != 0) {
        reply_err("echo mismatch");
    } else {
        reply_ms(t0);
    }
    tcp_close(fd, src_port != 0);
}

static void probe_udp(const struct addr *dst, int timeout_ms, uint16_t src_port) {
    int64_t t0 = now_ns(), deadline = t0 + (int64_t)timeout_ms * 1000000;
    int fd = socket(dst->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        reply_err("%s", errname(errno));
        return;
    }
    if (src_port && bind_src(fd, dst->family, src_port) < 0) {
        reply_err("bind: %s", errname(errno));
        close(fd);
        return;
    }
    uint8_t msg[16] = "PALPROBE";
    wr32(msg + 8, rnd32());
    wr32(msg + 12, rnd32());
    /* Unconnected on purpose: an ICMP port unreachable is not reported, the probe times out. */
    if (sendto(fd, msg, sizeof msg, 0, (const struct sockaddr *)&dst->ss, dst->len) < 0) {
        reply_err("%s", errname(errno));
        close(fd);
        return;
    }
    uint16_t dport = ss_port(&dst->ss);
    for (;;) {
        int r = wait_fd(fd, POLLIN, deadline);
        if (r <= 0) {
            reply_err("timeout");
            break;
        }
        uint8_t buf[64];
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        if (n < 0) continue;
        if (n == (ssize_t)sizeof msg && !memcmp(buf, msg, sizeof msg) && same_ip(&from, dst) &&
            ss_port(&from) == dport) {
            reply_ms(t0);
            break;
        }
    }
    close(fd);
}

static void probe_sctp(const struct addr *dst, int timeout_ms, uint16_t src_port) {
    int64_t t0 = now_ns(), deadline = t0 + (int64_t)timeout_ms * 1000000;
    int fd = socket(dst->family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_SCTP);
    if (fd < 0) {
        reply_err("raw socket: %s", errname(errno));
        return;
    }
    struct addr peer = *dst;
    if (peer.family == AF_INET) ((struct sockaddr_in *)&peer.ss)->sin_port = 0;
    else ((struct sockaddr_in6 *)&peer.ss)->sin6_port = 0;
    /* connect() makes the raw socket only see packets from dst. */
    if (connect(fd, (struct sockaddr *)&peer.ss, peer.len) < 0) {
        reply_err("%s", errname(errno));
        close(fd);
        return;
    }
    uint16_t dport = ss_port(&dst->ss);
    uint16_t sport = src_port ? src_port : (uint16_t)(32768 + rnd32() % 28232);
    uint32_t itag = rnd32() | 1;
    uint8_t pkt[32] = {0};
    wr16(pkt, sport);
    wr16(pkt + 2, dport);
    wr32(pkt + 4, 0); /* INIT carries verification tag 0 */
    pkt[12] = SCTP_CHUNK_INIT;
    pkt[13] = 0;
    wr16(pkt + 14, 20);
    wr32(pkt + 16, itag);   /* initiate tag */
    wr32(pkt + 20, 65535);  /* a_rwnd */
    wr16(pkt + 24, 1);      /* outbound streams */
    wr16(pkt + 26, 1);      /* inbound streams */
    wr32(pkt + 28, rnd32()); /* initial TSN */
    sctp_set_cksum(pkt, sizeof pkt);
    if (send(fd, pkt, sizeof pkt, 0) < 0) {
        reply_err("%s", errname(errno));
        close(fd);
        return;
    }
    for (;;) {
        int r = wait_fd(fd, POLLIN, deadline);
        if (r <= 0) {
            reply_err("timeout");
            break;
        }
        uint8_t buf[2048];
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0) continue;
        uint8_t *p = buf;
        size_t len = (size_t)n;
        if (dst->family == AF_INET) {
            if (n < 20) continue;
            size_t ihl = (size_t)(buf[0] & 0x0F) * 4;
            if (ihl < 20 || (size_t)n < ihl) continue;
            p += ihl;
            len -= ihl;
        }
        if (len < 16 || rd16(p) != dport || rd16(p + 2) != sport || rd32(p + 4) != itag) continue;
        if (!sctp_cksum_ok(p, len)) continue;
        if (p[12] == SCTP_CHUNK_ABORT) {
            reply_err("refused");
            break;
        }
        reply_ms(t0);
        break;
    }
    close(fd);
}

static void probe_icmp(const struct addr *dst, int timeout_ms, uint16_t id_arg) {
    int64_t t0 = now_ns(), deadline = t0 + (int64_t)timeout_ms * 1000000;
    int v6 = dst->family == AF_INET6;
    int fd = socket(dst->family, SOCK_RAW | SOCK_CLOEXEC, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
    if (fd < 0) {
        reply_err("raw socket: %s", errname(errno));
        return;
    }
    if (v6) {
        struct icmp6_filter f;
        ICMP6_FILTER_SETBLOCKALL(&f);
        ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
        ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &f);
        setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof f);
    }
    uint16_t id = id_arg ? id_arg : (uint16_t)(1 + rnd32() % 65535);
    uint16_t seq = (uint16_t)rnd32();
    uint8_t pkt[24] = {0};
    pkt[0] = v6 ? ICMP6_ECHO_REQUEST : 8;
    wr16(pkt + 4, id);
    wr16(pkt + 6, seq);
    memcpy(pkt + 8, "PALISADE", 8);
    wr32(pkt + 16, rnd32());
    wr32(pkt + 20, rnd32());
    if (!v6) wr16(pkt + 2, inet_cksum(pkt, sizeof pkt)); /* the kernel fills in ICMPv6's */
    struct addr peer = *dst;
    if (v6) ((struct sockaddr_in6 *)&peer.ss)->sin6_port = 0;
    else ((struct sockaddr_in *)&peer.ss)->sin_port = 0;
    if (sendto(fd, pkt, sizeof pkt, 0, (struct sockaddr *)&peer.ss, peer.len) < 0) {
        reply_err("%s", errname(errno));
        close(fd);
        return;
    }
    for (;;) {
        int r = wait_fd(fd, POLLIN, deadline);
        if (r <= 0) {
            reply_err("timeout");
            break;
        }
        uint8_t buf[2048];
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        if (n < 0) continue;
        uint8_t *p = buf;
        size_t len = (size_t)n;
        if (!v6) {
            if (n < 20) continue;
            size_t ihl = (size_t)(buf[0] & 0x0F) * 4;
            if (ihl < 20 || (size_t)n < ihl) continue;
            p += ihl;
            len -= ihl;
        }
        if (len < 8) continue;
        uint8_t reply_type = v6 ? ICMP6_ECHO_REPLY : 0;
        uint8_t unreach_type = v6 ? ICMP6_DST_UNREACH : 3;
        if (p[0] == reply_type && same_ip(&from, dst) && len >= sizeof pkt && rd16(p + 4) == id &&
            rd16(p + 6) == seq && !memcmp(p + 8, pkt + 8, sizeof pkt - 8)) {
            reply_ms(t0);
            break;
        }
        if (p[0] == unreach_type) {
            /* The error quotes our request: inner IP header, then the echo request. */
            uint8_t *in = p + 8;
            size_t inlen = len - 8, ihl;
            if (v6) ihl = 40;
            else ihl = inlen >= 20 ? (size_t)(in[0] & 0x0F) * 4 : 0;
            if (ihl >= 20 && inlen >= ihl + 8 && in[ihl] == pkt[0] && rd16(in + ihl + 4) == id &&
                rd16(in + ihl + 6) == seq) {
                reply_err("unreachable (code %u)", p[1]);
                break;
            }
        }
    }
    close(fd);
}

/* ------------------------------------------------------------------------------------------ */
/* stream                                                                                      */

static void reply_stream(int ok, const char *error, uint32_t sent, uint32_t received, const uint8_t *seen) {
    struct jb j = {0};
    jb_add(&j, "{\"ok\":%s,", ok ? "true" : "false");
    if (error) {
        jb_add(&j, "\"error\":");
        jb_str(&j, error);
        jb_add(&j, ",");
    }
    jb_add(&j, "\"sent\":%u,\"received\":%u,\"lost\":[", sent, received);
    int k = 0;
    for (uint32_t s = 0; s < sent && k < MAX_LOST_REPORTED; s++) {
        if (!seen[s]) jb_add(&j, "%s%u", k++ ? "," : "", s);
    }
    jb_add(&j, "]}");
    jb_emit(&j);
}

static void stream_udp(const struct addr *dst, uint32_t count, uint32_t interval_us, int timeout_ms) {
    int fd = socket(dst->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        reply_err("%s", errname(errno));
        return;
    }
    int big = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    uint8_t *seen = calloc(count, 1);
    if (!seen) {
        reply_err("out of memory");
        close(fd);
        return;
    }
    uint32_t nonce = rnd32(), sent = 0, received = 0;
    uint16_t dport = ss_port(&dst->ss);
    int64_t next = now_ns(), end = 0, interval = (int64_t)interval_us * 1000;
    const char *err = NULL;
    for (;;) {
        int64_t t = now_ns();
        if (sent < count && t >= next) {
            uint8_t m[8];
            wr32(m, nonce);
            wr32(m + 4, sent);
            if (sendto(fd, m, sizeof m, 0, (const struct sockaddr *)&dst->ss, dst->len) < 0 &&
                errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
                err = errname(errno);
                break;
            }
            sent++;
            next += interval;
            if (sent == count) end = now_ns() + (int64_t)timeout_ms * 1000000;
        }
        for (;;) {
            uint8_t b[64];
            struct sockaddr_storage from;
            socklen_t fl = sizeof from;
            ssize_t n = recvfrom(fd, b, sizeof b, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
            if (n < 0) break;
            if (n != 8 || rd32(b) != nonce || !same_ip(&from, dst) || ss_port(&from) != dport) continue;
            uint32_t s = rd32(b + 4);
            if (s < sent && !seen[s]) {
                seen[s] = 1;
                received++;
            }
        }
        if (sent == count && (received == count || now_ns() >= end)) break;
        if (sent < count && now_ns() >= next) continue;
        wait_fd(fd, POLLIN, sent < count ? next : end);
    }
    close(fd);
    if (err) reply_stream(0, err, sent, received, seen);
    else reply_stream(1, NULL, sent, received, seen);
    free(seen);
}

static void stream_tcp(const struct addr *dst, uint32_t count, uint32_t interval_us, int timeout_ms) {
    const char *err = NULL;
    int fd = tcp_connect(dst, 0, now_ns() + (int64_t)timeout_ms * 1000000, &err);
    if (fd < 0) {
        reply_err("%s", err);
        return;
    }
    uint8_t *seen = calloc(count, 1);
    uint8_t *out = malloc((size_t)count * 4);
    if (!seen || !out) {
        reply_err("out of memory");
        free(seen);
        free(out);
        close(fd);
        return;
    }
    for (uint32_t s = 0; s < count; s++) wr32(out + (size_t)s * 4, s);
    size_t total = (size_t)count * 4, woff = 0, due_bytes = 0;
    uint32_t due = 0, received = 0;
    uint8_t part[4];
    size_t partn = 0;
    int64_t next = now_ns(), end = 0, interval = (int64_t)interval_us * 1000;
    char errbuf[64];
    const char *fail = NULL;
    int peer_closed = 0;
    for (;;) {
        int64_t t = now_ns();
        while (due < count && t >= next) {
            due++;
            next += interval;
            if (due == count) end = t + (int64_t)timeout_ms * 1000000;
        }
        due_bytes = (size_t)due * 4;
        int reset = 0;
        if (woff < due_bytes) {
            ssize_t w = send(fd, out + woff, due_bytes - woff, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0) woff += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                if (errno == ECONNRESET || errno == EPIPE) reset = 1;
                else {
                    fail = errname(errno);
                    break;
                }
            }
        }
        while (!reset && !peer_closed) {
            uint8_t b[4096];
            ssize_t n = recv(fd, b, sizeof b, MSG_DONTWAIT);
            if (n == 0) {
                /* Keep sending: if the peer is gone for good its kernel answers with a RST. */
                peer_closed = 1;
                break;
            }
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) break;
                if (errno == ECONNRESET || errno == EPIPE) reset = 1;
                else fail = errname(errno);
                break;
            }
            for (ssize_t k = 0; k < n; k++) {
                part[partn++] = b[k];
                if (partn == 4) {
                    partn = 0;
                    uint32_t s = rd32(part);
                    if (s < count && !seen[s]) {
                        seen[s] = 1;
                        received++;
                    }
                }
            }
        }
        if (fail) break;
        if (reset) {
            snprintf(errbuf, sizeof errbuf, "reset after %u", received);
            fail = errbuf;
            break;
        }
        if (peer_closed && woff == total) {
            snprintf(errbuf, sizeof errbuf, "closed after %u", received);
            fail = errbuf;
            break;
        }
        if (woff == total && received == count) break;
        if (end && now_ns() >= end) break;
        short ev = (short)((peer_closed ? 0 : POLLIN) | (woff < due_bytes ? POLLOUT : 0));
        int64_t until = due < count ? next : end;
        int rev = wait_fd(fd, ev, until);
        if (rev > 0 && (rev & (POLLERR | POLLHUP))) {
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            if (soerr && soerr != ECONNRESET && soerr != EPIPE) {
                fail = errname(soerr);
                break;
            }
            snprintf(errbuf, sizeof errbuf, "reset after %u", received);
            fail = errbuf;
            break;
        }
    }
    uint32_t sent = (uint32_t)(woff / 4);
    if (fail) {
        reply_stream(0, fail, sent, received, seen);
        tcp_close(fd, 1);
    } else {
        reply_stream(1, NULL, sent, received, seen);
        tcp_close(fd, 0);
    }
    free(seen);
    free(out);
}

/* ------------------------------------------------------------------------------------------ */
/* flood                                                                                       */

#define FLOOD_BATCH 64
static void flood_udp(const struct addr *dst, double seconds, size_t payload) {
    int fd = socket(dst->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        reply_err("%s", errname(errno));
        return;
    }
    int big = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big);
    uint8_t *buf = calloc(payload ? payload : 1, 1);
    if (!buf) {
        reply_err("out of memory");
        close(fd);
        return;
    }
    if (payload >= 8) memcpy(buf, "PALFLOOD", 8);
    struct mmsghdr m[FLOOD_BATCH];
    struct iovec iov = {.iov_base = buf, .iov_len = payload};
    memset(m, 0, sizeof m);
    for (int k = 0; k < FLOOD_BATCH; k++) {
        m[k].msg_hdr.msg_name = (void *)&dst->ss;
        m[k].msg_hdr.msg_namelen = dst->len;
        m[k].msg_hdr.msg_iov = &iov;
        m[k].msg_hdr.msg_iovlen = 1;
    }
    uint64_t sent = 0;
    int64_t t0 = now_ns(), end = t0 + (int64_t)(seconds * 1e9);
    const char *err = NULL;
    while (now_ns() < end) {
        int r = sendmmsg(fd, m, FLOOD_BATCH, 0);
        if (r > 0) sent += (uint64_t)r;
        else if (r < 0 && errno != ENOBUFS && errno != EAGAIN && errno != EINTR && errno != ECONNREFUSED) {
            err = errname(errno);
            break;
        }
    }
    double elapsed = (double)(now_ns() - t0) / 1e9;
    close(fd);
    free(buf);
    if (err) {
        reply_err("%s", err);
        return;
    }
    struct jb j = {0};
    jb_add(&j, "{\"ok\":true,\"sent\":%llu,\"seconds\":%.3f}", (unsigned long long)sent, elapsed);
    jb_emit(&j);
}

/* ------------------------------------------------------------------------------------------ */
/* command dispatch                                                                            */

#define MAX_TOK 12
#define FAIL(...)                                                                                  \
    do {                                                                                           \
        reply_err(__VA_ARGS__);                                                                    \
        return;                                                                                    \
    } while (0)

static int parse_port(const char *s, unsigned long min, uint16_t *out) {
    unsigned long v;
    if (parse_uint(s, min, 65535, &v) < 0) return -1;
    *out = (uint16_t)v;
    return 0;
}

static void handle(char *line) {
    char *tok[MAX_TOK];
    int nt = 0;
    for (char *save = NULL, *t = strtok_r(line, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
        if (nt == MAX_TOK) {
            reply_err("too many arguments");
            return;
        }
        tok[nt++] = t;
    }
    if (nt == 0) {
        reply_err("empty command");
        return;
    }
    const char *cmd = tok[0];
    uint16_t port;
    unsigned long v;

    if (!strcmp(cmd, "hello")) {
        struct jb j = {0};
        jb_add(&j, "{\"ok\":true,\"agent\":\"palisade-probe-agent\",\"version\":%d,\"pid\":%d}", AGENT_VERSION,
               (int)getpid());
        jb_emit(&j);
    } else if (!strcmp(cmd, "quit")) {
        reply_ok();
        exit(0);
    } else if (!strcmp(cmd, "serve")) {
        if (nt != 3) FAIL("usage: serve <tcp|udp|sctp> <port>");
        if (parse_port(tok[2], 1, &port) < 0) FAIL("bad port '%s'", tok[2]);
        cmd_serve(tok[1], port, 0);
    } else if (!strcmp(cmd, "count")) {
        if (nt != 3) FAIL("usage: count udp <port>");
        if (strcmp(tok[1], "udp")) FAIL("count supports udp only");
        if (parse_port(tok[2], 1, &port) < 0) FAIL("bad port '%s'", tok[2]);
        cmd_serve("udp", port, 1);
    } else if (!strcmp(cmd, "counted")) {
        if (nt != 2) FAIL("usage: counted <port>");
        if (parse_port(tok[1], 1, &port) < 0) FAIL("bad port '%s'", tok[1]);
        if (atomic_load(&udp_mode[port]) != UDP_COUNT) FAIL("port %u is not counting", port);
        struct jb j = {0};
        jb_add(&j, "{\"ok\":true,\"received\":%llu}", (unsigned long long)atomic_load(&udp_count[port]));
        jb_emit(&j);
    } else if (!strcmp(cmd, "probe")) {
        if (nt != 5 && nt != 6) FAIL("usage: probe <tcp|udp|sctp|icmp> <dst-ip> <port> <timeout_ms> [src_port]");
        const char *proto = tok[1];
        int icmp = !strcmp(proto, "icmp");
        if (parse_port(tok[3], icmp ? 0 : 1, &port) < 0) FAIL("bad port '%s'", tok[3]);
        struct addr dst;
        if (parse_ip(tok[2], icmp ? 0 : port, &dst) < 0) FAIL("bad address '%s'", tok[2]);
        if (parse_uint(tok[4], 1, 3600000, &v) < 0) FAIL("bad timeout '%s'", tok[4]);
        int timeout = (int)v;
        uint16_t src = 0;
        if (nt == 6 && parse_port(tok[5], 1, &src) < 0) FAIL("bad source port '%s'", tok[5]);
        if (!strcmp(proto, "tcp")) probe_tcp(&dst, timeout, src);
        else if (!strcmp(proto, "udp")) probe_udp(&dst, timeout, src);
        else if (!strcmp(proto, "sctp")) probe_sctp(&dst, timeout, src);
        else if (icmp) {
            if (nt == 6) FAIL("icmp takes no source port");
            probe_icmp(&dst, timeout, port);
        } else reply_err("unknown protocol '%s' (probe: tcp|udp|sctp|icmp)", proto);
    } else if (!strcmp(cmd, "stream")) {
        if (nt != 6 && nt != 7)
            FAIL("usage: stream <udp|tcp> <dst-ip> <port> <count> <interval_us> [timeout_ms]");
        if (parse_port(tok[3], 1, &port) < 0) FAIL("bad port '%s'", tok[3]);
        struct addr dst;
        if (parse_ip(tok[2], port, &dst) < 0) FAIL("bad address '%s'", tok[2]);
        unsigned long count, interval, timeout = 1000;
        if (parse_uint(tok[4], 1, 10000000, &count) < 0) FAIL("bad count '%s'", tok[4]);
        if (parse_uint(tok[5], 0, 60000000, &interval) < 0) FAIL("bad interval '%s'", tok[5]);
        if (nt == 7 && parse_uint(tok[6], 1, 3600000, &timeout) < 0) FAIL("bad timeout '%s'", tok[6]);
        if (!strcmp(tok[1], "udp")) stream_udp(&dst, (uint32_t)count, (uint32_t)interval, (int)timeout);
        else if (!strcmp(tok[1], "tcp")) stream_tcp(&dst, (uint32_t)count, (uint32_t)interval, (int)timeout);
        else reply_err("unknown protocol '%s' (stream: udp|tcp)", tok[1]);
    } else if (!strcmp(cmd, "flood")) {
        if (nt != 6) FAIL("usage: flood udp <dst-ip> <port> <seconds> <payload_bytes>");
        if (strcmp(tok[1], "udp")) FAIL("flood supports udp only");
        if (parse_port(tok[3], 1, &port) < 0) FAIL("bad port '%s'", tok[3]);
        struct addr dst;
        if (parse_ip(tok[2], port, &dst) < 0) FAIL("bad address '%s'", tok[2]);
        char *end;
        errno = 0;
        double secs = strtod(tok[4], &end);
        if (errno || *end || !(secs > 0 && secs <= 3600)) FAIL("bad seconds '%s'", tok[4]);
        if (parse_uint(tok[5], 0, 65507, &v) < 0) FAIL("bad payload size '%s'", tok[5]);
        flood_udp(&dst, secs, (size_t)v);
    } else {
        reply_err("unknown command '%s'", cmd);
    }
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    crc32c_init();
    wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd < 0) {
        perror("palisade-probe-agent: eventfd");
        return 2;
    }
    pthread_t th;
    if (pthread_create(&th, NULL, server_main, NULL) != 0) {
        fprintf(stderr, "palisade-probe-agent: cannot start the server thread\n");
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, stdin) >= 0) handle(line);
    free(line);
    return 0;
}
