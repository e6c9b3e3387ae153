/*
 * constraint.h: where a task may run.
 *
 * A constraint is "KEY==VALUE" or "KEY!=VALUE" (spaces around the
 * operator are allowed, as in Swarm's --constraint).  KEY names one of the
 * node's labels (an agent's --label KEY=VALUE), or one of two built-in
 * attributes: node.name and node.id (which shadow labels of those names).
 * "==" holds when the node has the key with exactly that value; "!=" holds
 * when it does not, a node without the key included.  A task may go only
 * where every one of its constraints holds.
 */
#ifndef ORCH_CONSTRAINT_H
#define ORCH_CONSTRAINT_H

#include <stdbool.h>
#include <stddef.h>

#include "orch.pb-c.h"

/* Limits checked when a spec is validated. */
#define ORCH_CONSTRAINTS_MAX 64      /* per task */
#define ORCH_CONSTRAINT_LEN_MAX 1300 /* a key, an operator, a value */

enum orch_constraint_op {
	ORCH_CONSTRAINT_EQ, /* == */
	ORCH_CONSTRAINT_NE, /* != */
};

/* A parsed constraint: key and value point into the text it was parsed
 * from, which must outlive it. */
struct orch_constraint {
	const char *key;
	size_t key_len;
	enum orch_constraint_op op;
	const char *value;
	size_t value_len;
};

/*
 * Parses s.  Returns ORCH_OK, or ORCH_EINVAL with err naming s and saying
 * what is wrong: a missing operator, an empty key or value, a third '='
 * or '!' in the operator, text that is not printable, or s longer than
 * ORCH_CONSTRAINT_LEN_MAX.
 */
int orch_constraint_parse(const char *s, struct orch_constraint *out /* OUT */,
    char *err, size_t errlen);

/* What a constraint is matched against: a node's name, id and labels. */
struct orch_constraint_node {
	const char *name;
	const char *id;
	Orch__Node__LabelsEntry *const *labels;
	size_t n_labels;
};

/* Whether c holds on node n.  Pure. */
bool orch_constraint_match(
    const struct orch_constraint *c, const struct orch_constraint_node *n);

/*
 * Whether every constraint of texts[n] holds on node.  A text that does
 * not parse holds nowhere (a stored spec was validated; this is a belt).
 */
bool orch_constraints_match(const char *const *texts, size_t n,
    const struct orch_constraint_node *node);

#endif
