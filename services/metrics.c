/*
 * metrics.c: the metrics registry and its text format (see metrics.h).
 *
 * Values are doubles kept as their bits in 64-bit atomics: adding is a
 * compare-and-swap loop, as in Prometheus's own clients.  A histogram
 * keeps one counter per bucket (not cumulative, so that an observation
 * touches one) and sums them when written, so that its +Inf bucket and
 * its _count always agree even while observations race the scrape.
 */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"

#define MET_COMPONENT "metrics"
#define HASH_SLOTS 64

struct orch_metric {
	struct orch_metric_family *fam;
	struct orch_metric *next;  /* in order of creation */
	struct orch_metric *hnext; /* in its hash slot */
	uint64_t hash;
	char **values;             /* fam->n_labels of them */
	_Atomic uint64_t bits;     /* value, or a histogram's sum */
	_Atomic uint64_t *buckets; /* histogram: n_bounds + 1 */
};

struct orch_metric_family {
	struct orch_metrics *m;
	struct orch_metric_family *next;
	enum orch_metric_type type;
	char *name;
	char *help;
	char *labels[ORCH_METRIC_MAX_LABELS];
	size_t n_labels;
	double bounds[ORCH_METRIC_MAX_BUCKETS];
	size_t n_bounds;
	pthread_mutex_t mu; /* guards the children lists */
	struct orch_metric *first, *last;
	struct orch_metric *slots[HASH_SLOTS];
};

struct orch_metrics {
	pthread_mutex_t mu; /* guards the family list */
	struct orch_metric_family *first, *last;
};

static uint64_t
dbits(double v)
{
	uint64_t b;

	memcpy(&b, &v, sizeof(b));
	return b;
}

static double
bitsd(uint64_t b)
{
	double v;

	memcpy(&v, &b, sizeof(v));
	return v;
}

static void
atomic_add_double(_Atomic uint64_t *a, double v)
{
	uint64_t old = atomic_load_explicit(a, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(a, &old,
	    dbits(bitsd(old) + v), memory_order_relaxed, memory_order_relaxed))
		;
}

int
orch_metrics_new(struct orch_metrics **out)
{
	struct orch_metrics *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (m == NULL)
		return ORCH_ENOMEM;
	if (pthread_mutex_init(&m->mu, NULL) != 0) {
		free(m);
		return ORCH_ENOMEM;
	}
	*out = m;
	return ORCH_OK;
}

static void
child_free(struct orch_metric *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; c->values != NULL && i < c->fam->n_labels; i++)
		free(c->values[i]);
	free(c->values);
	free(c->buckets);
	free(c);
}

static void
family_children_free(struct orch_metric_family *f)
{
	struct orch_metric *c, *next;

	for (c = f->first; c != NULL; c = next) {
		next = c->next;
		child_free(c);
	}
	f->first = f->last = NULL;
	memset(f->slots, 0, sizeof(f->slots));
}

