/*
 * test_metrics.c: the metrics registry (metrics.h) and its text format,
 * read back with the strict parser of prom_text.h.
 */
#include <math.h>
#include <pthread.h>

#include "buf.h"
#include "error.h"
#include "harness.h"
#include "metrics.h"
#include "prom_text.h"

/* Formats m and parses the page strictly; fails the test when either
 * fails. */
static void
page_of(struct orch_metrics *m, struct prom_page *page, char **text)
{
	struct orch_buf b;
	char err[256];

	orch_buf_init(&b, 1 << 20);
	ASSERT_INT_EQ(orch_metrics_format(m, &b), ORCH_OK);
	*text = orch_buf_take(&b);
	ASSERT(*text != NULL);
	if (prom_parse(*text, page, err, sizeof(err)) != 0)
		h_fail(__FILE__, __LINE__, "%s in:\n%s", err, *text);
}

static double
value(const struct prom_page *p, const char *name, const char *const *labels)
{
	double v;

	if (prom_get(p, name, labels, &v) != 0)
		h_fail(__FILE__, __LINE__, "no sample %s", name);
	return v;
}

static void
test_names_refused(void)
{
	struct orch_metrics *m;
	struct orch_metric_family *f, *ok;
	const double good[] = {1, 2}, unordered[] = {2, 1},
	             inf[] = {1, INFINITY};

	ASSERT_INT_EQ(orch_metrics_new(&m), ORCH_OK);
	ASSERT_INT_EQ(orch_metrics_family_add(m, ORCH_METRIC_COUNTER, "9bad",
	                  "h", NULL, NULL, 0, &f),
	    ORCH_EINVAL);
	ASSERT_INT_EQ(orch_metrics_family_add(m, ORCH_METRIC_COUNTER,
	                  "bad-name", "h", NULL, NULL, 0, &f),
	    ORCH_EINVAL);
	ASSERT_INT_EQ(orch_metrics_family_add(m, ORCH_METRIC_COUNTER, "ok", "h",
	                  (const char *const[]){"a:b", NULL}, NULL, 0, &f),
	    ORCH_EINVAL);
	ASSERT_INT_EQ(orch_metrics_family_add(m, ORCH_METRIC_COUNTER, "ok", "h",
	                  (const char *const[]){"__x", NULL}, NULL, 0, &f),
	    ORCH_EINVAL);
	ASSERT_INT_EQ(orch_metrics_family_add(m, ORCH_METRIC_GAUGE, "ok", "h",
	                  (const char *const[]){"a", "a", NULL}, NULL, 0, &f),
	    ORCH_EINVAL);
	ASSERT_INT_EQ(orch_metrics_family_add(m, ORCH_METRIC_HISTOGRAM, "h",
	                  "h", (const char *const[]){"le", NULL}, good, 2, &f),
	    ORCH_EINVAL);
	ASSERT_INT_EQ(orch_metrics_family_add(m, ORCH_METRIC_HISTOGRAM, "h",
	                  "h", NULL, unordered, 2, &f),
	    ORCH_EINVAL);
	ASSERT_INT_EQ(orch_metrics_family_add(
	                  m, ORCH_METRIC_HISTOGRAM, "h", "h", NULL, inf, 2, &f),
	    ORCH_EINVAL);
	ASSERT_INT_EQ(orch_metrics_family_add(m, ORCH_METRIC_HISTOGRAM, "h",
	                  "h", NULL, good, 0, &f),
	    ORCH_EINVAL);
	ASSERT_INT_EQ(orch_metrics_family_add(
	                  m, ORCH_METRIC_COUNTER, "c", "h", NULL, good, 2, &f),
	    ORCH_EINVAL);
	ASSERT_INT_EQ(orch_metrics_family_add(m, ORCH_METRIC_COUNTER, "a:b_c",
	                  "h", (const char *const[]){"l", NULL}, NULL, 0, &ok),
	    ORCH_OK);
	ASSERT_INT_EQ(orch_metrics_family_add(m, ORCH_METRIC_GAUGE, "a:b_c",
	                  "h", NULL, NULL, 0, &f),
	    ORCH_EEXIST);
	/* The wrong number of label values is a bug: no child. */
	ASSERT(f == NULL);
	ASSERT(
	    orch_metric_get(ok, (const char *const[]){"x", "y", NULL}) == NULL);
	ASSERT(orch_metric_get(ok, NULL) == NULL);
	ASSERT(orch_metric_get(ok, (const char *const[]){"x", NULL}) != NULL);
	orch_metrics_free(m);
}

