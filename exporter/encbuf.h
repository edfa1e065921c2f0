/*
 * encbuf.h - what the two OTLP encoders share: a growable output buffer, UTF-8 checking and
 * repair, lowercase hex (internal to exporter/).
 *
 * Ownership: a struct exp_buf belongs to one thread (the exporter thread, or a test); it keeps
 * its memory between batches so that steady-state encoding allocates nothing.
 */
#ifndef EXP_ENCBUF_H
#define EXP_ENCBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct exp_buf {
	uint8_t *p;     /* the contents: p[0, len) */
	size_t len;     /* bytes written */
	size_t cap;     /* bytes allocated from p on */
	size_t skipped; /* bytes allocated before p: the contents start there (exp_buf_skip) */
};

/* Make room for `more` bytes after len. Returns 0 or -ENOMEM (the buffer is unchanged). */
int exp_buf_reserve(struct exp_buf *b, size_t more);
/* Empty the buffer: the contents start at the beginning of its memory again. */
void exp_buf_clear(struct exp_buf *b);
/* Drop the first k (<= len) bytes of the contents without moving the rest: an encoder that
 * left room for a prefix of unknown length starts its output where the prefix starts. */
void exp_buf_skip(struct exp_buf *b, size_t k);
/* Free the buffer; it can be used again afterwards. */
void exp_buf_free(struct exp_buf *b);

/* True if [p, p+n) is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
bool exp_utf8_valid(const char *p, size_t n);
/* True if every byte is < 0x80 (fast path: 8 bytes at a time). */
bool exp_ascii_only(const char *p, size_t n);

/* Length of the text after repair: each byte that does not begin a well-formed sequence becomes
 * U+FFFD (3 bytes); the next byte is examined afresh. */
size_t exp_utf8_repaired_len(const char *p, size_t n);
/* Write the repaired text to out (which has room for exp_utf8_repaired_len bytes); returns
 * the number of bytes written. */
size_t exp_utf8_repair(uint8_t *out, const char *p, size_t n);

/* Length of the valid UTF-8 sequence starting at p[0] (1-4), or 0 if p[0] starts none. */
size_t exp_utf8_seq_len(const uint8_t *p, size_t n);

/* Lowercase hex of n bytes into out (2n chars, no NUL). */
void exp_hex(char *out, const uint8_t *in, size_t n);

#endif
