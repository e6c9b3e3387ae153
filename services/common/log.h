/*
 * log.h: one-line log records on stderr.
 *
 *   2026-11-26T20:38:21.123Z INFO  gateway: listening on 127.0.0.1:3000
 *
 * Thread-safe: each record is written with a single write(2).
 */
#ifndef ORCH_LOG_H
#define ORCH_LOG_H

enum orch_log_level {
	ORCH_LOG_DEBUG,
	ORCH_LOG_INFO,
	ORCH_LOG_WARN,
	ORCH_LOG_ERROR,
};

/* Records below level are dropped.  The default is ORCH_LOG_INFO. */
void orch_log_level_set(enum orch_log_level level);

/* Parses "debug", "info", "warn" or "error".  Returns ORCH_OK or ORCH_EINVAL.
 */
int orch_log_level_parse(const char *s, enum orch_log_level *level /* OUT */);

void orch_log(enum orch_log_level level, const char *component, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

#define orch_debug(c, ...) orch_log(ORCH_LOG_DEBUG, (c), __VA_ARGS__)
#define orch_info(c, ...) orch_log(ORCH_LOG_INFO, (c), __VA_ARGS__)
#define orch_warn(c, ...) orch_log(ORCH_LOG_WARN, (c), __VA_ARGS__)
#define orch_error(c, ...) orch_log(ORCH_LOG_ERROR, (c), __VA_ARGS__)

#endif
