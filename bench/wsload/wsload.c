/*
 * wsload - a small, fast, neutral WebSocket (RFC 6455) load generator.
 *
 * Single C file, libc only (+ libm). Linux epoll, non-blocking sockets,
 * one thread, one event loop. Targets loopback (127.0.0.0/8) servers only.
 *
 * Modes: echo, broadcast, connect, hold.  See README.md and `wsload --help`.
 *
 * This copy lives in the Riptide repository (bench/wsload) so that `npm run bench` works from
 * a fresh clone; it started as the team's shared tools/wsload and adds --source-addrs (more
 * connections than one source address's ephemeral ports) and --ramp-timeout.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* constants                                                          */
/* ------------------------------------------------------------------ */

#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull

#define RBUF_SIZE (256 * 1024)           /* shared read buffer */
#define HB_CAP 8192                      /* max HTTP response header size */
#define HS_TIMEOUT_NS (10 * NS_PER_S)    /* connect + handshake timeout */
#define RAMP_TIMEOUT_NS (10 * NS_PER_S)  /* default max time to open all conns */
#define DRAIN_NS (2 * NS_PER_S)          /* wait for in-flight after -d */
#define CLOSE_PHASE_NS (2 * NS_PER_S)    /* graceful close at the end */
#define CLOSE_TIMEOUT_NS (2 * NS_PER_S)  /* per-conn wait for server close */
#define EOF_WAIT_NS (1 * NS_PER_S)       /* wait for server FIN after close */
#define ROUND_TIMEOUT_NS (2 * NS_PER_S)  /* broadcast round expiry */
#define HARD_SLACK_NS (14500 * NS_PER_MS) /* run <= ramp + warm + dur + 4.5 s */
#define SCAN_NS (50 * NS_PER_MS)         /* timeout scan period */
#define RING_BITS 16
#define RING_SIZE (1u << RING_BITS)
#define RING_MASK (RING_SIZE - 1)
#define SENDER_MAX_QUEUE (8u << 20)      /* broadcast sender backlog cap */
#define MAX_SIZE (256u << 20)
#define TIMER_IDX 0xffffffffu
#define PAT_SPREAD 251                   /* pattern offsets per message */

enum { M_ECHO, M_BCAST, M_CONNECT, M_HOLD };
static const char *mode_names[] = {"echo", "broadcast", "connect", "hold"};

enum { ST_IDLE, ST_CONNECTING, ST_HS, ST_OPEN, ST_CLOSING, ST_WAIT_EOF };
enum { R_ECHO, R_RECV, R_SEND, R_CONNECT, R_HOLD };
enum { PH_RAMP, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_CLOSE, PH_EXIT };
static const char *phase_names[] = {"ramp", "warmup", "measure", "drain", "close", "exit"};

enum {
    E_CONNECT,   /* connect() failed / refused / reset before handshake */
    E_TIMEOUT,   /* connect + handshake did not finish in time */
    E_HANDSHAKE, /* bad HTTP 101 response / Sec-WebSocket-Accept */
    E_PROTOCOL,  /* malformed or illegal frame from the server */
    E_MISMATCH,  /* payload length/content/order/type verification failed */
    E_CLOSED,    /* established connection closed/reset by the server */
    E_UNEXPECTED,/* data message nobody asked for (echo mode) */
    E_CLOSE,     /* close handshake not completed (connect mode) */
    E__N
};
static const char *err_names[E__N] = {"connect", "timeout", "handshake", "protocol",
                                      "mismatch", "closed", "unexpected", "close"};

/* ------------------------------------------------------------------ */
/* small utilities                                                    */
/* ------------------------------------------------------------------ */

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("wsload: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q)
        die("out of memory (%zu bytes)", n);
    return q;
}

static void *xcalloc(size_t a, size_t b)
{
    void *q = calloc(a, b);
    if (!q)
        die("out of memory");
    return q;
}

/* splitmix64: fast generator for frame masks and payload patterns,
 * seeded from getrandom(). */
static uint64_t rng_s;
static inline uint64_t rng64(void)
{
    uint64_t z = (rng_s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void fill_random(void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        p += r;
        n -= (size_t)r;
    }
    while (n) { /* fallback, should not happen */
        uint64_t v = rng64();
        size_t k = n < 8 ? n : 8;
        memcpy(p, &v, k);
        p += k;
        n -= k;
    }
}

/* ------------------------------------------------------------------ */
/* SHA-1 (FIPS 180-1) and base64, only what the handshake needs       */
/* ------------------------------------------------------------------ */

static inline uint32_t rol32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1_block(uint32_t h[5], const uint8_t *b)
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
               (uint32_t)b[4 * i + 2] << 8 | (uint32_t)b[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (bb & c) | (~bb & d);
            k = 0x5a827999u;
        } else if (i < 40) {
            f = bb ^ c ^ d;
            k = 0x6ed9eba1u;
        } else if (i < 60) {
            f = (bb & c) | (bb & d) | (c & d);
            k = 0x8f1bbcdcu;
        } else {
            f = bb ^ c ^ d;
            k = 0xca62c1d6u;
        }
        uint32_t t = rol32(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol32(bb, 30);
        bb = a;
        a = t;
    }
    h[0] += a;
    h[1] += bb;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

static void sha1(const void *data, size_t len, uint8_t out[20])
{
    uint32_t h[5] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u, 0xc3d2e1f0u};
    const uint8_t *p = data;
    size_t n = len;
    while (n >= 64) {
        sha1_block(h, p);
        p += 64;
        n -= 64;
    }
    uint8_t tail[128];
    memset(tail, 0, sizeof tail);
    memcpy(tail, p, n);
    tail[n] = 0x80;
    size_t tl = (n + 9 <= 64) ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        tail[tl - 1 - i] = (uint8_t)(bits >> (8 * i));
    sha1_block(h, tail);
    if (tl == 128)
        sha1_block(h, tail + 64);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8);
        out[4 * i + 3] = (uint8_t)h[i];
    }
}

