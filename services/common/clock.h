/*
 * clock.h: wall-clock and monotonic time, and RFC 3339 formatting and
 * parsing.
 */
#ifndef ORCH_CLOCK_H
#define ORCH_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* "2026-11-26T20:38:21.123Z" plus the terminating NUL. */
#define ORCH_RFC3339_LEN 25

/* Milliseconds since the Unix epoch, UTC. */
int64_t orch_now_ms(void);

/* Milliseconds on a monotonic clock, for timeouts and latency. */
int64_t orch_mono_ms(void);

/* Nanoseconds on the same monotonic clock, for short latencies. */
int64_t orch_mono_ns(void);

/* The CLOCK_MONOTONIC time ms milliseconds from now, into out: the
 * deadline of a pthread_cond_timedwait() on a condition variable made
 * with that clock. */
void orch_mono_deadline(int ms, struct timespec *out /* OUT */);

/* Formats ms as RFC 3339 UTC with milliseconds into buf (at least
 * ORCH_RFC3339_LEN bytes).  Returns buf. */
char *orch_rfc3339(int64_t ms, char *buf, size_t len);

/*
 * Parses an RFC 3339 date-time, strictly: "YYYY-MM-DDTHH:MM:SS", an
 * optional fraction of a second of any length (digits past milliseconds
 * are dropped, not rounded), then "Z" or "+HH:MM" / "-HH:MM".  "t" and "z"
 * may stand for "T" and "Z", as RFC 3339 allows; nothing else may follow.
 * A leap second (:60) counts as the first second of the next minute.
 * Every year from 0000 to 9999 is read (Docker's zero time,
 * "0001-01-01T00:00:00Z", gives a negative time the caller may map).
 * Returns ORCH_OK with *ms in milliseconds since the Unix epoch, or
 * ORCH_EINVAL, leaving *ms alone, for anything else, including a day that
 * its month does not have (31 February, 29 February outside leap years).
 */
int orch_rfc3339_parse(const char *s, int64_t *ms /* OUT */);

#endif
