#include "log.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"

/* What one record may hold, so that the longest fits ORCH_LOG_LINE_MAX
 * even escaped: the message, each field's key and value (output bytes),
 * and the fields taken. */
#define MSG_MAX 4096
#define KEY_MAX 32
#define VALUE_MAX 256
#define FIELDS_MAX 12
_Static_assert(
    MSG_MAX + KEY_MAX + FIELDS_MAX * (KEY_MAX + VALUE_MAX + 16) + 200 <=
        ORCH_LOG_LINE_MAX,
    "a record's parts fit the line");

static enum orch_log_level log_level = ORCH_LOG_INFO;
static enum orch_log_format log_format = ORCH_LOG_TEXT;

static const char *const text_levels[] = {
    [ORCH_LOG_DEBUG] = "DEBUG",
    [ORCH_LOG_INFO] = "INFO ",
    [ORCH_LOG_WARN] = "WARN ",
    [ORCH_LOG_ERROR] = "ERROR",
};

static const char *const json_levels[] = {
    [ORCH_LOG_DEBUG] = "debug",
    [ORCH_LOG_INFO] = "info",
    [ORCH_LOG_WARN] = "warn",
    [ORCH_LOG_ERROR] = "error",
};

/* sd-daemon(3)'s priorities: LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR. */
static const char syslog_levels[] = {
    [ORCH_LOG_DEBUG] = '7',
    [ORCH_LOG_INFO] = '6',
    [ORCH_LOG_WARN] = '4',
    [ORCH_LOG_ERROR] = '3',
};

void
orch_log_level_set(enum orch_log_level level)
{
	log_level = level;
}

int
orch_log_level_parse(const char *s, enum orch_log_level *level)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*level = (enum orch_log_level)i;
			return ORCH_OK;
		}
	}
	return ORCH_EINVAL;
}

void
orch_log_format_set(enum orch_log_format format)
{
	log_format = format;
}

int
orch_log_format_parse(const char *s, enum orch_log_format *format)
{
	if (strcmp(s, "text") == 0)
		*format = ORCH_LOG_TEXT;
	else if (strcmp(s, "json") == 0)
		*format = ORCH_LOG_JSON;
	else
		return ORCH_EINVAL;
	return ORCH_OK;
}

/* ---- building a line ---- */

/* A line being written; what passes its end is dropped. */
struct out {
	char *p;
	size_t len; /* room, the newline's included */
	size_t n;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (n > o->len - 1 - o->n)
		n = o->len - 1 - o->n; /* the newline's byte stays free */
	memcpy(o->p + o->n, s, n);
	o->n += n;
}

static void
puts0(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/*
 * The length of the UTF-8 sequence at s (of n bytes), or 0 when it is not
 * one: a stray continuation byte, an overlong form, a surrogate, past
 * U+10FFFF, or cut short.
 */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/*
 * Writes s escaped, at most max bytes of output ("..." marks a cut):
 * for JSON (json), a string's content; for text, control characters as
 * \n \r \t \xNN, and also '"' and '\\' when quoted.
 */
static void
put_escaped(struct out *o, const char *s, size_t max, bool json, bool quoted)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), used = 0;
	char esc[8];

	for (size_t i = 0; i < n;) {
		const char *rep = NULL;
		size_t k = 1, replen;

		switch (u[i]) {
		case '\n': rep = "\\n"; break;
		case '\r': rep = "\\r"; break;
		case '\t': rep = "\\t"; break;
		case '"':
			if (json || quoted)
				rep = "\\\"";
			break;
		case '\\':
			if (json || quoted)
				rep = "\\\\";
			break;
		default:
			if (u[i] < 0x20 || (!json && u[i] == 0x7f)) {
				snprintf(esc, sizeof(esc),
				    json ? "\\u%04x" : "\\x%02x", u[i]);
				rep = esc;
			} else if (json && u[i] >= 0x80 &&
			    (k = utf8_len(u + i, n - i)) == 0) {
				rep = "\\ufffd";
				k = 1;
			}
		}
		replen = rep != NULL ? strlen(rep) : k;
		if (used + replen > max - 3) {
			put(o, "...", 3);
			return;
		}
		put(o, rep != NULL ? rep : s + i, replen);
		used += replen;
		i += k;
	}
}

/* Whether a text field's value must be quoted to read back as one. */
static bool
needs_quotes(const char *v)
{
	if (*v == '\0')
		return true;
	for (; *v != '\0'; v++) {
		unsigned char c = (unsigned char)*v;

		if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
			return true;
	}
	return false;
}

