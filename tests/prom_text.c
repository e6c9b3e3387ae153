/*
 * prom_text.c: a strict parser of the Prometheus text format (see
 * prom_text.h).
 */
#include "prom_text.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

struct parser {
	struct prom_page *page;
	int line;
	char *err;
	size_t errlen;
	/* The metric name of the group being read, and the families whose
	 * group has ended (none may come back). */
	const struct prom_family *cur;
};

static int perr(struct parser *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
perr(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(ps->err, ps->errlen, "line %d: ", ps->line);

	va_start(ap, fmt);
	if (n > 0 && (size_t)n < ps->errlen)
		vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static bool
name_char(char c, bool first, bool colon)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	    (colon && c == ':'))
		return true;
	return !first && c >= '0' && c <= '9';
}

/* Reads a name at *p; returns a new string or NULL when there is none. */
static char *
name_read(const char **p, bool colon)
{
	const char *s = *p;
	char *out;

	if (!name_char(*s, true, colon))
		return NULL;
	while (name_char(*s, false, colon))
		s++;
	if ((out = strndup(*p, (size_t)(s - *p))) == NULL)
		abort();
	*p = s;
	return out;
}

/* A Go ParseFloat-able value: decimal, exponent, +Inf, -Inf, NaN. */
static int
value_read(const char *s, size_t n, double *v)
{
	char buf[128], *end;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (strcmp(buf, "+Inf") == 0 || strcmp(buf, "Inf") == 0) {
		*v = INFINITY;
		return 0;
	}
	if (strcmp(buf, "-Inf") == 0) {
		*v = -INFINITY;
		return 0;
	}
	if (strcmp(buf, "NaN") == 0) {
		*v = NAN;
		return 0;
	}
	/* strtod also takes hex, "inf", "nan(...)": the format does not. */
	for (size_t i = 0; i < n; i++) {
		if (strchr("0123456789+-.eE", buf[i]) == NULL)
			return -1;
	}
	errno = 0;
	*v = strtod(buf, &end);
	return end == buf + n && errno == 0 ? 0 : -1;
}

/* Unescapes s (len n) into a new string; escapes allowed: \\, \n, and \"
 * when quote.  Returns NULL for an invalid escape. */
static char *
unescape(const char *s, size_t n, bool quote)
{
	char *out = malloc(n + 1), *o = out;

	if (out == NULL)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\') {
			*o++ = s[i];
			continue;
		}
		if (++i == n)
			goto bad;
		if (s[i] == '\\')
			*o++ = '\\';
		else if (s[i] == 'n')
			*o++ = '\n';
		else if (quote && s[i] == '"')
			*o++ = '"';
		else
			goto bad;
	}
	*o = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

static struct prom_family *
family_get(struct parser *ps, const char *name, bool make)
{
	struct prom_page *p = ps->page;
	struct prom_family *f;

	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->fams[i].name, name) == 0)
			return &p->fams[i];
	}
	if (!make)
		return NULL;
	if ((p->fams = realloc(p->fams, (p->n + 1) * sizeof(*p->fams))) == NULL)
		abort();
	f = &p->fams[p->n++];
	memset(f, 0, sizeof(*f));
	if ((f->name = strdup(name)) == NULL)
		abort();
	ps->cur = NULL; /* the array moved */
	return f;
}

/* The family a sample name belongs to: itself, or a histogram's name
 * without _bucket, _sum or _count. */
static struct prom_family *
family_of(struct parser *ps, const char *name)
{
	static const char *const sfx[] = {"_bucket", "_sum", "_count"};
	size_t n = strlen(name);

	for (size_t i = 0; i < 3; i++) {
		size_t k = strlen(sfx[i]);
		char base[256];
		struct prom_family *f;

		if (n <= k || n - k >= sizeof(base) ||
		    strcmp(name + n - k, sfx[i]) != 0)
			continue;
		memcpy(base, name, n - k);
		base[n - k] = '\0';
		if ((f = family_get(ps, base, false)) != NULL &&
		    f->type != NULL && strcmp(f->type, "histogram") == 0)
			return f;
	}
	return family_get(ps, name, true);
}

