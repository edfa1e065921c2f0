/*
 * wt_guard.c - storage of the per-thread re-entry guard (see wt_guard.h).
 */
#include "wt_guard.h"

WT_TLS int wt_guard;
