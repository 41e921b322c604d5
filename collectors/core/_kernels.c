/* Optional compiled per-packet loops for the measurement core and the pcap reader.
 *
 * Each function does, in one pass over the packets, exactly what a Python reference of the
 * package does (named below), writing into arrays the caller allocated. The one caller is
 * collectors/core/fast.py, which marshals the arguments and runs the reference instead when
 * this module is not built; the tests run both and compare the results. A kernel is here only
 * where it saves time on a whole run (docs/benchmarks.md). No numpy C API: arrays are passed
 * through the buffer protocol, so the module builds without numpy's headers.
 *
 *   ts_headers  - collectors/core/ts.py parse_ts_headers; with extra arguments also the
 *                 continuity check of the valid packets (collectors/core/cc.py
 *                 ContinuityChecker.errors_at; fast.ts_headers_cc)
 *   pid_counts  - per-PID packet counts and last arrival times of a run of packets
 *   rare_events - collectors/core/rare.py: the positions of the PSI and probed packets
 *   pcap_records   - collectors/sources/pcap.py PcapReader: the classic pcap record walk, the
 *                    link / IP / UDP decode (decode_packet's rules), the filters, the flow ids
 *                    (FlowTable.assign) and the RTP header parse of every datagram delivered
 *                    (collectors/core/rtp.py parse_rtp_headers), in one pass per record, and
 *                    copies the first 12 bytes of each TS packet (the analyzer parses those
 *                    instead of going back to the record: PacketBatch.ts_heads)
 *   packet_records - the same from the decode on, for records found by the caller (pcapng)
 *   ts_layout      - collectors/core/datagrams.py ts_layout_reference: where each TS packet
 *                    of a feed call is (datagram, start in the data, start in the copied heads)
 *   pcr_pairs      - collectors/core/fast.py pcr_pairs' reference (the PCR packets of the PCR
 *                    PID and mdi.py PcrRateMeter.pairs' running sums)
 *   dgram_fields   - collectors/core/datagrams.py fields_reference (with the source's RTP
 *                    headers)
 *   pid_rates      - collectors/core/interval.py pid_rates_reference (per-PID rates)
 *   psi_links      - collectors/core/rare.py links_reference (repeated tables: which PSI
 *                    events are copies, grouped by PID)
 *   group_by_flow  - collectors/core/fast.py group_by_flow's reference (a stable counting sort)
 *   seq_run        - collectors/core/seq.py SequenceTracker.run_reference (loss, reordering,
 *                    duplicates)
 *   rtp_chunks     - collectors/core/chunks.py rtp_rows_reference (RTP sums, TS-DF)
 *   delay_factor   - collectors/core/mdi.py delay_factor_ms
 *   buffer_run     - collectors/core/buffer.py PlayoutBuffer.feed_reference
 *   psi_repeats    - collectors/core/tr101290_psipass.py psi_repeats_reference (TR 101 290:
 *                    which PSI packets repeat the one before them on their PID)
 *   tr_scan        - collectors/core/tr101290_watch.py scan_reference (TR 101 290: the
 *                    positions of the PSI packets, the PES packet starts, the PCRs and the
 *                    scrambled packets of a call, in one pass)
 *   gap_scan       - collectors/core/tr101290_watch.py gap_scan_reference (TR 101 290
 *                    PID_error / PTS_error: each PID's first and last packet and its gaps
 *                    longer than the limit, in one pass)
 *
 * Floating-point code does numpy's operations in numpy's order (cumsum is a running sum), so
 * the results are equal to the bit; setup.py builds with -ffp-contract=off so that no
 * multiply-add is fused.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#define TS 188
/* Records are prefetched this far ahead (bytes; records for pcapng's), measured best on a
 * capture of 1.4 kB records (docs/benchmarks.md) */
#define PF_AHEAD 3072
#define PF_RECORDS 8
#define PF_PSI 32 /* PSI packets prefetched ahead (psi_repeats) */
#define HEAD 12 /* bytes copied of each TS packet: header, AF length and flags, PCR */
#define NPID 8192
#define NULL_PID 0x1FFF

typedef struct {
    Py_buffer b[40];
    int n;
} bufs_t;

static void release(bufs_t *s) {
    for (int i = 0; i < s->n; i++) PyBuffer_Release(&s->b[i]);
    s->n = 0;
}

/* Get a C-contiguous buffer of at least min_bytes; writable when asked. */
static void *get(bufs_t *s, PyObject *o, int writable, Py_ssize_t min_bytes, const char *what) {
    Py_buffer *v = &s->b[s->n];
    int flags = PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(o, v, flags) < 0) return NULL;
    s->n++;
    if (v->len < min_bytes) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes, need %zd", what, v->len, min_bytes);
        return NULL;
    }
    return v->buf;
}

/* ts_headers(data, starts, n, err, pid, pusi, afc, cc, disc, has_pcr, payload_offset,
 *            e_sync, e_tei, e_afc, e_af_length[, extra]) -> None, or with extra (bad, count)
 * data: uint8; starts: int64[n] (each with 188 bytes after it); outputs: err uint8,
 * pid uint16, pusi bool, afc uint8, cc uint8, disc bool, has_pcr bool, payload_offset int16.
 * extra: (last_cc, last_dup, out_at, out_lost) also does cc_errors in the same pass over the
 * packets without a header error or whose only fault is the adaptation_field_length: bad is
 * the number of packets with a header error, count the continuity errors (positions among
 * all n packets). */
static PyObject *ts_headers(PyObject *self, PyObject *args) {
    PyObject *o[10], *xo = Py_None;
    Py_ssize_t n;
    int e_sync, e_tei, e_afc, e_afl;
    if (!PyArg_ParseTuple(args, "OOnOOOOOOOOiiii|O", &o[0], &o[1], &n, &o[2], &o[3], &o[4],
                          &o[5], &o[6], &o[7], &o[8], &o[9], &e_sync, &e_tei, &e_afc, &e_afl,
                          &xo))
        return NULL;
    bufs_t s = {.n = 0};
    const uint8_t *data = get(&s, o[0], 0, 0, "data");
    Py_ssize_t dlen = data ? s.b[0].len : 0;
    const int64_t *starts = data ? get(&s, o[1], 0, n * 8, "starts") : NULL;
    uint8_t *err = starts ? get(&s, o[2], 1, n, "err") : NULL;
    uint16_t *pid = err ? get(&s, o[3], 1, n * 2, "pid") : NULL;
    uint8_t *pusi = pid ? get(&s, o[4], 1, n, "pusi") : NULL;
    uint8_t *afc_o = pusi ? get(&s, o[5], 1, n, "afc") : NULL;
    uint8_t *cc = afc_o ? get(&s, o[6], 1, n, "cc") : NULL;
    uint8_t *disc = cc ? get(&s, o[7], 1, n, "disc") : NULL;
    uint8_t *pcr = disc ? get(&s, o[8], 1, n, "has_pcr") : NULL;
    int16_t *po = pcr ? get(&s, o[9], 1, n * 2, "payload_offset") : NULL;
    if (!po) {
        release(&s);
        return NULL;
    }
    /* extra: (last_cc, last_dup, out_at, out_lost), or None */
    int64_t *last_cc = NULL, *out_at = NULL, *out_lost = NULL;
    uint8_t *last_dup = NULL;
    Py_ssize_t bad = 0, k = 0;
    if (xo != Py_None) {
        PyObject *x[4];
        if (!PyArg_ParseTuple(xo, "OOOO", &x[0], &x[1], &x[2], &x[3]) ||
            !(last_cc = get(&s, x[0], 1, NPID * 8, "last_cc")) ||
            !(last_dup = get(&s, x[1], 1, NPID, "last_dup")) ||
            !(out_at = get(&s, x[2], 1, n * 8, "out_at")) ||
            !(out_lost = get(&s, x[3], 1, n * 8, "out_lost"))) {
            release(&s);
            return NULL;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t at = starts[i];
        if (at < 0 || at + 6 > dlen) {
            release(&s);
            PyErr_Format(PyExc_IndexError, "TS packet start %lld out of range", (long long)at);
            return NULL;
        }
        const uint8_t *h = data + at;
        uint8_t b1 = h[1], b3 = h[3], b4 = h[4], b5 = h[5];
        uint8_t afc = (b3 >> 4) & 3;
        int16_t off = (afc & 1) ? 4 : TS;
        uint8_t d = 0, pf = 0, bad_af = 0;
        if (afc >= 2) {
            int present = b4 > 0;
            d = present && (b5 & 0x80);
            pf = present && (b5 & 0x10);
            uint8_t limit = afc == 2 ? 183 : 182;
            bad_af = (b4 > limit) || (pf && b4 < 7);
            if (afc & 1) off = (int16_t)b4 + 5;
        }
        uint8_t e = 0;
        if (h[0] != 0x47)
            e = (uint8_t)e_sync;
        else if (b1 >= 0x80)
            e = (uint8_t)e_tei;
        else if (afc == 0)
            e = (uint8_t)e_afc;
        else if (bad_af)
            e = (uint8_t)e_afl;
        err[i] = e;
        pid[i] = (uint16_t)(((b1 & 0x1F) << 8) | h[2]);
        pusi[i] = (b1 & 0x40) != 0;
        afc_o[i] = afc;
        cc[i] = b3 & 0x0F;
        disc[i] = d;
        pcr[i] = pf && e == 0;
        po[i] = off;
        if (!last_cc) continue;
        /* with extra: cc_errors over the valid packets (positions counted among them) */
        if (e) {
            bad++;
            if (e != (uint8_t)e_afl) continue;
        }
        unsigned p = pid[i];
        if (!(afc & 1) || p == NULL_PID) continue;
        int64_t prev = last_cc[p];
        int c = b3 & 0x0F;
        int has_prev = prev >= 0;
        int step = (int)((c - prev) & 0x0F);
        int is_dup = has_prev && step == 0 && !d;
        if (has_prev && !d && step != 1 && !(is_dup && !last_dup[p])) {
            out_at[k] = i;
            out_lost[k] = step >= 2 ? step - 1 : 0;
            k++;
        }
        last_cc[p] = c;
        last_dup[p] = (uint8_t)is_dup;
    }
    release(&s);
    if (xo != Py_None) return Py_BuildValue("nn", bad, k);
    Py_RETURN_NONE;
}

static inline uint32_t rd32(const uint8_t *p, int big) {
    return big ? ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]
               : ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}

/* pid_counts(pid, arrival, n, counts, last_seen[, dgram]): counts[pid] += 1 and
 * last_seen[pid] = max(last_seen[pid], arrival) over n packets (pid uint16, arrival int64,
 * counts / last_seen int64[8192]); with dgram (int64[n]) arrival is per datagram and a
 * packet's is arrival[dgram]. */
static PyObject *pid_counts(PyObject *self, PyObject *args) {
    PyObject *o[4], *dg_o = Py_None;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "OOnOO|O", &o[0], &o[1], &n, &o[2], &o[3], &dg_o)) return NULL;
    bufs_t s = {.n = 0};
    const uint16_t *pid = get(&s, o[0], 0, n * 2, "pid");
    const int64_t *arr = pid ? get(&s, o[1], 0, dg_o == Py_None ? n * 8 : 0, "arrival") : NULL;
    Py_ssize_t narr = arr ? s.b[s.n - 1].len / 8 : 0;
    int64_t *counts = arr ? get(&s, o[2], 1, NPID * 8, "counts") : NULL;
    int64_t *last = counts ? get(&s, o[3], 1, NPID * 8, "last_seen") : NULL;
    const int64_t *dg = NULL;
    if (last && dg_o != Py_None && !(dg = get(&s, dg_o, 0, n * 8, "dgram"))) last = NULL;
    if (!last) {
        release(&s);
        return NULL;
    }
    if (dg) { /* arrival per datagram, dgram per packet */
        for (Py_ssize_t i = 0; i < n; i++) {
            if (dg[i] < 0 || dg[i] >= narr) {
                release(&s);
                PyErr_Format(PyExc_IndexError, "datagram %lld out of range", (long long)dg[i]);
                return NULL;
            }
            unsigned p = pid[i] & (NPID - 1);
            int64_t a = arr[dg[i]];
            counts[p]++;
            if (a > last[p]) last[p] = a;
        }
    } else {
        for (Py_ssize_t i = 0; i < n; i++) {
            unsigned p = pid[i] & (NPID - 1);
            counts[p]++;
            if (arr[i] > last[p]) last[p] = arr[i];
        }
    }
    release(&s);
    Py_RETURN_NONE;
}