static int
comment_line(struct parser *ps, const char *s)
{
	const char *p = s + 1;
	bool help;
	char *name;
	struct prom_family *f;

	while (*p == ' ' || *p == '\t')
		p++;
	if (strncmp(p, "HELP ", 5) == 0)
		help = true;
	else if (strncmp(p, "TYPE ", 5) == 0)
		help = false;
	else
		return 0; /* another comment */
	p += 5;
	while (*p == ' ' || *p == '\t')
		p++;
	if ((name = name_read(&p, true)) == NULL)
		return perr(ps, "HELP or TYPE without a valid metric name");
	f = family_get(ps, name, true);
	free(name);
	if (*p != ' ' && *p != '\0')
		return perr(ps, "junk after the metric name of %s", f->name);
	if (*p == ' ')
		p++;
	if (help) {
		if (f->help != NULL)
			return perr(ps, "a second HELP for %s", f->name);
		if ((f->help = unescape(p, strlen(p), false)) == NULL)
			return perr(
			    ps, "an invalid escape in the HELP of %s", f->name);
		return 0;
	}
	if (f->type != NULL)
		return perr(ps, "a second TYPE for %s", f->name);
	if (f->n > 0)
		return perr(ps, "the TYPE of %s after its samples", f->name);
	if (strcmp(p, "counter") != 0 && strcmp(p, "gauge") != 0 &&
	    strcmp(p, "histogram") != 0 && strcmp(p, "summary") != 0 &&
	    strcmp(p, "untyped") != 0)
		return perr(ps, "unknown type \"%s\" for %s", p, f->name);
	if ((f->type = strdup(p)) == NULL)
		abort();
	return 0;
}

/* Whether samples a and b have the same name and labels (in any order). */
static bool
same_series(const struct prom_sample *a, const struct prom_sample *b)
{
	if (strcmp(a->name, b->name) != 0 || a->n_labels != b->n_labels)
		return false;
	for (size_t i = 0; i < a->n_labels; i++) {
		bool found = false;

		for (size_t k = 0; k < b->n_labels && !found; k++)
			found = strcmp(a->lname[i], b->lname[k]) == 0 &&
			    strcmp(a->lval[i], b->lval[k]) == 0;
		if (!found)
			return false;
	}
	return true;
}

static void
sample_fini(struct prom_sample *s)
{
	free(s->name);
	for (size_t i = 0; i < s->n_labels; i++) {
		free(s->lname[i]);
		free(s->lval[i]);
	}
}

static int
labels_read(struct parser *ps, const char **pp, struct prom_sample *s)
{
	const char *p = *pp + 1;

	while (*p != '}') {
		const char *v;
		char *ln;

		if ((ln = name_read(&p, false)) == NULL)
			return perr(ps, "an invalid label name in %s", s->name);
		if (s->n_labels == PROM_MAX_LABELS) {
			free(ln);
			return perr(ps, "too many labels in %s", s->name);
		}
		s->lname[s->n_labels] = ln;
		s->lval[s->n_labels] = NULL;
		s->n_labels++;
		for (size_t i = 0; i + 1 < s->n_labels; i++) {
			if (strcmp(s->lname[i], ln) == 0)
				return perr(
				    ps, "label %s twice in %s", ln, s->name);
		}
		if (p[0] != '=' || p[1] != '"')
			return perr(
			    ps, "label %s of %s: want =\"value\"", ln, s->name);
		p += 2;
		for (v = p; *p != '"'; p++) {
			if (*p == '\0')
				return perr(ps, "an unterminated label value");
			if (*p == '\\' && p[1] != '\0')
				p++;
		}
		if ((s->lval[s->n_labels - 1] =
		            unescape(v, (size_t)(p - v), true)) == NULL)
			return perr(ps, "an invalid escape in label %s of %s",
			    ln, s->name);
		p++;
		if (*p == ',')
			p++;
		else if (*p != '}')
			return perr(ps, "want , or } after label %s of %s", ln,
			    s->name);
	}
	*pp = p + 1;
	return 0;
}

