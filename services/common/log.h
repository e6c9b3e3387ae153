/*
 * log.h: one-line log records on stderr, one per event.
 *
 * The text format (the default), for people and grep:
 *
 *   2026-11-26T20:38:21.123Z INFO  scheduler: task 3f2a... (web.1) placed
 *   on node n1 (9c0e...) task=3f2a... node=n1
 *
 * (one line): time (UTC, milliseconds), level, component, the message,
 * then the record's key=value fields, if any (a value with a blank, a
 * quote, '=' or a control character is quoted, with \" \\ \n \t \r and
 * \xNN escapes).  Control characters in the message are escaped too, so
 * that a record is always one line.
 *
 * The JSON format (--log-format json), for log shippers: one object per
 * line, {"time":...,"level":"info","component":...,"msg":...} and the
 * fields as string members (a field named like one of those four is
 * prefixed "field."); bytes that are not UTF-8 become U+FFFD.
 *
 * Under systemd, when stderr is the journal ($JOURNAL_STREAM names it),
 * each line starts with the level as a syslog prefix ("<6>"), which
 * journald takes as the record's priority and strips: journalctl -p warning
 * then shows warnings and errors.
 *
 * Thread-safe: each record is written with a single write(2), at most
 * ORCH_LOG_LINE_MAX bytes (a longer one is cut, and ends in "...").
 */
#ifndef ORCH_LOG_H
#define ORCH_LOG_H

#include <stdarg.h>
#include <stddef.h>

#define ORCH_LOG_LINE_MAX 8192

enum orch_log_level {
	ORCH_LOG_DEBUG,
	ORCH_LOG_INFO,
	ORCH_LOG_WARN,
	ORCH_LOG_ERROR,
};

enum orch_log_format {
	ORCH_LOG_TEXT,
	ORCH_LOG_JSON,
};

/* A structured field of a record: key is a short identifier ("task",
 * "node"); value NULL leaves the field out. */
struct orch_log_field {
	const char *key;
	const char *value;
};

/* The fields of one record, for orch_log_kv():
 *   ORCH_LOG_FIELDS({"task", id}, {"node", name}) */
#define ORCH_LOG_FIELDS(...)                                                   \
	((const struct orch_log_field[]){__VA_ARGS__}),                        \
	    (sizeof((const struct orch_log_field[]){__VA_ARGS__}) /            \
	        sizeof(struct orch_log_field))

/* Records below level are dropped.  The default is ORCH_LOG_INFO. */
void orch_log_level_set(enum orch_log_level level);

/* Parses "debug", "info", "warn" or "error".  Returns ORCH_OK or ORCH_EINVAL.
 */
int orch_log_level_parse(const char *s, enum orch_log_level *level /* OUT */);

/* Sets the format of later records.  The default is ORCH_LOG_TEXT. */
void orch_log_format_set(enum orch_log_format format);

/* Parses "text" or "json".  Returns ORCH_OK or ORCH_EINVAL. */
int orch_log_format_parse(
    const char *s, enum orch_log_format *format /* OUT */);

/*
 * Formats one record into buf (of len bytes, at least 64) as the current
 * format says, with a newline, and returns its length.  now_ms is the
 * record's time (milliseconds since the epoch).  For tests; orch_log()
 * writes what this makes.
 */
size_t orch_log_format_record(char *buf, size_t len, long long now_ms,
    enum orch_log_level level, const char *component,
    const struct orch_log_field *fields, size_t n_fields, const char *msg);

/* Writes a record of component with the printf-style message fmt. */
void orch_log(enum orch_log_level level, const char *component, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/* orch_log() with n_fields key=value fields (ORCH_LOG_FIELDS makes both
 * arguments). */
void orch_log_kv(enum orch_log_level level, const char *component,
    const struct orch_log_field *fields, size_t n_fields, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define orch_debug(c, ...) orch_log(ORCH_LOG_DEBUG, (c), __VA_ARGS__)
#define orch_info(c, ...) orch_log(ORCH_LOG_INFO, (c), __VA_ARGS__)
#define orch_warn(c, ...) orch_log(ORCH_LOG_WARN, (c), __VA_ARGS__)
#define orch_error(c, ...) orch_log(ORCH_LOG_ERROR, (c), __VA_ARGS__)

#endif