/* The members a JSON record has already: a field of that name is
 * renamed, so that a record never holds a key twice. */
static bool
json_reserved(const char *key)
{
	return strcmp(key, "time") == 0 || strcmp(key, "level") == 0 ||
	    strcmp(key, "component") == 0 || strcmp(key, "msg") == 0;
}

size_t
orch_log_format_record(char *buf, size_t len, long long now_ms,
    enum orch_log_level level, const char *component,
    const struct orch_log_field *fields, size_t n_fields, const char *msg)
{
	struct out o = {.p = buf, .len = len};
	char ts[ORCH_RFC3339_LEN];
	bool json = log_format == ORCH_LOG_JSON;

	orch_rfc3339((int64_t)now_ms, ts, sizeof(ts));
	if (n_fields > FIELDS_MAX)
		n_fields = FIELDS_MAX;
	if (json) {
		puts0(&o, "{\"time\":\"");
		puts0(&o, ts);
		puts0(&o, "\",\"level\":\"");
		puts0(&o, json_levels[level]);
		puts0(&o, "\",\"component\":\"");
		put_escaped(&o, component, KEY_MAX, true, true);
		puts0(&o, "\",\"msg\":\"");
		put_escaped(&o, msg, MSG_MAX, true, true);
		puts0(&o, "\"");
	} else {
		puts0(&o, ts);
		puts0(&o, " ");
		puts0(&o, text_levels[level]);
		puts0(&o, " ");
		put_escaped(&o, component, KEY_MAX, false, false);
		puts0(&o, ": ");
		put_escaped(&o, msg, MSG_MAX, false, false);
	}
	for (size_t i = 0; i < n_fields; i++) {
		const char *k = fields[i].key, *v = fields[i].value;

		if (k == NULL || v == NULL)
			continue;
		if (json) {
			puts0(&o, ",\"");
			if (json_reserved(k))
				puts0(&o, "field.");
			put_escaped(&o, k, KEY_MAX, true, true);
			puts0(&o, "\":\"");
			put_escaped(&o, v, VALUE_MAX, true, true);
			puts0(&o, "\"");
		} else {
			bool q = needs_quotes(v);

			puts0(&o, " ");
			put_escaped(&o, k, KEY_MAX, false, false);
			puts0(&o, q ? "=\"" : "=");
			put_escaped(&o, v, VALUE_MAX, false, q);
			if (q)
				puts0(&o, "\"");
		}
	}
	if (json)
		puts0(&o, "}");
	o.p[o.n++] = '\n';
	return o.n;
}

/* ---- writing ---- */

static pthread_once_t journal_once = PTHREAD_ONCE_INIT;
static bool to_journal;

/* systemd sets JOURNAL_STREAM to "DEV:INODE" of the stream it connected
 * stderr to; it is ours only while stderr is still that stream (a child
 * whose stderr was redirected inherits the variable). */
static void
journal_detect(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	if (e == NULL || sscanf(e, "%llu:%llu%c", &dev, &ino, &tail) != 2 ||
	    fstat(STDERR_FILENO, &st) != 0)
		return;
	to_journal = (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

static void
log_write(enum orch_log_level level, const char *component,
    const struct orch_log_field *fields, size_t n_fields, const char *fmt,
    va_list ap)
{
	char msg[MSG_MAX + 4], line[ORCH_LOG_LINE_MAX];
	size_t off = 0, n;
	int m;

	m = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (m < 0)
		return;
	if ((size_t)m >= sizeof(msg))
		memcpy(msg + sizeof(msg) - 4, "...", 4); /* cut: say so */
	pthread_once(&journal_once, journal_detect);
	if (to_journal) {
		line[0] = '<';
		line[1] = syslog_levels[level];
		line[2] = '>';
		off = 3;
	}
	n = orch_log_format_record(line + off, sizeof(line) - off,
	    orch_now_ms(), level, component, fields, n_fields, msg);
	/* One write per record so that threads do not interleave lines. */
	(void)!write(STDERR_FILENO, line, off + n);
}

void
orch_log(enum orch_log_level level, const char *component, const char *fmt, ...)
{
	va_list ap;

	if (level < log_level)
		return;
	va_start(ap, fmt);
	log_write(level, component, NULL, 0, fmt, ap);
	va_end(ap);
}

void
orch_log_kv(enum orch_log_level level, const char *component,
    const struct orch_log_field *fields, size_t n_fields, const char *fmt, ...)
{
	va_list ap;

	if (level < log_level)
		return;
	va_start(ap, fmt);
	log_write(level, component, fields, n_fields, fmt, ap);
	va_end(ap);
}