static size_t base64_enc(const uint8_t *in, size_t n, char *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = t[v >> 18];
        out[o++] = t[(v >> 12) & 63];
        out[o++] = t[(v >> 6) & 63];
        out[o++] = t[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = t[v >> 18];
        out[o++] = t[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = t[v >> 18];
        out[o++] = t[(v >> 12) & 63];
        out[o++] = t[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = 0;
    return o;
}

/* Sec-WebSocket-Accept = base64(SHA1(key + GUID)) */
static void ws_accept_for(const char *key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char buf[128];
    size_t kl = strlen(key);
    memcpy(buf, key, kl);
    memcpy(buf + kl, guid, sizeof guid - 1);
    uint8_t dg[20];
    sha1(buf, kl + sizeof guid - 1, dg);
    base64_enc(dg, 20, out);
}

/* ------------------------------------------------------------------ */
/* latency histogram: log-linear, 64 sub-buckets per power of two     */
/* (<= 1.6% bucket width), values in nanoseconds                      */
/* ------------------------------------------------------------------ */

#define HIST_N 3776
typedef struct {
    uint64_t c[HIST_N];
    uint64_t n, min, max;
} hist_t;

static inline unsigned hist_idx(uint64_t v)
{
    if (v < 128)
        return (unsigned)v;
    int e = 63 - __builtin_clzll(v);
    int sh = e - 6;
    return (unsigned)(sh * 64) + (unsigned)(v >> sh);
}

static inline void hist_add(hist_t *h, uint64_t v)
{
    h->c[hist_idx(v)]++;
    if (h->n == 0 || v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->n++;
}

static double hist_q(const hist_t *h, double q)
{
    if (h->n == 0)
        return NAN;
    uint64_t want = (uint64_t)ceil(q * (double)h->n);
    if (want < 1)
        want = 1;
    uint64_t acc = 0;
    for (unsigned i = 0; i < HIST_N; i++) {
        acc += h->c[i];
        if (acc >= want) {
            double v;
            if (i < 128) {
                v = i;
            } else {
                unsigned sh = i / 64 - 1;
                uint64_t m = i - sh * 64;
                v = (double)(m << sh) + (double)((1ull << sh) - 1) / 2.0;
            }
            if (v < (double)h->min)
                v = (double)h->min;
            if (v > (double)h->max)
                v = (double)h->max;
            return v;
        }
    }
    return (double)h->max;
}

/* ------------------------------------------------------------------ */
/* state                                                              */
/* ------------------------------------------------------------------ */

typedef struct conn {
    int fd;
    uint32_t gen; /* bumped on release: stale epoll events are dropped */
    uint32_t idx;
    uint8_t state, role;
    bool close_sent, backoff;
    uint64_t deadline, t_start;
    /* output buffer */
    uint8_t *ob;
    size_t olen, ooff, ocap;
    /* handshake */
    char *hb;
    uint32_t hlen;
    char key[28];
    /* frame parser */
    bool in_frame, f_fin, f_masked;
    uint8_t f_op, fh_have, ctrl_len;
    uint8_t fh[14];
    uint8_t f_mask[4];
    uint64_t f_left, f_pos;
    uint8_t ctrl[125];
    /* current (possibly fragmented) data message */
    bool in_msg, m_bad, m_hdr_ok;
    uint8_t m_op;
    uint64_t m_len, m_num;
    uint8_t mh[16];
    /* echo: sequence numbers; broadcast receiver: next expected round */
    uint64_t send_seq, recv_seq;
    uint64_t *ts; /* echo: send timestamps ring, size = pipeline */
    uint64_t retry_at;
} conn_t;

struct round {
    uint64_t sent;
    uint32_t target, delivered;
    uint8_t state, measured;
};
enum { RD_FREE, RD_OPEN, RD_DONE, RD_EXPIRED };

static struct {
    int mode;
    const char *url;
    struct sockaddr_in addr;
    char host_hdr[300];
    char path[2048];
    int conns, pipeline, max_pending;
    int source_addrs;   /* connection i binds to 127.0.0.(1 + i % source_addrs); 0 = no bind */
    double ramp_timeout;
    size_t size;
    bool binary, verbose, allow_masked;
    double dur, warm;
    long interval_us;
    char extra_hdrs[4096];
    size_t extra_len;
} O;

static struct {
    int ep, tfd;
    int phase;
    conn_t *c;
    int nc;
    uint8_t *pattern;
    size_t hl; /* message header length (16 text hex digits / 8 binary) */
    uint8_t data_op;
    uint64_t t_start, t_ramp_end, t_meas_start, t_meas_end, phase_deadline, hard_deadline;
    int started, pending, est, nfd;
    int64_t inflight;
    struct rusage ru0, ru1;
    /* broadcast */
    conn_t *sender;
    int recv_open, recv_at_start;
    uint64_t next_round, last_send;
    int64_t open_rounds;
    struct round *ring;
    /* connect */
    uint32_t *rq;
    int rq_n;
    int errlog;
} G;

static volatile sig_atomic_t g_stop;

static struct {
    uint64_t err[E__N];
    uint64_t failed, opened, dropped, unclosed, pings, ignored_msgs;
    uint64_t rx_total, rx_bytes, tx_bytes;
    uint64_t msgs, lost;                       /* echo */
    uint64_t rounds, deliveries, missing, skipped, late, sender_rx; /* broadcast */
    uint64_t handshakes, hs_total;             /* connect */
    int open_at_hold, open_at_end;
    hist_t lat, fan, hs;
} S;

static uint8_t g_rbuf[RBUF_SIZE];

static void vlog(const char *fmt, ...)
{
    if (!O.verbose || G.errlog >= 30)
        return;
    G.errlog++;
    va_list ap;
    va_start(ap, fmt);
    fputs("wsload: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ------------------------------------------------------------------ */
/* output buffer                                                      */
/* ------------------------------------------------------------------ */

static uint8_t *ob_reserve(conn_t *c, size_t n)
{
    if (c->ooff == c->olen)
        c->ooff = c->olen = 0;
    if (c->olen + n > c->ocap) {
        size_t live = c->olen - c->ooff;
        if (c->ooff) {
            memmove(c->ob, c->ob + c->ooff, live);
            c->ooff = 0;
            c->olen = live;
        }
        if (2 * (live + n) > c->ocap) { /* keep >= half free: amortised */
            size_t cap = c->ocap ? c->ocap : 512;
            while (cap < 2 * (live + n))
                cap *= 2;
            c->ob = xrealloc(c->ob, cap);
            c->ocap = cap;
        }
    }
    return c->ob + c->olen;
}

static int conn_flush(conn_t *c)
{
    while (c->ooff < c->olen) {
        size_t want = c->olen - c->ooff;
        ssize_t w = send(c->fd, c->ob + c->ooff, want, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w >= 0) {
            c->ooff += (size_t)w;
            S.tx_bytes += (uint64_t)w;
            if ((size_t)w < want)
                break; /* socket buffer full: EPOLLOUT (edge) will follow */
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        } else if (errno == EINTR) {
            continue;
        } else {
            return -1;
        }
    }
    if (c->ooff == c->olen)
        c->ooff = c->olen = 0;
    return 0;
}

/* dst[i] = src[i] ^ key[(phase + i) % 4]; dst may equal src */
typedef uint8_t v16u8 __attribute__((vector_size(16)));
static void mask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4],
                      unsigned phase)
{
    uint8_t k16[16];
    for (int i = 0; i < 16; i++)
        k16[i] = key[(i + phase) & 3];
    v16u8 m;
    memcpy(&m, k16, 16);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        v16u8 a, b;
        memcpy(&a, src + i, 16);
        memcpy(&b, src + i + 16, 16);
        a ^= m;
        b ^= m;
        memcpy(dst + i, &a, 16);
        memcpy(dst + i + 16, &b, 16);
    }
    for (; i < n; i++)
        dst[i] = src[i] ^ k16[i & 15];
}

/* frame header (FIN, opcode, MASK bit, length, fresh random mask) */
static size_t put_frame_hdr(uint8_t *d, uint8_t op, uint64_t len, uint8_t **keyp)
{
    size_t i;
    d[0] = (uint8_t)(0x80 | op);
    if (len < 126) {
        d[1] = (uint8_t)(0x80 | len);
        i = 2;
    } else if (len < 65536) {
        d[1] = 0x80 | 126;
        d[2] = (uint8_t)(len >> 8);
        d[3] = (uint8_t)len;
        i = 4;
    } else {
        d[1] = 0x80 | 127;
        for (int k = 0; k < 8; k++)
            d[2 + k] = (uint8_t)(len >> (56 - 8 * k));
        i = 10;
    }
    uint32_t mk = (uint32_t)(rng64() >> 32);
    memcpy(d + i, &mk, 4);
    *keyp = d + i;
    return i + 4;
}

static inline size_t frame_hdr_size(uint64_t len)
{
    return (len < 126 ? 2 : len < 65536 ? 4 : 10) + 4;
}

static void put_ctrl(conn_t *c, uint8_t op, const uint8_t *pl, size_t n)
{
    uint8_t *d = ob_reserve(c, 6 + n), *key;
    size_t h = put_frame_hdr(d, op, n, &key);
    mask_copy(d + h, pl, n, key, 0);
    c->olen += h + n;
}

/* Payload of message number `num`:
 *   [header: min(size,hl) bytes encoding num, low-order first]
 *   [body: pattern[num % 251 ...]]
 * text: header is lowercase hex digits, pattern is [A-Za-z0-9-_] -> ASCII. */
static inline uint8_t hdr_byte(uint64_t num, size_t i)
{
    if (O.binary)
        return (uint8_t)(num >> (8 * i));
    return (uint8_t)"0123456789abcdef"[(num >> (4 * i)) & 15];
}

static void put_data_frame(conn_t *c, uint64_t num)
{
    size_t L = O.size, hl = L < G.hl ? L : G.hl;
    uint8_t *d = ob_reserve(c, frame_hdr_size(L) + L), *key;
    size_t h = put_frame_hdr(d, G.data_op, L, &key);
    uint8_t *pl = d + h, hb[16] = {0};
    for (size_t i = 0; i < hl; i++)
        hb[i] = hdr_byte(num, i);
    mask_copy(pl, hb, hl, key, 0);
    if (L > hl)
        mask_copy(pl + hl, G.pattern + num % PAT_SPREAD, L - hl, key, (unsigned)(hl & 3));
    c->olen += h + L;
}

/* compare received chunk at message offset `off` with expected message `num` */
static bool match_expected(uint64_t num, uint64_t off, const uint8_t *p, size_t n)
{
    size_t hl = O.size < G.hl ? O.size : G.hl;
    if (off + n > O.size)
        return false;
    while (n && off < hl) {
        if (*p != hdr_byte(num, off))
            return false;
        p++;
        n--;
        off++;
    }
    if (!n)
        return true;
    return memcmp(p, G.pattern + num % PAT_SPREAD + (off - hl), n) == 0;
}

static bool parse_hdr(const uint8_t *h, uint64_t *out)
{
    uint64_t v = 0;
    if (O.binary) {
        for (int i = 0; i < 8; i++)
            v |= (uint64_t)h[i] << (8 * i);
    } else {
        for (int i = 0; i < 16; i++) {
            uint8_t ch = h[i];
            uint64_t d;
            if (ch >= '0' && ch <= '9')
                d = ch - '0';
            else if (ch >= 'a' && ch <= 'f')
                d = ch - 'a' + 10;
            else
                return false;
            v |= d << (4 * i);
        }
    }
    *out = v;
    return true;
}

/* ------------------------------------------------------------------ */
/* connection lifecycle                                               */
/* ------------------------------------------------------------------ */

static void start_close(conn_t *c, uint64_t now);
static void bcast_send_round(uint64_t now);

static inline uint64_t ev_data(conn_t *c) { return (uint64_t)c->gen << 32 | c->idx; }

static void conn_release(conn_t *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
        G.nfd--;
    }
    if (c->state == ST_CONNECTING || c->state == ST_HS)
        G.pending--;
    else if (c->state >= ST_OPEN) {
        G.est--;
        if (O.mode == M_ECHO)
            G.inflight -= (int64_t)(c->send_seq - c->recv_seq);
        if (c->role == R_RECV && c->state == ST_OPEN)
            G.recv_open--;
    }
    free(c->hb);
    c->hb = NULL;
    c->hlen = 0;
    c->olen = c->ooff = 0;
    c->state = ST_IDLE;
    c->gen++;
    if (O.mode == M_CONNECT) {
        if (c->backoff) { /* failed attempt: retry a little later, do not spin */
            c->backoff = false;
            c->retry_at = now_ns() + 10 * NS_PER_MS;
        } else {
            G.rq[G.rq_n++] = c->idx;
        }
    }
}

static void conn_fail(conn_t *c, int kind)
{
    if (c->state == ST_CONNECTING || c->state == ST_HS)
        S.failed++;
    if (O.mode != M_CONNECT && (G.phase >= PH_CLOSE || c->close_sent)) {
        S.unclosed++; /* trouble while we were closing: not a test error */
    } else {
        S.err[kind]++;
        if (kind == E_CLOSED && c->state >= ST_OPEN)
            S.dropped++;
    }
    c->backoff = true;
    conn_release(c);
}

static void put_handshake(conn_t *c)
{
    uint8_t raw[16];
    fill_random(raw, sizeof raw);
    base64_enc(raw, sizeof raw, c->key);
    size_t cap = strlen(O.path) + strlen(O.host_hdr) + O.extra_len + 200;
    char *d = (char *)ob_reserve(c, cap);
    int n = snprintf(d, cap,
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "%s\r\n",
                     O.path, O.host_hdr, c->key, O.extra_hdrs);
    c->olen += (size_t)n;
}

static int conn_open(conn_t *c, uint64_t now)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        vlog("socket: %s", strerror(errno));
        S.err[E_CONNECT]++;
        S.failed++;
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (O.source_addrs > 0) {
        /* One source address has ~28k ephemeral ports towards one server port; several loopback
         * source addresses go past that. IP_BIND_ADDRESS_NO_PORT lets connect() pick the port
         * for the whole 4-tuple instead of reserving one at bind(). */
        struct sockaddr_in src;
        memset(&src, 0, sizeof src);
        src.sin_family = AF_INET;
        src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(c->idx % (uint32_t)O.source_addrs));
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
            vlog("bind: %s", strerror(errno));
            close(fd);
            S.err[E_CONNECT]++;
            S.failed++;
            return -1;
        }
    }
    if (connect(fd, (struct sockaddr *)&O.addr, sizeof O.addr) < 0 && errno != EINPROGRESS) {
        vlog("connect: %s", strerror(errno));
        close(fd);
        S.err[E_CONNECT]++;
        S.failed++;
        return -1;
    }
    c->fd = fd;
    c->state = ST_CONNECTING;
    c->close_sent = c->backoff = false;
    c->t_start = now;
    c->deadline = now + HS_TIMEOUT_NS;
    c->in_frame = c->in_msg = false;
    c->fh_have = 0;
    c->send_seq = c->recv_seq = 0;
    c->olen = c->ooff = 0;
    G.nfd++;
    G.pending++;
    struct epoll_event ev;
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = ev_data(c);
    if (epoll_ctl(G.ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        vlog("epoll_ctl: %s", strerror(errno));
        close(fd);
        c->fd = -1;
        c->state = ST_IDLE;
        G.nfd--;
        G.pending--;
        S.err[E_CONNECT]++;
        S.failed++;
        return -1;
    }
    put_handshake(c);
    return 0;
}

