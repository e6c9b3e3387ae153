/*
 * metrics.h: a registry of metrics and their Prometheus text exposition
 * (format 0.0.4).
 *
 * A family is one metric name with its help, type (counter, gauge or
 * histogram) and label names; its children are the series, one per set of
 * label values.  Children are made on first use and live as long as the
 * registry (or until orch_metrics_family_clear()), so a hot path looks a
 * child up once and keeps the pointer.  Updating a child is lock-free
 * (atomics): counting costs a compare-and-swap, never a lock.  Looking a
 * child up takes its family's mutex.
 *
 * Names follow Prometheus: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label
 * names [a-zA-Z_][a-zA-Z0-9_]* and not starting with "__"; "le" is
 * reserved to histograms.  Label values may hold any bytes: they are
 * escaped on output (\\, \" and \n).
 */
#ifndef ORCH_METRICS_H
#define ORCH_METRICS_H

#include <stddef.h>

#include "buf.h"

enum orch_metric_type {
	ORCH_METRIC_COUNTER = 1,
	ORCH_METRIC_GAUGE,
	ORCH_METRIC_HISTOGRAM,
};

/* The most labels a family may have, and buckets a histogram. */
#define ORCH_METRIC_MAX_LABELS 8
#define ORCH_METRIC_MAX_BUCKETS 32

struct orch_metrics;
struct orch_metric_family;
struct orch_metric;

/* Creates an empty registry.  Returns ORCH_OK or ORCH_ENOMEM. */
int orch_metrics_new(struct orch_metrics **out /* OUT */);

/* Frees the registry, its families and their children.  No other thread
 * may use any of them any more.  NULL is a no-op. */
void orch_metrics_free(struct orch_metrics *m);

/*
 * Adds a family.  labels is a NULL-terminated array of label names (NULL
 * for none); a family without labels gets its one child at once, so that
 * it shows from the first scrape.  bounds (histograms only) are the upper
 * bounds of the buckets, strictly increasing and finite; the +Inf bucket
 * is implicit.  The strings are copied.  Families are written in the
 * order they were added.
 * Returns ORCH_OK with *out (OUT, owned by the registry); ORCH_EINVAL for
 * an invalid name, label name, type or bounds; ORCH_EEXIST when the name
 * is taken; ORCH_ENOMEM.
 */
int orch_metrics_family_add(struct orch_metrics *m, enum orch_metric_type type,
    const char *name, const char *help, const char *const *labels,
    const double *bounds, size_t n_bounds,
    struct orch_metric_family **out /* OUT */);

/*
 * The child of fam with these label values (as many as the family has
 * label names, in their order; NULL when it has none), made when new.
 * Returns NULL when out of memory or when values is the wrong length (a
 * bug in the caller, logged).  The pointer stays valid until the registry
 * is freed or the family cleared.
 */
struct orch_metric *orch_metric_get(
    struct orch_metric_family *fam, const char *const *values);

/* The one child of a family without labels. */
struct orch_metric *orch_metric_only(struct orch_metric_family *fam);

/* Counters and gauges: adds v (a counter must only grow: v >= 0). */
void orch_metric_add(struct orch_metric *c, double v);

/* Sets the value: gauges, and counters that mirror a count kept
 * elsewhere (a module's own statistics, copied at scrape time). */
void orch_metric_set(struct orch_metric *c, double v);

/* Histograms: counts one observation of v. */
void orch_metric_observe(struct orch_metric *c, double v);

/* The current value of a counter or gauge, or the count of a histogram
 * (for tests). */
double orch_metric_value(const struct orch_metric *c);

/*
 * Removes every child of fam: for gauges that a scrape sets afresh, whose
 * label values come and go (one series per service).  No one may hold a
 * child of fam across this call.
 */
void orch_metrics_family_clear(struct orch_metric_family *fam);

/*
 * Appends the whole registry to out in the text format 0.0.4: for each
 * family "# HELP", "# TYPE" and its samples, children in the order they
 * were made; histograms as cumulative _bucket series ending with
 * le="+Inf", then _sum and _count.  Returns ORCH_OK, or ORCH_ENOMEM /
 * ORCH_ETOOBIG when out refused to grow.
 */
int orch_metrics_format(struct orch_metrics *m, struct orch_buf *out);

/* The Content-Type of the format. */
#define ORCH_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
