/*
 * console.h - the "console" exporter: one human-readable line per span (internal to exporter/).
 */
#ifndef EXP_CONSOLE_H
#define EXP_CONSOLE_H

#include <stddef.h>

#include "exp_span.h"

#define EXP_CONSOLE_LINE 4096

/* Format one span as a line ending in '\n' into out (size >= 64; the line is cut with "..."
 * if longer). Returns its length. Control characters and invalid UTF-8 are escaped as \xNN so
 * that span data can never drive the terminal. */
size_t exp_console_format(char *out, size_t size, const struct exp_span *s);

/* Write one line per span to fd (the exporter uses stderr). Returns 0 or -errno. */
int exp_console_export(int fd, const struct exp_span *spans, size_t n);

#endif