/* rare_events(pid uint16, pusi bool, pos, n, psi_lut bool[8192], probe_pid, probe_all, out
 *             int64[n - pos]) -> count: the positions (pos..n-1) of the packets of the PSI
 * PIDs (psi_lut) and of the probed PID (probe_pid >= 0: every packet when probe_all, else the
 * payload unit starts), increasing, in out[:count] (collectors/core/rare.py
 * rare_events_reference). */
static PyObject *rare_events(PyObject *self, PyObject *args) {
    PyObject *po, *uo, *lo, *oo;
    Py_ssize_t pos, n;
    long probe_pid;
    int probe_all;
    if (!PyArg_ParseTuple(args, "OOnnOlpO", &po, &uo, &pos, &n, &lo, &probe_pid, &probe_all, &oo))
        return NULL;
    if (pos < 0 || n < pos) {
        PyErr_Format(PyExc_ValueError, "positions %zd..%zd: not a range", pos, n);
        return NULL;
    }
    bufs_t s = {.n = 0};
    const uint16_t *pid = get(&s, po, 0, n * 2, "pid");
    const uint8_t *pusi = pid ? get(&s, uo, 0, n, "pusi") : NULL;
    const uint8_t *lut = pusi ? get(&s, lo, 0, NPID, "psi_lut") : NULL;
    int64_t *out = lut ? get(&s, oo, 1, (n - pos) * 8, "out") : NULL;
    if (!out) {
        release(&s);
        return NULL;
    }
    Py_ssize_t m = 0;
    Py_BEGIN_ALLOW_THREADS
    if (probe_pid < 0) {
        for (Py_ssize_t i = pos; i < n; i++) {
            out[m] = i;
            m += lut[pid[i] & (NPID - 1)] != 0;
        }
    } else {
        for (Py_ssize_t i = pos; i < n; i++) {
            unsigned p = pid[i] & (NPID - 1);
            out[m] = i;
            m += lut[p] != 0 || ((long)p == probe_pid && (probe_all || pusi[i]));
        }
    }
    Py_END_ALLOW_THREADS
    release(&s);
    return PyLong_FromSsize_t(m);
}

/* ------------------------------------------------------------------ capture records
 *
 * The flow table: 5-word keys (family << 32 | sport << 16 | dport, source high / low, destination
 * high / low, as pcap_flows.py key_row) to ids 0, 1, ... in a hash with linear probing, kept in a
 * capsule for the life of a reader. The flows new in a batch get their ids in the order of
 * their keys (what FlowTable.assign does, through np.unique), at the end of the batch.
 */

#define FT_CAPSULE "iec62379.flow_table"

typedef struct {
    uint64_t *keys; /* cap * 5 */
    int32_t *slots; /* hcap, -1 = empty */
    Py_ssize_t count, cap, hcap;
} ftab_t;

static void ft_free(PyObject *cap) {
    ftab_t *t = PyCapsule_GetPointer(cap, FT_CAPSULE);
    if (t) {
        free(t->keys);
        free(t->slots);
        free(t);
    }
}

static inline uint64_t ft_hash(const uint64_t *k) {
    uint64_t h = k[0] * 0x9E3779B97F4A7C15ULL;
    for (int i = 1; i < 5; i++) {
        h ^= k[i] + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
        h *= 0xBF58476D1CE4E5B9ULL;
    }
    return h ^ (h >> 31);
}

static inline int key_eq(const uint64_t *a, const uint64_t *b) {
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4];
}

/* Slot index of key (its slot, or the empty slot where it would go). */
static inline Py_ssize_t ft_slot(const ftab_t *t, const uint64_t *k) {
    Py_ssize_t m = t->hcap - 1, i = (Py_ssize_t)(ft_hash(k) & (uint64_t)m);
    while (t->slots[i] >= 0 && !key_eq(t->keys + 5 * (Py_ssize_t)t->slots[i], k)) i = (i + 1) & m;
    return i;
}

static int ft_rehash(ftab_t *t, Py_ssize_t hcap) {
    int32_t *s = malloc(sizeof(int32_t) * hcap);
    if (!s) return -1;
    free(t->slots);
    t->slots = s;
    t->hcap = hcap;
    memset(s, 0xFF, sizeof(int32_t) * hcap);
    for (Py_ssize_t id = 0; id < t->count; id++) s[ft_slot(t, t->keys + 5 * id)] = (int32_t)id;
    return 0;
}

/* The id of key, added when new; -1 when out of memory. */
static inline int32_t ft_get(ftab_t *t, const uint64_t *k) {
    Py_ssize_t i = ft_slot(t, k);
    if (t->slots[i] >= 0) return t->slots[i];
    if (t->count >= INT32_MAX) return -1;
    if (t->count == t->cap) {
        Py_ssize_t cap = t->cap * 2;
        uint64_t *nk = realloc(t->keys, sizeof(uint64_t) * 5 * cap);
        if (!nk) return -1;
        t->keys = nk;
        t->cap = cap;
    }
    int32_t id = (int32_t)t->count++;
    memcpy(t->keys + 5 * id, k, 5 * sizeof(uint64_t));
    t->slots[i] = id;
    if (t->count * 2 > t->hcap) {
        if (ft_rehash(t, t->hcap * 2) < 0) return -1;
    }
    return id;
}

/* flow_table() -> capsule */
static PyObject *flow_table(PyObject *self, PyObject *args) {
    ftab_t *t = calloc(1, sizeof(ftab_t));
    if (!t) return PyErr_NoMemory();
    t->cap = 64;
    t->keys = malloc(sizeof(uint64_t) * 5 * t->cap);
    if (!t->keys || ft_rehash(t, 256) < 0) {
        free(t->keys);
        free(t);
        return PyErr_NoMemory();
    }
    PyObject *c = PyCapsule_New(t, FT_CAPSULE, ft_free);
    if (!c) {
        free(t->keys);
        free(t->slots);
        free(t);
    }
    return c;
}

/* flow_table_add(capsule, keys uint64[n * 5], n) -> count: adds keys (in order) not yet known,
 * to bring the table level with the reader's flow list. */
static PyObject *flow_table_add(PyObject *self, PyObject *args) {
    PyObject *cap, *ko;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "OOn", &cap, &ko, &n)) return NULL;
    ftab_t *t = PyCapsule_GetPointer(cap, FT_CAPSULE);
    if (!t) return NULL;
    bufs_t s = {.n = 0};
    const uint64_t *k = get(&s, ko, 0, n * 40, "keys");
    if (!k) {
        release(&s);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (ft_get(t, k + 5 * i) < 0) {
            release(&s);
            return PyErr_NoMemory();
        }
    }
    release(&s);
    return PyLong_FromSsize_t(t->count);
}

static int key_cmp(const uint64_t *a, const uint64_t *b) {
    for (int i = 0; i < 5; i++)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
}

/* Stable merge sort of idx[0..n) by keys[5 * idx]. */
static void sort_by_key(int32_t *idx, int32_t *tmp, Py_ssize_t n, const uint64_t *keys) {
    for (Py_ssize_t w = 1; w < n; w *= 2) {
        for (Py_ssize_t lo = 0; lo < n; lo += 2 * w) {
            Py_ssize_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            Py_ssize_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi)
                tmp[o++] = key_cmp(keys + 5 * (Py_ssize_t)idx[b], keys + 5 * (Py_ssize_t)idx[a]) < 0
                               ? idx[b++]
                               : idx[a++];
            while (a < mid) tmp[o++] = idx[a++];
            while (b < hi) tmp[o++] = idx[b++];
        }
        memcpy(idx, tmp, sizeof(int32_t) * n);
    }
}

/* Status of a record, as pcap_vector.py's OK .. HDR_CUT. */
enum { ST_OK, ST_NON_UDP, ST_FRAG, ST_MALFORMED, ST_SLOW, ST_HDR_CUT };

typedef struct {
    const uint8_t *buf;
    Py_ssize_t size;
    ftab_t *ft;
    int32_t base; /* flows known before the batch */
    /* filters */
    long dst_port; /* -1 = any */
    int dst_ver;   /* 0 = any address */
    uint64_t dst_hi, dst_lo;
    int incl_trunc;
    uint8_t e_short, e_ver, e_ext, e_pad;
    /* outputs, one row per datagram delivered */
    int64_t *off, *arr, *seq, *rts, *ssrc, *pt, *poff, *plen;
    int32_t *len, *fid;
    uint8_t *first, *err, *marker;
    int64_t *tsf; /* index in heads of the datagram's first TS packet */
    Py_ssize_t kept;
    Py_ssize_t non_udp, frag, malformed, truncated, filtered;
    int oom;
    /* bytes 0..11 of every TS packet of the delivered datagrams (HEAD a packet; malloc'd) */
    uint8_t *heads;
    Py_ssize_t nheads, heads_cap;
} rec_t;

static inline unsigned be16(const uint8_t *p) { return ((unsigned)p[0] << 8) | p[1]; }
static inline uint64_t be32(const uint8_t *p) {
    return ((uint64_t)p[0] << 24) | ((uint64_t)p[1] << 16) | ((uint64_t)p[2] << 8) | p[3];
}
static inline uint64_t be64(const uint8_t *p) { return (be32(p) << 32) | be32(p + 4); }

/* decode_packet: status; for ST_OK the payload (relative), its length, truncation, key. */
typedef struct {
    Py_ssize_t poff, plen;
    int trunc;
    uint64_t key[5];
} dec_t;

static inline int dec_udp(const uint8_t *d, Py_ssize_t n, Py_ssize_t udp, Py_ssize_t ip_plen,
                          int more, dec_t *o) {
    if (n < udp + 8) return ST_HDR_CUT;
    unsigned sport = be16(d + udp), dport = be16(d + udp + 2);
    Py_ssize_t ulen = be16(d + udp + 4);
    if (ulen < 8 || (!more && ulen > ip_plen)) return ST_MALFORMED;
    Py_ssize_t avail = n - (udp + 8), plen = ulen - 8;
    o->trunc = more || avail < plen;
    o->poff = udp + 8;
    o->plen = plen < avail ? plen : avail;
    o->key[0] |= ((uint64_t)sport << 16) | dport;
    return ST_OK;
}

static inline int dec_ipv4(const uint8_t *d, Py_ssize_t n, Py_ssize_t pos, dec_t *o) {
    if (n < pos + 20) return ST_HDR_CUT;
    uint8_t b0 = d[pos];
    Py_ssize_t ihl = (b0 & 15) * 4;
    if ((b0 >> 4) != 4 || ihl < 20) return ST_MALFORMED;
    if (n < pos + ihl) return ST_HDR_CUT;
    Py_ssize_t total = be16(d + pos + 2);
    unsigned frag = be16(d + pos + 6);
    if (d[pos + 9] != 17) return ST_NON_UDP;
    if (frag & 0x1FFF) return ST_FRAG;
    o->key[0] = (uint64_t)4 << 32;
    o->key[1] = 0;
    o->key[2] = be32(d + pos + 12);
    o->key[3] = 0;
    o->key[4] = be32(d + pos + 16);
    return dec_udp(d, n, pos + ihl, total - ihl, (frag & 0x2000) != 0, o);
}

