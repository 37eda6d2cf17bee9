/* A build context: a folder streamed as a tar through a pipe while Docker reads it, so no
 * copy of the context is ever held in memory or written to disk. Symlinks are sent as links,
 * never followed; ".git" is left out. */
#ifndef DP_CONTEXT_H
#define DP_CONTEXT_H

#include "dp_err.h"

#include <stddef.h>
#include <sys/types.h>

struct dp_context;

/* Starts writing a tar of the directory dirfd in a producer thread; takes dirfd over (closed
 * by dp_context_close, or here on failure). Only the top is entered through its fd: links
 * inside are archived as links. *out: dp_context_close() it. */
dp_rc dp_context_open(struct dp_context **out, int dirfd, struct dp_err *err);

/* Reads up to n bytes of the tar; 0 at its end, -1 on error (see dp_context_close). */
ssize_t dp_context_read(struct dp_context *c, char *buf, size_t n);

/* Stops the producer if still running, waits for it and frees c. Reports the producer's error
 * (the root cause only when the reader had no error of its own). */
dp_rc dp_context_close(struct dp_context *c, struct dp_err *err);

#endif
