/*
 * test_constraint.c: placement constraints: what parses, what is refused
 * (and that the refusal names the constraint), and matching against a
 * node's name, id and labels.
 */
#include "constraint.h"
#include "error.h"
#include "harness.h"

static void
parse_ok(const char *s, const char *key, enum orch_constraint_op op,
    const char *value)
{
	struct orch_constraint c;
	char err[256];

	if (orch_constraint_parse(s, &c, err, sizeof(err)) != ORCH_OK)
		h_fail(__FILE__, __LINE__, "\"%s\" refused: %s", s, err);
	ASSERT_INT_EQ(c.key_len, strlen(key));
	ASSERT(memcmp(c.key, key, c.key_len) == 0);
	ASSERT_INT_EQ(c.op, op);
	ASSERT_INT_EQ(c.value_len, strlen(value));
	ASSERT(memcmp(c.value, value, c.value_len) == 0);
}

static void
parse_bad(const char *s, const char *why)
{
	struct orch_constraint c;
	char err[256];

	if (orch_constraint_parse(s, &c, err, sizeof(err)) != ORCH_EINVAL)
		h_fail(__FILE__, __LINE__, "\"%s\" accepted", s);
	ASSERT_STR_CONTAINS(err, "malformed constraint \"");
	ASSERT_STR_CONTAINS(err, why);
}

static void
test_parse(void)
{
	parse_ok("zone==x", "zone", ORCH_CONSTRAINT_EQ, "x");
	parse_ok("disk!=hdd", "disk", ORCH_CONSTRAINT_NE, "hdd");
	/* Blanks around the operator, as Swarm's --constraint allows. */
	parse_ok("  zone ==  eu-1 ", "zone", ORCH_CONSTRAINT_EQ, "eu-1");
	parse_ok(
	    "node.name==node-a", "node.name", ORCH_CONSTRAINT_EQ, "node-a");
	/* The first operator splits; the value may hold anything else. */
	parse_ok("k==a=b", "k", ORCH_CONSTRAINT_EQ, "a=b");
	parse_ok("k!=a!b", "k", ORCH_CONSTRAINT_NE, "a!b");

	parse_bad("zone=x", "want KEY==VALUE or KEY!=VALUE");
	parse_bad("zone", "want KEY==VALUE or KEY!=VALUE");
	parse_bad("", "want KEY==VALUE or KEY!=VALUE");
	parse_bad("==x", "the key before the operator is empty");
	parse_bad("  ==x", "the key before the operator is empty");
	parse_bad("zone==", "the value after the operator is empty");
	parse_bad("zone!=  ", "the value after the operator is empty");
	parse_bad("zone===x", "the operator must be == or != alone");
	parse_bad("zone!==x", "the operator must be == or != alone");
	parse_bad("zone=!=x", "the operator must be == or != alone");
	parse_bad("zo\tne==x", "control character");
	parse_bad(NULL, "want KEY==VALUE");
	/* The message quotes it, cut when long. */
	{
		char big[ORCH_CONSTRAINT_LEN_MAX + 2], err[256];
		struct orch_constraint c;

		memset(big, 'k', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		ASSERT_INT_EQ(orch_constraint_parse(big, &c, err, sizeof(err)),
		    ORCH_EINVAL);
		ASSERT_STR_CONTAINS(err, "...\": longer than the limit");
		ASSERT(strlen(err) < 200);
	}
	{
		struct orch_constraint c;
		char err[256];

		ASSERT_INT_EQ(
		    orch_constraint_parse("rack=7", &c, err, sizeof(err)),
		    ORCH_EINVAL);
		ASSERT_STR_EQ(err,
		    "malformed constraint \"rack=7\": want "
		    "KEY==VALUE or KEY!=VALUE");
	}
}

static void
test_match(void)
{
	Orch__Node__LabelsEntry zone = ORCH__NODE__LABELS_ENTRY__INIT;
	Orch__Node__LabelsEntry disk = ORCH__NODE__LABELS_ENTRY__INIT;
	Orch__Node__LabelsEntry *labels[] = {&zone, &disk};
	struct orch_constraint_node n = {
	    .name = "node-a",
	    .id = "aaaaaaaa-0000-4000-8000-000000000001",
	    .labels = labels,
	    .n_labels = 2,
	};
	struct orch_constraint_node bare = {.name = "node-b", .id = "b"};
	struct {
		const char *c;
		bool on_n, on_bare;
	} cases[] = {
	    {"zone==eu", true, false}, {"zone==us", false, false},
	    {"zone!=us", true, true}, /* no label: != holds */
	    {"zone!=eu", false, true}, {"disk==ssd", true, false},
	    {"disk!=hdd", true, true}, {"node.name==node-a", true, false},
	    {"node.name!=node-a", false, true},
	    {"node.id==aaaaaaaa-0000-4000-8000-000000000001", true, false},
	    {"zon==eu", false, false}, /* keys match exactly */
	    {"zone==e", false, false}, /* values too */
	};
	struct orch_constraint c;
	char err[64];

	zone.key = "zone";
	zone.value = "eu";
	disk.key = "disk";
	disk.value = "ssd";
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ASSERT_INT_EQ(
		    orch_constraint_parse(cases[i].c, &c, err, sizeof(err)),
		    ORCH_OK);
		if (orch_constraint_match(&c, &n) != cases[i].on_n ||
		    orch_constraint_match(&c, &bare) != cases[i].on_bare)
			h_fail(__FILE__, __LINE__, "\"%s\" matched wrongly",
			    cases[i].c);
	}
	/* All must hold; none is no restriction; a bad text holds nowhere. */
	{
		const char *both[] = {"zone==eu", "disk!=hdd"};
		const char *one_off[] = {"zone==eu", "disk==hdd"};
		const char *bad[] = {"zone=eu"};

		ASSERT(orch_constraints_match(both, 2, &n));
		ASSERT(!orch_constraints_match(both, 2, &bare));
		ASSERT(!orch_constraints_match(one_off, 2, &n));
		ASSERT(orch_constraints_match(NULL, 0, &bare));
		ASSERT(!orch_constraints_match(bad, 1, &n));
	}
}

int
main(void)
{
	RUN(test_parse);
	RUN(test_match);
	return 0;
}