static void start_close(conn_t *c, uint64_t now)
{
    static const uint8_t normal[2] = {0x03, 0xe8}; /* 1000 */
    if (c->state == ST_OPEN && c->role == R_RECV)
        G.recv_open--;
    put_ctrl(c, 8, normal, 2);
    c->close_sent = true;
    c->state = ST_CLOSING;
    c->deadline = now + CLOSE_TIMEOUT_NS;
}

/* ------------------------------------------------------------------ */
/* mode logic                                                         */
/* ------------------------------------------------------------------ */

static void echo_send(conn_t *c, uint64_t now)
{
    uint64_t seq = c->send_seq++;
    c->ts[seq % (uint64_t)O.pipeline] = now;
    G.inflight++;
    put_data_frame(c, seq);
}

static void echo_on_msg(conn_t *c, uint64_t now)
{
    if (c->send_seq == c->recv_seq) {
        S.err[E_UNEXPECTED]++;
        vlog("conn %u: unexpected message (nothing in flight)", c->idx);
        return;
    }
    bool ok = !c->m_bad && c->m_len == O.size && c->m_op == G.data_op;
    uint64_t num = c->recv_seq;
    if (!ok) {
        S.err[E_MISMATCH]++;
        uint64_t got;
        /* if the header is intact, resynchronise: a later message arriving
         * first means the ones before it were lost or reordered */
        if (O.size >= G.hl && c->m_len >= G.hl && parse_hdr(c->mh, &got)) {
            if (got < c->recv_seq) {
                vlog("conn %u: late or duplicate echo %llu (expected %llu)", c->idx,
                     (unsigned long long)got, (unsigned long long)c->recv_seq);
                return;
            }
            if (got < c->send_seq)
                num = got;
        }
        vlog("conn %u: echo mismatch: expected #%llu, got #%llu, len=%llu op=%u", c->idx,
             (unsigned long long)c->recv_seq, (unsigned long long)num,
             (unsigned long long)c->m_len, c->m_op);
    }
    uint64_t skipped = num - c->recv_seq;
    uint64_t t0 = c->ts[num % (uint64_t)O.pipeline];
    c->recv_seq = num + 1;
    G.inflight -= (int64_t)(skipped + 1);
    S.rx_total++;
    if (G.phase == PH_MEASURE && ok) {
        S.msgs++;
        hist_add(&S.lat, now - t0);
    }
    if ((G.phase == PH_WARMUP || G.phase == PH_MEASURE) && c->state == ST_OPEN)
        for (uint64_t k = 0; k <= skipped; k++) /* keep -p messages in flight */
            echo_send(c, now);
}

/* give up on a round: receivers that have not got it count as missing */
static void bcast_finalize(struct round *rd)
{
    if (rd->state != RD_OPEN)
        return;
    rd->state = RD_EXPIRED;
    G.open_rounds--;
    S.missing += rd->target - rd->delivered; /* warm-up rounds included */
}

static void bcast_finalize_all(void)
{
    uint64_t r = G.next_round > RING_SIZE + 1 ? G.next_round - RING_SIZE : 1;
    for (; r < G.next_round; r++)
        bcast_finalize(&G.ring[r & RING_MASK]);
}

static inline bool sending_phase(void) { return G.phase == PH_WARMUP || G.phase == PH_MEASURE; }

static void bcast_on_delivery(conn_t *c, uint64_t now)
{
    if (c->m_bad || c->m_len != O.size || c->m_op != G.data_op || !c->m_hdr_ok) {
        S.err[E_MISMATCH]++;
        vlog("conn %u: broadcast payload mismatch (len=%llu)", c->idx, (unsigned long long)c->m_len);
        return;
    }
    uint64_t r = c->m_num;
    if (r == 0 || r < c->recv_seq || r >= G.next_round) {
        S.err[E_MISMATCH]++;
        vlog("conn %u: round %llu out of order/unknown (expected >= %llu)", c->idx,
             (unsigned long long)r, (unsigned long long)c->recv_seq);
        return;
    }
    c->recv_seq = r + 1;
    S.rx_total++;
    if (G.phase == PH_MEASURE)
        S.deliveries++;
    struct round *rd = &G.ring[r & RING_MASK];
    if (G.next_round - r > RING_SIZE || rd->state != RD_OPEN) {
        S.late++; /* its round was already given up */
        return;
    }
    rd->delivered++;
    if (rd->measured)
        hist_add(&S.lat, now - rd->sent);
    if (rd->delivered >= rd->target) {
        rd->state = RD_DONE;
        G.open_rounds--;
        if (rd->measured)
            hist_add(&S.fan, now - rd->sent);
        if (O.interval_us == 0 && G.open_rounds == 0 && sending_phase())
            bcast_send_round(now);
    }
}

static void bcast_send_round(uint64_t now)
{
    conn_t *s = G.sender;
    if (!s || s->state != ST_OPEN || G.recv_open <= 0)
        return;
    if (s->olen - s->ooff > SENDER_MAX_QUEUE) { /* server is not reading */
        S.skipped++;
        return;
    }
    uint64_t r = G.next_round;
    struct round *rd = &G.ring[r & RING_MASK];
    bcast_finalize(rd); /* slot reuse: round r - RING_SIZE is given up */
    G.next_round++;
    G.open_rounds++;
    G.last_send = now;
    rd->sent = now;
    rd->target = (uint32_t)G.recv_open;
    rd->delivered = 0;
    rd->state = RD_OPEN;
    rd->measured = G.phase == PH_MEASURE;
    if (rd->measured)
        S.rounds++;
    put_data_frame(s, r);
    if (conn_flush(s) < 0)
        conn_fail(s, E_CLOSED);
}

static void on_open(conn_t *c, uint64_t now)
{
    c->state = ST_OPEN;
    c->deadline = UINT64_MAX;
    G.pending--;
    G.est++;
    S.opened++;
    S.hs_total++;
    if (O.mode == M_CONNECT) {
        if (G.phase == PH_MEASURE) {
            S.handshakes++;
            hist_add(&S.hs, now - c->t_start);
        }
        start_close(c, now);
    } else {
        hist_add(&S.hs, now - c->t_start);
        if (c->role == R_RECV && G.phase != PH_RAMP)
            G.recv_open++;
    }
}

