/* Optional compiled per-packet loops for the measurement core and the pcap reader.
 *
 * Each function does, in one pass over the packets, exactly what a numpy function of the
 * package does (named below), writing into arrays the caller allocated: the numpy code stays
 * the reference and the fallback when this module is not built, and the tests run both and
 * compare the results. No numpy C API: arrays are passed through the buffer protocol, so the
 * module builds without numpy's headers.
 *
 *   ts_headers  - collectors/core/ts.py parse_ts_headers
 *   cc_errors   - collectors/core/cc.py ContinuityChecker.errors_at
 *   pcap_walk   - collectors/sources/pcap.py PcapReader._walk_pcap (classic pcap records)
 *   pid_counts  - per-PID packet counts and last arrival times of a run of packets
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define TS 188
#define NPID 8192
#define NULL_PID 0x1FFF

typedef struct {
    Py_buffer b[12];
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
 *            e_sync, e_tei, e_afc, e_af_length)
 * data: uint8; starts: int64[n] (each with 188 bytes after it); outputs: err uint8,
 * pid uint16, pusi bool, afc uint8, cc uint8, disc bool, has_pcr bool, payload_offset int16. */
static PyObject *ts_headers(PyObject *self, PyObject *args) {
    PyObject *o[10];
    Py_ssize_t n;
    int e_sync, e_tei, e_afc, e_afl;
    if (!PyArg_ParseTuple(args, "OOnOOOOOOOOiiii", &o[0], &o[1], &n, &o[2], &o[3], &o[4],
                          &o[5], &o[6], &o[7], &o[8], &o[9], &e_sync, &e_tei, &e_afc, &e_afl))
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
    }
    release(&s);
    Py_RETURN_NONE;
}

/* cc_errors(pid, cc, afc, disc, n, last_cc, last_dup, out_at, out_lost) -> count
 * pid uint16[n], cc uint8[n], afc uint8[n], disc bool[n]; state last_cc int64[8192],
 * last_dup bool[8192] (updated); out_at / out_lost int64[n]: the error positions (ascending)
 * and the packets each says were lost. */
static PyObject *cc_errors(PyObject *self, PyObject *args) {
    PyObject *o[8];
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "OOOOnOOOO", &o[0], &o[1], &o[2], &o[3], &n, &o[4], &o[5],
                          &o[6], &o[7]))
        return NULL;
    bufs_t s = {.n = 0};
    const uint16_t *pid = get(&s, o[0], 0, n * 2, "pid");
    const uint8_t *cc = pid ? get(&s, o[1], 0, n, "cc") : NULL;
    const uint8_t *afc = cc ? get(&s, o[2], 0, n, "afc") : NULL;
    const uint8_t *disc = afc ? get(&s, o[3], 0, n, "disc") : NULL;
    int64_t *last_cc = disc ? get(&s, o[4], 1, NPID * 8, "last_cc") : NULL;
    uint8_t *last_dup = last_cc ? get(&s, o[5], 1, NPID, "last_dup") : NULL;
    int64_t *out_at = last_dup ? get(&s, o[6], 1, n * 8, "out_at") : NULL;
    int64_t *out_lost = out_at ? get(&s, o[7], 1, n * 8, "out_lost") : NULL;
    if (!out_lost) {
        release(&s);
        return NULL;
    }
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned p = pid[i];
        if (!(afc[i] & 1) || p == NULL_PID || p >= NPID) continue;
        int64_t prev = last_cc[p];
        int c = cc[i];
        int dd = disc[i] != 0;
        int has_prev = prev >= 0;
        int step = (int)((c - prev) & 0x0F);
        int is_dup = has_prev && step == 0 && !dd;
        if (has_prev && !dd && step != 1 && !(is_dup && !last_dup[p])) {
            out_at[k] = i;
            out_lost[k] = step >= 2 ? step - 1 : 0;
            k++;
        }
        last_cc[p] = c;
        last_dup[p] = (uint8_t)is_dup;
    }
    release(&s);
    return PyLong_FromSsize_t(k);
}

static inline uint32_t rd32(const uint8_t *p, int big) {
    return big ? ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]
               : ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}

/* pcap_walk(buf, pos, end, limit, big_endian, max_incl, out_hdr, out_sec, out_frac, out_incl)
 *   -> (count, pos, fault, fault_pos, fault_value)
 * Classic pcap record headers from pos on, at most limit; fault 0 = none, 1 = header cut
 * (16 bytes needed), 2 = included length above max_incl, 3 = record runs past the end. */
static PyObject *pcap_walk(PyObject *self, PyObject *args) {
    PyObject *o[5];
    Py_ssize_t pos, end, limit, max_incl;
    int big;
    if (!PyArg_ParseTuple(args, "OnnnpnOOOO", &o[0], &pos, &end, &limit, &big, &max_incl, &o[1],
                          &o[2], &o[3], &o[4]))
        return NULL;
    bufs_t s = {.n = 0};
    const uint8_t *buf = get(&s, o[0], 0, end, "buf");
    int64_t *hdr = buf ? get(&s, o[1], 1, limit * 8, "out_hdr") : NULL;
    int64_t *sec = hdr ? get(&s, o[2], 1, limit * 8, "out_sec") : NULL;
    int64_t *frac = sec ? get(&s, o[3], 1, limit * 8, "out_frac") : NULL;
    int64_t *incl_o = frac ? get(&s, o[4], 1, limit * 8, "out_incl") : NULL;
    if (!incl_o) {
        release(&s);
        return NULL;
    }
    Py_ssize_t k = 0;
    int fault = 0;
    long long value = 0;
    Py_BEGIN_ALLOW_THREADS
    while (k < limit && pos < end) {
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
        hdr[k] = pos;
        sec[k] = rd32(r, big);
        frac[k] = rd32(r + 4, big);
        incl_o[k] = incl;
        k++;
        pos = nxt;
    }
    Py_END_ALLOW_THREADS
    release(&s);
    return Py_BuildValue("nninL", k, pos, fault, pos, value);
}

/* pid_counts(pid, arrival, n, counts, last_seen): counts[pid] += 1 and
 * last_seen[pid] = max(last_seen[pid], arrival) over n packets (pid uint16, arrival int64,
 * counts / last_seen int64[8192]). */
static PyObject *pid_counts(PyObject *self, PyObject *args) {
    PyObject *o[4];
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "OOnOO", &o[0], &o[1], &n, &o[2], &o[3])) return NULL;
    bufs_t s = {.n = 0};
    const uint16_t *pid = get(&s, o[0], 0, n * 2, "pid");
    const int64_t *arr = pid ? get(&s, o[1], 0, n * 8, "arrival") : NULL;
    int64_t *counts = arr ? get(&s, o[2], 1, NPID * 8, "counts") : NULL;
    int64_t *last = counts ? get(&s, o[3], 1, NPID * 8, "last_seen") : NULL;
    if (!last) {
        release(&s);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned p = pid[i] & (NPID - 1);
        counts[p]++;
        if (arr[i] > last[p]) last[p] = arr[i];
    }
    release(&s);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"ts_headers", ts_headers, METH_VARARGS, "Parse TS packet headers (see ts.parse_ts_headers)."},
    {"cc_errors", cc_errors, METH_VARARGS, "Continuity check (see ContinuityChecker.errors_at)."},
    {"pcap_walk", pcap_walk, METH_VARARGS, "Walk classic pcap record headers."},
    {"pid_counts", pid_counts, METH_VARARGS, "Per-PID packet counts and last arrival times."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels",
                                    "Optional compiled per-packet loops.", -1, methods};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