static inline int dec_ipv6(const uint8_t *d, Py_ssize_t n, Py_ssize_t pos, dec_t *o) {
    if (n < pos + 40) return ST_HDR_CUT;
    if ((d[pos] >> 4) != 6) return ST_MALFORMED;
    Py_ssize_t plen = be16(d + pos + 4);
    unsigned nh = d[pos + 6];
    o->key[0] = (uint64_t)6 << 32;
    o->key[1] = be64(d + pos + 8);
    o->key[2] = be64(d + pos + 16);
    o->key[3] = be64(d + pos + 24);
    o->key[4] = be64(d + pos + 32);
    Py_ssize_t end_ip = pos + 40 + plen, p = pos + 40;
    int more = 0;
    for (int i = 0; i < 16; i++) {
        if (nh == 17) return dec_udp(d, n, p, end_ip - p, more, o);
        if (!(nh == 0 || nh == 43 || nh == 60 || nh == 44 || nh == 51)) return ST_NON_UDP;
        if (n < p + 8) return ST_HDR_CUT;
        if (nh == 44) {
            unsigned of = be16(d + p + 2);
            if (of >> 3) return ST_FRAG;
            more = of & 1;
            nh = d[p];
            p += 8;
        } else if (nh == 51) {
            Py_ssize_t step = ((Py_ssize_t)d[p + 1] + 2) * 4;
            nh = d[p];
            p += step;
        } else {
            Py_ssize_t step = ((Py_ssize_t)d[p + 1] + 1) * 8;
            nh = d[p];
            p += step;
        }
    }
    return ST_MALFORMED;
}

static inline int decode(const uint8_t *d, Py_ssize_t n, long lt, dec_t *o) {
    int ver = 0;
    Py_ssize_t pos = 0;
    if (lt == 1) { /* Ethernet */
        if (n < 14) return ST_HDR_CUT;
        unsigned et = be16(d + 12);
        pos = 14;
        while (et == 0x8100 || et == 0x88A8 || et == 0x9100) {
            if (n < pos + 4) return ST_HDR_CUT;
            et = be16(d + pos + 2);
            pos += 4;
        }
        ver = et == 0x0800 ? 4 : et == 0x86DD ? 6 : 0;
    } else if (lt == 113) { /* Linux SLL */
        if (n < 16) return ST_HDR_CUT;
        unsigned et = be16(d + 14);
        ver = et == 0x0800 ? 4 : et == 0x86DD ? 6 : 0;
        pos = 16;
    } else if (lt == 276) { /* Linux SLL2 */
        if (n < 20) return ST_HDR_CUT;
        unsigned et = be16(d);
        ver = et == 0x0800 ? 4 : et == 0x86DD ? 6 : 0;
        pos = 20;
    } else if (lt == 0 || lt == 108) { /* BSD loopback: null (host order), loop (network) */
        if (n < 4) return ST_HDR_CUT;
        uint64_t fam = lt == 0 ? rd32(d, 0) : rd32(d, 1);
        if (lt == 0 && fam > 0xFFFF) fam = rd32(d, 1);
        ver = fam == 2 ? 4 : (fam == 10 || fam == 24 || fam == 28 || fam == 30) ? 6 : 0;
        pos = 4;
    } else if (lt == 12 || lt == 14 || lt == 101) { /* raw IP */
        if (n < 1) return ST_HDR_CUT;
        ver = d[0] >> 4;
    } else if (lt == 228) {
        ver = 4;
    } else if (lt == 229) {
        ver = 6;
    }
    if (ver == 4) return dec_ipv4(d, n, pos, o);
    if (ver == 6) return dec_ipv6(d, n, pos, o);
    return ST_NON_UDP;
}

/* parse_rtp_headers of one datagram: buf[off : off + n], bytes read as _gather does (indices
 * clipped to the buffer). */
static inline void rtp_one(rec_t *c, Py_ssize_t k, Py_ssize_t off, Py_ssize_t n) {
    const uint8_t *B = c->buf;
    Py_ssize_t last = c->size - 1;
#define G(i) (last < 0 ? 0 : B[(i) < 0 ? 0 : (i) > last ? last : (i)])
    uint8_t b[12];
    if (off >= 0 && off + 12 <= c->size)
        memcpy(b, B + off, 12);
    else
        for (int i = 0; i < 12; i++) b[i] = G(off + i);
    uint8_t e = 0;
    if (n < 12) e = c->e_short;
    if (!e && (b[0] >> 6) != 2) e = c->e_ver;
    Py_ssize_t hdr = 12 + 4 * (Py_ssize_t)(b[0] & 0x0F);
    if (!e && n < hdr) e = c->e_short;
    if ((b[0] & 0x10) && !e) {
        if (n < hdr + 4) e = c->e_ext;
        if (!e) {
            Py_ssize_t words = ((Py_ssize_t)G(off + hdr + 2) << 8) | G(off + hdr + 3);
            hdr = hdr + 4 + 4 * words;
            if (hdr > n) e = c->e_ext;
        }
    }
    Py_ssize_t pad = 0;
    if ((b[0] & 0x20) && !e) {
        pad = G(off + n - 1);
        if (pad == 0 || hdr + pad > n) e = c->e_pad;
    }
#undef G
    c->first[k] = b[0];
    c->err[k] = e;
    c->seq[k] = ((int64_t)b[2] << 8) | b[3];
    c->rts[k] = (int64_t)be32(b + 4);
    c->ssrc[k] = (int64_t)be32(b + 8);
    c->pt[k] = b[1] & 0x7F;
    c->marker[k] = (b[1] & 0x80) != 0;
    c->poff[k] = hdr;
    c->plen[k] = n - hdr - pad;
}

/* The TS packets of datagram k (buf[off : off + n]) as the analyzer finds them when its
 * transport is "auto" (or "rtp"): a payload starting with the sync byte is plain TS, else
 * the RTP payload when the RTP header is good; a whole number of packets (at least one), or
 * none. Their first HEAD bytes are appended to heads. */
static inline void ts_heads_one(rec_t *c, Py_ssize_t k, Py_ssize_t off, Py_ssize_t n) {
    Py_ssize_t toff, tlen;
    c->tsf[k] = c->nheads;
    if (n > 0 && c->first[k] == 0x47) {
        toff = off;
        tlen = n;
    } else if (c->err[k] == 0) {
        toff = off + c->poff[k];
        tlen = c->plen[k];
    } else {
        return;
    }
    if (tlen <= 0 || tlen % TS) return;
    Py_ssize_t m = tlen / TS;
    if (c->nheads + m > c->heads_cap) {
        Py_ssize_t cap = c->heads_cap ? c->heads_cap : 4096;
        while (cap < c->nheads + m) cap *= 2;
        uint8_t *h = realloc(c->heads, (size_t)cap * HEAD);
        if (!h) {
            c->oom = 1;
            return;
        }
        c->heads = h;
        c->heads_cap = cap;
    }
    uint8_t *dst = c->heads + HEAD * c->nheads;
    const uint8_t *src = c->buf + toff;
    for (Py_ssize_t i = 0; i < m; i++, dst += HEAD, src += TS) memcpy(dst, src, HEAD);
    c->nheads += m;
}

/* One record: data buf[start : start + caplen] of link type lt, time ts. */
static inline void record(rec_t *c, Py_ssize_t start, Py_ssize_t caplen, int64_t ts, long lt) {
    dec_t o;
    int st = decode(c->buf + start, caplen, lt, &o);
    if (st != ST_OK) {
        if (st == ST_NON_UDP)
            c->non_udp++;
        else if (st == ST_FRAG)
            c->frag++;
        else if (st == ST_MALFORMED)
            c->malformed++;
        else
            c->truncated++;
        return;
    }
    if (o.trunc) {
        c->truncated++;
        if (!c->incl_trunc) return;
    }
    if ((c->dst_port >= 0 && (long)(o.key[0] & 0xFFFF) != c->dst_port) ||
        (c->dst_ver && ((int)(o.key[0] >> 32) != c->dst_ver || o.key[3] != c->dst_hi ||
                        o.key[4] != c->dst_lo))) {
        c->filtered++;
        return;
    }
    Py_ssize_t k = c->kept;
    int32_t id = ft_get(c->ft, o.key);
    if (id < 0) {
        c->oom = 1;
        return;
    }
    c->off[k] = start + o.poff;
    c->len[k] = (int32_t)o.plen;
    c->arr[k] = ts;
    c->fid[k] = id;
    rtp_one(c, k, start + o.poff, o.plen);
    ts_heads_one(c, k, start + o.poff, o.plen);
    c->kept = k + 1;
}

/* End of a batch: give the new flows their ids in key order, write their keys to newkeys
 * (uint64 rows of 5); on a fault forget them instead. Returns the number of new flows, or -1
 * when out of memory. */
static Py_ssize_t settle_flows(rec_t *c, int fault, uint64_t *newkeys) {
    ftab_t *t = c->ft;
    Py_ssize_t m = t->count - c->base;
    if (m == 0) return 0;
    if (fault) {
        t->count = c->base;
        return ft_rehash(t, t->hcap) < 0 ? -1 : 0;
    }
    uint64_t *nk = t->keys + 5 * (Py_ssize_t)c->base;
    if (m > 1) {
        int32_t *idx = malloc(sizeof(int32_t) * m * 3);
        uint64_t *copy = malloc(sizeof(uint64_t) * 5 * m);
        if (!idx || !copy) {
            free(idx);
            free(copy);
            return -1;
        }
        int32_t *tmp = idx + m, *rank = idx + 2 * m;
        for (Py_ssize_t j = 0; j < m; j++) idx[j] = (int32_t)j;
        sort_by_key(idx, tmp, m, nk);
        memcpy(copy, nk, sizeof(uint64_t) * 5 * m);
        for (Py_ssize_t j = 0; j < m; j++) {
            rank[idx[j]] = (int32_t)j;
            memcpy(nk + 5 * j, copy + 5 * (Py_ssize_t)idx[j], 5 * sizeof(uint64_t));
        }
        for (Py_ssize_t i = 0; i < c->kept; i++)
            if (c->fid[i] >= c->base) c->fid[i] = c->base + rank[c->fid[i] - c->base];
        free(idx);
        free(copy);
        if (ft_rehash(t, t->hcap) < 0) return -1;
    }
    memcpy(newkeys, nk, sizeof(uint64_t) * 5 * m);
    return m;
}

/* Shared argument handling: table, filters (dst_port, dst_ver, dst_hi, dst_lo, include_truncated),
 * error codes (short, version, extension, padding), and the outputs: offsets int64,
 * lengths int32, arrival int64, flow_ids int32, first uint8, error uint8, sequence, timestamp,
 * ssrc, payload_type int64, marker bool, payload_offset, payload_length int64 (limit rows
 * each), new_keys uint64 (limit * 5) and ts_first int64 (limit). */
static int rec_setup(rec_t *c, bufs_t *s, PyObject *table, PyObject *filt, PyObject *codes,
                     PyObject *outs, Py_ssize_t limit, uint64_t **newkeys) {
    memset(c, 0, sizeof(*c));
    c->ft = PyCapsule_GetPointer(table, FT_CAPSULE);
    if (!c->ft) return -1;
    c->base = (int32_t)c->ft->count;
    unsigned long long hi, lo;
    int e_s, e_v, e_x, e_p;
    if (!PyArg_ParseTuple(filt, "liKKp", &c->dst_port, &c->dst_ver, &hi, &lo, &c->incl_trunc))
        return -1;
    c->dst_hi = hi;
    c->dst_lo = lo;
    if (!PyArg_ParseTuple(codes, "iiii", &e_s, &e_v, &e_x, &e_p)) return -1;
    c->e_short = (uint8_t)e_s;
    c->e_ver = (uint8_t)e_v;
    c->e_ext = (uint8_t)e_x;
    c->e_pad = (uint8_t)e_p;
    if (!PyTuple_Check(outs) || PyTuple_GET_SIZE(outs) != 15) {
        PyErr_SetString(PyExc_TypeError, "outs: a tuple of 15 arrays");
        return -1;
    }
#define O(i) PyTuple_GET_ITEM(outs, i)
    if (!(c->off = get(s, O(0), 1, limit * 8, "offsets"))) return -1;
    if (!(c->len = get(s, O(1), 1, limit * 4, "lengths"))) return -1;
    if (!(c->arr = get(s, O(2), 1, limit * 8, "arrival"))) return -1;
    if (!(c->fid = get(s, O(3), 1, limit * 4, "flow_ids"))) return -1;
    if (!(c->first = get(s, O(4), 1, limit, "first"))) return -1;
    if (!(c->err = get(s, O(5), 1, limit, "error"))) return -1;
    if (!(c->seq = get(s, O(6), 1, limit * 8, "sequence"))) return -1;
    if (!(c->rts = get(s, O(7), 1, limit * 8, "timestamp"))) return -1;
    if (!(c->ssrc = get(s, O(8), 1, limit * 8, "ssrc"))) return -1;
    if (!(c->pt = get(s, O(9), 1, limit * 8, "payload_type"))) return -1;
    if (!(c->marker = get(s, O(10), 1, limit, "marker"))) return -1;
    if (!(c->poff = get(s, O(11), 1, limit * 8, "payload_offset"))) return -1;
    if (!(c->plen = get(s, O(12), 1, limit * 8, "payload_length"))) return -1;
    if (!(*newkeys = get(s, O(13), 1, limit * 40, "new_keys"))) return -1;
    if (!(c->tsf = get(s, O(14), 1, limit * 8, "ts_first"))) return -1;
#undef O
    return 0;
}