static void
family_free(struct orch_metric_family *f)
{
	if (f == NULL)
		return;
	family_children_free(f);
	for (size_t i = 0; i < f->n_labels; i++)
		free(f->labels[i]);
	free(f->name);
	free(f->help);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

void
orch_metrics_free(struct orch_metrics *m)
{
	struct orch_metric_family *f, *next;

	if (m == NULL)
		return;
	for (f = m->first; f != NULL; f = next) {
		next = f->next;
		family_free(f);
	}
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static bool
name_valid(const char *s, bool colons)
{
	if (s == NULL || *s == '\0')
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		char c = *p;
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_' || (colons && c == ':');

		if (!alpha && !(p > s && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

static struct orch_metric_family *
family_find(struct orch_metrics *m, const char *name)
{
	for (struct orch_metric_family *f = m->first; f != NULL; f = f->next) {
		if (strcmp(f->name, name) == 0)
			return f;
	}
	return NULL;
}

/* Checks the arguments of orch_metrics_family_add(). */
static int
family_args_check(enum orch_metric_type type, const char *name,
    const char *const *labels, const double *bounds, size_t n_bounds)
{
	size_t n = 0;

	if (type != ORCH_METRIC_COUNTER && type != ORCH_METRIC_GAUGE &&
	    type != ORCH_METRIC_HISTOGRAM)
		return ORCH_EINVAL;
	if (!name_valid(name, true))
		return ORCH_EINVAL;
	for (; labels != NULL && labels[n] != NULL; n++) {
		if (n >= ORCH_METRIC_MAX_LABELS ||
		    !name_valid(labels[n], false) ||
		    strncmp(labels[n], "__", 2) == 0 ||
		    (type == ORCH_METRIC_HISTOGRAM &&
		        strcmp(labels[n], "le") == 0))
			return ORCH_EINVAL;
		for (size_t k = 0; k < n; k++) {
			if (strcmp(labels[k], labels[n]) == 0)
				return ORCH_EINVAL;
		}
	}
	if (type != ORCH_METRIC_HISTOGRAM)
		return n_bounds == 0 ? ORCH_OK : ORCH_EINVAL;
	if (n_bounds == 0 || n_bounds > ORCH_METRIC_MAX_BUCKETS)
		return ORCH_EINVAL;
	for (size_t i = 0; i < n_bounds; i++) {
		if (!isfinite(bounds[i]) ||
		    (i > 0 && bounds[i] <= bounds[i - 1]))
			return ORCH_EINVAL;
	}
	return ORCH_OK;
}

int
orch_metrics_family_add(struct orch_metrics *m, enum orch_metric_type type,
    const char *name, const char *help, const char *const *labels,
    const double *bounds, size_t n_bounds, struct orch_metric_family **out)
{
	struct orch_metric_family *f = NULL;
	int rc;

	*out = NULL;
	if ((rc = family_args_check(type, name, labels, bounds, n_bounds)) !=
	    ORCH_OK)
		return rc;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return ORCH_ENOMEM;
	if (pthread_mutex_init(&f->mu, NULL) != 0) {
		free(f);
		return ORCH_ENOMEM;
	}
	f->m = m;
	f->type = type;
	rc = ORCH_ENOMEM;
	if ((f->name = strdup(name)) == NULL ||
	    (f->help = strdup(help != NULL ? help : "")) == NULL)
		goto out;
	for (; labels != NULL && labels[f->n_labels] != NULL; f->n_labels++) {
		if ((f->labels[f->n_labels] = strdup(labels[f->n_labels])) ==
		    NULL)
			goto out;
	}
	if (n_bounds > 0)
		memcpy(f->bounds, bounds, n_bounds * sizeof(*bounds));
	f->n_bounds = n_bounds;
	if (f->n_labels == 0 && orch_metric_get(f, NULL) == NULL)
		goto out;
	pthread_mutex_lock(&m->mu);
	if (family_find(m, name) != NULL) {
		pthread_mutex_unlock(&m->mu);
		rc = ORCH_EEXIST;
		goto out;
	}
	if (m->last != NULL)
		m->last->next = f;
	else
		m->first = f;
	m->last = f;
	pthread_mutex_unlock(&m->mu);
	*out = f;
	return ORCH_OK;
out:
	family_free(f);
	return rc;
}

static uint64_t
values_hash(const struct orch_metric_family *f, const char *const *values)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < f->n_labels; i++) {
		for (const char *p = values[i]; *p != '\0'; p++) {
			h ^= (unsigned char)*p;
			h *= 1099511628211ULL;
		}
		/* A separator, so that ("ab","c") is not ("a","bc"). */
		h ^= 0xff;
		h *= 1099511628211ULL;
	}
	return h;
}

static bool
values_eq(const struct orch_metric *c, const char *const *values)
{
	for (size_t i = 0; i < c->fam->n_labels; i++) {
		if (strcmp(c->values[i], values[i]) != 0)
			return false;
	}
	return true;
}

/* A new child of f with copies of values.  Called with f->mu. */
static struct orch_metric *
child_new(struct orch_metric_family *f, const char *const *values, uint64_t h)
{
	struct orch_metric *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->fam = f;
	c->hash = h;
	if (f->n_labels > 0 &&
	    (c->values = calloc(f->n_labels, sizeof(*c->values))) == NULL)
		goto nomem;
	for (size_t i = 0; i < f->n_labels; i++) {
		if ((c->values[i] = strdup(values[i])) == NULL)
			goto nomem;
	}
	if (f->type == ORCH_METRIC_HISTOGRAM &&
	    (c->buckets = calloc(f->n_bounds + 1, sizeof(*c->buckets))) == NULL)
		goto nomem;
	atomic_init(&c->bits, dbits(0.0));
	return c;
nomem:
	child_free(c);
	return NULL;
}

struct orch_metric *
orch_metric_get(struct orch_metric_family *f, const char *const *values)
{
	struct orch_metric *c;
	size_t n = 0;
	uint64_t h;

	while (values != NULL && values[n] != NULL && n <= f->n_labels)
		n++;
	if (n != f->n_labels) {
		orch_error(MET_COMPONENT, "%s has %zu labels, not %zu", f->name,
		    f->n_labels, n);
		return NULL;
	}
	h = values_hash(f, values);
	pthread_mutex_lock(&f->mu);
	for (c = f->slots[h % HASH_SLOTS]; c != NULL; c = c->hnext) {
		if (c->hash == h && values_eq(c, values))
			goto out;
	}
	if ((c = child_new(f, values, h)) == NULL)
		goto out;
	c->hnext = f->slots[h % HASH_SLOTS];
	f->slots[h % HASH_SLOTS] = c;
	if (f->last != NULL)
		f->last->next = c;
	else
		f->first = c;
	f->last = c;
out:
	pthread_mutex_unlock(&f->mu);
	return c;
}

struct orch_metric *
orch_metric_only(struct orch_metric_family *f)
{
	return f->first;
}

void
orch_metric_add(struct orch_metric *c, double v)
{
	if (c != NULL)
		atomic_add_double(&c->bits, v);
}

void
orch_metric_set(struct orch_metric *c, double v)
{
	if (c != NULL)
		atomic_store_explicit(&c->bits, dbits(v), memory_order_relaxed);
}

void
orch_metric_observe(struct orch_metric *c, double v)
{
	const struct orch_metric_family *f;
	size_t i = 0;

	if (c == NULL || c->buckets == NULL)
		return;
	f = c->fam;
	/* A bucket counts what is <= its bound; NaN goes to +Inf. */
	while (i < f->n_bounds && !(v <= f->bounds[i]))
		i++;
	atomic_fetch_add_explicit(&c->buckets[i], 1, memory_order_relaxed);
	atomic_add_double(&c->bits, v);
}

double
orch_metric_value(const struct orch_metric *c)
{
	uint64_t n = 0;

	if (c == NULL)
		return 0.0;
	if (c->buckets == NULL)
		return bitsd(atomic_load_explicit(
		    (_Atomic uint64_t *)&c->bits, memory_order_relaxed));
	for (size_t i = 0; i <= c->fam->n_bounds; i++)
		n += atomic_load_explicit(&c->buckets[i], memory_order_relaxed);
	return (double)n;
}

void
orch_metrics_family_clear(struct orch_metric_family *f)
{
	pthread_mutex_lock(&f->mu);
	family_children_free(f);
	pthread_mutex_unlock(&f->mu);
	/* A family without labels always has its one child. */
	if (f->n_labels == 0)
		orch_metric_get(f, NULL);
}

/* ---- the text format ---- */

/* A sample value or a bucket bound: integers without a fraction, others
 * with the fewest digits that read back the same. */
static void
num_format(double v, char *buf, size_t len)
{
	if (isnan(v)) {
		snprintf(buf, len, "NaN");
	} else if (isinf(v)) {
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
	} else if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(buf, len, "%.0f", v);
	} else {
		snprintf(buf, len, "%.15g", v);
		if (strtod(buf, NULL) != v)
			snprintf(buf, len, "%.17g", v);
	}
}

static bool
put(struct orch_buf *out, const char *s, size_t n)
{
	return n == 0 || orch_buf_append(out, s, n) == n;
}

static bool
puts_(struct orch_buf *out, const char *s)
{
	return put(out, s, strlen(s));
}

/* Appends s escaped: backslash and newline always, the double quote in
 * label values (quote true). */
static bool
put_escaped(struct orch_buf *out, const char *s, bool quote)
{
	const char *run = s;
	bool ok = true;

	for (const char *p = s; ok && *p != '\0'; p++) {
		const char *esc = NULL;

		if (*p == '\\')
			esc = "\\\\";
		else if (*p == '\n')
			esc = "\\n";
		else if (quote && *p == '"')
			esc = "\\\"";
		if (esc == NULL)
			continue;
		ok = put(out, run, (size_t)(p - run)) && puts_(out, esc);
		run = p + 1;
	}
	return ok && puts_(out, run);
}

/* Appends name+suffix{labels[,le="bound"]} value\n. */
static bool
put_sample(struct orch_buf *out, const struct orch_metric *c,
    const char *suffix, const char *le, double v)
{
	const struct orch_metric_family *f = c->fam;
	char num[64];
	bool ok = puts_(out, f->name) && puts_(out, suffix);
	bool any = f->n_labels > 0 || le != NULL;

	if (ok && any)
		ok = puts_(out, "{");
	for (size_t i = 0; ok && i < f->n_labels; i++) {
		ok = (i == 0 || puts_(out, ",")) && puts_(out, f->labels[i]) &&
		    puts_(out, "=\"") && put_escaped(out, c->values[i], true) &&
		    puts_(out, "\"");
	}
	if (ok && le != NULL)
		ok = puts_(out, f->n_labels > 0 ? ",le=\"" : "le=\"") &&
		    puts_(out, le) && puts_(out, "\"");
	if (ok && any)
		ok = puts_(out, "}");
	num_format(v, num, sizeof(num));
	return ok && puts_(out, " ") && puts_(out, num) && puts_(out, "\n");
}

static bool
put_histogram(struct orch_buf *out, const struct orch_metric *c)
{
	const struct orch_metric_family *f = c->fam;
	uint64_t cum = 0;
	char le[64];
	bool ok = true;

	for (size_t i = 0; ok && i <= f->n_bounds; i++) {
		cum +=
		    atomic_load_explicit(&c->buckets[i], memory_order_relaxed);
		if (i < f->n_bounds)
			num_format(f->bounds[i], le, sizeof(le));
		else
			snprintf(le, sizeof(le), "+Inf");
		ok = put_sample(out, c, "_bucket", le, (double)cum);
	}
	return ok &&
	    put_sample(out, c, "_sum", NULL,
	        bitsd(atomic_load_explicit(
	            (_Atomic uint64_t *)&c->bits, memory_order_relaxed))) &&
	    put_sample(out, c, "_count", NULL, (double)cum);
}

static bool
put_family(struct orch_buf *out, struct orch_metric_family *f)
{
	static const char *const types[] = {
	    [ORCH_METRIC_COUNTER] = "counter",
	    [ORCH_METRIC_GAUGE] = "gauge",
	    [ORCH_METRIC_HISTOGRAM] = "histogram",
	};
	bool ok = puts_(out, "# HELP ") && puts_(out, f->name) &&
	    puts_(out, " ") && put_escaped(out, f->help, false) &&
	    puts_(out, "\n# TYPE ") && puts_(out, f->name) && puts_(out, " ") &&
	    puts_(out, types[f->type]) && puts_(out, "\n");

	pthread_mutex_lock(&f->mu);
	for (const struct orch_metric *c = f->first; ok && c != NULL;
	     c = c->next) {
		if (f->type == ORCH_METRIC_HISTOGRAM)
			ok = put_histogram(out, c);
		else
			ok = put_sample(out, c, "", NULL,
			    bitsd(atomic_load_explicit(
			        (_Atomic uint64_t *)&c->bits,
			        memory_order_relaxed)));
	}
	pthread_mutex_unlock(&f->mu);
	return ok;
}

int
orch_metrics_format(struct orch_metrics *m, struct orch_buf *out)
{
	bool ok = true;

	pthread_mutex_lock(&m->mu);
	for (struct orch_metric_family *f = m->first; ok && f != NULL;
	     f = f->next)
		ok = put_family(out, f);
	pthread_mutex_unlock(&m->mu);
	if (ok)
		return ORCH_OK;
	return out->nomem ? ORCH_ENOMEM : ORCH_ETOOBIG;
}
