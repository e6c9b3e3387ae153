/*
 * e2e_security.c: the real orch-manager's guards, over raw sockets,
 * orchctl and NNG: API tokens (401s, /healthz open, orchctl's --token and
 * ORCH_TOKEN, no token in the log), the refusal to listen beyond loopback
 * unguarded (and --insecure), and the container policy on HTTP and RPC
 * (refused by default, allowed by a policy file for matching images).
 *
 * A manager told to listen on 0.0.0.0 only binds there: every request of
 * this test goes to 127.0.0.1.
 */
#include <fcntl.h>
#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "harness.h"
#include "http_json.h"
#include "manager_proc.h"
#include "orch.pb-c.h"
#include "rpc_client.h"

/* Two tokens, and one that is neither: none may reach the log. */
#define TOKEN "e2e-token-4f1c9a7d2b8e6035a1c4"
#define TOKEN2 "e2e-second-token-77aa01bb"
#define WRONG "e2e-wrong-token-0d9e8f7a6b5c"

static char *dir; /* token and policy files */
static char token_path[512];
static struct mgr ma; /* with --token-file, no policy */
static struct mgr mp; /* with --policy, no token */

/* Writes text into dir/name with mode; returns the path in buf. */
static const char *
write_file(
    const char *name, const char *text, mode_t mode, char *buf, size_t len)
{
	int fd;

	snprintf(buf, len, "%s/%s", dir, name);
	fd = open(buf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT(fd >= 0);
	ASSERT_INT_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
	close(fd);
	ASSERT(chmod(buf, mode) == 0);
	return buf;
}

/*
 * One request to 127.0.0.1:port with extra header lines (each ending in
 * CRLF; may be NULL) and body (may be NULL).  Returns the status; *body
 * and *head (OUT, malloc'd; may be NULL when not wanted).
 */
static int
req(int port, const char *method, const char *path, const char *headers,
    const char *body, char **resp, char **head)
{
	char h[2048];
	size_t blen = body != NULL ? strlen(body) : 0;
	int fd = h_connect(port), st;

	ASSERT(fd >= 0);
	snprintf(h, sizeof(h),
	    "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
	    "%sContent-Length: %zu\r\n\r\n",
	    method, path, headers != NULL ? headers : "", blen);
	ASSERT(h_send_all(fd, h, strlen(h)) == 0);
	ASSERT(blen == 0 || h_send_all(fd, body, blen) == 0);
	st = h_read_response(fd, resp, head, 10000);
	close(fd);
	return st;
}

/* Asserts a 401 with a JSON error holding want and a WWW-Authenticate
 * header holding hdr. */
static void
expect_401(const char *method, const char *path, const char *headers,
    const char *want, const char *hdr)
{
	char *body = NULL, *head = NULL;
	json_t *j;

	ASSERT_INT_EQ(
	    req(ma.http_port, method, path, headers, NULL, &body, &head), 401);
	j = hj_parse(body);
	ASSERT_STR_CONTAINS(hj_str(j, "error"), want);
	ASSERT_STR_CONTAINS(head, "WWW-Authenticate: Bearer realm=\"orch\"");
	ASSERT_STR_CONTAINS(head, hdr);
	json_decref(j);
	free(body);
	free(head);
}

static void
test_tokens(void)
{
	const char *right = "Authorization: Bearer " TOKEN "\r\n";
	char *body = NULL;

	expect_401("GET", "/tasks", NULL, "this API needs a token", "");
	expect_401("GET", "/tasks", "Authorization: Bearer " WRONG "\r\n",
	    "invalid token", "error=\"invalid_token\"");
	expect_401("GET", "/tasks", "Authorization: Basic " TOKEN "\r\n",
	    "malformed Authorization header", "error=\"invalid_request\"");
	expect_401("GET", "/tasks", "Authorization: Bearer\r\n",
	    "malformed Authorization header", "");
	/* A right one and a wrong one: not believed. */
	expect_401("GET", "/tasks",
	    "Authorization: Bearer " TOKEN "\r\n"
	    "Authorization: Bearer " WRONG "\r\n",
	    "malformed", "");
	/* Routes are not revealed to a stranger: 401 before 404 or 405. */
	expect_401("GET", "/no/such/route", NULL, "needs a token", "");
	expect_401("PATCH", "/tasks", NULL, "needs a token", "");
	expect_401("POST", "/tasks", NULL, "needs a token", "");
	expect_401("GET",
	    "/tasks/2b9e0a70-3c1f-4d6e-9a51-8f0c6b1d2e34/logs?follow=1", NULL,
	    "needs a token", "");

	/* The right tokens; any case of "Bearer". */
	ASSERT_INT_EQ(
	    req(ma.http_port, "GET", "/tasks", right, NULL, &body, NULL), 200);
	{
		json_t *j = hj_parse(body);

		ASSERT(json_is_array(j));
		json_decref(j);
	}
	free(body);
	ASSERT_INT_EQ(
	    req(ma.http_port, "GET", "/nodes",
	        "Authorization: bearer " TOKEN2 "\r\n", NULL, NULL, NULL),
	    200);
	ASSERT_INT_EQ(
	    req(ma.http_port, "POST", "/tasks", right,
	        "{\"name\":\"t\",\"image\":\"busybox:1\"}", NULL, NULL),
	    201);
	ASSERT_INT_EQ(
	    req(ma.http_port, "GET", "/no/such/route", right, NULL, NULL, NULL),
	    404);
	/* A task's output too, with the token: past it, the task is
	 * looked up. */
	ASSERT_INT_EQ(req(ma.http_port, "GET",
	                  "/tasks/2b9e0a70-3c1f-4d6e-9a51-8f0c6b1d2e34/logs",
	                  right, NULL, &body, NULL),
	    404);
	ASSERT_STR_CONTAINS(body, "no task with id");
	free(body);
	/* Probes need none. */
	ASSERT_INT_EQ(
	    req(ma.http_port, "GET", "/healthz", NULL, NULL, &body, NULL), 200);
	ASSERT_STR_CONTAINS(body, "\"ok\"");
	free(body);
	/* Only GET: a write to it is not a probe. */
	expect_401("DELETE", "/healthz", NULL, "needs a token", "");
}

/* orchctl against the manager with tokens; env is ORCH_TOKEN's value or
 * NULL to leave it unset. */
static int
ctl(const char *env, char **out, char **err, const char *const *args)
{
	int rc;

	if (env != NULL)
		setenv("ORCH_TOKEN", env, 1);
	else
		unsetenv("ORCH_TOKEN");
	rc = h_orchctl(ma.addr, out, err, args);
	unsetenv("ORCH_TOKEN");
	return rc;
}

static void
test_orchctl(void)
{
	char *out = NULL, *err = NULL;

	ASSERT_INT_EQ(
	    ctl(TOKEN, &out, &err, (const char *const[]){"list", NULL}), 0);
	ASSERT_STR_CONTAINS(out, "NAME");
	free(out);
	free(err);
	ASSERT_INT_EQ(ctl(TOKEN2, &out, &err,
	                  (const char *const[]){"run", "c", "busybox:1", NULL}),
	    0);
	ASSERT_STR_CONTAINS(out, "successfully submitted");
	free(out);
	free(err);

	/* No token: exit 4, saying how to give one. */
	ASSERT_INT_EQ(
	    ctl(NULL, &out, &err, (const char *const[]){"list", NULL}), 4);
	ASSERT_STR_CONTAINS(err, "wants an API token");
	ASSERT_STR_CONTAINS(err, "--token or ORCH_TOKEN");
	free(out);
	free(err);
	/* A wrong one, from the environment or the flag. */
	ASSERT_INT_EQ(
	    ctl(WRONG, &out, &err, (const char *const[]){"list", NULL}), 4);
	ASSERT_STR_CONTAINS(err, "refused the token from ORCH_TOKEN");
	ASSERT(strstr(err, WRONG) == NULL);
	free(out);
	free(err);
	ASSERT_INT_EQ(
	    ctl(NULL, &out, &err,
	        (const char *const[]){"list", "--token", WRONG, NULL}),
	    4);
	ASSERT_STR_CONTAINS(err, "refused the token from --token");
	free(out);
	free(err);
	/* The flag beats the environment, before or after the verb. */
	ASSERT_INT_EQ(
	    ctl(WRONG, &out, &err,
	        (const char *const[]){"list", "--token", TOKEN, NULL}),
	    0);
	free(out);
	free(err);
	ASSERT_INT_EQ(
	    ctl(WRONG, &out, &err,
	        (const char *const[]){"--token", TOKEN, "nodes", NULL}),
	    0);
	free(out);
	free(err);
	/* A token that would break the header is a usage error. */
	ASSERT_INT_EQ(
	    ctl("two words", &out, &err, (const char *const[]){"list", NULL}),
	    2);
	ASSERT_STR_CONTAINS(err, "the token from ORCH_TOKEN is not a token");
	free(out);
	free(err);
	/* The policy's 403 is a refusal like any other: exit 1, with why. */
	ASSERT_INT_EQ(ctl(TOKEN, &out, &err,
	                  (const char *const[]){
	                      "run", "p", "busybox:1", "--privileged", NULL}),
	    1);
	ASSERT_STR_CONTAINS(err,
	    "field \"privileged\": not allowed by the "
	    "container policy");
	ASSERT_STR_CONTAINS(err, "HTTP 403");
	free(out);
	free(err);
}

/* Runs orch-manager with args (NULL-terminated, at most 12) expecting
 * it to refuse to start: returns its exit code, *err its stderr. */
static int
mgr_refused(const char *const *args, char **err)
{
	char *bin = h_bin("orch-manager"), *data = h_tmpdir("refused");
	char *argv[20] = {bin, "--data", data};
	int n = 3, code;

	for (int i = 0; args[i] != NULL; i++) {
		ASSERT(n < 18);
		argv[n++] = (char *)args[i];
	}
	argv[n] = NULL;
	code = h_run(argv, NULL, err, 10000);
	h_rm_rf(data);
	free(data);
	free(bin);
	return code;
}

static void
test_exposure(void)
{
	char any[64], rpc[64], pub[64], path[512], *err = NULL;
	struct mgr mi = {0};

	snprintf(any, sizeof(any), "0.0.0.0:%d", h_free_port());
	snprintf(rpc, sizeof(rpc), "tcp://127.0.0.1:%d", h_free_port());
	snprintf(pub, sizeof(pub), "tcp://127.0.0.1:%d", h_free_port());
	ASSERT_INT_EQ(mgr_refused((const char *const[]){"--http", any, "--rpc",
	                              rpc, "--pub", pub, NULL},
	                  &err),
	    2);
	ASSERT_STR_CONTAINS(err, "refusing to start: --http");
	ASSERT_STR_CONTAINS(err, any);
	ASSERT_STR_CONTAINS(err, "--token-file");
	ASSERT_STR_CONTAINS(err, "--insecure");
	free(err);
	snprintf(any, sizeof(any), "[::]:%d", h_free_port());
	ASSERT_INT_EQ(mgr_refused((const char *const[]){"--http", any, "--rpc",
	                              rpc, "--pub", pub, NULL},
	                  &err),
	    2);
	ASSERT_STR_CONTAINS(err, "refusing to start");
	free(err);
	/* The events' socket too: whoever reads it sees every change. */
	snprintf(any, sizeof(any), "tcp://0.0.0.0:%d", h_free_port());
	snprintf(path, sizeof(path), "127.0.0.1:%d", h_free_port());
	ASSERT_INT_EQ(
	    mgr_refused((const char *const[]){"--http", path, "--rpc", rpc,
	                    "--pub", pub, "--events-pub", any, NULL},
	        &err),
	    2);
	ASSERT_STR_CONTAINS(err, "refusing to start: --events-pub");
	ASSERT_STR_CONTAINS(err, any);
	ASSERT_STR_CONTAINS(err, "read every change in the cluster");
	ASSERT_STR_CONTAINS(err, "--tls-dir DIR");
	ASSERT_STR_CONTAINS(err, "--insecure");
	free(err);
	/* Not a URL: said before anything listens. */
	ASSERT_INT_EQ(mgr_refused((const char *const[]){"--events-pub",
	                              "127.0.0.1:3003", NULL},
	                  &err),
	    2);
	ASSERT_STR_CONTAINS(err, "--events-pub 127.0.0.1:3003: not an NNG URL");
	free(err);

	/* A token file that others can read, or that holds no token. */
	write_file("open-tokens", TOKEN "\n", 0644, path, sizeof(path));
	ASSERT_INT_EQ(
	    mgr_refused(
	        (const char *const[]){"--token-file", path, NULL}, &err),
	    2);
	ASSERT_STR_CONTAINS(err, "chmod 600");
	ASSERT(strstr(err, TOKEN) == NULL);
	free(err);
	write_file("no-tokens", "# none yet\n", 0600, path, sizeof(path));
	ASSERT_INT_EQ(
	    mgr_refused(
	        (const char *const[]){"--token-file", path, NULL}, &err),
	    2);
	ASSERT_STR_CONTAINS(err, "no token in it");
	free(err);

	/* --insecure: bound on every interface, loudly; asked on loopback. */
	mgr_start(&mi, (const char *const[]){"--insecure", NULL});
	mgr_stop_clean(&mi);
	snprintf(any, sizeof(any), "0.0.0.0:%d", mi.http_port);
	mgr_restart(
	    &mi, (const char *const[]){"--http", any, "--insecure", NULL});
	{
		char *log = h_read_file(mi.log);

		ASSERT_STR_CONTAINS(log, "INSECURE (--insecure): --http");
		ASSERT_STR_CONTAINS(log, any);
		free(log);
	}
	mgr_stop_clean(&mi);
	/* Guarded by tokens: it starts, and wants them. */
	mgr_restart(&mi,
	    (const char *const[]){
	        "--http", any, "--token-file", token_path, NULL});
	ASSERT_INT_EQ(h_http(mi.http_port, "GET", "/tasks", NULL, NULL), 401);
	/* ... but over plain HTTP the tokens would cross the network in the
	 * clear: it says so (HTTPS is e2e_https's). */
	{
		char *log = h_read_file(mi.log);

		ASSERT_STR_CONTAINS(log,
		    "API tokens cross the network in the "
		    "clear");
		free(log);
	}
	mgr_stop_clean(&mi);
	mgr_destroy(&mi);
}

/* POSTs body to path on port (with the token when auth); asserts want
 * and, for an error, a message holding needle. */
static void
post(int port, bool auth, const char *path, const char *body, int want,
    const char *needle)
{
	char *resp = NULL;
	json_t *j;

	ASSERT_INT_EQ(req(port, "POST", path,
	                  auth ? "Authorization: Bearer " TOKEN "\r\n" : NULL,
	                  body, &resp, NULL),
	    want);
	if (needle != NULL) {
		j = hj_parse(resp);
		ASSERT_STR_CONTAINS(hj_str(j, "error"), needle);
		json_decref(j);
	}
	free(resp);
}

static void
test_policy_default_http(void)
{
	static const struct {
		const char *fields;
		const char *needle;
	} refused[] = {
	    {"\"privileged\":true",
	        "field \"privileged\": not allowed by the "
	        "container policy for image "
	        "\"orch-test/busybox:latest\""},
	    {"\"volumes\":[\"/etc:/host-etc:ro\"]",
	        "field \"volumes\": entry 0, host path \"/etc\""},
	    {"\"network\":\"host\"",
	        "field \"network\": \"host\": not allowed"},
	    {"\"cap_add\":[\"NET_ADMIN\"]",
	        "field \"cap_add\": capability \"NET_ADMIN\""},
	};
	char body[512];

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(body, sizeof(body),
		    "{\"name\":\"p\",\"image\":\"orch-test/"
		    "busybox:latest\",%s}",
		    refused[i].fields);
		post(
		    ma.http_port, true, "/tasks", body, 403, refused[i].needle);
		snprintf(body, sizeof(body),
		    "{\"name\":\"p%zu\",\"image\":\"orch-test/busybox:latest\","
		    "\"replicas\":1,%s}",
		    i, refused[i].fields);
		post(ma.http_port, true, "/services", body, 403,
		    refused[i].needle);
	}
	/* What keeps isolation needs no policy. */
	post(ma.http_port, true, "/tasks",
	    "{\"name\":\"p\",\"image\":\"busybox:1\",\"volumes\":[\"data:/d\"],"
	    "\"network\":\"none\",\"privileged\":false}",
	    201, NULL);
	/* Malformed is 400, not 403. */
	post(ma.http_port, true, "/tasks",
	    "{\"name\":\"p\",\"image\":\"busybox:1\",\"network\":\"mine\"}",
	    400, "field \"network\" must be bridge, host or none");
}