/* ------------------------------------------------------------------ */
/* frame parser (server -> client)                                    */
/* ------------------------------------------------------------------ */

static void on_data(conn_t *c, const uint8_t *p, size_t n)
{
    uint64_t off = c->m_len;
    c->m_len += n;
    if (c->role == R_ECHO) {
        if (off < G.hl) /* keep the header for resynchronisation */
            memcpy(c->mh + off, p, n < G.hl - off ? n : G.hl - off);
        if (!c->m_bad && !match_expected(c->recv_seq, off, p, n))
            c->m_bad = true;
        return;
    }
    if (c->m_bad)
        return;
    if (c->role == R_RECV) {
        if (off + n > O.size) {
            c->m_bad = true;
            return;
        }
        while (n && off < G.hl) {
            c->mh[off++] = *p++;
            n--;
            if (off == G.hl) {
                if (!parse_hdr(c->mh, &c->m_num)) {
                    c->m_bad = true;
                    return;
                }
                c->m_hdr_ok = true;
            }
        }
        if (n && memcmp(p, G.pattern + c->m_num % PAT_SPREAD + (off - G.hl), n) != 0)
            c->m_bad = true;
    }
}

static int proto_error(conn_t *c, const char *why)
{
    vlog("conn %u: protocol error: %s", c->idx, why);
    conn_fail(c, E_PROTOCOL);
    return -1;
}

static int frame_begin(conn_t *c, const uint8_t *h)
{
    uint8_t b0 = h[0], b1 = h[1];
    uint8_t op = b0 & 0x0f, len7 = b1 & 0x7f;
    size_t off = 2;
    uint64_t len;
    if (b0 & 0x70)
        return proto_error(c, "RSV bits set (no extension negotiated)");
    if (len7 == 126) {
        len = (uint64_t)h[2] << 8 | h[3];
        off = 4;
    } else if (len7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | h[2 + i];
        off = 10;
        if (len >> 63)
            return proto_error(c, "64-bit length with MSB set");
    } else {
        len = len7;
    }
    c->f_masked = (b1 & 0x80) != 0;
    if (c->f_masked) {
        if (!O.allow_masked)
            return proto_error(c, "masked frame from server");
        memcpy(c->f_mask, h + off, 4);
    }
    c->f_op = op;
    c->f_fin = (b0 & 0x80) != 0;
    c->f_left = len;
    c->f_pos = 0;
    if (op >= 8) {
        if (op > 10)
            return proto_error(c, "unknown control opcode");
        if (!c->f_fin || len > 125)
            return proto_error(c, "fragmented or oversized control frame");
        c->ctrl_len = 0;
    } else if (op == 0) {
        if (!c->in_msg)
            return proto_error(c, "continuation frame outside a message");
    } else if (op == 1 || op == 2) {
        if (c->in_msg)
            return proto_error(c, "new data frame inside a fragmented message");
        c->in_msg = true;
        c->m_op = op;
        c->m_len = 0;
        c->m_bad = false;
        c->m_hdr_ok = false;
    } else {
        return proto_error(c, "unknown data opcode");
    }
    c->in_frame = true;
    return 0;
}

static int on_control(conn_t *c, uint64_t now)
{
    if (c->f_op == 9) { /* ping -> pong with the same payload */
        S.pings++;
        if (!c->close_sent)
            put_ctrl(c, 10, c->ctrl, c->ctrl_len);
        return 0;
    }
    if (c->f_op == 10) /* unsolicited pong: ignore */
        return 0;
    /* close */
    if (c->ctrl_len == 1)
        return proto_error(c, "close frame with 1-byte payload");
    if (!c->close_sent) { /* server-initiated close: echo the status code */
        unsigned code = c->ctrl_len >= 2 ? (unsigned)c->ctrl[0] << 8 | c->ctrl[1] : 1005;
        vlog("conn %u: server closed the connection (code %u)", c->idx, code);
        if (c->state == ST_OPEN && c->role == R_RECV)
            G.recv_open--;
        put_ctrl(c, 8, c->ctrl, c->ctrl_len >= 2 ? 2 : 0);
        c->close_sent = true;
        if (O.mode == M_CONNECT || G.phase < PH_CLOSE) {
            S.err[E_CLOSED]++;
            S.dropped++;
        }
    }
    c->state = ST_WAIT_EOF;
    c->deadline = now + EOF_WAIT_NS;
    return 0;
}

static int frame_end(conn_t *c, uint64_t now)
{
    c->in_frame = false;
    if (c->f_op >= 8)
        return on_control(c, now);
    if (!c->f_fin)
        return 0;
    c->in_msg = false;
    switch (c->role) {
    case R_ECHO:
        echo_on_msg(c, now);
        break;
    case R_RECV:
        bcast_on_delivery(c, now);
        break;
    case R_SEND:
        S.sender_rx++;
        break;
    default:
        S.ignored_msgs++;
        break;
    }
    return 0;
}

static inline size_t hdr_need(uint8_t b1)
{
    uint8_t l = b1 & 0x7f;
    return 2 + (l == 126 ? 2 : l == 127 ? 8 : 0) + ((b1 & 0x80) ? 4 : 0);
}

/* feed received bytes; returns -1 if the connection was released */
static int ws_feed(conn_t *c, uint8_t *p, size_t n, uint64_t now)
{
    while (n > 0) {
        if (c->state == ST_WAIT_EOF)
            return 0; /* nothing may follow a close frame */
        if (!c->in_frame) {
            const uint8_t *h;
            if (c->fh_have == 0 && n >= 2 && n >= hdr_need(p[1])) {
                size_t need = hdr_need(p[1]);
                h = p; /* fast path: whole header in this chunk */
                p += need;
                n -= need;
            } else {
                while (n && (c->fh_have < 2 || c->fh_have < hdr_need(c->fh[1]))) {
                    c->fh[c->fh_have++] = *p++;
                    n--;
                }
                if (c->fh_have < 2 || c->fh_have < hdr_need(c->fh[1]))
                    return 0;
                h = c->fh;
                c->fh_have = 0;
            }
            if (frame_begin(c, h) < 0)
                return -1;
            if (c->f_left == 0 && frame_end(c, now) < 0)
                return -1;
            continue;
        }
        size_t take = n < c->f_left ? n : (size_t)c->f_left;
        if (c->f_masked)
            mask_copy(p, p, take, c->f_mask, (unsigned)(c->f_pos & 3));
        if (c->f_op >= 8) {
            memcpy(c->ctrl + c->ctrl_len, p, take);
            c->ctrl_len += (uint8_t)take;
        } else {
            on_data(c, p, take);
        }
        c->f_pos += take;
        c->f_left -= take;
        p += take;
        n -= take;
        if (c->f_left == 0 && frame_end(c, now) < 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* HTTP upgrade response                                              */
/* ------------------------------------------------------------------ */

static bool token_list_has(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok), i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == tl && strncasecmp(v + s, tok, tl) == 0)
            return true;
    }
    return false;
}

static const char *hs_check(conn_t *c, const char *buf, size_t len)
{
    if (len < 12 || memcmp(buf, "HTTP/1.1 101", 12) != 0)
        return "status is not 'HTTP/1.1 101'";
    char expect[32];
    ws_accept_for(c->key, expect);
    bool up = false, co = false, acc = false;
    const char *end = buf + len;
    const char *p = memchr(buf, '\n', len);
    if (!p)
        return "no status line";
    p++;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            break;
        const char *le = eol;
        if (le > p && le[-1] == '\r')
            le--;
        if (le == p)
            break;
        const char *colon = memchr(p, ':', (size_t)(le - p));
        if (colon) {
            size_t nl = (size_t)(colon - p);
            const char *v = colon + 1, *ve = le;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            size_t vl = (size_t)(ve - v);
            if (nl == 7 && !strncasecmp(p, "upgrade", 7))
                up = vl == 9 && !strncasecmp(v, "websocket", 9);
            else if (nl == 10 && !strncasecmp(p, "connection", 10))
                co = token_list_has(v, vl, "upgrade");
            else if (nl == 20 && !strncasecmp(p, "sec-websocket-accept", 20))
                acc = vl == 28 && !memcmp(v, expect, 28);
            else if (nl == 24 && !strncasecmp(p, "sec-websocket-extensions", 24))
                return "server selected an extension that was not offered";
            else if (nl == 22 && !strncasecmp(p, "sec-websocket-protocol", 22))
                return "server selected a subprotocol that was not offered";
        }
        p = eol + 1;
    }
    if (!up)
        return "missing/invalid Upgrade header";
    if (!co)
        return "missing/invalid Connection header";
    if (!acc)
        return "missing/wrong Sec-WebSocket-Accept";
    return NULL;
}

