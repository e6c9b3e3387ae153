/*
 * test_certs.c: the cluster CA (certs.c): what init and issue write, and
 * that mbed TLS verifies it, or refuses it when it should (another CA,
 * expired, a host not named, a node's certificate used as a server's).
 */
#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "certs.h"
#include "error.h"
#include "harness.h"
#include "tls.h"

static char *dir;

/* Parses d/rel into crt. */
static void
crt_read(mbedtls_x509_crt *crt, const char *d, const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", d, rel);
	mbedtls_x509_crt_init(crt);
	if (mbedtls_x509_crt_parse_file(crt, path) != 0)
		h_fail(__FILE__, __LINE__, "cannot parse %s", path);
}

/* The verification flags of crt against the CA of d, for host (may be
 * NULL). */
static uint32_t
verify(const char *d, mbedtls_x509_crt *crt, const char *host)
{
	mbedtls_x509_crt ca;
	uint32_t flags = 0;

	crt_read(&ca, d, "ca.crt");
	(void)mbedtls_x509_crt_verify(crt, &ca, NULL, host, &flags, NULL, NULL);
	mbedtls_x509_crt_free(&ca);
	return flags;
}

static time_t
x509_t(const mbedtls_x509_time *t)
{
	struct tm tm = {.tm_year = t->year - 1900,
	    .tm_mon = t->mon - 1,
	    .tm_mday = t->day,
	    .tm_hour = t->hour,
	    .tm_min = t->min,
	    .tm_sec = t->sec};

	return timegm(&tm);
}

/* Valid for a day, plus the few minutes of clock skew allowed. */
static bool
x509_one_day(const mbedtls_x509_crt *c)
{
	time_t span = x509_t(&c->valid_to) - x509_t(&c->valid_from);

	return span >= 86400 && span <= 86400 + 600;
}

static mode_t
file_mode(const char *d, const char *rel)
{
	char path[1024];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", d, rel);
	ASSERT(stat(path, &st) == 0);
	return st.st_mode & 0777;
}

static void
test_init_writes_a_ca_and_the_managers_certificate(void)
{
	struct orch_certs_opts o = {0};
	mbedtls_x509_crt ca, m;
	char err[512], cn[64];

	ASSERT_INT_EQ(orch_certs_init(dir, &o, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(file_mode(dir, "ca.key"), 0600);
	ASSERT_INT_EQ(file_mode(dir, "manager.key"), 0600);
	ASSERT_INT_EQ(file_mode(dir, "ca.crt"), 0644);

	crt_read(&ca, dir, "ca.crt");
	ASSERT(ca.ca_istrue);
	orch_tls_crt_cn(&ca, cn, sizeof(cn));
	ASSERT(strncmp(cn, "orch CA ", 8) == 0);
	/* Ten years, give or take the clock skew allowance. */
	ASSERT(ca.valid_to.year - ca.valid_from.year >= 9);
	mbedtls_x509_crt_free(&ca);

	crt_read(&m, dir, "manager.crt");
	ASSERT(!m.ca_istrue);
	/* The default hosts, each verified as mbed TLS clients do. */
	ASSERT_INT_EQ(verify(dir, &m, "localhost"), 0);
	ASSERT_INT_EQ(verify(dir, &m, "127.0.0.1"), 0);
	ASSERT_INT_EQ(verify(dir, &m, "::1"), 0);
	ASSERT(
	    verify(dir, &m, "evil.example") & MBEDTLS_X509_BADCERT_CN_MISMATCH);
	/* A server's certificate, not a client's. */
	ASSERT_INT_EQ(mbedtls_x509_crt_check_extended_key_usage(&m,
	                  MBEDTLS_OID_SERVER_AUTH,
	                  MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)),
	    0);
	ASSERT(mbedtls_x509_crt_check_extended_key_usage(&m,
	           MBEDTLS_OID_CLIENT_AUTH,
	           MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)) != 0);
	mbedtls_x509_crt_free(&m);
}

static void
test_init_never_overwrites_without_force(void)
{
	struct orch_certs_opts o = {0};
	char err[512], path[1024], *before, *after;

	snprintf(path, sizeof(path), "%s/ca.key", dir);
	before = h_read_file(path);
	ASSERT(before != NULL);
	ASSERT_INT_EQ(orch_certs_init(dir, &o, err, sizeof(err)), ORCH_EEXIST);
	ASSERT_STR_CONTAINS(err, "exists");
	ASSERT_STR_CONTAINS(err, "--force");
	after = h_read_file(path);
	ASSERT_STR_EQ(before, after);
	free(after);

	o.force = true;
	ASSERT_INT_EQ(orch_certs_init(dir, &o, err, sizeof(err)), ORCH_OK);
	after = h_read_file(path);
	ASSERT(strcmp(before, after) != 0);
	ASSERT_INT_EQ(file_mode(dir, "ca.key"), 0600);
	free(before);
	free(after);
}