/* The copied heads as a bytes object, grouped by flow: each flow's packets together, in
 * batch order within the flow, the flows in id order; ts_first is rewritten to match. An
 * analyzer reads one flow's packets, and reading them in one run instead of scattered over
 * the batch's heads is several times faster. None of the batch's heads when empty. */
static PyObject *grouped_heads(rec_t *c) {
    Py_ssize_t n = c->nheads, kept = c->kept, nf = c->ft->count;
    PyObject *out = PyBytes_FromStringAndSize(NULL, HEAD * n);
    if (!out || n == 0) return out;
    int64_t *at = calloc((size_t)nf + 1, sizeof(int64_t));
    if (!at) {
        Py_DECREF(out);
        return PyErr_NoMemory();
    }
    int64_t *tsf = c->tsf;
    int32_t *fid = c->fid;
    for (Py_ssize_t k = 0; k < kept; k++)
        at[fid[k] + 1] += (k + 1 < kept ? tsf[k + 1] : n) - tsf[k];
    for (Py_ssize_t f = 0; f < nf; f++) at[f + 1] += at[f];
    uint8_t *dst = (uint8_t *)PyBytes_AS_STRING(out);
    for (Py_ssize_t k = 0; k < kept; k++) {
        int64_t m = (k + 1 < kept ? tsf[k + 1] : n) - tsf[k]; /* tsf[k + 1] not yet moved */
        int64_t to = at[fid[k]];
        if (m) memcpy(dst + HEAD * to, c->heads + HEAD * tsf[k], (size_t)(HEAD * m));
        tsf[k] = to;
        at[fid[k]] = to + m;
    }
    free(at);
    return out;
}

static PyObject *rec_result(rec_t *c, Py_ssize_t records, Py_ssize_t pos, int fault,
                            long long value, Py_ssize_t nnew, int64_t last_ts) {
    PyObject *r = NULL, *heads = NULL;
    if (c->oom || nnew < 0)
        PyErr_NoMemory();
    else if (fault)
        heads = PyBytes_FromStringAndSize(NULL, 0);
    else
        heads = grouped_heads(c);
    if (heads)
        r = Py_BuildValue("nninLnnnnnnnLN", records, pos, fault, pos, value, c->kept, nnew,
                          c->non_udp, c->frag, c->malformed, c->truncated, c->filtered,
                          (long long)last_ts, heads);
    free(c->heads);
    c->heads = NULL;
    return r;
}

/* pcap_records(buf, pos, end, limit, big_endian, max_incl, frac_ns, linktype, table, filt,
 *              codes, outs)
 *   -> (records, pos, fault, fault_pos, fault_value, delivered, new_flows, non_udp,
 *       fragments, malformed, truncated, filtered, last_ts, heads)
 * heads: bytes, the first HEAD bytes of every TS packet of the delivered datagrams, grouped
 * by flow (ts_first says where each datagram's are; see ts_heads_one and grouped_heads).
 * Up to limit classic pcap records from pos on (faults as pcap_walk; on a fault nothing of
 * the batch counts), each decoded as it is walked. */
static PyObject *pcap_records(PyObject *self, PyObject *args) {
    PyObject *bo, *table, *filt, *codes, *outs;
    Py_ssize_t pos, end, limit, max_incl;
    long long frac_ns;
    long lt;
    int big;
    if (!PyArg_ParseTuple(args, "OnnnpnLlOOOO", &bo, &pos, &end, &limit, &big, &max_incl,
                          &frac_ns, &lt, &table, &filt, &codes, &outs))
        return NULL;
    bufs_t s = {.n = 0};
    rec_t c;
    uint64_t *newkeys = NULL;
    const uint8_t *buf = get(&s, bo, 0, end, "buf");
    if (!buf || rec_setup(&c, &s, table, filt, codes, outs, limit, &newkeys) < 0) {
        release(&s);
        return NULL;
    }
    c.buf = buf;
    c.size = s.b[0].len;
    Py_ssize_t k = 0;
    int fault = 0;
    long long value = 0;
    int64_t last_ts = 0;
    Py_ssize_t nnew, pf = 0;
    Py_BEGIN_ALLOW_THREADS
    while (k < limit && pos < end && !c.oom) {
        if (pos + 16 > end) {
            fault = 1;
            break;
        }
        const uint8_t *r = buf + pos;
        uint32_t incl = rd32(r + 8, big);
        if ((Py_ssize_t)incl > max_incl) {
            fault = 2;
            value = incl;
            break;
        }
        Py_ssize_t nxt = pos + 16 + (Py_ssize_t)incl;
        if (nxt > end) {
            fault = 3;
            value = incl;
            break;
        }
        last_ts = (int64_t)rd32(r, big) * 1000000000 + (int64_t)rd32(r + 4, big) * frac_ns;
        /* the records ahead: the mapping's pages are faulted in runs, and the hardware
         * prefetcher stops at each page's end */
        if (pf < pos + PF_AHEAD) pf = pos + PF_AHEAD;
        for (Py_ssize_t stop = nxt + PF_AHEAD < end ? nxt + PF_AHEAD : end; pf < stop; pf += 64)
            __builtin_prefetch(buf + pf);
        record(&c, pos + 16, incl, last_ts, lt);
        k++;
        pos = nxt;
    }
    nnew = settle_flows(&c, fault || c.oom, newkeys);
    Py_END_ALLOW_THREADS
    release(&s);
    return rec_result(&c, k, pos, fault, value, nnew, last_ts);
}

/* packet_records(buf, starts, caplens, times, linktypes, n, table, filt, codes, outs)
 *   -> as pcap_records (pos, fault, fault_pos, fault_value 0)
 * Records the caller found: data at starts (int64), caplens (int64), times (int64 ns), link
 * types (int64). */
static PyObject *packet_records(PyObject *self, PyObject *args) {
    PyObject *bo, *so, *co, *to, *lo, *table, *filt, *codes, *outs;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "OOOOOnOOOO", &bo, &so, &co, &to, &lo, &n, &table, &filt, &codes,
                          &outs))
        return NULL;
    bufs_t s = {.n = 0};
    rec_t c;
    uint64_t *newkeys = NULL;
    const uint8_t *buf = get(&s, bo, 0, 0, "buf");
    Py_ssize_t size = buf ? s.b[0].len : 0;
    const int64_t *st = buf ? get(&s, so, 0, n * 8, "starts") : NULL;
    const int64_t *cl = st ? get(&s, co, 0, n * 8, "caplens") : NULL;
    const int64_t *tm = cl ? get(&s, to, 0, n * 8, "times") : NULL;
    const int64_t *lt = tm ? get(&s, lo, 0, n * 8, "linktypes") : NULL;
    if (!lt || rec_setup(&c, &s, table, filt, codes, outs, n, &newkeys) < 0) {
        release(&s);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (st[i] < 0 || cl[i] < 0 || st[i] + cl[i] > size) {
            release(&s);
            PyErr_Format(PyExc_IndexError, "record %zd out of the buffer", i);
            return NULL;
        }
    }
    c.buf = buf;
    c.size = size;
    Py_ssize_t nnew;
    Py_BEGIN_ALLOW_THREADS
    /* (no prefetching here: the caller's walk has just touched the records) */
    for (Py_ssize_t i = 0; i < n && !c.oom; i++) record(&c, st[i], cl[i], tm[i], (long)lt[i]);
    nnew = settle_flows(&c, c.oom, newkeys);
    Py_END_ALLOW_THREADS
    release(&s);
    return rec_result(&c, n, 0, 0, 0, nnew, n ? tm[n - 1] : 0);
}

/* delay_factor(arrival int64[n], media_bytes int64[n], n, rate_bps) -> DF in ms, as
 * collectors/core/mdi.py delay_factor_ms computes it (same operations in the same order). */
/* dgram_fields(mode, ts_length, first, rtp_err, pay_off, pay_len, offsets, lengths, n, err,
 *              rtp_ok, base, n_ts, ts_first) -> (total, rtp)
 * collectors/core/datagrams.py fields_reference for datagrams whose RTP headers the
 * source parsed (first payload byte uint8, error uint8, payload offset and length int64, per
 * datagram; offsets and lengths int64[n]): mode 0 takes a datagram as RTP unless it is empty
 * or starts with the TS sync byte, 1 takes all as RTP, 2 none. Outputs per datagram: err
 * uint8 (the RTP error, else ts_length when the payload is not whole TS packets), rtp_ok
 * bool, base int64 (where the payload starts), n_ts int64 (its TS packets) and ts_first
 * int64 (the running sum before it). total is the sum of n_ts, rtp the datagrams taken as
 * RTP. */
static PyObject *dgram_fields(PyObject *self, PyObject *args) {
    PyObject *o[12];
    int mode, ts_length;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "iiOOOOOOnOOOOO", &mode, &ts_length, &o[0], &o[1], &o[2],
                          &o[3], &o[4], &o[5], &n, &o[6], &o[7], &o[8], &o[9], &o[10]))
        return NULL;
    if (mode < 0 || mode > 2 || n < 0) {
        PyErr_SetString(PyExc_ValueError, "dgram_fields: bad mode or count");
        return NULL;
    }
    bufs_t s = {.n = 0};
    const uint8_t *first = get(&s, o[0], 0, n, "first");
    const uint8_t *rerr = first ? get(&s, o[1], 0, n, "rtp_err") : NULL;
    const int64_t *poff = rerr ? get(&s, o[2], 0, n * 8, "pay_off") : NULL;
    const int64_t *plen = poff ? get(&s, o[3], 0, n * 8, "pay_len") : NULL;
    const int64_t *offs = plen ? get(&s, o[4], 0, n * 8, "offsets") : NULL;
    const int64_t *lens = offs ? get(&s, o[5], 0, n * 8, "lengths") : NULL;
    uint8_t *err = lens ? get(&s, o[6], 1, n, "err") : NULL;
    uint8_t *rtp_ok = err ? get(&s, o[7], 1, n, "rtp_ok") : NULL;
    int64_t *base = rtp_ok ? get(&s, o[8], 1, n * 8, "base") : NULL;
    int64_t *nts = base ? get(&s, o[9], 1, n * 8, "n_ts") : NULL;
    int64_t *tf = nts ? get(&s, o[10], 1, n * 8, "ts_first") : NULL;
    if (!tf) {
        release(&s);
        return NULL;
    }
    int64_t total = 0;
    Py_ssize_t rtp = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int is_rtp = mode == 1 || (mode == 0 && lens[i] > 0 && first[i] != 0x47);
        int e = 0;
        int64_t off = 0, len = lens[i];
        if (is_rtp) {
            rtp++;
            e = rerr[i];
            off = poff[i];
            len = plen[i];
        }
        rtp_ok[i] = is_rtp && e == 0;
        int64_t m = 0;
        if (e == 0) {
            if (len > 0 && len % TS == 0)
                m = len / TS;
            else
                e = ts_length;
        }
        err[i] = (uint8_t)e;
        base[i] = offs[i] + off;
        nts[i] = m;
        tf[i] = total;
        total += m;
    }
    release(&s);
    return Py_BuildValue("(Ln)", (long long)total, rtp);
}

