/*
 * constraint.c: parsing and matching placement constraints (see
 * constraint.h).  No allocation: a parsed constraint points into its
 * text, so that the scheduler parses a task's constraints in every pass
 * for free.
 */
#include "constraint.h"

#include <stdio.h>
#include <stdbool.h>
#include <string.h>

#include "error.h"
#include "task.h"

/* How much of a refused constraint a message quotes. */
#define QUOTE_MAX 80

/* Length of s without the blanks at both ends; *start is set past the
 * leading ones. */
static size_t
trim(const char *s, size_t len, const char **start)
{
	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	*start = s;
	return len;
}

/* Writes "malformed constraint "<s>": <why>" into err. */
static int
malformed(const char *s, const char *why, char *err, size_t errlen)
{
	size_t n = strnlen(s, QUOTE_MAX);
	bool cut = s[n] != '\0';

	/* Never end a quote inside a UTF-8 character. */
	while (cut && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	snprintf(err, errlen, "malformed constraint \"%.*s%s\": %s", (int)n, s,
	    cut ? "..." : "", why);
	return ORCH_EINVAL;
}

int
orch_constraint_parse(
    const char *s, struct orch_constraint *out, char *err, size_t errlen)
{
	const char *op, *v;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (s == NULL) {
		snprintf(err, errlen,
		    "malformed constraint \"\": want "
		    "KEY==VALUE or KEY!=VALUE");
		return ORCH_EINVAL;
	}
	if ((len = strlen(s)) > ORCH_CONSTRAINT_LEN_MAX)
		return malformed(s, "longer than the limit", err, errlen);
	if (!orch_text_printable(s))
		return malformed(
		    s, "it holds a control character", err, errlen);
	/* The first "==" or "!=" splits it. */
	for (op = s; *op != '\0'; op++) {
		if ((op[0] == '=' || op[0] == '!') && op[1] == '=')
			break;
	}
	if (*op == '\0')
		return malformed(
		    s, "want KEY==VALUE or KEY!=VALUE", err, errlen);
	out->op = op[0] == '=' ? ORCH_CONSTRAINT_EQ : ORCH_CONSTRAINT_NE;
	out->key_len = trim(s, (size_t)(op - s), &out->key);
	v = op + 2;
	out->value_len = trim(v, len - (size_t)(v - s), &out->value);
	if (out->key_len == 0)
		return malformed(
		    s, "the key before the operator is empty", err, errlen);
	if (out->value_len == 0)
		return malformed(
		    s, "the value after the operator is empty", err, errlen);
	/* "a===b", "a!==b", "a=!=b": one operator, no stray '=' or '!'
	 * next to it, which would hide a typo. */
	if (out->value[0] == '=' || out->key[out->key_len - 1] == '=' ||
	    out->key[out->key_len - 1] == '!')
		return malformed(
		    s, "the operator must be == or != alone", err, errlen);
	return ORCH_OK;
}

/* Whether the len bytes at p are exactly the string s. */
static bool
slice_is(const char *p, size_t len, const char *s)
{
	return s != NULL && strlen(s) == len && memcmp(p, s, len) == 0;
}

/* The value of key on node n, or NULL when it has none. */
static const char *
node_value(
    const struct orch_constraint *c, const struct orch_constraint_node *n)
{
	if (slice_is(c->key, c->key_len, "node.name"))
		return n->name;
	if (slice_is(c->key, c->key_len, "node.id"))
		return n->id;
	for (size_t i = 0; i < n->n_labels; i++) {
		const Orch__Node__LabelsEntry *e = n->labels[i];

		if (e != NULL && slice_is(c->key, c->key_len, e->key))
			return e->value != NULL ? e->value : "";
	}
	return NULL;
}

bool
orch_constraint_match(
    const struct orch_constraint *c, const struct orch_constraint_node *n)
{
	const char *v = node_value(c, n);
	bool eq = v != NULL && slice_is(c->value, c->value_len, v);

	return c->op == ORCH_CONSTRAINT_EQ ? eq : !eq;
}

bool
orch_constraints_match(
    const char *const *texts, size_t n, const struct orch_constraint_node *node)
{
	struct orch_constraint c;
	char err[8];

	for (size_t i = 0; i < n; i++) {
		if (orch_constraint_parse(texts[i], &c, err, sizeof(err)) !=
		        ORCH_OK ||
		    !orch_constraint_match(&c, node))
			return false;
	}
	return true;
}