static void
test_policy_file_http(void)
{
#define ALL_FOUR                                                               \
	"{\"name\":\"p\",\"image\":\"%s\",\"privileged\":true,"                \
	"\"volumes\":[\"/srv:/srv:ro\"],\"network\":\"host\","                 \
	"\"cap_add\":[\"NET_ADMIN\"]}"
	char body[512];
	json_t *j;
	char *resp = NULL;

	/* Allowed for the matching image, and stored as asked. */
	snprintf(body, sizeof(body), ALL_FOUR, "orch-test/busybox:latest");
	ASSERT_INT_EQ(
	    req(mp.http_port, "POST", "/tasks", NULL, body, &resp, NULL), 201);
	j = hj_parse(resp);
	ASSERT(json_is_true(json_object_get(j, "privileged")));
	ASSERT_STR_EQ(hj_str(j, "network"), "host");
	json_decref(j);
	free(resp);
	post(mp.http_port, false, "/services",
	    "{\"name\":\"s\",\"image\":\"orch-test/x\",\"privileged\":true}",
	    201, NULL);
	/* Still refused for another image. */
	snprintf(body, sizeof(body), ALL_FOUR, "busybox:1");
	post(mp.http_port, false, "/tasks", body, 403,
	    "field \"privileged\": not allowed by the container policy for "
	    "image \"busybox:1\"");
	post(mp.http_port, false, "/services",
	    "{\"name\":\"s2\",\"image\":\"busybox:1\",\"cap_add\":[\"NET_"
	    "ADMIN\"]}",
	    403, "field \"cap_add\"");
	/* A capability the rule does not list. */
	post(mp.http_port, false, "/tasks",
	    "{\"name\":\"p\",\"image\":\"orch-test/"
	    "x\",\"cap_add\":[\"SYS_ADMIN\"]}",
	    403, "capability \"SYS_ADMIN\"");
}

