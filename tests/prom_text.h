/*
 * prom_text.h: a strict parser of the Prometheus text exposition format
 * 0.0.4, for tests of GET /metrics and of the metrics registry.
 *
 * It refuses what the format does not allow: a line that is neither a
 * comment nor a sample, invalid metric or label names, unknown escapes in
 * label values or HELP, values that are not Go floats, a TYPE after its
 * metric's samples or given twice, a metric's samples split in two
 * groups, a series given twice, a negative or NaN counter, and
 * histograms whose buckets are not cumulative, do not end with
 * le="+Inf", or lack _sum or _count (or whose _count is not the +Inf
 * bucket).  Beyond the format, it insists on what orch promises: every
 * metric has a HELP and a TYPE.
 */
#ifndef ORCH_PROM_TEXT_H
#define ORCH_PROM_TEXT_H

#include <stddef.h>

#define PROM_MAX_LABELS 16

struct prom_sample {
	char *name;
	size_t n_labels;
	char *lname[PROM_MAX_LABELS];
	char *lval[PROM_MAX_LABELS]; /* unescaped */
	double value;
};

struct prom_family {
	char *name;
	char *help; /* unescaped */
	char *type;
	struct prom_sample *samples;
	size_t n;
};

struct prom_page {
	struct prom_family *fams;
	size_t n;
};

/* Parses text.  Returns 0 with *out filled (free it with prom_free()), or
 * -1 with err naming the line and what was wrong. */
int prom_parse(const char *text, struct prom_page *out /* OUT */, char *err,
    size_t errlen);

void prom_free(struct prom_page *p);

/* The family named name, or NULL. */
const struct prom_family *prom_family(
    const struct prom_page *p, const char *name);

/*
 * The value of the sample name with exactly the labels given as
 * NULL-terminated name, value pairs (NULL for none).  Returns 0 with *v,
 * or -1 when there is no such sample.
 */
int prom_get(const struct prom_page *p, const char *name,
    const char *const *labels, double *v /* OUT */);

/* GET /metrics of the manager on port, parsed strictly, and the value of
 * one sample (as prom_get()).  Fails the test when the answer is not 200,
 * the page does not parse or the sample is not there. */
double prom_scrape_value(
    int port, const char *name, const char *const *labels);

#endif
