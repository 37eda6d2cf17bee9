/* Time in the two flavours we need: monotonic for deadlines, wall for logs and answers. */
#ifndef DP_CLOCK_H
#define DP_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds on the monotonic clock. */
int64_t dp_mono_ms(void);

/* Seconds on the monotonic clock. */
int64_t dp_mono_s(void);

/* Sleeps ms milliseconds (restarts after signals). */
void dp_sleep_ms(int64_t ms);

/* Current UTC time as RFC 3339 ("2026-11-22T03:25:43Z") into buf (at least 21 bytes). */
void dp_wall_rfc3339(char *buf, size_t size);

/* Unix seconds t as "YYYY-MM-DDTHH:MM:SSZ" (UTC); the bare number if it cannot be shown. */
void dp_unix_rfc3339(char *buf, size_t size, int64_t t);

#endif
