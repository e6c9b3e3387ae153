/*
 * test_policy.c: the container policy: the file's schema (every refusal
 * says where: a line and column, or the path of the bad value), the
 * default that allows nothing, and matching rules by image pattern (and
 * exec tasks by command pattern).
 */
#include <fcntl.h>
#include <unistd.h>

#include "error.h"
#include "harness.h"
#include "policy.h"

static struct orch_policy *
parse_ok(const char *text)
{
	struct orch_policy *p = NULL;
	char err[512];

	if (orch_policy_parse(text, strlen(text), &p, err, sizeof(err)) !=
	    ORCH_OK)
		h_fail(__FILE__, __LINE__, "refused: %s", err);
	return p;
}

static void
parse_bad(const char *text, const char *want)
{
	struct orch_policy *p = NULL;
	char err[512];

	if (orch_policy_parse(text, strlen(text), &p, err, sizeof(err)) !=
	    ORCH_EINVAL)
		h_fail(__FILE__, __LINE__, "accepted: %s", text);
	ASSERT(p == NULL);
	ASSERT_STR_CONTAINS(err, want);
}

static void
test_parse(void)
{
	struct orch_policy *p;

	p = parse_ok("{\"rules\": []}");
	ASSERT_INT_EQ(orch_policy_rule_count(p), 0);
	orch_policy_free(p);
	p = parse_ok("{\"rules\": [\n"
	             "  {\"image\": \"reg.example/netops:*\",\n"
	             "   \"allow\": [\"cap_add\", \"network_host\"],\n"
	             "   \"caps\": [\"NET_ADMIN\", \"cap_net_raw\"],\n"
	             "   \"comment\": \"routers\"},\n"
	             "  {\"image\": \"*\", \"allow\": [\"privileged\", "
	             "\"host_mounts\", \"network_host\", \"cap_add\"]}\n"
	             "]}\n");
	ASSERT_INT_EQ(orch_policy_rule_count(p), 2);
	orch_policy_free(p);

	/* Malformed JSON: where. */
	parse_bad("{\"rules\": [\n  {\"image\": \"x\",}\n]}", "line 2 column");
	parse_bad("", "line 1");
	parse_bad("{\"rules\": [], \"rules\": []}", "duplicate");
	/* The schema: the path of the bad value. */
	parse_bad("[]", "must be a JSON object");
	parse_bad("{}", "rules: must be an array");
	parse_bad("{\"rules\": {}}", "rules: must be an array");
	parse_bad("{\"rules\": [], \"rule\": 1}", "unknown key \"rule\"");
	parse_bad("{\"rules\": [1]}", "rules[0]: must be an object");
	parse_bad("{\"rules\": [{\"allow\": [\"privileged\"]}]}",
	    "rules[0].image: must be an image pattern");
	parse_bad("{\"rules\": [{\"image\": \"a b\", \"allow\": "
	          "[\"privileged\"]}]}",
	    "rules[0].image");
	parse_bad("{\"rules\": [{\"image\": \"x\"}]}",
	    "rules[0].allow: must be a non-empty array");
	parse_bad("{\"rules\": [{\"image\": \"x\", \"allow\": []}]}",
	    "rules[0].allow: must be a non-empty array");
	parse_bad("{\"rules\": [{\"image\": \"x\", \"allow\": [\"cap_add\"]},"
	          "{\"image\": \"y\", \"allow\": [\"privileged\", "
	          "\"privilegd\"]}]}",
	    "rules[1].allow[1]: \"privilegd\" is not one of privileged, "
	    "host_mounts, network_host, cap_add");
	parse_bad("{\"rules\": [{\"image\": \"x\", \"allow\": [true]}]}",
	    "rules[0].allow[0]");
	parse_bad("{\"rules\": [{\"image\": \"x\", \"allow\": [\"privileged\"],"
	          " \"caps\": [\"NET_ADMIN\"]}]}",
	    "rules[0].caps: given without \"cap_add\" in allow");
	parse_bad("{\"rules\": [{\"image\": \"x\", \"allow\": [\"cap_add\"],"
	          " \"caps\": [\"NET_ADMIN\", \"NET ADMIN\"]}]}",
	    "rules[0].caps[1]: not a capability name");
	parse_bad("{\"rules\": [{\"image\": \"x\", \"allow\": [\"cap_add\"],"
	          " \"caps\": \"NET_ADMIN\"}]}",
	    "rules[0].caps: must be an array");
	parse_bad("{\"rules\": [{\"image\": \"x\", \"allow\": [\"cap_add\"],"
	          " \"comment\": 3}]}",
	    "rules[0].comment: must be a string");
	parse_bad("{\"rules\": [{\"image\": \"x\", \"allow\": [\"cap_add\"],"
	          " \"deny\": []}]}",
	    "rules[0]: unknown key \"deny\"");
}

/* A spec of image asking for what the flags say. */
struct ask {
	const char *image;
	bool privileged;
	const char *volume;
	const char *network;
	const char *cap;
};

