/*
 * clock.h: wall-clock and monotonic time, and RFC 3339 formatting.
 */
#ifndef ORCH_CLOCK_H
#define ORCH_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* "2026-11-26T20:38:21.123Z" plus the terminating NUL. */
#define ORCH_RFC3339_LEN 25

/* Milliseconds since the Unix epoch, UTC. */
int64_t orch_now_ms(void);

/* Milliseconds on a monotonic clock, for timeouts and latency. */
int64_t orch_mono_ms(void);

/* Formats ms as RFC 3339 UTC with milliseconds into buf (at least
 * ORCH_RFC3339_LEN bytes).  Returns buf. */
char *orch_rfc3339(int64_t ms, char *buf, size_t len);

#endif
