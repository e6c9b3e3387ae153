#include "age.h"

#include <stdbool.h>
#include <stdio.h>

#include "error.h"

/* Reads exactly n decimal digits at *p into *out and moves *p past them. */
static bool
age_digits(const char **p, int n, int *out)
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
age_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/*
 * Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil).  Used instead of timegm(), which
 * would accept 31 February and normalise it silently.
 */
static int64_t
age_days_from_civil(int64_t y, int m, int d)
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
orch_age_rfc3339_parse(const char *s, int64_t *ms)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	const char *p = s;
	int y, mo, d, h, mi, sec, frac = 0, oh = 0, om = 0, sign = 0, ndig = 0;
	int dim;

	if (!age_digits(&p, 4, &y) || *p++ != '-' ||
	    !age_digits(&p, 2, &mo) || *p++ != '-' ||
	    !age_digits(&p, 2, &d))
		return ORCH_EINVAL;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return ORCH_EINVAL;
	p++;
	if (!age_digits(&p, 2, &h) || *p++ != ':' ||
	    !age_digits(&p, 2, &mi) || *p++ != ':' ||
	    !age_digits(&p, 2, &sec))
		return ORCH_EINVAL;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, ndig++) {
			if (ndig < 3)
				frac = frac * 10 + (*p - '0');
		}
		if (ndig == 0)
			return ORCH_EINVAL;
		for (int i = ndig; i < 3; i++)
			frac *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (!age_digits(&p, 2, &oh) || *p++ != ':' ||
		    !age_digits(&p, 2, &om) || oh > 23 || om > 59)
			return ORCH_EINVAL;
	} else {
		return ORCH_EINVAL;
	}
	if (*p != '\0' || mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 60)
		return ORCH_EINVAL;
	dim = mdays[mo - 1] + (mo == 2 && age_leap(y));
	if (d < 1 || d > dim)
		return ORCH_EINVAL;
	/* A leap second (:60) counts as the first second of the next minute. */
	*ms = ((age_days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 +
	    (int64_t)mi * 60 + sec - (int64_t)sign * (oh * 3600 + om * 60)) *
	    1000) + frac;
	return ORCH_OK;
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