/* returns -1 if the connection was released */
static int hs_input(conn_t *c, uint8_t *data, size_t n, uint64_t now)
{
    if (!c->hb)
        c->hb = xrealloc(NULL, HB_CAP);
    size_t old = c->hlen;
    size_t cp = n < HB_CAP - old ? n : HB_CAP - old;
    memcpy(c->hb + old, data, cp);
    c->hlen = (uint32_t)(old + cp);
    size_t from = old > 3 ? old - 3 : 0, end = 0;
    for (size_t i = from; i + 4 <= c->hlen; i++) {
        if (c->hb[i] == '\r' && c->hb[i + 1] == '\n' && c->hb[i + 2] == '\r' && c->hb[i + 3] == '\n') {
            end = i + 4;
            break;
        }
    }
    if (!end) {
        if (c->hlen >= HB_CAP) {
            vlog("conn %u: handshake response too large", c->idx);
            conn_fail(c, E_HANDSHAKE);
            return -1;
        }
        return 0;
    }
    const char *why = hs_check(c, c->hb, end);
    if (why) {
        size_t sl = 0;
        while (sl < end && sl < 80 && c->hb[sl] != '\r')
            sl++;
        vlog("conn %u: handshake failed: %s [%.*s]", c->idx, why, (int)sl, c->hb);
        conn_fail(c, E_HANDSHAKE);
        return -1;
    }
    /* bytes after the header belong to the frame stream */
    size_t rest_hb = c->hlen - end;
    uint8_t tmp[HB_CAP];
    memcpy(tmp, c->hb + end, rest_hb);
    free(c->hb);
    c->hb = NULL;
    c->hlen = 0;
    on_open(c, now);
    if (rest_hb && ws_feed(c, tmp, rest_hb, now) < 0)
        return -1;
    if (cp < n && ws_feed(c, data + cp, n - cp, now) < 0)
        return -1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* events                                                             */
/* ------------------------------------------------------------------ */

static void on_eof(conn_t *c)
{
    if (c->state == ST_WAIT_EOF) {
        conn_release(c); /* clean close */
    } else if (c->state == ST_CLOSING) {
        if (O.mode == M_CONNECT)
            S.err[E_CLOSE]++;
        else
            S.unclosed++;
        conn_release(c);
    } else {
        if (c->state != ST_OPEN)
            vlog("conn %u: connection closed during handshake", c->idx);
        else
            vlog("conn %u: connection closed by server without close frame", c->idx);
        conn_fail(c, c->state == ST_OPEN ? E_CLOSED : E_HANDSHAKE);
    }
}

/* returns -1 if the connection was released */
static int conn_read(conn_t *c, uint32_t ev)
{
    bool hup = (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    for (;;) {
        ssize_t r = read(c->fd, g_rbuf, RBUF_SIZE);
        if (r > 0) {
            uint64_t now = now_ns();
            S.rx_bytes += (uint64_t)r;
            int rc = 0;
            if (c->state == ST_HS)
                rc = hs_input(c, g_rbuf, (size_t)r, now);
            else if (c->state == ST_OPEN || c->state == ST_CLOSING)
                rc = ws_feed(c, g_rbuf, (size_t)r, now);
            if (rc < 0)
                return -1;
            /* a short read drained the socket; with EPOLLET a new arrival
             * re-arms the event, unless the peer already hung up */
            if ((size_t)r < RBUF_SIZE && !hup)
                return 0;
            continue;
        }
        if (r == 0) {
            on_eof(c);
            return -1;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        if (errno == EINTR)
            continue;
        vlog("conn %u: read: %s", c->idx, strerror(errno));
        if (c->state == ST_WAIT_EOF) {
            conn_release(c);
        } else if (c->state == ST_CLOSING && O.mode != M_CONNECT) {
            S.unclosed++;
            conn_release(c);
        } else
            conn_fail(c, c->state >= ST_OPEN ? E_CLOSED : E_CONNECT);
        return -1;
    }
}

static void on_event(conn_t *c, uint32_t ev)
{
    if (c->state == ST_CONNECTING) {
        if (ev & (EPOLLERR | EPOLLHUP)) {
            int err = 0;
            socklen_t l = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
            vlog("conn %u: connect: %s", c->idx, strerror(err ? err : ECONNRESET));
            conn_fail(c, E_CONNECT);
            return;
        }
        if (!(ev & EPOLLOUT))
            return;
        c->state = ST_HS;
    }
    if ((ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && conn_read(c, ev) < 0)
        return;
    if (c->olen > c->ooff && conn_flush(c) < 0) {
        vlog("conn %u: send: %s", c->idx, strerror(errno));
        if (c->close_sent && O.mode != M_CONNECT) {
            S.unclosed++;
            conn_release(c);
        } else {
            conn_fail(c, c->state >= ST_OPEN ? E_CLOSED : E_CONNECT);
        }
    }
}

static void on_timer(uint64_t now)
{
    uint64_t exp = 0;
    if (read(G.tfd, &exp, sizeof exp) != (ssize_t)sizeof exp)
        return;
    if (G.phase != PH_WARMUP && G.phase != PH_MEASURE)
        return;
    uint64_t k = exp > 64 ? 64 : exp; /* bounded catch-up */
    S.skipped += exp - k;
    while (k--)
        bcast_send_round(now);
}

static void timer_set(long us)
{
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    if (us > 0) {
        its.it_interval.tv_sec = us / 1000000;
        its.it_interval.tv_nsec = (us % 1000000) * 1000;
        its.it_value = its.it_interval;
    }
    timerfd_settime(G.tfd, 0, &its, NULL);
}

/* ------------------------------------------------------------------ */
/* phases                                                             */
/* ------------------------------------------------------------------ */

static void ramp_fill(uint64_t now)
{
    while (G.started < G.nc && G.pending < O.max_pending && now < G.phase_deadline)
        conn_open(&G.c[G.started++], now);
}

static void process_restarts(uint64_t now)
{
    if (O.mode != M_CONNECT)
        return;
    int n = G.rq_n;
    G.rq_n = 0;
    for (int i = 0; i < n; i++) {
        conn_t *c = &G.c[G.rq[i]];
        if (c->state != ST_IDLE)
            continue;
        if (G.phase != PH_WARMUP && G.phase != PH_MEASURE)
            continue;
        if (conn_open(c, now) < 0) {
            /* conn_open failed synchronously: retry from the scan, later */
            c->retry_at = now + 20 * NS_PER_MS;
        }
    }
}

static void start_traffic(uint64_t now)
{
    switch (O.mode) {
    case M_ECHO:
        for (int i = 0; i < G.nc; i++) {
            conn_t *c = &G.c[i];
            if (c->state != ST_OPEN)
                continue;
            for (int k = 0; k < O.pipeline; k++)
                echo_send(c, now);
            if (conn_flush(c) < 0)
                conn_fail(c, E_CLOSED);
        }
        break;
    case M_BCAST:
        G.recv_open = 0;
        for (int i = 0; i < G.nc; i++)
            if (G.c[i].role == R_RECV && G.c[i].state == ST_OPEN)
                G.recv_open++;
        G.recv_at_start = G.recv_open;
        if (O.interval_us == 0)
            bcast_send_round(now);
        else
            timer_set(O.interval_us);
        break;
    case M_CONNECT:
        for (int i = 0; i < G.nc; i++)
            if (G.c[i].state == ST_IDLE && conn_open(&G.c[i], now) < 0) {
                G.c[i].retry_at = now + 20 * NS_PER_MS;
            }
        break;
    default:
        break;
    }
}

static void enter_measure(uint64_t now)
{
    G.phase = PH_MEASURE;
    G.t_meas_start = now;
    G.phase_deadline = now + (uint64_t)(O.dur * 1e9);
    getrusage(RUSAGE_SELF, &G.ru0);
}

static void enter_close(uint64_t now)
{
    G.phase = PH_CLOSE;
    G.phase_deadline = now + CLOSE_PHASE_NS;
    if (G.tfd >= 0)
        timer_set(0);
    for (int i = 0; i < G.nc; i++) {
        conn_t *c = &G.c[i];
        if (c->fd < 0)
            continue;
        if (c->state == ST_OPEN) {
            start_close(c, now);
            if (conn_flush(c) < 0) {
                S.unclosed++;
                conn_release(c);
            }
        } else if (c->state == ST_CONNECTING || c->state == ST_HS) {
            conn_release(c); /* abort: not part of the measurement */
        }
    }
}

static void end_measure(uint64_t now)
{
    G.t_meas_end = now;
    getrusage(RUSAGE_SELF, &G.ru1);
    if (G.tfd >= 0)
        timer_set(0);
    if (O.mode == M_HOLD) {
        S.open_at_end = 0;
        for (int i = 0; i < G.nc; i++)
            S.open_at_end += G.c[i].state == ST_OPEN;
    }
}

static void phase_tick(uint64_t now)
{
    if (now >= G.hard_deadline && G.phase != PH_EXIT) {
        vlog("hard run-time limit reached, stopping");
        if (G.phase <= PH_MEASURE) {
            if (G.phase < PH_MEASURE)
                enter_measure(now);
            end_measure(now);
        }
        G.phase = PH_EXIT;
        return;
    }
    if (g_stop && G.phase < PH_DRAIN) {
        if (G.phase < PH_MEASURE)
            enter_measure(now);
        end_measure(now);
        G.phase = PH_DRAIN;
        G.phase_deadline = now + (O.mode == M_HOLD ? 0 : DRAIN_NS);
    }
    switch (G.phase) {
    case PH_RAMP:
        if ((G.started == G.nc && G.pending == 0) || now >= G.phase_deadline) {
            for (int i = 0; i < G.nc; i++) { /* ramp timeout: give up */
                conn_t *c = &G.c[i];
                if (c->state == ST_CONNECTING || c->state == ST_HS)
                    conn_fail(c, E_TIMEOUT);
            }
            if (G.started < G.nc) {
                S.failed += (uint64_t)(G.nc - G.started);
                S.err[E_TIMEOUT] += (uint64_t)(G.nc - G.started);
                G.started = G.nc;
            }
            G.t_ramp_end = now;
            if (O.mode == M_HOLD) {
                S.open_at_hold = G.est;
                printf("{\"mode\":\"hold\",\"open\":%d,\"failed\":%llu}\n", G.est,
                       (unsigned long long)S.failed);
                fflush(stdout);
            }
            if (O.verbose)
                fprintf(stderr, "wsload: %d connections open, %llu failed (%.2f s)\n", G.est,
                        (unsigned long long)S.failed, (double)(now - G.t_start) / 1e9);
            if (O.mode != M_CONNECT && G.est == 0) {
                enter_measure(now);
                end_measure(now);
                enter_close(now);
                break;
            }
            start_traffic(now);
            if (O.warm > 0 && O.mode != M_HOLD) {
                G.phase = PH_WARMUP;
                G.phase_deadline = now + (uint64_t)(O.warm * 1e9);
            } else {
                enter_measure(now);
            }
        }
        break;
    case PH_WARMUP:
        if (now >= G.phase_deadline)
            enter_measure(now);
        break;
    case PH_MEASURE:
        if (now >= G.phase_deadline) {
            end_measure(now);
            G.phase = PH_DRAIN;
            G.phase_deadline = now + (O.mode == M_HOLD ? 0 : DRAIN_NS);
        }
        break;
    case PH_DRAIN: {
        bool drained = true;
        if (O.mode == M_ECHO)
            drained = G.inflight <= 0;
        else if (O.mode == M_BCAST)
            drained = G.open_rounds <= 0;
        else if (O.mode == M_CONNECT)
            drained = G.nfd == 0;
        if (drained || now >= G.phase_deadline) {
            if (O.mode == M_ECHO && G.inflight > 0)
                S.lost = (uint64_t)G.inflight;
            if (O.mode == M_BCAST)
                bcast_finalize_all();
            enter_close(now);
        }
        break;
    }
    case PH_CLOSE:
        if (G.nfd == 0 || now >= G.phase_deadline) {
            for (int i = 0; i < G.nc; i++)
                if (G.c[i].fd >= 0) {
                    S.unclosed++;
                    conn_release(&G.c[i]);
                }
            G.phase = PH_EXIT;
        }
        break;
    default:
        break;
    }
}

static void scan(uint64_t now)
{
    for (int i = 0; i < G.nc; i++) {
        conn_t *c = &G.c[i];
        if (c->fd < 0) {
            if (O.mode == M_CONNECT && c->retry_at && c->retry_at <= now) {
                c->retry_at = 0;
                G.rq[G.rq_n++] = c->idx;
            }
            continue;
        }
        if (now < c->deadline)
            continue;
        switch (c->state) {
        case ST_CONNECTING:
        case ST_HS:
            vlog("conn %u: handshake timeout", c->idx);
            conn_fail(c, E_TIMEOUT);
            break;
        case ST_CLOSING: /* server never answered our close frame */
            if (O.mode == M_CONNECT)
                S.err[E_CLOSE]++;
            else
                S.unclosed++;
            conn_release(c);
            break;
        case ST_WAIT_EOF: /* server did not close TCP: close it ourselves */
            conn_release(c);
            break;
        default:
            break;
        }
    }
    /* broadcast -i 0: a round that never completes must not stall the sender */
    if (O.mode == M_BCAST && O.interval_us == 0 && sending_phase() && G.open_rounds > 0 &&
        now - G.last_send >= ROUND_TIMEOUT_NS)
        bcast_send_round(now);
}

/* ------------------------------------------------------------------ */
/* results                                                            */
/* ------------------------------------------------------------------ */

static void fmt_q(char *buf, size_t n, const hist_t *h, double q, double div)
{
    double v = q >= 1.0 ? (h->n ? (double)h->max : NAN) : hist_q(h, q);
    if (isnan(v))
        snprintf(buf, n, "null");
    else
        snprintf(buf, n, "%.1f", v / div);
}

static uint64_t total_errors(void)
{
    uint64_t e = 0;
    for (int i = 0; i < E__N; i++)
        e += S.err[i];
    return e;
}

static int print_result(void)
{
    double secs = (double)(G.t_meas_end - G.t_meas_start) / 1e9;
    double cpu = 0;
    if (secs >= 1e-3)
        cpu = ((double)(G.ru1.ru_utime.tv_sec - G.ru0.ru_utime.tv_sec) +
               (double)(G.ru1.ru_stime.tv_sec - G.ru0.ru_stime.tv_sec) +
               (double)(G.ru1.ru_utime.tv_usec - G.ru0.ru_utime.tv_usec) / 1e6 +
               (double)(G.ru1.ru_stime.tv_usec - G.ru0.ru_stime.tv_usec) / 1e6) /
              secs * 100.0;
    else
        secs = 1e-9; /* nothing was measured: rates print as 0 */
    uint64_t errors = total_errors();
    char a[32], b[32], c[32], d[32], e[32], f[32];
    char ek[512];
    size_t el = 0;
    ek[0] = 0;
    if (errors) {
        el += (size_t)snprintf(ek + el, sizeof ek - el, ",\"error_kinds\":{");
        bool first = true;
        for (int i = 0; i < E__N; i++)
            if (S.err[i]) {
                el += (size_t)snprintf(ek + el, sizeof ek - el, "%s\"%s\":%llu", first ? "" : ",",
                                       err_names[i], (unsigned long long)S.err[i]);
                first = false;
            }
        snprintf(ek + el, sizeof ek - el, "}");
    }
    bool fail = errors > 0;
    switch (O.mode) {
    case M_ECHO:
        fmt_q(a, sizeof a, &S.lat, 0.50, 1e3);
        fmt_q(b, sizeof b, &S.lat, 0.99, 1e3);
        fmt_q(c, sizeof c, &S.lat, 0.999, 1e3);
        fmt_q(d, sizeof d, &S.lat, 1.0, 1e3);
        printf("{\"mode\":\"echo\",\"conns\":%d,\"open\":%d,\"pipeline\":%d,\"size\":%zu,"
               "\"binary\":%s,\"duration_s\":%.3f,\"msgs\":%llu,\"msgs_per_s\":%.1f,"
               "\"mb_per_s\":%.2f,\"p50_us\":%s,\"p99_us\":%s,\"p999_us\":%s,\"max_us\":%s,"
               "\"errors\":%llu,\"lost\":%llu,\"client_cpu_pct\":%.1f%s}\n",
               O.conns, (int)S.opened, O.pipeline, O.size, O.binary ? "true" : "false", secs,
               (unsigned long long)S.msgs, (double)S.msgs / secs,
               (double)S.msgs * (double)O.size / secs / 1e6, a, b, c, d,
               (unsigned long long)errors, (unsigned long long)S.lost, cpu, ek);
        fail = fail || S.lost > 0;
        break;
    case M_BCAST:
        fmt_q(a, sizeof a, &S.fan, 0.50, 1e6);
        fmt_q(b, sizeof b, &S.fan, 0.99, 1e6);
        fmt_q(c, sizeof c, &S.fan, 1.0, 1e6);
        fmt_q(d, sizeof d, &S.lat, 0.50, 1e6);
        fmt_q(e, sizeof e, &S.lat, 0.99, 1e6);
        fmt_q(f, sizeof f, &S.lat, 1.0, 1e6);
        printf("{\"mode\":\"broadcast\",\"receivers\":%d,\"open\":%d,\"size\":%zu,\"binary\":%s,"
               "\"interval_us\":%ld,\"duration_s\":%.3f,\"rounds\":%llu,\"rounds_per_s\":%.1f,"
               "\"deliveries\":%llu,\"deliveries_per_s\":%.1f,\"fanout_p50_ms\":%s,"
               "\"fanout_p99_ms\":%s,\"fanout_max_ms\":%s,\"delivery_p50_ms\":%s,"
               "\"delivery_p99_ms\":%s,\"delivery_max_ms\":%s,\"missing\":%llu,\"skipped\":%llu,"
               "\"errors\":%llu,\"client_cpu_pct\":%.1f%s}\n",
               O.conns, G.recv_at_start, O.size, O.binary ? "true" : "false", O.interval_us, secs,
               (unsigned long long)S.rounds, (double)S.rounds / secs,
               (unsigned long long)S.deliveries, (double)S.deliveries / secs, a, b, c, d, e, f,
               (unsigned long long)S.missing, (unsigned long long)S.skipped,
               (unsigned long long)errors, cpu, ek);
        fail = fail || S.missing > 0;
        break;
    case M_CONNECT:
        fmt_q(a, sizeof a, &S.hs, 0.50, 1e6);
        fmt_q(b, sizeof b, &S.hs, 0.99, 1e6);
        fmt_q(c, sizeof c, &S.hs, 1.0, 1e6);
        printf("{\"mode\":\"connect\",\"conns\":%d,\"duration_s\":%.3f,\"handshakes\":%llu,"
               "\"handshakes_per_s\":%.1f,\"hs_p50_ms\":%s,\"hs_p99_ms\":%s,\"hs_max_ms\":%s,"
               "\"errors\":%llu,\"client_cpu_pct\":%.1f%s}\n",
               O.conns, secs, (unsigned long long)S.handshakes, (double)S.handshakes / secs, a, b,
               c, (unsigned long long)errors, cpu, ek);
        break;
    case M_HOLD: {
        double ramp = (double)(G.t_ramp_end - G.t_start) / 1e9;
        fmt_q(a, sizeof a, &S.hs, 0.50, 1e6);
        fmt_q(b, sizeof b, &S.hs, 0.99, 1e6);
        printf("{\"mode\":\"hold\",\"conns\":%d,\"open\":%d,\"failed\":%llu,\"open_at_end\":%d,"
               "\"dropped\":%llu,\"ramp_s\":%.3f,\"opens_per_s\":%.1f,\"hs_p50_ms\":%s,"
               "\"hs_p99_ms\":%s,\"held_s\":%.3f,\"pings\":%llu,\"errors\":%llu%s}\n",
               O.conns, S.open_at_hold, (unsigned long long)S.failed, S.open_at_end,
               (unsigned long long)S.dropped, ramp, ramp > 0 ? (double)S.open_at_hold / ramp : 0.0,
               a, b, secs, (unsigned long long)S.pings, (unsigned long long)errors, ek);
        fail = fail || S.failed > 0 || S.dropped > 0;
        break;
    }
    }
    fflush(stdout);
    if (O.verbose)
        fprintf(stderr,
                "wsload: rx %.1f MB, tx %.1f MB, pings answered %llu, late %llu, "
                "ignored msgs %llu, unclosed at exit %llu, total run %.2f s\n",
                (double)S.rx_bytes / 1e6, (double)S.tx_bytes / 1e6, (unsigned long long)S.pings,
                (unsigned long long)S.late, (unsigned long long)S.ignored_msgs,
                (unsigned long long)S.unclosed, (double)(now_ns() - G.t_start) / 1e9);
    return fail ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* setup                                                              */
/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: wsload MODE --url ws://127.0.0.1:PORT/path [options]\n"
            "\n"
            "modes:\n"
            "  echo       -c conns, each keeping -p messages in flight; verifies every echo\n"
            "  broadcast  -c receivers + 1 sender; measures fan-out of each sent message\n"
            "  connect    open / handshake / close loop with -c concurrent slots\n"
            "  hold       open -c idle connections, report, hold them for -d seconds\n"
            "\n"
            "options:\n"
            "  -u, --url URL          ws://HOST[:PORT][/path]; HOST must be in 127.0.0.0/8 or localhost\n"
            "  -c, --conns N          connections (broadcast: receivers; connect: concurrency) [10]\n"
            "  -p, --pipeline N       echo: messages in flight per connection [1]\n"
            "  -s, --size BYTES       payload size, suffix k/m = KiB/MiB [64]\n"
            "      --binary           binary messages (default: text, ASCII payload)\n"
            "      --text             text messages\n"
            "  -d, --duration SEC     measured duration [10]\n"
            "  -w, --warmup SEC       un-measured warm-up after all connections are open [1]\n"
            "  -i, --interval US      broadcast: microseconds between sends; 0 = next send\n"
            "                         as soon as every receiver got the previous one [0]\n"
            "      --max-pending N    max concurrent connects/handshakes while ramping [256]\n"
            "      --source-addrs N   bind connection i to source 127.0.0.(1 + i %% N) [off]\n"
            "      --ramp-timeout SEC max time to open all connections [10]\n"
            "  -H, --header 'K: V'    extra request header (repeatable)\n"
            "      --allow-masked     accept masked server frames (raw TCP echo baselines only)\n"
            "  -v, --verbose          progress and diagnostics on stderr\n"
            "      --selftest         run built-in SHA-1/base64/histogram tests and exit\n"
            "  -h, --help             this help\n"
            "\n"
            "The final result is one JSON line on stdout. Exit status: 0 ok, 1 verification or\n"
            "connection errors (or lost/missing messages, failed/dropped connections), 2 usage.\n");
}

static double parse_num(const char *s, const char *what)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0 || !isfinite(v))
        die("invalid %s: '%s'", what, s);
    if (*end == 'k' || *end == 'K') {
        v *= 1024;
        end++;
    } else if (*end == 'm' || *end == 'M') {
        v *= 1024 * 1024;
        end++;
    }
    if (*end)
        die("invalid %s: '%s'", what, s);
    return v;
}

static void parse_url(const char *url)
{
    if (!strncasecmp(url, "wss://", 6))
        die("wss:// (TLS) is not supported");
    if (strncasecmp(url, "ws://", 5))
        die("URL must start with ws://");
    const char *p = url + 5;
    if (*p == '[')
        die("only IPv4 loopback (127.0.0.0/8) targets are allowed");
    const char *h = p;
    while (*p && *p != ':' && *p != '/' && *p != '?')
        p++;
    size_t hlen = (size_t)(p - h);
    char host[256];
    if (hlen == 0 || hlen >= sizeof host)
        die("bad host in URL");
    memcpy(host, h, hlen);
    host[hlen] = 0;
    long port = 80;
    if (*p == ':') {
        char *end;
        port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535)
            die("bad port in URL");
        p = end;
    }
    if (*p && *p != '/' && *p != '?')
        die("bad URL");
    if (*p == '/')
        snprintf(O.path, sizeof O.path, "%s", p);
    else
        snprintf(O.path, sizeof O.path, "/%s", p);
    for (const char *q = O.path; *q; q++)
        if ((unsigned char)*q <= 0x20 || *q == 0x7f)
            die("URL path must not contain spaces or control characters");
    struct in_addr a;
    if (!strcasecmp(host, "localhost"))
        inet_pton(AF_INET, "127.0.0.1", &a);
    else if (inet_pton(AF_INET, host, &a) != 1)
        die("host must be a literal IPv4 loopback address (127.x.x.x) or localhost");
    if ((ntohl(a.s_addr) >> 24) != 127)
        die("refusing non-loopback target %s: only 127.0.0.0/8 is allowed", host);
    memset(&O.addr, 0, sizeof O.addr);
    O.addr.sin_family = AF_INET;
    O.addr.sin_port = htons((uint16_t)port);
    O.addr.sin_addr = a;
    /* Host header: host[:port] exactly as given in the URL authority */
    snprintf(O.host_hdr, sizeof O.host_hdr, "%.*s", (int)(p - h), h);
}