static int
sample_line(struct parser *ps, const char *s)
{
	struct prom_sample smp = {0};
	struct prom_family *f;
	const char *p = s, *v;
	size_t vn;

	if ((smp.name = name_read(&p, true)) == NULL)
		return perr(ps, "neither a comment nor a sample: \"%.60s\"", s);
	if (*p == '{' && labels_read(ps, &p, &smp) != 0)
		goto bad;
	if (*p != ' ') {
		perr(ps, "want a space before the value of %s", smp.name);
		goto bad;
	}
	v = ++p;
	while (*p != ' ' && *p != '\0')
		p++;
	vn = (size_t)(p - v);
	if (value_read(v, vn, &smp.value) != 0) {
		perr(ps, "value \"%.*s\" of %s is not a float", (int)vn, v,
		    smp.name);
		goto bad;
	}
	if (*p == ' ') {
		/* A timestamp: an integer of milliseconds. */
		const char *t = ++p;

		if (*p == '-')
			p++;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == t || *p != '\0') {
			perr(ps, "junk after the value of %s", smp.name);
			goto bad;
		}
	}
	f = family_of(ps, smp.name);
	if (ps->cur != f && f->n > 0) {
		perr(ps, "the samples of %s are not one group", f->name);
		goto bad;
	}
	ps->cur = f;
	for (size_t i = 0; i < f->n; i++) {
		if (same_series(&f->samples[i], &smp)) {
			perr(ps, "series %s given twice", smp.name);
			goto bad;
		}
	}
	if (f->type != NULL && strcmp(f->type, "counter") == 0 &&
	    (isnan(smp.value) || smp.value < 0)) {
		perr(ps, "counter %s is %g", smp.name, smp.value);
		goto bad;
	}
	if ((f->samples = realloc(
	         f->samples, (f->n + 1) * sizeof(*f->samples))) == NULL)
		abort();
	f->samples[f->n++] = smp;
	return 0;
bad:
	sample_fini(&smp);
	return -1;
}

static const char *
label_of(const struct prom_sample *s, const char *name)
{
	for (size_t i = 0; i < s->n_labels; i++) {
		if (strcmp(s->lname[i], name) == 0)
			return s->lval[i];
	}
	return NULL;
}

/* Whether a and b have the same labels but le. */
static bool
same_but_le(const struct prom_sample *a, const struct prom_sample *b)
{
	size_t na = 0, nb = 0;

	for (size_t i = 0; i < a->n_labels; i++) {
		const char *v;

		if (strcmp(a->lname[i], "le") == 0)
			continue;
		na++;
		if ((v = label_of(b, a->lname[i])) == NULL ||
		    strcmp(v, a->lval[i]) != 0)
			return false;
	}
	for (size_t i = 0; i < b->n_labels; i++)
		nb += strcmp(b->lname[i], "le") != 0;
	return na == nb;
}

/* Checks every series of histogram f. */
static int
histogram_check(struct parser *ps, const struct prom_family *f)
{
	char bname[300], sname[300], cname[300];

	snprintf(bname, sizeof(bname), "%s_bucket", f->name);
	snprintf(sname, sizeof(sname), "%s_sum", f->name);
	snprintf(cname, sizeof(cname), "%s_count", f->name);
	for (size_t i = 0; i < f->n; i++) {
		const struct prom_sample *s = &f->samples[i], *sum = NULL,
		                         *cnt = NULL;
		double last_le = -INFINITY, last_v = 0;
		bool inf = false, first = true;

		if (strcmp(s->name, bname) != 0 &&
		    strcmp(s->name, sname) != 0 && strcmp(s->name, cname) != 0)
			return perr(ps, "%s in histogram %s", s->name, f->name);
		if (strcmp(s->name, bname) != 0)
			continue;
		/* The first bucket of a series: walk the series. */
		for (size_t k = 0; k < i; k++) {
			if (strcmp(f->samples[k].name, bname) == 0 &&
			    same_but_le(&f->samples[k], s))
				first = false;
		}
		if (!first)
			continue;
		for (size_t k = 0; k < f->n; k++) {
			const struct prom_sample *b = &f->samples[k];
			const char *le;
			double lev;

			if (!same_but_le(b, s))
				continue;
			if (strcmp(b->name, sname) == 0) {
				sum = b;
				continue;
			}
			if (strcmp(b->name, cname) == 0) {
				cnt = b;
				continue;
			}
			if ((le = label_of(b, "le")) == NULL ||
			    value_read(le, strlen(le), &lev) != 0)
				return perr(ps,
				    "a bucket of %s without a valid le",
				    f->name);
			if (inf)
				return perr(
				    ps, "a bucket of %s after +Inf", f->name);
			if (!(lev > last_le))
				return perr(ps, "buckets of %s not in le order",
				    f->name);
			if (b->value < last_v || isnan(b->value))
				return perr(ps, "buckets of %s not cumulative",
				    f->name);
			last_le = lev;
			last_v = b->value;
			inf = isinf(lev) && lev > 0;
		}
		if (!inf)
			return perr(
			    ps, "buckets of %s do not end with +Inf", f->name);
		if (sum == NULL || cnt == NULL)
			return perr(
			    ps, "a series of %s lacks _sum or _count", f->name);
		if (cnt->value != last_v)
			return perr(ps, "%s_count %g is not the +Inf bucket %g",
			    f->name, cnt->value, last_v);
	}
	return 0;
}