static int
check(const struct orch_policy *p, struct ask a, char *err, size_t errlen)
{
	orch_task_spec spec = ORCH__TASK_SPEC__INIT;
	char *vol = (char *)a.volume, *cap = (char *)a.cap;

	spec.name = "t";
	spec.image = (char *)a.image;
	spec.has_privileged = a.privileged;
	spec.privileged = a.privileged;
	if (vol != NULL) {
		spec.volumes = &vol;
		spec.n_volumes = 1;
	}
	spec.network = (char *)a.network;
	if (cap != NULL) {
		spec.cap_add = &cap;
		spec.n_cap_add = 1;
	}
	/* The policy's input is a valid spec. */
	ASSERT_INT_EQ(orch_task_spec_validate(&spec, err, errlen), ORCH_OK);
	return orch_policy_check(p, &spec, err, errlen);
}

static void
allowed(const struct orch_policy *p, struct ask a)
{
	char err[512];

	if (check(p, a, err, sizeof(err)) != ORCH_OK)
		h_fail(__FILE__, __LINE__, "refused for %s: %s", a.image, err);
}

static void
refused(const struct orch_policy *p, struct ask a, const char *want)
{
	char err[512];

	if (check(p, a, err, sizeof(err)) != ORCH_EPERM)
		h_fail(__FILE__, __LINE__, "allowed for %s, wanted \"%s\"",
		    a.image, want);
	ASSERT_STR_CONTAINS(err, want);
	ASSERT_STR_CONTAINS(err, "not allowed by the container policy");
	ASSERT_STR_CONTAINS(err, a.image);
}

static void
test_default(void)
{
	/* No policy: nothing that weakens isolation. */
	refused(NULL, (struct ask){.image = "busybox", .privileged = true},
	    "field \"privileged\"");
	refused(NULL, (struct ask){.image = "busybox", .volume = "/etc:/e:ro"},
	    "field \"volumes\": entry 0, host path \"/etc\"");
	refused(NULL, (struct ask){.image = "busybox", .network = "host"},
	    "field \"network\": \"host\"");
	refused(NULL, (struct ask){.image = "busybox", .cap = "NET_ADMIN"},
	    "field \"cap_add\": capability \"NET_ADMIN\"");
	/* What keeps isolation needs no rule. */
	allowed(NULL, (struct ask){.image = "busybox"});
	allowed(NULL, (struct ask){.image = "busybox", .privileged = false});
	allowed(NULL, (struct ask){.image = "busybox", .volume = "data:/d"});
	allowed(NULL, (struct ask){.image = "busybox", .network = "none"});
	allowed(NULL, (struct ask){.image = "busybox", .network = "bridge"});
}

static void
test_rules(void)
{
	struct orch_policy *p = parse_ok(
	    "{\"rules\": ["
	    "{\"image\": \"orch-test/*\", \"allow\": [\"privileged\", "
	    "\"host_mounts\"]},"
	    "{\"image\": \"reg.example/net:*\", \"allow\": [\"cap_add\", "
	    "\"network_host\"], \"caps\": [\"net_admin\"]},"
	    "{\"image\": \"reg.example/net:v2\", \"allow\": [\"cap_add\"], "
	    "\"caps\": [\"SYS_TIME\"]},"
	    "{\"image\": \"reg.example/any\", \"allow\": [\"cap_add\"]}"
	    "]}");

	/* A matching pattern; '*' spans '/'. */
	allowed(p,
	    (struct ask){
	        .image = "orch-test/busybox:latest", .privileged = true});
	allowed(p,
	    (struct ask){.image = "orch-test/a/b", .volume = "/srv/x:/x:ro"});
	/* The same asks from another image: refused. */
	refused(p, (struct ask){.image = "busybox:1", .privileged = true},
	    "field \"privileged\"");
	refused(p,
	    (struct ask){
	        .image = "docker.io/orch-test/busybox", .volume = "/srv:/x"},
	    "field \"volumes\"");
	/* A rule allows only what it lists. */
	refused(p,
	    (struct ask){.image = "orch-test/busybox", .network = "host"},
	    "field \"network\"");
	refused(p, (struct ask){.image = "orch-test/busybox", .cap = "NET_RAW"},
	    "field \"cap_add\"");
	/* caps limits the capabilities; names in any accepted form. */
	allowed(p,
	    (struct ask){.image = "reg.example/net:v1",
	        .cap = "CAP_NET_ADMIN",
	        .network = "host"});
	refused(p,
	    (struct ask){.image = "reg.example/net:v1", .cap = "SYS_TIME"},
	    "capability \"SYS_TIME\"");
	refused(p, (struct ask){.image = "reg.example/net:v1", .cap = "ALL"},
	    "capability \"ALL\"");
	/* Rules add up: v2 matches both caps lists. */
	allowed(
	    p, (struct ask){.image = "reg.example/net:v2", .cap = "SYS_TIME"});
	allowed(
	    p, (struct ask){.image = "reg.example/net:v2", .cap = "net_admin"});
	/* No caps list: any capability, ALL included. */
	allowed(p, (struct ask){.image = "reg.example/any", .cap = "ALL"});
	/* The pattern is matched whole, as the task writes the image. */
	refused(p, (struct ask){.image = "reg.example/any:1", .cap = "NET_RAW"},
	    "field \"cap_add\"");
	orch_policy_free(p);
}