/* pid_rates(counts, bits, secs) -> {pid: rate}
 * collectors/core/interval.py pid_rates_reference: the PIDs with packets in counts
 * (int64[8192], zeroed on the way for the next interval), ascending, each with
 * float(count * bits) / secs as numpy computes it. */
static PyObject *pid_rates(PyObject *self, PyObject *args) {
    PyObject *o;
    long long bits;
    double secs;
    if (!PyArg_ParseTuple(args, "OLd", &o, &bits, &secs)) return NULL;
    bufs_t s = {.n = 0};
    int64_t *counts = get(&s, o, 1, NPID * 8, "counts");
    if (!counts) {
        release(&s);
        return NULL;
    }
    PyObject *out = PyDict_New();
    for (int p = 0; out && p < NPID; p++) {
        if (!(p & 7)) { /* most PIDs have none: skip eight at a time */
            const int64_t *c = counts + p;
            if (!(c[0] | c[1] | c[2] | c[3] | c[4] | c[5] | c[6] | c[7])) {
                p += 7;
                continue;
            }
        }
        if (!counts[p]) continue;
        PyObject *k = PyLong_FromLong(p);
        PyObject *v = PyFloat_FromDouble((double)(counts[p] * bits) / secs);
        if (!k || !v || PyDict_SetItem(out, k, v) < 0) Py_CLEAR(out);
        Py_XDECREF(k);
        Py_XDECREF(v);
        counts[p] = 0;
    }
    release(&s);
    return out;
}

/* ts_layout(n_ts, base, hfirst, head_bytes, n, total, out_dgram, out_start, out_hstart)
 * n_ts, base int64[n]: TS packets of each datagram and where the first starts in the data;
 * hfirst int64[n] or None: index in the copied heads of each datagram's first packet;
 * total = sum of n_ts. Outputs int64[total]: the datagram of each packet, its start in the
 * data (base + 188 * within), and (with hfirst) its start in the heads
 * ((hfirst + within) * head_bytes; out_hstart None without hfirst). */
static PyObject *ts_layout(PyObject *self, PyObject *args) {
    PyObject *o_nts, *o_base, *o_hf, *o_dg, *o_st, *o_hs;
    Py_ssize_t hb, n, total;
    if (!PyArg_ParseTuple(args, "OOOnnnOOO", &o_nts, &o_base, &o_hf, &hb, &n, &total, &o_dg,
                          &o_st, &o_hs))
        return NULL;
    bufs_t s = {.n = 0};
    const int64_t *nts = get(&s, o_nts, 0, n * 8, "n_ts");
    const int64_t *base = nts ? get(&s, o_base, 0, n * 8, "base") : NULL;
    int64_t *dg = base ? get(&s, o_dg, 1, total * 8, "dgram") : NULL;
    int64_t *st = dg ? get(&s, o_st, 1, total * 8, "start") : NULL;
    const int64_t *hf = NULL;
    int64_t *hs = NULL;
    if (st && o_hf != Py_None) {
        hf = get(&s, o_hf, 0, n * 8, "hfirst");
        hs = hf ? get(&s, o_hs, 1, total * 8, "hstart") : NULL;
        if (!hs) st = NULL;
    }
    if (!st) {
        release(&s);
        return NULL;
    }
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t m = nts[i];
        if (m < 0 || m > total - k) {
            release(&s);
            PyErr_SetString(PyExc_ValueError, "n_ts does not add up to total");
            return NULL;
        }
        for (int64_t j = 0; j < m; j++, k++) {
            dg[k] = i;
            st[k] = base[i] + TS * j;
            if (hs) hs[k] = (hf[i] + j) * hb;
        }
    }
    release(&s);
    if (k != total) {
        PyErr_SetString(PyExc_ValueError, "n_ts does not add up to total");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* A continuity loss on plain UDP moves the packet index on by this much: a pair whose step
 * reaches it spans a loss and is left out of the loss-free sums (collectors/core/mdi.py
 * LOSS_STEP: the same). */
#define PCR_LOSS_STEP ((int64_t)1 << 32)

/* pcr_pairs(has_pcr, pid, disc, index, src, starts, lo, hi, want_pid, has_last, last_index,
 *           last_pcr, out_at, out_idx, out_pcr, out_cum_steps, out_cum_ticks,
 *           out_cum_steps_all, out_cum_ticks_all) -> (count, pid)
 * Packets lo..hi-1 (has_pcr, disc bool; pid uint16; index int64: packet number in the stream;
 * the PCR at src[starts[i] + 6 ..]): those with a PCR on the PCR PID (want_pid; -1: the PID
 * of the first PCR, returned), their positions, packet numbers and PCRs, and the running sums
 * (0 first) of the packet steps and PCR deltas of the pairs PcrRateMeter counts (the one
 * before the first from has_last / last_index / last_pcr). Outputs: int64, as many rows as
 * packets with has_pcr (the sums one more). */
/* The first i' >= i (below hi) with flags[i'] set, else hi; eight flags at a time (PCR
 * packets are a few in a thousand). */
static inline Py_ssize_t skip_zeros(const uint8_t *flags, Py_ssize_t i, Py_ssize_t hi) {
    uint64_t w;
    while (i + 8 <= hi) {
        memcpy(&w, flags + i, 8);
        if (w) break;
        i += 8;
    }
    while (i < hi && !flags[i]) i++;
    return i;
}

static PyObject *pcr_pairs(PyObject *self, PyObject *args) {
    PyObject *o[13];
    Py_ssize_t lo, hi;
    long want;
    int has_last;
    long long last_index, last_pcr;
    if (!PyArg_ParseTuple(args, "OOOOOOnnlpLLOOOOOOO", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5],
                          &lo, &hi, &want, &has_last, &last_index, &last_pcr, &o[6], &o[7],
                          &o[8], &o[9], &o[10], &o[11], &o[12]))
        return NULL;
    bufs_t s = {.n = 0};
    const uint8_t *has = get(&s, o[0], 0, hi, "has_pcr");
    const uint16_t *pid = has ? get(&s, o[1], 0, hi * 2, "pid") : NULL;
    const uint8_t *disc = pid ? get(&s, o[2], 0, hi, "disc") : NULL;
    const int64_t *index = disc ? get(&s, o[3], 0, hi * 8, "index") : NULL;
    const uint8_t *src = index ? get(&s, o[4], 0, 0, "src") : NULL;
    Py_ssize_t slen = src ? s.b[s.n - 1].len : 0;
    const int64_t *starts = src ? get(&s, o[5], 0, hi * 8, "starts") : NULL;
    Py_ssize_t cap = 0;
    if (starts && lo >= 0 && lo <= hi)
        for (Py_ssize_t i = lo; i < hi; i++) {
            i = skip_zeros(has, i, hi);
            cap += i < hi;
        }
    int64_t *at = starts ? get(&s, o[6], 1, cap * 8, "at") : NULL;
    int64_t *idx = at ? get(&s, o[7], 1, cap * 8, "idx") : NULL;
    int64_t *pcr = idx ? get(&s, o[8], 1, cap * 8, "pcr") : NULL;
    int64_t *cb = pcr ? get(&s, o[9], 1, (cap + 1) * 8, "cum_steps") : NULL;
    int64_t *ct = cb ? get(&s, o[10], 1, (cap + 1) * 8, "cum_ticks") : NULL;
    int64_t *cba = ct ? get(&s, o[11], 1, (cap + 1) * 8, "cum_steps_all") : NULL;
    int64_t *cta = cba ? get(&s, o[12], 1, (cap + 1) * 8, "cum_ticks_all") : NULL;
    if (!cta) {
        release(&s);
        return NULL;
    }
    if (lo < 0 || lo > hi) {
        release(&s);
        PyErr_SetString(PyExc_ValueError, "pcr_pairs: bad range");
        return NULL;
    }
    const int64_t modulus = (int64_t)300 << 33, max_gap = 27000000;
    int64_t p_idx = last_index, p_pcr = last_pcr;
    int prev = has_last;
    Py_ssize_t m = 0;
    cb[0] = ct[0] = cba[0] = cta[0] = 0;
    for (Py_ssize_t i = lo; i < hi; i++) {
        i = skip_zeros(has, i, hi);
        if (i == hi) break;
        if (want < 0) want = pid[i];
        if (pid[i] != want) continue;
        int64_t a = starts[i];
        if (a < 0 || a + 12 > slen) {
            release(&s);
            PyErr_Format(PyExc_IndexError, "PCR of packet %zd out of range", i);
            return NULL;
        }
        const uint8_t *b = src + a + 6;
        int64_t base = ((int64_t)b[0] << 25) | ((int64_t)b[1] << 17) | ((int64_t)b[2] << 9) |
                       ((int64_t)b[3] << 1) | (b[4] >> 7);
        int64_t v = base * 300 + ((((int64_t)b[4] & 1) << 8) | b[5]);
        int64_t steps = 0, ticks = 0, steps_all = 0, ticks_all = 0;
        if (prev && !disc[i]) {
            int64_t delta = ((v - p_pcr) % modulus + modulus) % modulus;
            int64_t step = index[i] - p_idx;
            int64_t received = step > 0 ? step % PCR_LOSS_STEP : 0;
            if (delta > 0 && delta <= max_gap && received > 0) {
                steps_all = received;
                ticks_all = delta;
                if (step < PCR_LOSS_STEP) {
                    steps = step;
                    ticks = delta;
                }
            }
        }
        at[m] = i;
        idx[m] = index[i];
        pcr[m] = v;
        cb[m + 1] = cb[m] + steps;
        ct[m + 1] = ct[m] + ticks;
        cba[m + 1] = cba[m] + steps_all;
        cta[m + 1] = cta[m] + ticks_all;
        m++;
        prev = 1;
        p_idx = index[i];
        p_pcr = v;
    }
    release(&s);
    return Py_BuildValue("nl", m, want);
}

/* Two TS packets are the same apart from the continuity counter: header byte 1, the top half
 * of byte 3 and bytes 4..187 (the caller compares packets of one PID). */
static int same_packet(const uint8_t *a, const uint8_t *b) {
    return a[1] == b[1] && (a[3] & 0xF0) == (b[3] & 0xF0) && !memcmp(a + 4, b + 4, TS - 4);
}

/* psi_links(ev, n_ev, pid, cc, data, starts, entries, exact, next_psi, member, mem_at,
 *           mem_cc, mem_new) -> [(pid, start, end), ...]
 * collectors/core/rare.py links_reference: the repeated-table bookkeeping over the
 * events ev (int64[n_ev], positions in pid uint16 / cc uint8 / starts int64, ascending).
 * entries: the PSI PIDs, each (pid, memo, last_cc): memo the 188 bytes of the last packet fed
 * on it when that feed was repeatable, else None; last_cc its assembler's counter (-1 none).
 * Events of other PIDs are left alone. Outputs: next_psi int64[n_ev], the next event of the
 * same PSI PID (-1 none); member bool[n_ev], the event is an identical copy of the PID's
 * event before it (the first one of the memo; never with exact); the members grouped by
 * PID in entries order, each group (pid, start, end) of mem_at int64 (event index), mem_cc
 * int64 (its counter) and mem_new bool (its counter differs from that of the PID's event
 * before it, or last_cc for the first). */
