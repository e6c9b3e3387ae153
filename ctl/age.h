/*
 * age.h: how long ago a task was created, as orchctl list shows it.
 *
 * The manager writes RFC 3339 UTC ("2026-11-26T20:38:21.123Z"); the
 * parser (clock.c's) also takes numeric offsets, so that another writer
 * does not break the AGE column.
 */
#ifndef ORCH_CTL_AGE_H
#define ORCH_CTL_AGE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses the time a task was created or a node last seen: exactly
 * orch_rfc3339_parse() (clock.h), where the rules are, so that orchctl
 * and the agent read times alike.  Returns ORCH_OK with *ms (OUT) in
 * milliseconds since the Unix epoch, or ORCH_EINVAL.
 */
int orch_age_rfc3339_parse(const char *s, int64_t *ms /* OUT */);

/*
 * Writes an elapsed time in the units docker and kubectl use, rounded
 * down: "45s", "3m", "2h", "4d".  A negative time (a clock ahead of ours)
 * is "0s".  buf should hold at least 24 bytes.
 */
void orch_age_format(int64_t elapsed_ms, char *buf, size_t len);

#endif