/* An exec task of program prog, checked against p. */
static int
exec_check(
    const struct orch_policy *p, const char *prog, char *err, size_t errlen)
{
	orch_task_spec spec = ORCH__TASK_SPEC__INIT;
	char *argv[] = {(char *)prog, "-c", "true"};

	spec.name = "t";
	spec.driver = ORCH_DRIVER_EXEC;
	spec.command = argv;
	spec.n_command = 3;
	ASSERT_INT_EQ(orch_task_spec_validate(&spec, err, errlen), ORCH_OK);
	return orch_policy_check(p, &spec, err, errlen);
}

static void
test_exec(void)
{
	struct orch_policy *p = parse_ok(
	    "{\"rules\": ["
	    "{\"command\": \"/usr/local/bin/job-*\", \"allow\": [\"exec\"],"
	    " \"comment\": \"batch jobs\"},"
	    "{\"image\": \"*\", \"allow\": [\"privileged\"]}"
	    "]}");
	char err[512];

	/* No policy: an exec task has the host, so it is refused. */
	ASSERT_INT_EQ(
	    exec_check(NULL, "/bin/sh", err, sizeof(err)), ORCH_EPERM);
	ASSERT_STR_CONTAINS(err, "field \"driver\": \"exec\"");
	ASSERT_STR_CONTAINS(err, "for command \"/bin/sh\"");
	ASSERT_STR_CONTAINS(err, "\"allow\": [\"exec\"]");
	/* A command rule allows the programs it matches, only those. */
	ASSERT_INT_EQ(
	    exec_check(p, "/usr/local/bin/job-backup", err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(exec_check(p, "/bin/sh", err, sizeof(err)), ORCH_EPERM);
	/* An image rule, even "*" allowing everything it can, is not one. */
	ASSERT_INT_EQ(
	    exec_check(p, "/usr/bin/job-x", err, sizeof(err)), ORCH_EPERM);
	orch_policy_free(p);
	p = parse_ok("{\"rules\": [{\"command\": \"*\", \"allow\": "
	             "[\"exec\"]}]}");
	ASSERT_INT_EQ(exec_check(p, "/bin/sh", err, sizeof(err)), ORCH_OK);
	/* It says nothing of containers. */
	refused(p, (struct ask){.image = "busybox", .privileged = true},
	    "field \"privileged\"");
	orch_policy_free(p);

	parse_bad("{\"rules\": [{\"command\": \"*\", \"image\": \"x\", "
	          "\"allow\": [\"exec\"]}]}",
	    "rules[0]: has both \"image\" and \"command\"");
	parse_bad("{\"rules\": [{\"command\": \"\", \"allow\": [\"exec\"]}]}",
	    "rules[0].command: must be a pattern");
	parse_bad("{\"rules\": [{\"command\": 3, \"allow\": [\"exec\"]}]}",
	    "rules[0].command: must be a pattern");
	parse_bad("{\"rules\": [{\"command\": \"*\", \"allow\": [\"exec\", "
	          "\"privileged\"]}]}",
	    "rules[0].allow: a command rule allows \"exec\" only");
	parse_bad("{\"rules\": [{\"image\": \"*\", \"allow\": [\"exec\"]}]}",
	    "rules[0].allow: \"exec\" belongs in a command rule");
}

static void
test_load(void)
{
	char *dir = h_tmpdir("policy"), path[512], err[1024];
	struct orch_policy *p = NULL;
	const char *text = "{\"rules\": [\n"
	                   "  {\"image\": \"x\", \"allow\": [\"nope\"]}\n"
	                   "]}\n";
	int fd;

	snprintf(path, sizeof(path), "%s/policy.json", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ASSERT(fd >= 0);
	ASSERT_INT_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
	close(fd);
	ASSERT_INT_EQ(
	    orch_policy_load(path, &p, err, sizeof(err)), ORCH_EINVAL);
	ASSERT(p == NULL);
	ASSERT_STR_CONTAINS(err, "policy file ");
	ASSERT_STR_CONTAINS(err, path);
	ASSERT_STR_CONTAINS(err, "rules[0].allow[0]: \"nope\"");
	ASSERT_INT_EQ(
	    orch_policy_load("/nonexistent/p.json", &p, err, sizeof(err)),
	    ORCH_ENOENT);
	ASSERT_STR_CONTAINS(err, "policy file /nonexistent/p.json: No such");
	h_rm_rf(dir);
	free(dir);
}

int
main(void)
{
	RUN(test_parse);
	RUN(test_default);
	RUN(test_rules);
	RUN(test_exec);
	RUN(test_load);
	return 0;
}