/* Counters, gauges and labels, with values that need escaping. */
static void
test_format(void)
{
	struct orch_metrics *m;
	struct orch_metric_family *c, *g, *plain;
	struct prom_page p;
	const struct prom_family *pf;
	char *text;
	const char *weird = "a\\b\"c\nd";

	ASSERT_INT_EQ(orch_metrics_new(&m), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_metrics_family_add(m, ORCH_METRIC_COUNTER, "t_requests_total",
	        "Requests,\nwith a \\ in help.",
	        (const char *const[]){"route", "code", NULL}, NULL, 0, &c),
	    ORCH_OK);
	ASSERT_INT_EQ(
	    orch_metrics_family_add(m, ORCH_METRIC_GAUGE, "t_temp", "A gauge.",
	        (const char *const[]){"where", NULL}, NULL, 0, &g),
	    ORCH_OK);
	ASSERT_INT_EQ(orch_metrics_family_add(m, ORCH_METRIC_GAUGE, "t_plain",
	                  "Without labels.", NULL, NULL, 0, &plain),
	    ORCH_OK);
	orch_metric_add(
	    orch_metric_get(c, (const char *const[]){"/tasks", "200", NULL}),
	    1);
	orch_metric_add(
	    orch_metric_get(c, (const char *const[]){"/tasks", "200", NULL}),
	    2);
	orch_metric_add(
	    orch_metric_get(c, (const char *const[]){weird, "404", NULL}), 1);
	orch_metric_set(
	    orch_metric_get(g, (const char *const[]){"in", NULL}), -2.5);
	orch_metric_set(
	    orch_metric_get(g, (const char *const[]){"nan", NULL}), NAN);
	orch_metric_set(
	    orch_metric_get(g, (const char *const[]){"inf", NULL}), INFINITY);
	orch_metric_set(
	    orch_metric_get(g, (const char *const[]){"small", NULL}), 1e-7);
	page_of(m, &p, &text);
	ASSERT_INT_EQ(p.n, 3);
	pf = prom_family(&p, "t_requests_total");
	ASSERT(pf != NULL);
	ASSERT_STR_EQ(pf->type, "counter");
	ASSERT_STR_EQ(pf->help, "Requests,\nwith a \\ in help.");
	ASSERT(value(&p, "t_requests_total",
	           (const char *const[]){
	               "route", "/tasks", "code", "200", NULL}) == 3);
	/* The label value comes back exactly, through its escapes. */
	ASSERT(value(&p, "t_requests_total",
	           (const char *const[]){
	               "route", weird, "code", "404", NULL}) == 1);
	ASSERT_STR_CONTAINS(text, "route=\"a\\\\b\\\"c\\nd\"");
	ASSERT(value(&p, "t_temp",
	           (const char *const[]){"where", "in", NULL}) == -2.5);
	ASSERT(isnan(
	    value(&p, "t_temp", (const char *const[]){"where", "nan", NULL})));
	ASSERT(isinf(
	    value(&p, "t_temp", (const char *const[]){"where", "inf", NULL})));
	ASSERT(value(&p, "t_temp",
	           (const char *const[]){"where", "small", NULL}) == 1e-7);
	/* A family without labels shows its one series from the start. */
	ASSERT(value(&p, "t_plain", NULL) == 0);
	prom_free(&p);
	free(text);

	/* Cleared: the series go, the family stays. */
	orch_metrics_family_clear(g);
	page_of(m, &p, &text);
	pf = prom_family(&p, "t_temp");
	ASSERT(pf != NULL && pf->n == 0);
	prom_free(&p);
	free(text);
	orch_metrics_free(m);
}

