#include "clock.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "error.h"

int64_t
orch_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
orch_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
orch_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
orch_mono_deadline(int ms, struct timespec *out)
{
	clock_gettime(CLOCK_MONOTONIC, out);
	out->tv_sec += ms / 1000;
	out->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (out->tv_nsec >= 1000000000L) {
		out->tv_sec++;
		out->tv_nsec -= 1000000000L;
	}
}

char *
orch_rfc3339(int64_t ms, char *buf, size_t len)
{
	time_t secs = (time_t)(ms / 1000);
	int frac = (int)(ms % 1000);
	struct tm tm;

	if (frac < 0) {
		frac += 1000;
		secs -= 1;
	}
	if (gmtime_r(&secs, &tm) == NULL) {
		snprintf(buf, len, "1970-01-01T00:00:00.000Z");
		return buf;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, frac);
	return buf;
}

/* Reads exactly n decimal digits at *p into *out and moves *p past them. */
static bool
rfc3339_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool
rfc3339_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/*
 * Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil).  Used instead of timegm(), which
 * reads the TZ and would accept 31 February and normalise it silently.
 */
static int64_t
rfc3339_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
orch_rfc3339_parse(const char *s, int64_t *ms)
{
	static const int mdays[] = {
	    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *p = s, *f;
	int y, mo, d, h, mi, sec, frac = 0, oh = 0, om = 0, sign = 0, dim;
	int64_t secs;

	if (!rfc3339_digits(&p, 4, &y) || *p++ != '-' ||
	    !rfc3339_digits(&p, 2, &mo) || *p++ != '-' ||
	    !rfc3339_digits(&p, 2, &d) || (*p != 'T' && *p != 't'))
		return ORCH_EINVAL;
	p++;
	if (!rfc3339_digits(&p, 2, &h) || *p++ != ':' ||
	    !rfc3339_digits(&p, 2, &mi) || *p++ != ':' ||
	    !rfc3339_digits(&p, 2, &sec))
		return ORCH_EINVAL;
	if (*p == '.') {
		/* Docker writes nanoseconds; milliseconds are all we keep. */
		for (f = ++p; *p >= '0' && *p <= '9'; p++) {
			if (p - f < 3)
				frac = frac * 10 + (*p - '0');
		}
		if (p == f)
			return ORCH_EINVAL;
		for (long i = (long)(p - f); i < 3; i++)
			frac *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (!rfc3339_digits(&p, 2, &oh) || *p++ != ':' ||
		    !rfc3339_digits(&p, 2, &om))
			return ORCH_EINVAL;
	} else {
		return ORCH_EINVAL;
	}
	if (*p != '\0' || mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 60 ||
	    oh > 23 || om > 59)
		return ORCH_EINVAL;
	dim = mdays[mo - 1] + (mo == 2 && rfc3339_leap(y));
	if (d < 1 || d > dim)
		return ORCH_EINVAL;
	secs = rfc3339_days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 +
	    (int64_t)mi * 60 + sec - (int64_t)sign * (oh * 3600 + om * 60);
	*ms = secs * 1000 + frac;
	return ORCH_OK;
}
