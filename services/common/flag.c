#include "flag.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "error.h"
#include "log.h"

int
orch_flag_int(const char *prog, const char *flag, const char *s, long long min,
    long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr,
		    "%s: %s wants an integer from %lld to %lld, got \"%s\"\n",
		    prog, flag, min, max, s);
		return ORCH_EINVAL;
	}
	*out = v;
	return ORCH_OK;
}

int
orch_flag_log_level(const char *prog, const char *s)
{
	enum orch_log_level lvl;

	if (orch_log_level_parse(s, &lvl) != ORCH_OK) {
		fprintf(stderr,
		    "%s: --log-level wants debug, info, warn or error, "
		    "got \"%s\"\n",
		    prog, s);
		return ORCH_EINVAL;
	}
	orch_log_level_set(lvl);
	return ORCH_OK;
}

int
orch_flag_log_format(const char *prog, const char *s)
{
	enum orch_log_format f;

	if (orch_log_format_parse(s, &f) != ORCH_OK) {
		fprintf(stderr,
		    "%s: --log-format wants text or json, got \"%s\"\n", prog,
		    s);
		return ORCH_EINVAL;
	}
	orch_log_format_set(f);
	return ORCH_OK;
}
