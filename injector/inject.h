/*
 * inject.h - add or replace header bytes in an outbound HTTP/1.x stream with exact accounting.
 *
 * The connection tracker parses the bytes of each outbound write call and finds where header
 * lines must go (the start of the blank line that ends each request head), and which program
 * bytes must be replaced (the value of a traceparent header a proxy forwarded verbatim: a
 * second traceparent field would make the request's context invalid, W3C Trace Context 3.2,
 * so the agent overwrites the forwarded value with its own instead of adding a line).
 * inj_write() then performs the write so that the peer receives the program's bytes in order,
 * with the header lines at those offsets and the replaced ranges swapped for their new bytes,
 * and nothing else, while the program sees the counts and errno it would have seen without us:
 * counts of its own bytes only. New bytes the kernel did not take yet stay in a small
 * per-connection struct inj_state and go out first on the next write call.
 *
 * Everything here is pure: no I/O of its own (the caller hands in the function that does the
 * vectored write), no allocation, no globals, no locks. All functions are reentrant and
 * async-signal-safe. A struct inj_state belongs to one connection; calls on the same state must
 * not run concurrently (the tracker serialises them per fd, as the kernel serialises writes).
 */
#ifndef INJ_INJECT_H
#define INJ_INJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "span_context.h"

/* Most entries (insertions and replacements) one inj_write() call accepts (pipelined requests
 * in one write). */
#define INJ_MAX_INSERTS 16

/* Most new bytes of one entry, and so the capacity of the pending buffer: the pending bytes are
 * always the unsent tail of one entry (see inj_write), never a concatenation. */
#define INJ_INSERT_MAX 1024
#define INJ_PENDING_MAX INJ_INSERT_MAX

/* Longest output of inj_format_headers() for a tracestate of at most CTX_TRACESTATE_MAX
 * characters: "traceparent: " 55 CRLF "tracestate: " value CRLF = 13+55+2 + 12+512+2 = 596. */
#define INJ_HEADERS_MAX (13 + CTX_TRACEPARENT_LEN + 2 + 12 + CTX_TRACESTATE_MAX + 2)

/* Entries in the vector one call of the write function receives. A program vector that, with
 * the pending bytes and the insertions, needs more entries is sent in several calls (each next
 * one only after the previous one was taken whole), so this bounds the stack used inside a hook
 * (16 bytes an entry) without limiting the program's iovcnt, which may be up to IOV_MAX. */
#define INJ_VEC_MAX 128

/*
 * The vectored write that really sends bytes, bound by the tracker to the program's call:
 * real_writev, or real_sendmsg with the program's flags (MSG_NOSIGNAL, MSG_DONTWAIT, MSG_MORE...)
 * and address. Returns the number of bytes taken (>= 0), or -1 with errno set, exactly like
 * writev(2). It is called with 1..INJ_VEC_MAX entries, none of them empty, and must not modify
 * them. It may be called several times for one inj_write(): anything that must accompany the
 * program's call only once (sendmsg ancillary data) must be attached to the first call only.
 */
typedef ssize_t (*inj_writev_fn)(void *ctx, const struct iovec *iov, int iovcnt);

/* One insertion or replacement: `len` bytes at `bytes` go out in place of the `skip` program
 * bytes at offsets [at, at + skip) of this call. skip == 0 is a pure insertion just before the
 * program byte at `at` (at == total means after the last one); skip > 0 replaces that range
 * (len may equal skip, as for a traceparent value, or differ). skip comes last so that a
 * designated or zero initialiser of the insertion-only form still means "insert"; a caller
 * that sets the fields one by one must set skip too. The bytes are copied if needed; they only
 * have to live until inj_write() returns. */
struct inj_insert {
	size_t at;
	const char *bytes;
	size_t len;
	size_t skip;
};

/* Per-connection state: new bytes accepted for sending but not taken by the kernel yet.
 * Embeddable; all-zero (or inj_state_init) is the empty state. */
struct inj_state {
	uint16_t off; /* first pending byte in buf */
	uint16_t len; /* pending bytes */
	char buf[INJ_PENDING_MAX];
};

/* Make `st` empty. Also the way to drop pending bytes when the connection is closed or its fd
 * number is reused. */
void inj_state_init(struct inj_state *st);

/* Whether new (inserted or replacing) bytes are waiting to go out before the next program byte. */
static inline bool inj_state_pending(const struct inj_state *st)
{
	return st->len != 0;
}

/* How many new bytes are waiting. */
static inline size_t inj_state_pending_len(const struct inj_state *st)
{
	return st->len;
}