#define PSI_ENTRIES 16
static PyObject *psi_links(PyObject *self, PyObject *args) {
    PyObject *o[6], *eo[5], *entries;
    Py_ssize_t n_ev;
    int exact;
    if (!PyArg_ParseTuple(args, "OnOOOOOpOOOOO", &o[0], &n_ev, &o[1], &o[2], &o[3], &o[4],
                          &entries, &exact, &eo[0], &eo[1], &eo[2], &eo[3], &eo[4]))
        return NULL;
    PyObject *seq = PySequence_Fast(entries, "psi_links: entries must be a sequence");
    if (!seq) return NULL;
    Py_ssize_t ne = PySequence_Fast_GET_SIZE(seq);
    if (ne > PSI_ENTRIES) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_ValueError, "psi_links: at most %d PSI PIDs", PSI_ENTRIES);
        return NULL;
    }
    int e_pid[PSI_ENTRIES];
    long e_last[PSI_ENTRIES];
    const uint8_t *e_memo[PSI_ENTRIES];
    Py_ssize_t e_prev[PSI_ENTRIES], e_count[PSI_ENTRIES];
    int8_t lut[NPID];
    memset(lut, -1, sizeof lut);
    bufs_t s = {.n = 0};
    for (Py_ssize_t k = 0; k < ne; k++) {
        PyObject *memo;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, k), "iOl", &e_pid[k], &memo,
                              &e_last[k]))
            goto fail;
        if (e_pid[k] < 0 || e_pid[k] >= NPID) {
            PyErr_Format(PyExc_ValueError, "psi_links: PID %d out of range", e_pid[k]);
            goto fail;
        }
        e_memo[k] = NULL;
        if (memo != Py_None && !(e_memo[k] = get(&s, memo, 0, TS, "memo"))) goto fail;
        lut[e_pid[k]] = (int8_t)k;
        e_prev[k] = -1;
        e_count[k] = 0;
    }
    if (n_ev < 0) {
        PyErr_SetString(PyExc_ValueError, "psi_links: bad event count");
        goto fail;
    }
    const int64_t *ev = get(&s, o[0], 0, n_ev * 8, "ev");
    const uint16_t *pid = ev ? get(&s, o[1], 0, 0, "pid") : NULL;
    Py_ssize_t npk = pid ? s.b[s.n - 1].len / 2 : 0;
    const uint8_t *cc = pid ? get(&s, o[2], 0, npk, "cc") : NULL;
    const uint8_t *data = cc ? get(&s, o[3], 0, 0, "data") : NULL;
    Py_ssize_t dlen = data ? s.b[s.n - 1].len : 0;
    const int64_t *starts = data ? get(&s, o[4], 0, npk * 8, "starts") : NULL;
    int64_t *next_psi = starts ? get(&s, eo[0], 1, n_ev * 8, "next_psi") : NULL;
    uint8_t *member = next_psi ? get(&s, eo[1], 1, n_ev, "member") : NULL;
    int64_t *mem_at = member ? get(&s, eo[2], 1, n_ev * 8, "mem_at") : NULL;
    int64_t *mem_cc = mem_at ? get(&s, eo[3], 1, n_ev * 8, "mem_cc") : NULL;
    uint8_t *mem_new = mem_cc ? get(&s, eo[4], 1, n_ev, "mem_new") : NULL;
    if (!mem_new) goto fail;
    for (Py_ssize_t i = 0; i < n_ev; i++) {
        if (ev[i] < 0 || ev[i] >= npk || (i && ev[i] <= ev[i - 1])) {
            PyErr_Format(PyExc_IndexError, "psi_links: event %zd at %lld out of order or range",
                         i, (long long)ev[i]);
            goto fail;
        }
        int k = lut[pid[ev[i]] & (NPID - 1)];
        if (k >= 0 && (starts[ev[i]] < 0 || starts[ev[i]] > dlen - TS)) {
            PyErr_Format(PyExc_IndexError, "psi_links: TS packet start %lld out of range",
                         (long long)starts[ev[i]]);
            goto fail;
        }
    }
    memset(member, 0, n_ev);
    for (Py_ssize_t i = 0; i < n_ev; i++) {
        next_psi[i] = -1;
        if (i + 8 < n_ev) { /* the packets are far apart in a capture: fetch ahead */
            const uint8_t *f = data + starts[ev[i + 8]];
            if (lut[pid[ev[i + 8]] & (NPID - 1)] >= 0) {
                __builtin_prefetch(f);
                __builtin_prefetch(f + 64);
                __builtin_prefetch(f + 128);
                __builtin_prefetch(f + TS - 1);
            }
        }
        int k = lut[pid[ev[i]] & (NPID - 1)];
        if (k < 0) continue;
        Py_ssize_t prev = e_prev[k];
        if (prev >= 0) next_psi[prev] = i;
        if (!exact) {
            const uint8_t *ref = prev >= 0 ? data + starts[ev[prev]] : e_memo[k];
            if (ref && same_packet(data + starts[ev[i]], ref)) {
                member[i] = 1;
                e_count[k]++;
            }
        }
        /* mem_new, for now per event: the counter differs from the PID's one before */
        long before = prev >= 0 ? (long)cc[ev[prev]] : e_last[k];
        mem_new[i] = (long)cc[ev[i]] != before;
        e_prev[k] = i;
    }
    /* group the members by PID, in entries order (mem_new moves down: the group's write
     * position never passes the event read) */
    Py_ssize_t pos[PSI_ENTRIES], total = 0;
    for (Py_ssize_t k = 0; k < ne; k++) {
        pos[k] = total;
        total += e_count[k];
    }
    uint8_t *flag = (uint8_t *)PyMem_Malloc(total ? total : 1);
    if (!flag) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n_ev; i++) {
        if (!member[i]) continue;
        int k = lut[pid[ev[i]] & (NPID - 1)];
        Py_ssize_t w = pos[k]++;
        mem_at[w] = i;
        mem_cc[w] = cc[ev[i]];
        flag[w] = mem_new[i];
    }
    memcpy(mem_new, flag, total);
    PyMem_Free(flag);
    release(&s);
    PyObject *groups = PyList_New(0);
    Py_ssize_t start = 0;
    for (Py_ssize_t k = 0; groups && k < ne; k++) {
        if (!e_count[k]) continue;
        PyObject *g = Py_BuildValue("(inn)", e_pid[k], start, start + e_count[k]);
        if (!g || PyList_Append(groups, g) < 0) Py_CLEAR(groups);
        Py_XDECREF(g);
        start += e_count[k];
    }
    Py_DECREF(seq);
    return groups;
fail:
    release(&s);
    Py_DECREF(seq);
    return NULL;
}

/* rtp_chunks(idx, m, rb, nch, gap, late, dup, n_ts, arrival, ts, usual, default_ts, unwrap,
 *            ref, ns_per_tick, out_i, out_f) -> usual
 * collectors/core/chunks.py rtp_rows_reference: the RTP sums of one feed call: the RTP
 * datagrams are idx int64[m] (indices into n_ts, arrival and ts, all int64); chunk c is
 * idx[rb[c]..rb[c+1]) (rb int64[nch + 1], ascending from 0 to m); gap int64[m], late and dup
 * bool[m] are SequenceTracker.process's results. usual: TS packets per datagram before the
 * call's first non-empty one (default_ts when that is 0). unwrap int64[3] (started, last
 * raw, last extended timestamp) is TsdfMeter.unwrap's state, updated. ref int64[3] (has,
 * arrival, extended timestamp): the open period's reference, used for chunk 0 when has.
 * Outputs per chunk: out_i int64[nch][8] = (datagrams, lost, late, duplicates, 0, TS packets
 * the gaps stand for, reference arrival, reference timestamp), out_f float64[nch][2] = the
 * least and greatest delay (ns) against the reference, as numpy computes them; an empty
 * chunk has zeros (numpy's reference there, never used, is the next packet's). Returns the TS packets per datagram after the call. */
static PyObject *rtp_chunks(PyObject *self, PyObject *args) {
    PyObject *o[14];
    Py_ssize_t m, nch;
    long long usual, default_ts;
    double npt;
    if (!PyArg_ParseTuple(args, "OnOnOOOOOOLLOOdOO", &o[0], &m, &o[1], &nch, &o[2], &o[3],
                          &o[4], &o[5], &o[6], &o[7], &usual, &default_ts, &o[8], &o[9], &npt,
                          &o[10], &o[11]))
        return NULL;
    if (m < 1 || nch < 1) {
        PyErr_SetString(PyExc_ValueError, "rtp_chunks: no datagrams or no chunks");
        return NULL;
    }
    bufs_t s = {.n = 0};
    const int64_t *idx = get(&s, o[0], 0, m * 8, "idx");
    const int64_t *rb = idx ? get(&s, o[1], 0, (nch + 1) * 8, "rb") : NULL;
    const int64_t *gap = rb ? get(&s, o[2], 0, m * 8, "gap") : NULL;
    const uint8_t *late = gap ? get(&s, o[3], 0, m, "late") : NULL;
    const uint8_t *dup = late ? get(&s, o[4], 0, m, "dup") : NULL;
    const int64_t *nts = dup ? get(&s, o[5], 0, 0, "n_ts") : NULL;
    Py_ssize_t nd = nts ? s.b[s.n - 1].len / 8 : 0;
    const int64_t *arr = nts ? get(&s, o[6], 0, nd * 8, "arrival") : NULL;
    const int64_t *ts = arr ? get(&s, o[7], 0, nd * 8, "ts") : NULL;
    int64_t *uw = ts ? get(&s, o[8], 1, 3 * 8, "unwrap") : NULL;
    const int64_t *ref = uw ? get(&s, o[9], 0, 3 * 8, "ref") : NULL;
    int64_t *oi = ref ? get(&s, o[10], 1, nch * 8 * 8, "out_i") : NULL;
    double *of = oi ? get(&s, o[11], 1, nch * 2 * 8, "out_f") : NULL;
    if (!of) {
        release(&s);
        return NULL;
    }
    if (rb[0] != 0 || rb[nch] != m) goto bad_bounds;
    for (Py_ssize_t c = 0; c < nch; c++)
        if (rb[c + 1] < rb[c]) goto bad_bounds;
    for (Py_ssize_t i = 0; i < m; i++)
        if (idx[i] < 0 || idx[i] >= nd) {
            release(&s);
            PyErr_Format(PyExc_IndexError, "rtp_chunks: datagram %lld out of range",
                         (long long)idx[i]);
            return NULL;
        }
    uint64_t last_raw = (uint64_t)uw[1], last_ext = (uint64_t)uw[2];
    if (!uw[0]) last_raw = last_ext = (uint64_t)ts[idx[0]];
    int64_t cur = usual;
    for (Py_ssize_t c = 0; c < nch; c++) {
        int64_t *row = oi + c * 8;
        int64_t lost = 0, nlate = 0, ndup = 0, tsl = 0;
        double dmin = 0.0, dmax = 0.0;
        Py_ssize_t a = rb[c], b = rb[c + 1];
        int64_t ref_r = 0, ref_s = 0;
        for (Py_ssize_t i = a; i < b; i++) {
            int64_t k = idx[i];
            int64_t t = ts[k];
            int64_t d = (int64_t)(((uint64_t)t - last_raw + (1ULL << 31)) & 0xFFFFFFFFULL) -
                        (1LL << 31);
            last_raw = (uint64_t)t;
            last_ext += (uint64_t)d;
            int64_t ext = (int64_t)last_ext;
            if (i == a) {
                ref_r = arr[k];
                ref_s = ext;
                if (c == 0 && ref[0]) {
                    ref_r = ref[1];
                    ref_s = ref[2];
                }
            }
            double dd = (double)(arr[k] - ref_r) - (double)(ext - ref_s) * npt;
            if (i == a) {
                dmin = dmax = dd;
            } else {
                if (dd < dmin) dmin = dd;
                if (dd > dmax) dmax = dd;
            }
            if (nts[k] > 0) cur = nts[k];
            if (gap[i]) {
                lost += gap[i];
                tsl += gap[i] * (cur > 0 ? cur : default_ts);
            }
            nlate += late[i] != 0;
            ndup += dup[i] != 0;
        }
        row[0] = b - a;
        row[1] = lost;
        row[2] = nlate;
        row[3] = ndup;
        row[4] = 0;
        row[5] = tsl;
        row[6] = ref_r;
        row[7] = ref_s;
        of[2 * c] = dmin;
        of[2 * c + 1] = dmax;
    }
    uw[0] = 1;
    uw[1] = (int64_t)last_raw;
    uw[2] = (int64_t)last_ext;
    release(&s);
    return PyLong_FromLongLong(cur);
bad_bounds:
    release(&s);
    PyErr_SetString(PyExc_ValueError, "rtp_chunks: chunk bounds must rise from 0 to m");
    return NULL;
}