int
prom_parse(const char *text, struct prom_page *out, char *err, size_t errlen)
{
	struct parser ps = {.page = out, .err = err, .errlen = errlen};
	const char *p = text;

	memset(out, 0, sizeof(*out));
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		char *line;
		int rc;

		ps.line++;
		if (nl == NULL) {
			perr(&ps, "the last line does not end with a newline");
			goto bad;
		}
		if ((line = strndup(p, (size_t)(nl - p))) == NULL)
			abort();
		if (strchr(line, '\r') != NULL)
			rc = perr(&ps, "a carriage return");
		else if (line[0] == '\0')
			rc = 0; /* empty lines are allowed */
		else if (line[0] == '#')
			rc = comment_line(&ps, line);
		else
			rc = sample_line(&ps, line);
		free(line);
		if (rc != 0)
			goto bad;
		p = nl + 1;
	}
	for (size_t i = 0; i < out->n; i++) {
		const struct prom_family *f = &out->fams[i];

		ps.line = 0;
		if (f->help == NULL || f->type == NULL) {
			perr(&ps, "%s has no %s", f->name,
			    f->help == NULL ? "HELP" : "TYPE");
			goto bad;
		}
		if (strcmp(f->type, "histogram") == 0 &&
		    histogram_check(&ps, f) != 0)
			goto bad;
		if (strcmp(f->type, "histogram") != 0) {
			for (size_t k = 0; k < f->n; k++) {
				if (strcmp(f->samples[k].name, f->name) != 0) {
					perr(&ps, "sample %s in family %s",
					    f->samples[k].name, f->name);
					goto bad;
				}
			}
		}
	}
	return 0;
bad:
	prom_free(out);
	return -1;
}

void
prom_free(struct prom_page *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct prom_family *f = &p->fams[i];

		for (size_t k = 0; k < f->n; k++)
			sample_fini(&f->samples[k]);
		free(f->samples);
		free(f->name);
		free(f->help);
		free(f->type);
	}
	free(p->fams);
	memset(p, 0, sizeof(*p));
}

const struct prom_family *
prom_family(const struct prom_page *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->fams[i].name, name) == 0)
			return &p->fams[i];
	}
	return NULL;
}

int
prom_get(const struct prom_page *p, const char *name, const char *const *labels,
    double *v)
{
	size_t want = 0;

	while (labels != NULL && labels[2 * want] != NULL)
		want++;
	for (size_t i = 0; i < p->n; i++) {
		for (size_t k = 0; k < p->fams[i].n; k++) {
			const struct prom_sample *s = &p->fams[i].samples[k];
			bool ok =
			    strcmp(s->name, name) == 0 && s->n_labels == want;

			for (size_t l = 0; ok && l < want; l++) {
				const char *lv = label_of(s, labels[2 * l]);

				ok = lv != NULL &&
				    strcmp(lv, labels[2 * l + 1]) == 0;
			}
			if (ok) {
				*v = s->value;
				return 0;
			}
		}
	}
	return -1;
}

double
prom_scrape_value(int port, const char *name, const char *const *labels)
{
	struct prom_page p;
	char *body = NULL, err[512];
	double v = 0;
	int st = h_http(port, "GET", "/metrics", NULL, &body);

	if (st != 200)
		h_fail(__FILE__, __LINE__, "GET /metrics: %d", st);
	if (prom_parse(body, &p, err, sizeof(err)) != 0)
		h_fail(
		    __FILE__, __LINE__, "GET /metrics: %s in:\n%s", err, body);
	free(body);
	if (prom_get(&p, name, labels, &v) != 0)
		h_fail(__FILE__, __LINE__, "GET /metrics: no sample %s%s%s",
		    name, labels != NULL ? " with " : "",
		    labels != NULL && labels[0] != NULL ? labels[1] : "");
	prom_free(&p);
	return v;
}