static void
test_init_with_hosts(void)
{
	const char *hosts[] = {"10.1.2.3", "mgr.example.org", "fd00::5"};
	struct orch_certs_opts o = {.hosts = hosts, .n_hosts = 3};
	char *d = h_tmpdir("certs-hosts"), err[512];
	mbedtls_x509_crt m;

	ASSERT_INT_EQ(orch_certs_init(d, &o, err, sizeof(err)), ORCH_OK);
	crt_read(&m, d, "manager.crt");
	ASSERT_INT_EQ(verify(d, &m, "10.1.2.3"), 0);
	ASSERT_INT_EQ(verify(d, &m, "mgr.example.org"), 0);
	ASSERT_INT_EQ(verify(d, &m, "fd00::5"), 0);
	/* Only the hosts asked for. */
	ASSERT(verify(d, &m, "127.0.0.1") & MBEDTLS_X509_BADCERT_CN_MISMATCH);
	ASSERT(verify(d, &m, "localhost") & MBEDTLS_X509_BADCERT_CN_MISMATCH);
	mbedtls_x509_crt_free(&m);
	h_rm_rf(d);
	free(d);
}

static void
test_init_refuses_bad_hosts(void)
{
	const char *bad[] = {
	    "bad host", "-", "a..b", ".example", "x_y.org", ""};
	char *d = h_tmpdir("certs-bad"), err[512], path[1024];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct orch_certs_opts o = {.hosts = &bad[i], .n_hosts = 1};

		ASSERT_INT_EQ(
		    orch_certs_init(d, &o, err, sizeof(err)), ORCH_EINVAL);
		ASSERT_STR_CONTAINS(err, "--host");
	}
	/* Nothing written. */
	snprintf(path, sizeof(path), "%s/ca.key", d);
	ASSERT(access(path, F_OK) != 0);
	h_rm_rf(d);
	free(d);
}

static void
test_issue_writes_a_folder_for_the_node(void)
{
	struct orch_certs_opts o = {0};
	mbedtls_x509_crt n;
	char err[512], cn[64], path[1024], *ca, *copy;

	ASSERT_INT_EQ(
	    orch_certs_issue(dir, "web-1", &o, err, sizeof(err)), ORCH_OK);
	ASSERT_STR_CONTAINS(err, "nodes/web-1");
	ASSERT_INT_EQ(file_mode(dir, "nodes/web-1/web-1.key"), 0600);
	ASSERT_INT_EQ(file_mode(dir, "nodes"), 0700);
	/* The folder carries the CA, to verify the manager with. */
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	ca = h_read_file(path);
	snprintf(path, sizeof(path), "%s/nodes/web-1/ca.crt", dir);
	copy = h_read_file(path);
	ASSERT_STR_EQ(ca, copy);
	free(ca);
	free(copy);

	crt_read(&n, dir, "nodes/web-1/web-1.crt");
	orch_tls_crt_cn(&n, cn, sizeof(cn));
	ASSERT_STR_EQ(cn, "web-1");
	ASSERT_INT_EQ(verify(dir, &n, NULL), 0);
	ASSERT_INT_EQ(mbedtls_x509_crt_check_extended_key_usage(&n,
	                  MBEDTLS_OID_CLIENT_AUTH,
	                  MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)),
	    0);
	/* It cannot pose as the manager. */
	ASSERT(mbedtls_x509_crt_check_extended_key_usage(&n,
	           MBEDTLS_OID_SERVER_AUTH,
	           MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)) != 0);
	/* 825 days by default. */
	ASSERT(n.valid_to.year - n.valid_from.year >= 2);
	ASSERT(n.valid_to.year - n.valid_from.year <= 3);
	mbedtls_x509_crt_free(&n);

	/* Again: refused, then replaced with --force. */
	ASSERT_INT_EQ(
	    orch_certs_issue(dir, "web-1", &o, err, sizeof(err)), ORCH_EEXIST);
	ASSERT_STR_CONTAINS(err, "web-1.crt exists");
	o.force = true;
	o.days = 1;
	ASSERT_INT_EQ(
	    orch_certs_issue(dir, "web-1", &o, err, sizeof(err)), ORCH_OK);
	crt_read(&n, dir, "nodes/web-1/web-1.crt");
	ASSERT_INT_EQ(verify(dir, &n, NULL), 0);
	ASSERT(x509_one_day(&n));
	mbedtls_x509_crt_free(&n);
}

static void
test_issue_refuses_bad_names(void)
{
	static const char *bad[] = {
	    "", "ca", "manager", "a/b", "..", ".", "a b", "x\n"};
	struct orch_certs_opts o = {0};
	char long_name[200], err[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT(!orch_certs_name_valid(bad[i]));
		ASSERT_INT_EQ(
		    orch_certs_issue(dir, bad[i], &o, err, sizeof(err)),
		    ORCH_EINVAL);
		ASSERT_STR_CONTAINS(err, "--name");
	}
	memset(long_name, 'a', 129);
	long_name[129] = '\0';
	ASSERT(!orch_certs_name_valid(long_name));
	long_name[128] = '\0';
	ASSERT(orch_certs_name_valid(long_name));
	ASSERT(orch_certs_name_valid("node_1.zone-a"));
}

