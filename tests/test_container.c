/*
 * test_container.c: the syntax of a spec's container settings: volumes
 * split into host paths and named volumes, capability names made
 * canonical, and the refusals of orch_task_spec_validate() naming the
 * field.
 */
#include "container.h"
#include "error.h"
#include "harness.h"

static void
vol_ok(const char *s, const char *src, const char *dst, bool host, bool ro)
{
	struct orch_volume v;
	char why[256];

	if (orch_volume_parse(s, &v, why, sizeof(why)) != ORCH_OK)
		h_fail(__FILE__, __LINE__, "\"%s\" refused: %s", s, why);
	ASSERT_INT_EQ(v.source_len, strlen(src));
	ASSERT(memcmp(v.source, src, v.source_len) == 0);
	ASSERT_INT_EQ(v.target_len, strlen(dst));
	ASSERT(memcmp(v.target, dst, v.target_len) == 0);
	ASSERT_INT_EQ(v.host, host);
	ASSERT_INT_EQ(v.read_only, ro);
}

static void
vol_bad(const char *s, const char *why_want)
{
	struct orch_volume v;
	char why[256];

	if (orch_volume_parse(s, &v, why, sizeof(why)) != ORCH_EINVAL)
		h_fail(__FILE__, __LINE__, "\"%s\" accepted", s);
	ASSERT_STR_CONTAINS(why, why_want);
}

static void
test_volumes(void)
{
	vol_ok("/srv/data:/data", "/srv/data", "/data", true, false);
	vol_ok("/srv/data:/data:ro", "/srv/data", "/data", true, true);
	vol_ok("/srv/data:/data:rw", "/srv/data", "/data", true, false);
	vol_ok("/:/host", "/", "/host", true, false);
	vol_ok("cache:/var/cache", "cache", "/var/cache", false, false);
	vol_ok("my_vol-1.x:/v:ro", "my_vol-1.x", "/v", false, true);
	/* Shell metacharacters are just bytes of a path: Docker gets data. */
	vol_ok("/srv/a b;rm -rf /:/x", "/srv/a b;rm -rf /", "/x", true, false);

	vol_bad("/srv/data", "SOURCE:TARGET");
	vol_bad("", "SOURCE:TARGET");
	vol_bad(":/data", "SOURCE must be");
	vol_bad("./data:/data", "SOURCE must be");
	vol_bad("data/x:/data", "SOURCE must be");
	vol_bad("-vol:/data", "SOURCE must be");
	vol_bad("/srv/../etc:/data", "SOURCE must be");
	vol_bad("/srv/./x:/data", "SOURCE must be");
	vol_bad("/srv/..:/data", "SOURCE must be");
	vol_bad("/srv:data", "TARGET must be");
	vol_bad("/srv:", "TARGET must be");
	vol_bad("/srv:/a/../b", "TARGET must be");
	vol_bad("/srv:/data:z", "the mode after TARGET must be ro or rw");
	vol_bad("/srv:/data:ro:x", "the mode after TARGET must be ro or rw");
	vol_bad("/srv:/data:", "the mode after TARGET must be ro or rw");
	vol_bad("/srv\n:/data", "printable");
	/* "..." is a name, not a step up. */
	vol_ok("/srv/...:/d", "/srv/...", "/d", true, false);
}

static void
test_caps(void)
{
	char out[ORCH_CAP_NAME_MAX + 1];

	ASSERT_INT_EQ(orch_cap_name_canon("NET_ADMIN", out), ORCH_OK);
	ASSERT_STR_EQ(out, "NET_ADMIN");
	ASSERT_INT_EQ(orch_cap_name_canon("cap_net_admin", out), ORCH_OK);
	ASSERT_STR_EQ(out, "NET_ADMIN");
	ASSERT_INT_EQ(orch_cap_name_canon("Cap_Sys_Time", out), ORCH_OK);
	ASSERT_STR_EQ(out, "SYS_TIME");
	ASSERT_INT_EQ(orch_cap_name_canon("all", out), ORCH_OK);
	ASSERT_STR_EQ(out, "ALL");
	ASSERT_INT_EQ(orch_cap_name_canon("", out), ORCH_EINVAL);
	ASSERT_INT_EQ(orch_cap_name_canon("CAP_", out), ORCH_EINVAL);
	ASSERT_INT_EQ(orch_cap_name_canon("NET ADMIN", out), ORCH_EINVAL);
	ASSERT_INT_EQ(orch_cap_name_canon("NET-ADMIN", out), ORCH_EINVAL);
	{
		char big[ORCH_CAP_NAME_MAX + 2];

		memset(big, 'A', ORCH_CAP_NAME_MAX);
		big[ORCH_CAP_NAME_MAX] = '\0';
		ASSERT_INT_EQ(orch_cap_name_canon(big, out), ORCH_OK);
		big[ORCH_CAP_NAME_MAX] = 'A';
		big[ORCH_CAP_NAME_MAX + 1] = '\0';
		ASSERT_INT_EQ(orch_cap_name_canon(big, out), ORCH_EINVAL);
	}
}

/* Asserts that validate refuses spec with a message holding want. */
static void
spec_bad(const orch_task_spec *spec, const char *want)
{
	char err[512];

	ASSERT_INT_EQ(
	    orch_task_spec_validate(spec, err, sizeof(err)), ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, want);
}

static void
test_validate(void)
{
	orch_task_spec spec = ORCH__TASK_SPEC__INIT;
	char *vols[ORCH_VOLUMES_MAX + 1], *caps[ORCH_CAP_ADD_MAX + 1];
	char err[512];

	spec.name = "t";
	spec.image = "busybox:1";
	for (int i = 0; i <= ORCH_VOLUMES_MAX; i++)
		vols[i] = "cache:/c";
	for (int i = 0; i <= ORCH_CAP_ADD_MAX; i++)
		caps[i] = "NET_RAW";
	spec.volumes = vols;
	spec.n_volumes = ORCH_VOLUMES_MAX;
	spec.cap_add = caps;
	spec.n_cap_add = ORCH_CAP_ADD_MAX;
	spec.network = "none";
	spec.has_privileged = true;
	spec.privileged = true;
	ASSERT_INT_EQ(
	    orch_task_spec_validate(&spec, err, sizeof(err)), ORCH_OK);

	spec.n_volumes = ORCH_VOLUMES_MAX + 1;
	spec_bad(&spec, "field \"volumes\" has more than 64 entries");
	spec.n_volumes = 2;
	vols[1] = "/etc/../root:/r";
	spec_bad(&spec, "field \"volumes\": entry 1 (\"/etc/../root:/r\")");
	vols[1] = "cache:/c";
	spec.n_cap_add = ORCH_CAP_ADD_MAX + 1;
	spec_bad(&spec, "field \"cap_add\" has more than 64 entries");
	spec.n_cap_add = 1;
	caps[0] = "NET ADMIN";
	spec_bad(&spec, "field \"cap_add\": entry 0 (\"NET ADMIN\")");
	caps[0] = "NET_RAW";
	spec.network = "container:abc";
	spec_bad(&spec, "field \"network\" must be bridge, host or none");
	spec.network = "";
	spec_bad(&spec, "field \"network\"");
	spec.network = "host";
	ASSERT_INT_EQ(
	    orch_task_spec_validate(&spec, err, sizeof(err)), ORCH_OK);
}

int
main(void)
{
	RUN(test_volumes);
	RUN(test_caps);
	RUN(test_validate);
	return 0;
}