/* seq_run(seq, n, state, seen, gap, late, dup) -> r
 * collectors/core/seq.py SequenceTracker.run_reference: seq int64[n] (16-bit numbers, arrival
 * order); state int64[4] = (last16, ext_last, ext_max, probation), updated; seen int64[65536] (the
 * highest extended number received per 16-bit key), updated; outputs gap int64[n], late and
 * dup bool[n] for the packets before a restart. r: the packets consumed (n when no restart;
 * 0 when the first packet is one, and nothing changed then). One packet at a time gives what
 * the numpy code gives over the whole call: a number received before is either in seen or
 * was received earlier in the run, and a higher number with the same key in between would
 * have made it a restart. A restart: a packet more than MAX_MISORDER below max, or one that
 * follows (+1) a packet more than REORDER_WINDOW below max (RFC 3550 A.1 probation). */
#define MAX_MISORDER 3000
#define REORDER_WINDOW 100
static PyObject *seq_run(PyObject *self, PyObject *args) {
    PyObject *o[6];
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "OnOOOOO", &o[0], &n, &o[1], &o[2], &o[3], &o[4], &o[5]))
        return NULL;
    bufs_t s = {.n = 0};
    const int64_t *seq = get(&s, o[0], 0, n * 8, "seq");
    int64_t *st = seq ? get(&s, o[1], 1, 4 * 8, "state") : NULL;
    int64_t *seen = st ? get(&s, o[2], 1, 65536 * 8, "seen") : NULL;
    int64_t *gap = seen ? get(&s, o[3], 1, n * 8, "gap") : NULL;
    uint8_t *late = gap ? get(&s, o[4], 1, n, "late") : NULL;
    uint8_t *dup = late ? get(&s, o[5], 1, n, "dup") : NULL;
    if (!dup) {
        release(&s);
        return NULL;
    }
    int64_t last16 = st[0], ext = st[1], m = st[2], prob = st[3];
    Py_ssize_t i = 0;
    for (; i < n; i++) {
        int64_t x = seq[i];
        int64_t d = ((x - last16 + 32768) & 0xFFFF) - 32768;
        int64_t e = ext + d;
        if (m - e > MAX_MISORDER || (prob && d == 1)) break;
        prob = m - e > REORDER_WINDOW;
        last16 = x;
        ext = e;
        int64_t *sk = &seen[e & 0xFFFF];
        int is_dup = *sk == e;
        if (e > m) {
            gap[i] = e - m - 1;
            late[i] = 0;
            m = e;
        } else {
            gap[i] = 0;
            late[i] = !is_dup;
        }
        dup[i] = (uint8_t)is_dup;
        if (e > *sk) *sk = e;
    }
    if (i) {
        st[0] = last16;
        st[1] = ext;
        st[2] = m;
        st[3] = prob;
    }
    release(&s);
    return PyLong_FromSsize_t(i);
}

/* group_by_flow(flow_ids, n, nflows, starts, ins, outs)
 * collectors/core/batch.py PacketBatch.grouped: flow_ids int32[n] (each in 0..nflows-1);
 * starts int64[nflows + 1] gets where each flow's rows start in the outputs; ins / outs:
 * tuples of equal length of arrays of n rows of 1, 2, 4 or 8 bytes (a row's size is the
 * buffer's length / n; out i the same as in i), rows grouped by flow in id order, in their
 * order within a flow (a stable counting sort). */
static PyObject *group_by_flow(PyObject *self, PyObject *args) {
    PyObject *o[2], *ins, *outs;
    Py_ssize_t n, nf;
    if (!PyArg_ParseTuple(args, "OnnOO!O!", &o[0], &n, &nf, &o[1], &PyTuple_Type, &ins,
                          &PyTuple_Type, &outs))
        return NULL;
    Py_ssize_t na = PyTuple_GET_SIZE(ins);
    if (PyTuple_GET_SIZE(outs) != na || na > 18 || n < 0 || nf < 1) {
        PyErr_SetString(PyExc_ValueError, "group_by_flow: ins and outs differ, or bad counts");
        return NULL;
    }
    bufs_t s = {.n = 0};
    const int32_t *fid = get(&s, o[0], 0, n * 4, "flow_ids");
    int64_t *starts = fid ? get(&s, o[1], 1, (nf + 1) * 8, "starts") : NULL;
    if (!starts) {
        release(&s);
        return NULL;
    }
    for (Py_ssize_t f = 0; f <= nf; f++) starts[f] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (fid[i] < 0 || fid[i] >= nf) {
            release(&s);
            PyErr_Format(PyExc_ValueError, "flow id %d out of range", (int)fid[i]);
            return NULL;
        }
        starts[fid[i] + 1]++;
    }
    for (Py_ssize_t f = 0; f < nf; f++) starts[f + 1] += starts[f];
    /* each row's place first (one pass with the running counts), then each array moved
     * by it: the running counts are a chain of dependent increments, paid once */
    int64_t *pos = PyMem_Malloc((size_t)(nf + 1) * 8 + (size_t)(n ? n : 1) * 8);
    if (!pos) {
        release(&s);
        return PyErr_NoMemory();
    }
    int64_t *dest = pos + nf + 1;
    memcpy(pos, starts, (size_t)nf * 8);
    for (Py_ssize_t i = 0; i < n; i++) dest[i] = pos[fid[i]]++;
    for (Py_ssize_t a = 0; a < na; a++) {
        const char *in = get(&s, PyTuple_GET_ITEM(ins, a), 0, 0, "in");
        Py_ssize_t len = in ? s.b[s.n - 1].len : 0;
        char *out = in ? get(&s, PyTuple_GET_ITEM(outs, a), 1, len, "out") : NULL;
        if (!out) break;
        Py_ssize_t w = n ? len / n : 1;
        if (n && (len % n || (w != 1 && w != 2 && w != 4 && w != 8))) {
            PyErr_Format(PyExc_ValueError, "array %zd: %zd bytes for %zd rows", a, len, n);
            break;
        }
#define SCATTER(T)                                                           \
    for (Py_ssize_t i = 0; i < n; i++) ((T *)out)[dest[i]] = ((const T *)in)[i];
        if (w == 8) {
            SCATTER(int64_t)
        } else if (w == 4) {
            SCATTER(int32_t)
        } else if (w == 2) {
            SCATTER(int16_t)
        } else {
            SCATTER(int8_t)
        }
#undef SCATTER
    }
    PyMem_Free(pos);
    release(&s);
    if (PyErr_Occurred()) return NULL;
    Py_RETURN_NONE;
}

static PyObject *delay_factor(PyObject *self, PyObject *args) {
    PyObject *o[2];
    Py_ssize_t n;
    double rate;
    if (!PyArg_ParseTuple(args, "OOnd", &o[0], &o[1], &n, &rate)) return NULL;
    bufs_t s = {.n = 0};
    const int64_t *t = get(&s, o[0], 0, n * 8, "arrival");
    const int64_t *mb = t ? get(&s, o[1], 0, n * 8, "media_bytes") : NULL;
    if (!mb) {
        release(&s);
        return NULL;
    }
    double k = rate / 8e9, sum = 0.0, hi = 0.0, lo = 0.0;
    for (Py_ssize_t i = 0; i < n; i++) {
        double b = (double)mb[i];
        sum += b;
        double before = sum - b;
        double drained = (double)(t[i] - t[0]) * k;
        double pre = before - drained;
        double post = pre + b;
        if (i == 0 || post > hi) hi = post;
        if (i == 0 || pre < lo) lo = pre;
    }
    release(&s);
    return PyFloat_FromDouble((hi - lo) / (rate / 8.0) * 1000.0);
}

/* buffer_run(arrival int64[n], media_bytes int64[n], n, level, t, has_t, playing, bps, cap,
 *            half) -> (level, t, has_t, playing, underflows, overflows)
 * The loop over the arrivals of collectors/core/buffer.py PlayoutBuffer.run (the same
 * operations in the same order); underflows / overflows are the counts to add. */
static PyObject *buffer_run(PyObject *self, PyObject *args) {
    PyObject *o[2];
    Py_ssize_t n;
    double level, bps, cap, half;
    long long t0;
    int has_t, playing;
    if (!PyArg_ParseTuple(args, "OOndLppddd", &o[0], &o[1], &n, &level, &t0, &has_t, &playing,
                          &bps, &cap, &half))
        return NULL;
    bufs_t s = {.n = 0};
    const int64_t *t = get(&s, o[0], 0, n * 8, "arrival");
    const int64_t *mb = t ? get(&s, o[1], 0, n * 8, "media_bytes") : NULL;
    if (!mb) {
        release(&s);
        return NULL;
    }
    long long under = 0, over = 0;
    Py_ssize_t i = 0;
    while (i < n) {
        if (!has_t) {
            t0 = t[i];
            has_t = 1;
        }
        if (!playing) {
            double cs = 0.0, fill = 0.0;
            Py_ssize_t j = i;
            for (; j < n; j++) {
                cs += (double)mb[j];
                fill = level + cs;
                if (fill >= half) break;
            }
            if (j == n) {
                level = cap < fill ? cap : fill;
                t0 = t[n - 1];
                i = n;
                break;
            }
            if (fill > cap) over++;
            level = cap < fill ? cap : fill;
            t0 = t[j];
            playing = 1;
            i = j + 1;
            continue;
        }
        double cs = 0.0, excess = 0.0, x_post = 0.0;
        Py_ssize_t m = i;
        int dry = 0;
        for (; m < n; m++) {
            double b = (double)mb[m];
            cs += b;
            x_post = (level + cs) - (double)(t[m] - t0) * bps;
            double e = x_post - cap;
            if (e < 0.0) e = 0.0;
            double next = e > excess ? e : excess;
            double pre = (x_post - b) - excess;
            if (pre < 0) {
                dry = 1;
                break;
            }
            if (next - excess > 0) over++;
            excess = next;
        }
        if (dry) {
            under++;
            playing = 0;
            level = 0.0;
            t0 = t[m];
            i = m;
            continue;
        }
        level = x_post - excess;
        t0 = t[n - 1];
        i = n;
    }
    release(&s);
    return Py_BuildValue("dLiiLL", level, t0, has_t, playing, under, over);
}

/* ------------------------------------------------------------------ TR 101 290 checks */

/* psi_repeats(data, starts, at, pid, n, eq) -> None
 * For the PSI packets at (int64[n], increasing positions into starts / pid): eq[j] (bool) =
 * the packet at data[starts[at[j]]] equals the one before it in at on the same PID (pid
 * uint16) apart from its continuity counter: byte 1, the high nibble of byte 3 and bytes
 * 4..187; the first of each PID: false. */
static PyObject *psi_repeats(PyObject *self, PyObject *args) {
    PyObject *o[5];
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "OOOOnO", &o[0], &o[1], &o[2], &o[3], &n, &o[4])) return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "psi_repeats: bad count");
        return NULL;
    }
    bufs_t s = {.n = 0};
    const uint8_t *data = get(&s, o[0], 0, 0, "data");
    Py_ssize_t dlen = data ? s.b[s.n - 1].len : 0;
    const int64_t *starts = data ? get(&s, o[1], 0, 0, "starts") : NULL;
    Py_ssize_t npk = starts ? s.b[s.n - 1].len / 8 : 0;
    const int64_t *at = starts ? get(&s, o[2], 0, n * 8, "at") : NULL;
    const uint16_t *pid = at ? get(&s, o[3], 0, npk * 2, "pid") : NULL;
    uint8_t *eq = pid ? get(&s, o[4], 1, n, "eq") : NULL;
    int64_t *prev = eq ? malloc(NPID * sizeof(int64_t)) : NULL;
    if (!prev) {
        if (eq) PyErr_NoMemory();
        release(&s);
        return NULL;
    }
    for (int k = 0; k < NPID; k++) prev[k] = -1;
    for (Py_ssize_t j = 0; j < n; j++) {
        int64_t i = at[j];
        if (i < 0 || i >= npk || (j && i <= at[j - 1]) || starts[i] < 0 || starts[i] > dlen - TS) {
            free(prev);
            release(&s);
            PyErr_Format(PyExc_IndexError, "psi_repeats: packet %zd at %lld out of order or range",
                         j, (long long)i);
            return NULL;
        }
        if (j + PF_PSI < n) { /* the packets are far apart in a capture: fetch ahead */
            int64_t ia = at[j + PF_PSI];
            if (ia >= 0 && ia < npk && starts[ia] >= 0 && starts[ia] <= dlen - TS) {
                const uint8_t *f = data + starts[ia];
                __builtin_prefetch(f);
                __builtin_prefetch(f + 64);
                __builtin_prefetch(f + 128);
                __builtin_prefetch(f + TS - 1);
            }
        }
        unsigned p = pid[i] & (NPID - 1);
        const uint8_t *a = data + starts[i];
        int64_t q = prev[p];
        eq[j] = 0;
        if (q >= 0) {
            const uint8_t *b = data + q;
            eq[j] = a[1] == b[1] && (a[3] & 0xF0) == (b[3] & 0xF0) && !memcmp(a + 4, b + 4, TS - 4);
        }
        prev[p] = starts[i];
    }
    free(prev);
    release(&s);
    Py_RETURN_NONE;
}