/* SubmitTask of image with privileged, or with network (when not NULL)
 * instead, on the RPC socket at url.  Returns the code; err the message. */
static int
rpc_submit(const char *url, const char *image, const char *network,
    const char *method, char *err, size_t errlen)
{
	Orch__TaskSpec spec = ORCH__TASK_SPEC__INIT;
	Orch__SubmitTaskRequest sub = ORCH__SUBMIT_TASK_REQUEST__INIT;
	Orch__CreateServiceRequest cs = ORCH__CREATE_SERVICE_REQUEST__INIT;
	ProtobufCMessage *out = NULL;
	bool service = strcmp(method, "CreateService") == 0;
	char full[64];
	nng_socket s;
	int rc;

	ASSERT(nng_req0_open(&s) == 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000);
	ASSERT(nng_dial(s, url, NULL, 0) == 0);
	spec.name = "rpc";
	spec.image = (char *)image;
	if (network != NULL) {
		spec.network = (char *)network;
	} else {
		spec.has_privileged = true;
		spec.privileged = true;
	}
	sub.spec = &spec;
	cs.name = "rpc-svc";
	cs.spec = &spec;
	snprintf(full, sizeof(full), "orch.Manager/%s", method);
	rc = orch_rpc_call(s, full, service ? &cs.base : &sub.base,
	    service ? &orch__service__descriptor : &orch__task__descriptor,
	    &out, err, errlen);
	if (out != NULL)
		protobuf_c_message_free_unpacked(out, NULL);
	nng_close(s);
	return rc;
}