/*
 * Write the program's `iovcnt` buffers `iov` (n bytes in all) through `fn`, preceded by the
 * pending bytes of `st` and with the `nins` insertions and replacements `ins` (the "entries").
 * Rules: each 1 <= len <= INJ_INSERT_MAX and at + skip <= n; sorted by `at`; a replaced range
 * does not reach past the next entry's offset (at[i+1] >= at[i] + skip[i]). Several entries at
 * one offset go out in array order (only the last of them may have skip > 0). `ins` may be
 * NULL when nins == 0. The peer is to receive, in order:
 *
 *     pending | P[0, at1) | B1 | P[at1 + skip1, at2) | B2 | ... | P[atk + skipk, n)
 *
 * Returns the number of the program's bytes consumed (what writev would have returned to it),
 * or a negative errno. The skipped bytes of a replacement count as consumed as soon as it
 * happened (see ins_done): from then on they are the program's, and the program re-offers its
 * bytes from at + skip. So the count is never strictly inside a replaced range: it is <= at
 * when the replacement did not happen and >= at + skip when it did. Details:
 *  - n > 0: the result is never 0. If the kernel takes only pending or new bytes and nothing
 *    was consumed yet, fn is called again for the rest (a blocking socket blocks, as the
 *    program's own write would); an error at that point (EAGAIN, EINTR, EPIPE, ...) is
 *    returned as -errno, exactly as fn left it, with the unsent new bytes kept pending. Once
 *    the count is above 0, a short count from fn is final: the count is returned as it stands,
 *    an error after it is left for the program's next call to meet, as the kernel does.
 *    A replacement with skip > 0 that happened is such progress even when none of the
 *    program's own bytes went out: if it starts at offset 0 and only part of it went out, the
 *    result is its skip (> 0), with the rest of it pending.
 *  - The one exception to "never 0": fn itself returning 0 for a non-empty vector (no stream
 *    socket does); then the count so far is returned, possibly 0, instead of spinning.
 *  - n == 0: the call is passed to fn unchanged (the pending bytes wait, entries are ignored).
 *  - No pending bytes and nins == 0: fn(ctx, iov, iovcnt) is called once, unchanged.
 *  - -EINVAL without calling fn when iovcnt is out of 0..IOV_MAX, the byte count overflows
 *    ssize_t (what writev would say), or the entry table breaks the rules above (a tracker
 *    bug; the tracker builds the table from its parser, sorted by construction).
 *
 * `*ins_done` (when ins_done is not NULL) is set, also on error, to the number of leading
 * entries that happened: at least one of their bytes went out, and the rest of the last of
 * them, if any, is now pending. With `count` the result (0 on error), an entry happened iff
 *  - skip > 0: at < count (equivalently count >= at + skip; never on error, as its skipped
 *    bytes make the count positive);
 *  - skip == 0: at < count, or at == count and part of it went out (ins_done tells).
 * A replacement whose bytes all stayed unsent did not happen even if the kernel took every
 * program byte before `at`: the count is then `at`, and the range is still the program's to
 * re-offer. Entries that did not happen had none of their bytes go anywhere; the tracker must
 * plan them again on the bytes the program re-offers (a replacement only if its whole range
 * lies inside that next call).
 *
 * Pending bytes after the call are always the unsent tail of the last entry that happened, or
 * what is left of the pending bytes before the call (when the call returned an error before
 * they all went out).
 */
ssize_t inj_write(struct inj_state *st, const struct iovec *iov, int iovcnt,
                  const struct inj_insert *ins, int nins, int *ins_done, inj_writev_fn fn,
                  void *ctx);

/*
 * Send the pending bytes of `st` alone, until there are none (for calls that cannot carry them,
 * such as sendfile, and before a shutdown of the write side). Returns 0 when nothing is pending
 * any more, or a negative errno from fn (EAGAIN on a full non-blocking socket, EINTR, EPIPE...)
 * with what was not taken still pending; -EIO if fn returns 0 for a non-empty vector.
 */
int inj_flush_pending(struct inj_state *st, inj_writev_fn fn, void *ctx);

/*
 * Format the header lines to insert for span context `sc`:
 *   "traceparent: 00-<trace-id>-<span-id>-<flags>\r\n"        (always, 70 bytes)
 *   "tracestate: <tracestate>\r\n"                           (when ts_len > 0)
 * into `out` (capacity `cap`; INJ_HEADERS_MAX is always enough). Returns the length written
 * (NUL-terminated when cap leaves room), or 0 when sc is NULL, not valid, has an all-zero id,
 * or cap cannot hold the traceparent line (out is then the empty string when cap > 0). The
 * tracestate is expected in the normalised form ctx_ts_combine() gives; one that is longer than
 * CTX_TRACESTATE_MAX, blank, holds a byte outside 0x20..0x7E (which could smuggle CR/LF into the
 * request) or does not fit in cap is dropped and only traceparent is written (W3C Trace Context: an
 * invalid tracestate is not propagated; a failure of tracestate must not affect traceparent).
 */
size_t inj_format_headers(char *out, size_t cap, const struct ctx_span_context *sc,
                          const char *tracestate, size_t ts_len);

#endif
