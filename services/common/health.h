/*
 * health.h: health checks, the model: what a check may ask for, its
 * defaults, the names of the health states, and the state machine that
 * turns check results into a state.
 *
 * A task's spec may carry a check (TaskSpec.health, HealthCheck in
 * proto/orch.proto): "exec" runs a command in the task's container (or,
 * for the exec driver, on the host), "http" GETs a path on a port, "tcp"
 * connects to a port.  The task's agent runs it every interval_s seconds
 * while the task runs, each run bounded by timeout_s.  The task is
 * "starting" until a check passes ("healthy"); retries failures in a
 * row make it "unhealthy", except those within start_period_s of the
 * container's start while it has not yet been healthy.  A pass resets
 * the count.  An unhealthy task is reported Failed and stopped by its
 * agent (agent/checker.c); its restart policy decides what follows.
 *
 * Everything here is pure: the state machine reads no clock (the caller
 * passes the time), so that tests/test_health.c drives it with made-up
 * times.
 */
#ifndef ORCH_HEALTH_H
#define ORCH_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orch.pb-c.h"

typedef Orch__HealthCheck orch_health_check;

/* The types of check. */
#define ORCH_HEALTH_EXEC "exec"
#define ORCH_HEALTH_HTTP "http"
#define ORCH_HEALTH_TCP "tcp"

/* Limits of a check's fields (the defaults are orch.proto's: interval
 * 10 s, timeout 5 s, retries 3, start period 0, path "/"). */
#define ORCH_HEALTH_INTERVAL_MAX_S 3600
#define ORCH_HEALTH_TIMEOUT_MAX_S 300
#define ORCH_HEALTH_RETRIES_MAX 100
#define ORCH_HEALTH_START_PERIOD_MAX_S 3600
#define ORCH_HEALTH_PATH_MAX 1024

/* The API name of a health state ("starting", "healthy", "unhealthy"),
 * or NULL for another value. */
const char *orch_health_status_name(int status);

/* Parses an API health name.  Returns ORCH_OK or ORCH_EINVAL. */
int orch_health_status_parse(const char *s, int *status /* OUT */);

/*
 * Checks the value v of the numeric field of a check named field
 * ("port", "interval_s", "timeout_s", "retries", "start_period_s")
 * against its limits, so that a decoder can refuse a value before
 * narrowing it to the message's 32 bits.  On failure err names the field
 * ('field "health.port" must be ...').  Returns ORCH_OK or ORCH_EINVAL.
 */
int orch_health_field_check(
    const char *field, long long v, char *err, size_t errlen);

/*
 * Checks a check: type one of the three; "exec" with a non-empty command
 * (and no port or path); "http" and "tcp" with a port (and no command;
 * path for "http" only, starting with '/', printable ASCII without
 * spaces, at most ORCH_HEALTH_PATH_MAX bytes); the numeric fields within
 * their limits.  On failure err names the field ('field
 * "health.interval_s" must be ...').  Returns ORCH_OK or ORCH_EINVAL.
 */
int orch_health_check_validate(
    const orch_health_check *h, char *err, size_t errlen);

/* Stores the defaults in h: every numeric field marked given, and path
 * "/" for an http check without one, so that every reader (and an
 * idempotency comparison) sees the same.  Returns ORCH_OK or
 * ORCH_ENOMEM. */
int orch_health_check_defaults(orch_health_check *h);

/* The path an http check GETs: its own, or "/". */
const char *orch_health_check_path(const orch_health_check *h);

/* What h checks, for messages: 'http GET :8080/health', 'tcp :5432',
 * 'exec "pg_isready" (2 arguments)'.  Writes into buf, returns buf. */
const char *orch_health_check_text(
    const orch_health_check *h, char *buf, size_t len);

/* Where a task's checks stand. */
struct orch_health_state {
	int status;        /* an ORCH__HEALTH_STATUS__ value */
	uint32_t failures; /* failures in a row that counted */
};

/* A task that has just started: starting, no failure. */
void orch_health_state_init(struct orch_health_state *s /* OUT */);

/*
 * Applies the result of one check (passed or not) of h, finished at
 * now_ms, to s, for a task whose instance started at started_ms.  A pass
 * makes it healthy and resets the count; a failure counts unless the
 * task is still starting within h's start period, and retries counted
 * failures make it unhealthy (which stays so, its count kept, until a
 * pass).  Returns whether the status changed.
 */
bool orch_health_step(struct orch_health_state *s, const orch_health_check *h,
    bool passed, int64_t now_ms, int64_t started_ms);

#endif