static int selftest(void)
{
    int bad = 0;
    uint8_t d[20];
    char hex[41];
    struct {
        const char *in, *out;
    } v[] = {
        {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        sha1(v[i].in, strlen(v[i].in), d);
        for (int k = 0; k < 20; k++)
            sprintf(hex + 2 * k, "%02x", d[k]);
        if (strcmp(hex, v[i].out)) {
            fprintf(stderr, "sha1(\"%s\") = %s, want %s\n", v[i].in, hex, v[i].out);
            bad++;
        }
    }
    char *big = malloc(1000000);
    memset(big, 'a', 1000000);
    sha1(big, 1000000, d);
    free(big);
    for (int k = 0; k < 20; k++)
        sprintf(hex + 2 * k, "%02x", d[k]);
    if (strcmp(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f")) {
        fprintf(stderr, "sha1(1M x 'a') = %s\n", hex);
        bad++;
    }
    char acc[32];
    ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", acc); /* RFC 6455 section 1.3 */
    if (strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")) {
        fprintf(stderr, "accept = %s\n", acc);
        bad++;
    }
    char b64[16];
    base64_enc((const uint8_t *)"fo", 2, b64);
    if (strcmp(b64, "Zm8="))
        bad++;
    base64_enc((const uint8_t *)"f", 1, b64);
    if (strcmp(b64, "Zg=="))
        bad++;
    static hist_t h;
    for (uint64_t i = 1; i <= 100000; i++)
        hist_add(&h, i * 1000);
    double p50 = hist_q(&h, 0.5), p99 = hist_q(&h, 0.99);
    if (fabs(p50 - 50e6) / 50e6 > 0.01 || fabs(p99 - 99e6) / 99e6 > 0.01) {
        fprintf(stderr, "hist p50=%f p99=%f\n", p50, p99);
        bad++;
    }
    for (uint64_t x = 1; x < (1ull << 62); x = x * 3 + 1)
        if (hist_idx(x) >= HIST_N || hist_idx(x) < hist_idx(x - 1)) {
            fprintf(stderr, "hist_idx(%llu) broken\n", (unsigned long long)x);
            bad++;
            break;
        }
    printf("selftest: %s\n", bad ? "FAILED" : "ok");
    return bad ? 1 : 0;
}

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

int main(int argc, char **argv)
{
    O.conns = 10;
    O.pipeline = 1;
    O.size = 64;
    O.dur = 10;
    O.warm = 1;
    O.max_pending = 256;
    O.ramp_timeout = (double)RAMP_TIMEOUT_NS / 1e9;
    O.mode = -1;

    enum { OPT_BINARY = 1000, OPT_TEXT, OPT_MAXPEND, OPT_MASKED, OPT_SELFTEST, OPT_SRCADDRS,
           OPT_RAMPTIMEOUT };
    static const struct option lo[] = {
        {"url", required_argument, 0, 'u'},        {"conns", required_argument, 0, 'c'},
        {"pipeline", required_argument, 0, 'p'},   {"size", required_argument, 0, 's'},
        {"duration", required_argument, 0, 'd'},   {"warmup", required_argument, 0, 'w'},
        {"interval", required_argument, 0, 'i'},   {"header", required_argument, 0, 'H'},
        {"binary", no_argument, 0, OPT_BINARY},    {"text", no_argument, 0, OPT_TEXT},
        {"max-pending", required_argument, 0, OPT_MAXPEND},
        {"allow-masked", no_argument, 0, OPT_MASKED},
        {"source-addrs", required_argument, 0, OPT_SRCADDRS},
        {"ramp-timeout", required_argument, 0, OPT_RAMPTIMEOUT},
        {"selftest", no_argument, 0, OPT_SELFTEST}, {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},             {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "u:c:p:s:d:w:i:H:vh", lo, NULL)) != -1) {
        switch (ch) {
        case 'u':
            O.url = optarg;
            break;
        case 'c':
            O.conns = (int)parse_num(optarg, "-c");
            break;
        case 'p':
            O.pipeline = (int)parse_num(optarg, "-p");
            break;
        case 's': {
            double s = parse_num(optarg, "-s");
            if (s > MAX_SIZE)
                die("-s too large (max %u)", MAX_SIZE);
            O.size = (size_t)s;
            break;
        }
        case 'd':
            O.dur = parse_num(optarg, "-d");
            break;
        case 'w':
            O.warm = parse_num(optarg, "-w");
            break;
        case 'i':
            O.interval_us = (long)parse_num(optarg, "-i");
            break;
        case 'H': {
            size_t l = strlen(optarg);
            if (strpbrk(optarg, "\r\n") || !strchr(optarg, ':'))
                die("bad header '%s' (want 'Name: value')", optarg);
            if (O.extra_len + l + 3 > sizeof O.extra_hdrs)
                die("too many extra headers");
            memcpy(O.extra_hdrs + O.extra_len, optarg, l);
            memcpy(O.extra_hdrs + O.extra_len + l, "\r\n", 3);
            O.extra_len += l + 2;
            break;
        }
        case OPT_BINARY:
            O.binary = true;
            break;
        case OPT_TEXT:
            O.binary = false;
            break;
        case OPT_MAXPEND:
            O.max_pending = (int)parse_num(optarg, "--max-pending");
            break;
        case OPT_MASKED:
            O.allow_masked = true;
            break;
        case OPT_SRCADDRS:
            O.source_addrs = (int)parse_num(optarg, "--source-addrs");
            if (O.source_addrs > 254)
                die("--source-addrs must be 0..254");
            break;
        case OPT_RAMPTIMEOUT:
            O.ramp_timeout = parse_num(optarg, "--ramp-timeout");
            if (O.ramp_timeout <= 0 || O.ramp_timeout > 3600)
                die("--ramp-timeout must be > 0 and <= 3600");
            break;
        case OPT_SELFTEST:
            return selftest();
        case 'v':
            O.verbose = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    for (int m = 0; m < 4; m++)
        if (!strcmp(argv[optind], mode_names[m]))
            O.mode = m;
    if (O.mode < 0)
        die("unknown mode '%s' (echo, broadcast, connect, hold)", argv[optind]);
    if (optind + 1 < argc)
        die("unexpected argument '%s'", argv[optind + 1]);
    if (!O.url)
        die("--url is required");
    parse_url(O.url);
    if (O.conns < 1 || O.conns > 1000000)
        die("-c must be 1..1000000");
    if (O.pipeline < 1 || O.pipeline > 65536)
        die("-p must be 1..65536");
    if (O.max_pending < 1)
        die("--max-pending must be >= 1");
    if (O.dur <= 0 || O.dur > 86400)
        die("-d must be > 0");
    if (O.warm > 86400)
        die("-w too large");
    if (O.mode == M_HOLD)
        O.warm = 0; /* hold has no warm-up */
    G.hl = O.binary ? 8 : 16;
    G.data_op = O.binary ? 2 : 1;
    if (O.mode == M_BCAST && O.size < G.hl)
        die("broadcast needs -s >= %zu (room for the round number)", G.hl);

    /* environment */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) { /* e.g. hard = unlimited > nr_open */
            rl.rlim_cur = 1048576;
            while (rl.rlim_cur > 1024 && setrlimit(RLIMIT_NOFILE, &rl) < 0)
                rl.rlim_cur /= 2;
        }
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)O.conns + 16 && O.verbose)
        fprintf(stderr, "wsload: warning: RLIMIT_NOFILE=%llu < connections; expect failures\n",
                (unsigned long long)rl.rlim_cur);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    uint64_t seed;
    fill_random(&seed, sizeof seed);
    rng_s = seed;

    /* payload pattern: ASCII for text, random bytes for binary */
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t plen = O.size + PAT_SPREAD + 8;
    G.pattern = xrealloc(NULL, plen);
    for (size_t i = 0; i < plen; i++) {
        uint64_t r = rng64();
        G.pattern[i] = O.binary ? (uint8_t)r : (uint8_t)alnum[r & 63];
    }

    G.nc = O.conns + (O.mode == M_BCAST ? 1 : 0);
    G.c = xcalloc((size_t)G.nc, sizeof(conn_t));
    for (int i = 0; i < G.nc; i++) {
        conn_t *c = &G.c[i];
        c->fd = -1;
        c->idx = (uint32_t)i;
        c->role = O.mode == M_ECHO ? R_ECHO
                  : O.mode == M_BCAST ? (i == O.conns ? R_SEND : R_RECV)
                  : O.mode == M_CONNECT ? R_CONNECT
                                        : R_HOLD;
        if (O.mode == M_ECHO)
            c->ts = xcalloc((size_t)O.pipeline, sizeof(uint64_t));
    }
    if (O.mode == M_BCAST) {
        G.sender = &G.c[O.conns];
        G.ring = xcalloc(RING_SIZE, sizeof(struct round));
        G.next_round = 1;
    }
    if (O.mode == M_CONNECT)
        G.rq = xcalloc((size_t)G.nc, sizeof(uint32_t));

    G.ep = epoll_create1(EPOLL_CLOEXEC);
    if (G.ep < 0)
        die("epoll_create1: %s", strerror(errno));
    G.tfd = -1;
    if (O.mode == M_BCAST && O.interval_us > 0) {
        G.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (G.tfd < 0)
            die("timerfd_create: %s", strerror(errno));
        struct epoll_event ev;
        ev.events = EPOLLIN;
        ev.data.u64 = TIMER_IDX;
        epoll_ctl(G.ep, EPOLL_CTL_ADD, G.tfd, &ev);
    }

    uint64_t now = now_ns();
    G.t_start = now;
    G.hard_deadline = now + (uint64_t)((O.ramp_timeout + O.warm + O.dur) * 1e9) + HARD_SLACK_NS -
                      RAMP_TIMEOUT_NS;
    { /* last-resort backstop: SIGALRM kills us at warm + dur + 15 s */
        struct itimerval it;
        memset(&it, 0, sizeof it);
        double lim = O.warm + O.dur + 15.0;
        it.it_value.tv_sec = (time_t)lim;
        it.it_value.tv_usec = (suseconds_t)((lim - floor(lim)) * 1e6);
        setitimer(ITIMER_REAL, &it, NULL);
    }
    G.phase = PH_RAMP;
    G.phase_deadline = now + (uint64_t)(O.ramp_timeout * 1e9);
    if (O.mode == M_CONNECT)
        G.started = G.nc; /* no ramp: the slots open when traffic starts */

    struct epoll_event evs[1024];
    uint64_t next_scan = now + SCAN_NS, next_prog = now + NS_PER_S;
    uint64_t last_rx = 0, last_hs = 0;
    for (;;) {
        now = now_ns();
        phase_tick(now);
        if (G.phase == PH_EXIT)
            break;
        if (G.phase == PH_RAMP)
            ramp_fill(now);
        uint64_t wake = next_scan < G.phase_deadline ? next_scan : G.phase_deadline;
        int to = wake > now ? (int)((wake - now + NS_PER_MS - 1) / NS_PER_MS) : 0;
        int n = epoll_wait(G.ep, evs, 1024, to);
        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            uint64_t u = evs[i].data.u64;
            uint32_t idx = (uint32_t)u, gen = (uint32_t)(u >> 32);
            if (idx == TIMER_IDX) {
                on_timer(now_ns());
                continue;
            }
            conn_t *c = &G.c[idx];
            if (c->gen != gen || c->fd < 0)
                continue; /* stale event for a released connection */
            on_event(c, evs[i].events);
        }
        now = now_ns();
        if (now >= next_scan) {
            scan(now);
            next_scan = now + SCAN_NS;
        }
        process_restarts(now);
        if (O.verbose && now >= next_prog) {
            fprintf(stderr, "[%6.1fs] %-7s est=%d pending=%d failed=%llu msgs/s=%llu hs/s=%llu errors=%llu\n",
                    (double)(now - G.t_start) / 1e9, phase_names[G.phase], G.est, G.pending,
                    (unsigned long long)S.failed, (unsigned long long)(S.rx_total - last_rx),
                    (unsigned long long)(S.hs_total - last_hs), (unsigned long long)total_errors());
            last_rx = S.rx_total;
            last_hs = S.hs_total;
            next_prog += NS_PER_S;
        }
    }
    return print_result();
}
