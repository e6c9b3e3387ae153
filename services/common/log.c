#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"

static enum orch_log_level log_level = ORCH_LOG_INFO;

static const char *const level_names[] = {
    [ORCH_LOG_DEBUG] = "DEBUG",
    [ORCH_LOG_INFO] = "INFO ",
    [ORCH_LOG_WARN] = "WARN ",
    [ORCH_LOG_ERROR] = "ERROR",
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
orch_log(enum orch_log_level level, const char *component, const char *fmt, ...)
{
	char line[2048];
	char ts[ORCH_RFC3339_LEN];
	va_list ap;
	int n, m;

	if (level < log_level)
		return;
	orch_rfc3339(orch_now_ms(), ts, sizeof(ts));
	n = snprintf(line, sizeof(line), "%s %s %s: ", ts, level_names[level],
	    component);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2; /* truncated: keep the newline */
	line[n++] = '\n';
	/* One write per record so that threads do not interleave lines. */
	(void)!write(STDERR_FILENO, line, (size_t)n);
}