/* tr_scan(pid, err, pusi, has_pcr, hdata, hstarts, starts, psi_lut, lut, pes_flag, begin, n,
 *         what, o_psi, o_pes, o_pcr, o_scr, o_pcr_value) -> (psi, pes, pcr, scr) counts
 * Over the packets begin..n-1 (pid uint16, err uint8 or None for no header errors, pusi and
 * has_pcr bool, hstarts / starts int64; each packet's first 12 bytes at hdata[hstarts[i]]),
 * the positions (int64, increasing; room for n - begin each) of: (what & 1) the PSI packets,
 * psi_lut[pid] (uint8[8192]) without a header error whose bytes are kept (starts >= 0);
 * (what & 2) the PES packet starts, pusi with lut[pid] & pes_flag (uint8[8192]) and no
 * header error; (what & 4) the packets with a PCR (has_pcr), their PCR values (27 MHz, as
 * ts.py gather_pcr) into o_pcr_value; (what & 8) the scrambled ones,
 * transport_scrambling_control != 0, without a header error. */
static PyObject *tr_scan(PyObject *self, PyObject *args) {
    PyObject *o[8], *err_o, *out[5];
    int pes_flag, what;
    Py_ssize_t begin, n;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOinniOOOOO", &o[0], &err_o, &o[1], &o[2], &o[3], &o[4],
                          &o[5], &o[6], &o[7], &pes_flag, &begin, &n, &what, &out[0], &out[1],
                          &out[2], &out[3], &out[4]))
        return NULL;
    if (n < 0 || begin < 0 || begin > n) {
        PyErr_SetString(PyExc_ValueError, "tr_scan: bad range");
        return NULL;
    }
    Py_ssize_t m = n - begin;
    bufs_t s = {.n = 0};
    const uint16_t *pid = get(&s, o[0], 0, n * 2, "pid");
    const uint8_t *err = NULL;
    if (pid && err_o != Py_None && !(err = get(&s, err_o, 0, n, "err"))) pid = NULL;
    const uint8_t *pusi = pid ? get(&s, o[1], 0, n, "pusi") : NULL;
    const uint8_t *pcr = pusi ? get(&s, o[2], 0, n, "has_pcr") : NULL;
    const uint8_t *hdata = pcr ? get(&s, o[3], 0, 0, "hdata") : NULL;
    Py_ssize_t hlen = hdata ? s.b[s.n - 1].len : 0;
    const int64_t *hst = hdata ? get(&s, o[4], 0, n * 8, "hstarts") : NULL;
    const int64_t *st = hst ? get(&s, o[5], 0, n * 8, "starts") : NULL;
    const uint8_t *psi_lut = st ? get(&s, o[6], 0, NPID, "psi_lut") : NULL;
    const uint8_t *lut = psi_lut ? get(&s, o[7], 0, NPID, "lut") : NULL;
    int64_t *r[5] = {NULL, NULL, NULL, NULL, NULL};
    if (lut) {
        r[0] = get(&s, out[0], 1, m * 8, "o_psi");
        r[1] = r[0] ? get(&s, out[1], 1, m * 8, "o_pes") : NULL;
        r[2] = r[1] ? get(&s, out[2], 1, m * 8, "o_pcr") : NULL;
        r[3] = r[2] ? get(&s, out[3], 1, m * 8, "o_scr") : NULL;
        r[4] = r[3] ? get(&s, out[4], 1, m * 8, "o_pcr_value") : NULL;
    }
    if (!r[4]) {
        release(&s);
        return NULL;
    }
    Py_ssize_t c[4] = {0, 0, 0, 0};
    for (Py_ssize_t i = begin; i < n; i++) {
        unsigned p = pid[i] & (NPID - 1);
        int ok = !err || !err[i];
        if ((what & 1) && ok && psi_lut[p] && st[i] >= 0) r[0][c[0]++] = i;
        if ((what & 2) && ok && pusi[i] && (lut[p] & pes_flag)) r[1][c[1]++] = i;
        if ((what & 4) && pcr[i]) {
            int64_t h = hst[i];
            if (h < 0 || h + HEAD > hlen) {
                release(&s);
                PyErr_Format(PyExc_IndexError, "tr_scan: head %zd at %lld out of range", i,
                             (long long)h);
                return NULL;
            }
            const uint8_t *b = hdata + h + 6;
            int64_t base = ((int64_t)b[0] << 25) | ((int64_t)b[1] << 17) | ((int64_t)b[2] << 9) |
                           ((int64_t)b[3] << 1) | (b[4] >> 7);
            r[4][c[2]] = base * 300 + (((b[4] & 1) << 8) | b[5]);
            r[2][c[2]++] = i;
        }
        if ((what & 8) && ok) {
            int64_t h = hst[i];
            if (h < 0 || h + 3 >= hlen) {
                release(&s);
                PyErr_Format(PyExc_IndexError, "tr_scan: head %zd at %lld out of range", i,
                             (long long)h);
                return NULL;
            }
            if (hdata[h + 3] & 0xC0) r[3][c[3]++] = i;
        }
    }
    release(&s);
    return Py_BuildValue("nnnn", c[0], c[1], c[2], c[3]);
}

/* gap_scan(pid, t, err, lut, flag, at, n, limit, seen, first, last, g_pid, g_from, g_to)
 *   -> number of gaps
 * Over the packets i (0..n-1, or at[0..n-1] when at is not None; increasing) whose PID p =
 * pid[i] (uint16) has lut[p] & flag (lut uint8[8192]) and, when err is not None, err[i] == 0
 * (uint8): seen[p] = 1 (uint8[8192], set by the caller to 0), first[p] / last[p] the first
 * and last such t[i] (int64[8192]); each time two consecutive ones of a PID are more than
 * limit apart, a gap (p, the earlier t, the later t) into g_pid / g_from / g_to (int64, room
 * for n). */
static PyObject *gap_scan(PyObject *self, PyObject *args) {
    PyObject *o[3], *err_o, *at_o, *out[6];
    int flag;
    Py_ssize_t n;
    long long limit;
    if (!PyArg_ParseTuple(args, "OOOOiOnLOOOOOO", &o[0], &o[1], &err_o, &o[2], &flag, &at_o, &n,
                          &limit, &out[0], &out[1], &out[2], &out[3], &out[4], &out[5]))
        return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "gap_scan: bad count");
        return NULL;
    }
    bufs_t s = {.n = 0};
    const uint16_t *pid = get(&s, o[0], 0, 0, "pid");
    Py_ssize_t npk = pid ? s.b[s.n - 1].len / 2 : 0;
    const int64_t *t = pid ? get(&s, o[1], 0, npk * 8, "t") : NULL;
    const uint8_t *err = NULL;
    if (t && err_o != Py_None && !(err = get(&s, err_o, 0, npk, "err"))) t = NULL;
    const uint8_t *lut = t ? get(&s, o[2], 0, NPID, "lut") : NULL;
    const int64_t *at = NULL;
    if (lut && at_o != Py_None && !(at = get(&s, at_o, 0, n * 8, "at"))) lut = NULL;
    if (lut && at_o == Py_None && n > npk) {
        PyErr_Format(PyExc_ValueError, "gap_scan: %zd packets, %zd PIDs", n, npk);
        lut = NULL;
    }
    uint8_t *seen = lut ? get(&s, out[0], 1, NPID, "seen") : NULL;
    int64_t *first = seen ? get(&s, out[1], 1, NPID * 8, "first") : NULL;
    int64_t *last = first ? get(&s, out[2], 1, NPID * 8, "last") : NULL;
    int64_t *g_pid = last ? get(&s, out[3], 1, n * 8, "g_pid") : NULL;
    int64_t *g_from = g_pid ? get(&s, out[4], 1, n * 8, "g_from") : NULL;
    int64_t *g_to = g_from ? get(&s, out[5], 1, n * 8, "g_to") : NULL;
    if (!g_to) {
        release(&s);
        return NULL;
    }
    Py_ssize_t gaps = 0;
    for (Py_ssize_t j = 0; j < n; j++) {
        Py_ssize_t i = j;
        if (at) {
            i = (Py_ssize_t)at[j];
            if (i < 0 || i >= npk || (j && at[j] <= at[j - 1])) {
                release(&s);
                PyErr_Format(PyExc_IndexError, "gap_scan: packet %zd at %lld out of order or range",
                             j, (long long)at[j]);
                return NULL;
            }
        }
        unsigned p = pid[i] & (NPID - 1);
        if (!(lut[p] & flag) || (err && err[i])) continue;
        int64_t ti = t[i];
        if (!seen[p]) {
            seen[p] = 1;
            first[p] = ti;
        } else if (ti - last[p] > limit) {
            g_pid[gaps] = p;
            g_from[gaps] = last[p];
            g_to[gaps] = ti;
            gaps++;
        }
        last[p] = ti;
    }
    release(&s);
    return PyLong_FromSsize_t(gaps);
}

static PyMethodDef methods[] = {
    {"ts_headers", ts_headers, METH_VARARGS, "Parse TS packet headers (see ts.parse_ts_headers)."},
    {"pid_counts", pid_counts, METH_VARARGS, "Per-PID packet counts and last arrival times."},
    {"rare_events", rare_events, METH_VARARGS, "Positions of the PSI and probed packets."},
    {"dgram_fields", dgram_fields, METH_VARARGS, "Datagram fields from parsed RTP headers."},
    {"pid_rates", pid_rates, METH_VARARGS, "Per-PID bit rates of an interval's counts."},
    {"ts_layout", ts_layout, METH_VARARGS, "Where the TS packets of datagrams are."},
    {"pcr_pairs", pcr_pairs, METH_VARARGS, "PCR pairs of the PCR PID with running sums."},
    {"psi_links", psi_links, METH_VARARGS, "Repeated PSI packets and next PSI events."},
    {"rtp_chunks", rtp_chunks, METH_VARARGS, "RTP sums and TS-DF spreads per chunk."},
    {"seq_run", seq_run, METH_VARARGS, "RTP sequence tracking up to a restart."},
    {"group_by_flow", group_by_flow, METH_VARARGS, "Rows grouped by flow (stable)."},
    {"delay_factor", delay_factor, METH_VARARGS, "MDI delay factor of one interval."},
    {"buffer_run", buffer_run, METH_VARARGS, "The playout buffer model over arrivals."},
    {"flow_table", flow_table, METH_NOARGS, "A new flow table (capsule)."},
    {"flow_table_add", flow_table_add, METH_VARARGS, "Add flow keys to a flow table."},
    {"pcap_records", pcap_records, METH_VARARGS, "Walk and decode classic pcap records."},
    {"packet_records", packet_records, METH_VARARGS, "Decode records found by the caller."},
    {"psi_repeats", psi_repeats, METH_VARARGS, "PSI packets repeating the one before on their PID."},
    {"tr_scan", tr_scan, METH_VARARGS, "TR 101 290: PSI, PES start, PCR, scrambled packets."},
    {"gap_scan", gap_scan, METH_VARARGS, "Per-PID first / last times and gaps over a limit."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels",
                                    "Optional compiled per-packet loops.", -1, methods};

PyMODINIT_FUNC PyInit__kernels(void) {
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddIntConstant(m, "HEAD_BYTES", HEAD) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
