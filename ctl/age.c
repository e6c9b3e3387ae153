#include "age.h"

#include <stdio.h>

#include "clock.h"

int
orch_age_rfc3339_parse(const char *s, int64_t *ms)
{
	return orch_rfc3339_parse(s, ms);
}

void
orch_age_format(int64_t elapsed_ms, char *buf, size_t len)
{
	long long s = elapsed_ms > 0 ? (long long)(elapsed_ms / 1000) : 0;

	if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm", s / 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh", s / 3600);
	else
		snprintf(buf, len, "%lldd", s / 86400);
}