static void
test_issue_without_a_ca(void)
{
	struct orch_certs_opts o = {0};
	char *d = h_tmpdir("certs-noca"), err[512];

	ASSERT_INT_EQ(
	    orch_certs_issue(d, "n1", &o, err, sizeof(err)), ORCH_ENOENT);
	ASSERT_STR_CONTAINS(err, "certs init");
	h_rm_rf(d);
	free(d);
}

static void
test_expired_and_foreign_certificates_do_not_verify(void)
{
	struct orch_certs_opts o = {0}, old = {0};
	char *other = h_tmpdir("certs-other"), err[512], why[256];
	mbedtls_x509_crt c;
	time_t now = time(NULL);

	/* Valid for a day that ended a week ago. */
	old.not_before = now - 8 * 86400;
	old.not_after = now - 7 * 86400;
	ASSERT_INT_EQ(
	    orch_certs_issue(dir, "old", &old, err, sizeof(err)), ORCH_OK);
	crt_read(&c, dir, "nodes/old/old.crt");
	ASSERT(verify(dir, &c, NULL) & MBEDTLS_X509_BADCERT_EXPIRED);
	ASSERT(!(verify(dir, &c, NULL) & MBEDTLS_X509_BADCERT_NOT_TRUSTED));
	orch_tls_verify_reason(verify(dir, &c, NULL), &c, why, sizeof(why));
	ASSERT_STR_CONTAINS(why, "it expired on ");
	mbedtls_x509_crt_free(&c);

	/* Not valid yet. */
	old.not_before = now + 86400;
	old.not_after = now + 2 * 86400;
	ASSERT_INT_EQ(
	    orch_certs_issue(dir, "future", &old, err, sizeof(err)), ORCH_OK);
	crt_read(&c, dir, "nodes/future/future.crt");
	ASSERT(verify(dir, &c, NULL) & MBEDTLS_X509_BADCERT_FUTURE);
	mbedtls_x509_crt_free(&c);

	/* Another cluster's CA: same names, different keys. */
	ASSERT_INT_EQ(orch_certs_init(other, &o, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_certs_issue(other, "web-1", &o, err, sizeof(err)), ORCH_OK);
	crt_read(&c, other, "nodes/web-1/web-1.crt");
	ASSERT_INT_EQ(verify(other, &c, NULL), 0);
	ASSERT(verify(dir, &c, NULL) & MBEDTLS_X509_BADCERT_NOT_TRUSTED);
	orch_tls_verify_reason(verify(dir, &c, NULL), &c, why, sizeof(why));
	ASSERT_STR_CONTAINS(why, "not signed by this cluster's CA");
	mbedtls_x509_crt_free(&c);
	crt_read(&c, other, "manager.crt");
	ASSERT(verify(dir, &c, "localhost") & MBEDTLS_X509_BADCERT_NOT_TRUSTED);
	mbedtls_x509_crt_free(&c);
	h_rm_rf(other);
	free(other);
}

/* Runs argv, expecting status and want in stdout (status 0) or stderr. */
static void
cli(char *const argv[], int status, const char *want)
{
	char *out = NULL, *errout = NULL;

	ASSERT_INT_EQ(h_run(argv, &out, &errout, 30000), status);
	ASSERT_STR_CONTAINS(status == 0 ? out : errout, want);
	free(out);
	free(errout);
}

static void
test_cli(void)
{
	char *bin = h_bin("orch-manager");
	char *d = h_tmpdir("certs-cli");
	char *init[] = {
	    bin, "certs", "init", "--dir", d, "--host", "127.0.0.1", NULL};
	char *issue[] = {bin, "certs", "issue", "--dir", d, "--name", "n1",
	    "--days", "30", NULL};
	char *bad_days[] = {bin, "certs", "issue", "--dir", d, "--name", "n2",
	    "--days", "0", NULL};
	char *no_name[] = {bin, "certs", "issue", "--dir", d, NULL};
	char *host_on_issue[] = {bin, "certs", "issue", "--dir", d, "--name",
	    "n3", "--host", "x", NULL};
	char *unknown[] = {bin, "certs", "renew", NULL};

	cli(init, 0, "ca.key");
	cli(issue, 0, "nodes/n1");
	cli(issue, 1, "exists");
	cli(bad_days, 2, "--days");
	cli(no_name, 2, "--name NAME is required");
	cli(host_on_issue, 2, "--host is not an option of issue");
	cli(unknown, 2, "unknown command \"renew\"");
	h_rm_rf(d);
	free(d);
	free(bin);
}

int
main(void)
{
	dir = h_tmpdir("certs");
	RUN(test_init_writes_a_ca_and_the_managers_certificate);
	RUN(test_init_never_overwrites_without_force);
	RUN(test_init_with_hosts);
	RUN(test_init_refuses_bad_hosts);
	RUN(test_issue_writes_a_folder_for_the_node);
	RUN(test_issue_refuses_bad_names);
	RUN(test_issue_without_a_ca);
	RUN(test_expired_and_foreign_certificates_do_not_verify);
	RUN(test_cli);
	h_rm_rf(dir);
	free(dir);
	return 0;
}