static void
test_histogram(void)
{
	struct orch_metrics *m;
	struct orch_metric_family *h;
	struct orch_metric *a, *b;
	struct prom_page p;
	const double bounds[] = {0.1, 0.5, 1};
	const char *const la[] = {"op", "a", NULL};
	char *text;

	ASSERT_INT_EQ(orch_metrics_new(&m), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_metrics_family_add(m, ORCH_METRIC_HISTOGRAM, "t_seconds",
	        "Latency.", (const char *const[]){"op", NULL}, bounds, 3, &h),
	    ORCH_OK);
	a = orch_metric_get(h, (const char *const[]){"a", NULL});
	b = orch_metric_get(h, (const char *const[]){"b", NULL});
	ASSERT(a != NULL && b != NULL && a != b);
	/* The same child again. */
	ASSERT(a == orch_metric_get(h, (const char *const[]){"a", NULL}));
	orch_metric_observe(a, 0.05);
	orch_metric_observe(a, 0.1); /* a bound counts in its bucket */
	orch_metric_observe(a, 0.7);
	orch_metric_observe(a, 3);
	orch_metric_observe(a, NAN); /* in +Inf only */
	page_of(m, &p, &text);
	ASSERT(value(&p, "t_seconds_bucket",
	           (const char *const[]){"op", "a", "le", "0.1", NULL}) == 2);
	ASSERT(value(&p, "t_seconds_bucket",
	           (const char *const[]){"op", "a", "le", "0.5", NULL}) == 2);
	ASSERT(value(&p, "t_seconds_bucket",
	           (const char *const[]){"op", "a", "le", "1", NULL}) == 3);
	ASSERT(value(&p, "t_seconds_bucket",
	           (const char *const[]){"op", "a", "le", "+Inf", NULL}) == 5);
	ASSERT(value(&p, "t_seconds_count", la) == 5);
	ASSERT(isnan(value(&p, "t_seconds_sum", la)));
	/* A series never observed is all zeros, and still complete. */
	ASSERT(value(&p, "t_seconds_count",
	           (const char *const[]){"op", "b", NULL}) == 0);
	ASSERT(orch_metric_value(a) == 5);
	prom_free(&p);
	free(text);
	orch_metrics_free(m);
}

/* The strict parser refuses what the format does not allow. */
static void
test_parser_refuses(void)
{
	static const char *const bad[] = {
	    "x 1\n",                                        /* no HELP/TYPE */
	    "# HELP x h\n# TYPE x gauge\nx 1",              /* no newline */
	    "# HELP x h\n# TYPE x gauge\nx{a=\"\\t\"} 1\n", /* bad escape */
	    "# HELP x h\n# TYPE x gauge\nx{a=\"v\",a=\"w\"} 1\n",
	    "# HELP x h\n# TYPE x gauge\nx 0x10\n",
	    "# HELP x h\n# TYPE x counter\nx -1\n",
	    "# HELP x h\nx 1\n# TYPE x gauge\n", /* TYPE after samples */
	    "# HELP x h\n# TYPE x gauge\nx{a=\"1\"} 1\n# HELP y h\n# TYPE y "
	    "gauge\ny 1\nx{a=\"2\"} 1\n", /* two groups */
	    "# HELP x h\n# TYPE x gauge\nx 1\nx 2\n",
	    "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
	    "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", /* not cumulative
	                                                      */
	    "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
	    "h_sum 1\nh_count 1\n", /* no +Inf */
	    "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\n"
	    "h_count 1\n", /* no _sum */
	    "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\n"
	    "h_sum 1\nh_count 2\n",
	    "# HELP x h\n# TYPE x gauge\n9x 1\n",
	};
	struct prom_page p;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (prom_parse(bad[i], &p, err, sizeof(err)) == 0)
			h_fail(__FILE__, __LINE__, "accepted:\n%s", bad[i]);
	}
}

struct hammer {
	struct orch_metric *c, *h;
	int n;
};

static void *
hammer_main(void *arg)
{
	struct hammer *hm = arg;

	for (int i = 0; i < hm->n; i++) {
		orch_metric_add(hm->c, 1);
		orch_metric_observe(hm->h, 0.25);
	}
	return NULL;
}

/* Lock-free counting loses nothing under contention. */
static void
test_threads(void)
{
	struct orch_metrics *m;
	struct orch_metric_family *c, *h;
	const double bounds[] = {0.5};
	struct hammer hm;
	pthread_t t[4];

	ASSERT_INT_EQ(orch_metrics_new(&m), ORCH_OK);
	ASSERT_INT_EQ(orch_metrics_family_add(m, ORCH_METRIC_COUNTER, "t_total",
	                  "h", NULL, NULL, 0, &c),
	    ORCH_OK);
	ASSERT_INT_EQ(orch_metrics_family_add(m, ORCH_METRIC_HISTOGRAM, "t_h",
	                  "h", NULL, bounds, 1, &h),
	    ORCH_OK);
	hm.c = orch_metric_only(c);
	hm.h = orch_metric_only(h);
	hm.n = 100000;
	for (int i = 0; i < 4; i++)
		ASSERT(pthread_create(&t[i], NULL, hammer_main, &hm) == 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ASSERT(orch_metric_value(hm.c) == 400000);
	ASSERT(orch_metric_value(hm.h) == 400000);
	orch_metrics_free(m);
}

int
main(void)
{
	RUN(test_names_refused);
	RUN(test_format);
	RUN(test_histogram);
	RUN(test_parser_refuses);
	RUN(test_threads);
	return 0;
}