static void
test_policy_rpc(void)
{
	char err[512];

	/* The default policy, on the RPC socket (which takes no token). */
	ASSERT_INT_EQ(rpc_submit(ma.rpc_url, "orch-test/busybox", NULL,
	                  "SubmitTask", err, sizeof(err)),
	    ORCH_EPERM);
	ASSERT_STR_CONTAINS(err, "field \"privileged\": not allowed");
	ASSERT_INT_EQ(rpc_submit(ma.rpc_url, "orch-test/busybox", "host",
	                  "CreateService", err, sizeof(err)),
	    ORCH_EPERM);
	ASSERT_STR_CONTAINS(err, "field \"network\": \"host\"");
	/* The policy file: allowed for its images only. */
	ASSERT_INT_EQ(rpc_submit(mp.rpc_url, "orch-test/busybox", NULL,
	                  "SubmitTask", err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(rpc_submit(mp.rpc_url, "orch-test/busybox", "host",
	                  "CreateService", err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(rpc_submit(mp.rpc_url, "busybox:1", NULL, "SubmitTask",
	                  err, sizeof(err)),
	    ORCH_EPERM);
	ASSERT_STR_CONTAINS(err, "image \"busybox:1\"");
	ASSERT_INT_EQ(rpc_submit(mp.rpc_url, "busybox:1", "host",
	                  "CreateService", err, sizeof(err)),
	    ORCH_EPERM);
}

static void
test_policy_malformed(void)
{
	char path[512], *err = NULL;

	write_file("bad-policy.json",
	    "{\"rules\": [\n  {\"image\": \"x\", \"allow\": [\"root\"]}\n]}\n",
	    0644, path, sizeof(path));
	ASSERT_INT_EQ(
	    mgr_refused((const char *const[]){"--policy", path, NULL}, &err),
	    2);
	ASSERT_STR_CONTAINS(err, path);
	ASSERT_STR_CONTAINS(err, "rules[0].allow[0]: \"root\" is not one of");
	free(err);
	write_file("bad-json.json", "{\"rules\": [\n  {\"image\": }\n]}\n",
	    0644, path, sizeof(path));
	ASSERT_INT_EQ(
	    mgr_refused((const char *const[]){"--policy", path, NULL}, &err),
	    2);
	ASSERT_STR_CONTAINS(err, "line 2 column");
	free(err);
	ASSERT_INT_EQ(mgr_refused((const char *const[]){"--policy",
	                              "/nonexistent/policy.json", NULL},
	                  &err),
	    2);
	ASSERT_STR_CONTAINS(err, "/nonexistent/policy.json: No such file");
	free(err);
}

/* Last: everything above sent the tokens, right and wrong, through
 * requests, orchctl and refusals; none may be in the debug log. */
static void
test_log_has_no_token(void)
{
	char *log;

	mgr_stop_clean(&ma);
	log = h_read_file(ma.log);
	ASSERT(log != NULL);
	/* The log is there, at debug level, and saw the refusals. */
	ASSERT_STR_CONTAINS(
	    log, "DEBUG api: 401 for GET /tasks: invalid token");
	ASSERT(strstr(log, TOKEN) == NULL);
	ASSERT(strstr(log, TOKEN2) == NULL);
	ASSERT(strstr(log, WRONG) == NULL);
	free(log);
}

int
main(void)
{
	char path[512];

	dir = h_tmpdir("security");
	write_file("tokens", "# e2e\n" TOKEN "\n\n" TOKEN2 "\n", 0600,
	    token_path, sizeof(token_path));
	write_file("policy.json",
	    "{\"rules\": [{\"image\": \"orch-test/*\", \"allow\": "
	    "[\"privileged\", \"host_mounts\", \"network_host\", \"cap_add\"], "
	    "\"caps\": [\"NET_ADMIN\"]}]}\n",
	    0644, path, sizeof(path));
	mgr_start(&ma,
	    (const char *const[]){
	        "--token-file", token_path, "--log-level", "debug", NULL});
	mgr_start(&mp, (const char *const[]){"--policy", path, NULL});

	RUN(test_tokens);
	RUN(test_orchctl);
	RUN(test_exposure);
	RUN(test_policy_default_http);
	RUN(test_policy_file_http);
	RUN(test_policy_rpc);
	RUN(test_policy_malformed);
	RUN(test_log_has_no_token);

	mgr_stop_clean(&mp);
	mgr_destroy(&mp);
	mgr_destroy(&ma);
	h_rm_rf(dir);
	free(dir);
	return 0;
}
