/*
 * e2e_https.c: the real orch-manager serving its HTTP API over HTTPS
 * (--http-tls-cert, --http-tls-key), driven by curl and orchctl on
 * loopback: verification with the cluster's CA and without it, keep-alive,
 * 100 Continue, answers of megabytes to a slow reader, plain HTTP and
 * silent clients on the HTTPS port.  Every wait is a poll with a deadline.
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "certs.h"
#include "error.h"
#include "harness.h"

#define CURL "/usr/bin/curl"

static char *dir; /* certificates, data, logs */
static char ca[600], crt[600], key[600], log_path[600];
static char base[64];
static int port;
static pid_t mgr;
static bool finished;

static void
at_exit(void)
{
	if (!finished) {
		char *log = h_read_file(log_path);

		fprintf(stderr, "---- manager log:\n%s\n", log ? log : "");
		free(log);
	}
	if (mgr > 0)
		h_kill(mgr, SIGKILL);
	h_rm_rf(dir);
}

/* Runs curl with args (NULL-terminated, at most 16) within 60 s.
 * Returns its exit code; *out and *err (OUT) are its output. */
static int
curl(const char *const *args, char **out, char **err)
{
	const char *argv[20];
	int n = 0;

	argv[n++] = CURL;
	argv[n++] = "-sS";
	for (int i = 0; args[i] != NULL && n < 19; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return h_run((char *const *)argv, out, err, 60000);
}

static bool
healthy(void *arg)
{
	char url[128];
	const char *args[] = {
	    "--cacert", ca, "-o", "/dev/null", "-w", "%{http_code}", url, NULL};
	char *out = NULL, *err = NULL;
	bool ok;

	(void)arg;
	snprintf(url, sizeof(url), "%s/healthz", base);
	ok = curl(args, &out, &err) == 0 && strcmp(out, "200") == 0;
	free(out);
	free(err);
	return ok;
}

/* The path of a file in the test's directory, for the CLI. */
static void
file_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* ---- tests ---- */

static void
test_flags(void)
{
	char *bin = h_bin("orch-manager"), *out = NULL, *err = NULL;
	char data[700], missing[700];
	char *half[] = {bin, "--http-tls-cert", crt, "--data", data, NULL};
	char *bad[] = {bin, "--http", "127.0.0.1:0", "--rpc",
	    "tcp://127.0.0.1:0", "--pub", "tcp://127.0.0.1:0",
	    "--http-tls-cert", missing, "--http-tls-key", key, "--data", data,
	    NULL};
	char *mismatch[] = {bin, "--http", "127.0.0.1:0", "--rpc",
	    "tcp://127.0.0.1:0", "--pub", "tcp://127.0.0.1:0",
	    "--http-tls-cert", crt, "--http-tls-key", ca, "--data", data, NULL};

	file_in(data, sizeof(data), "data-flags");
	file_in(missing, sizeof(missing), "missing.crt");
	ASSERT_INT_EQ(h_run(half, &out, &err, 30000), 2);
	ASSERT_STR_CONTAINS(err, "needs both --http-tls-cert and");
	free(out);
	free(err);
	ASSERT_INT_EQ(h_run(bad, &out, &err, 30000), 1);
	ASSERT_STR_CONTAINS(err, "cannot read");
	ASSERT_STR_CONTAINS(err, "missing.crt");
	free(out);
	free(err);
	ASSERT_INT_EQ(h_run(mismatch, &out, &err, 30000), 1);
	ASSERT_STR_CONTAINS(err, "is not an unencrypted private key matching");
	free(out);
	free(err);
	free(bin);
}

static void
test_curl_verifies_with_the_ca(void)
{
	char url[128], *out = NULL, *err = NULL;
	const char *with[] = {"--cacert", ca, url, NULL};
	const char *by_name[] = {"--cacert", ca, "-o", "/dev/null", "-w",
	    "%{http_code}", NULL, NULL};
	const char *without[] = {url, NULL};
	char local[128];

	snprintf(url, sizeof(url), "%s/healthz", base);
	ASSERT_INT_EQ(curl(with, &out, &err), 0);
	ASSERT_STR_CONTAINS(out, "\"status\":\"ok\"");
	free(out);
	free(err);
	/* The manager's certificate names localhost too. */
	snprintf(local, sizeof(local), "https://localhost:%d/healthz", port);
	by_name[6] = local;
	ASSERT_INT_EQ(curl(by_name, &out, &err), 0);
	ASSERT_STR_EQ(out, "200");
	free(out);
	free(err);
	/* The system's CAs do not know the cluster's: 60 is curl's "peer
	 * certificate cannot be authenticated". */
	ASSERT_INT_EQ(curl(without, &out, &err), 60);
	free(out);
	free(err);
}

static void
test_orchctl_cacert(void)
{
	const char *nodes[] = {"nodes", NULL};
	const char *with[] = {"nodes", "--cacert", ca, NULL};
	char *out = NULL, *err = NULL;

	ASSERT_INT_EQ(h_orchctl(base, &out, &err, with), 0);
	ASSERT_STR_CONTAINS(out, "No nodes");
	free(out);
	free(err);
	ASSERT(setenv("ORCH_CACERT", ca, 1) == 0);
	ASSERT_INT_EQ(h_orchctl(base, &out, &err, nodes), 0);
	free(out);
	free(err);
	ASSERT(unsetenv("ORCH_CACERT") == 0);
	ASSERT_INT_EQ(h_orchctl(base, &out, &err, nodes), 3);
	ASSERT_STR_CONTAINS(err, "certificate is not trusted");
	ASSERT_STR_CONTAINS(err, "--cacert FILE or ORCH_CACERT");
	free(out);
	free(err);
	{
		const char *bad[] = {
		    "nodes", "--cacert", "/nonexistent.crt", NULL};

		ASSERT_INT_EQ(h_orchctl(base, &out, &err, bad), 2);
		ASSERT_STR_CONTAINS(err, "cannot read the CA file");
		free(out);
		free(err);
	}
}

/* Writes a task with n KB of env (in 60 KB values) to path. */
static void
task_file(const char *path, const char *name, int kb)
{
	json_t *t = json_object(), *env = json_object();
	char k[16], *v = malloc(60 * 1024 + 1);

	ASSERT(v != NULL);
	memset(v, 'x', 60 * 1024);
	v[60 * 1024] = '\0';
	for (int i = 0; i * 60 < kb; i++) {
		snprintf(k, sizeof(k), "K%d", i);
		json_object_set_new(env, k, json_string(v));
	}
	json_object_set_new(t, "name", json_string(name));
	json_object_set_new(
	    t, "image", json_string("orch-test/busybox:latest"));
	json_object_set_new(
	    t, "constraints", json_pack("[s]", "zone==nowhere"));
	json_object_set_new(t, "env", env);
	ASSERT(json_dump_file(t, path, JSON_COMPACT) == 0);
	json_decref(t);
	free(v);
}

static void
test_expect_continue_and_big_answers(void)
{
	char path[700], data[710], url[128], *out = NULL, *err = NULL;
	const char *post[] = {"--cacert", ca, "-v", "-H",
	    "Expect: 100-continue", "-H", "Content-Type: application/json",
	    "--data-binary", data, "-o", "/dev/null", "-w", "%{http_code}", url,
	    NULL};
	/* A reader slower than the manager writes: its socket fills, and
	 * TLS writes must wait and resume. */
	const char *get[] = {"--cacert", ca, "--limit-rate", "8M", url, NULL};
	json_t *list;
	size_t total = 0;

	file_in(path, sizeof(path), "big.json");
	snprintf(data, sizeof(data), "@%s", path);
	snprintf(url, sizeof(url), "%s/tasks", base);
	task_file(path, "big", 900);
	for (int i = 0; i < 6; i++) {
		ASSERT_INT_EQ(curl(post, &out, &err), 0);
		ASSERT_STR_EQ(out, "201");
		ASSERT_STR_CONTAINS(err, "< HTTP/1.1 100 Continue");
		free(out);
		free(err);
	}
	ASSERT_INT_EQ(curl(get, &out, &err), 0);
	list = json_loads(out, 0, NULL);
	ASSERT(list != NULL && json_array_size(list) == 6);
	for (size_t i = 0; i < 6; i++) {
		const char *k;
		json_t *v;

		json_object_foreach(
		    json_object_get(json_array_get(list, i), "env"), k, v)
		{
			total += strlen(json_string_value(v));
		}
	}
	ASSERT_INT_EQ(total, 6 * 15 * 60 * 1024);
	json_decref(list);
	free(out);
	free(err);
}

static void
test_keep_alive(void)
{
	char u1[128], u2[128], *out = NULL, *err = NULL;
	const char *args[] = {"--cacert", ca, "-o", "/dev/null", "-o",
	    "/dev/null", "-w", "%{http_code} %{num_connects};", u1, u2, NULL};

	snprintf(u1, sizeof(u1), "%s/healthz", base);
	snprintf(u2, sizeof(u2), "%s/nodes", base);
	ASSERT_INT_EQ(curl(args, &out, &err), 0);
	/* Both answered, the second on the first's connection. */
	ASSERT_STR_EQ(out, "200 1;200 0;");
	free(out);
	free(err);
}

struct eof_want {
	int fd;
};

static bool
closed_by_peer(void *arg)
{
	struct eof_want *w = arg;
	char c;
	ssize_t n = recv(w->fd, &c, 1, MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void
test_plain_and_silent_clients(void)
{
	struct eof_want w;

	/* Plain HTTP gets no answer: the bytes are no TLS handshake. */
	ASSERT_INT_EQ(h_http(port, "GET", "/healthz", NULL, NULL), -1);
	/* A client that never starts its handshake is closed after the
	 * request timeout (1 s here). */
	w.fd = h_connect(port);
	ASSERT(w.fd >= 0);
	ASSERT(h_wait_until(closed_by_peer, &w, 30000));
	close(w.fd);
	ASSERT(healthy(NULL));
}

int
main(void)
{
	const char *hosts[] = {"127.0.0.1", "localhost"};
	struct orch_certs_opts o = {.hosts = hosts, .n_hosts = 2};
	char *bin, data[700], http[64], rpc[64], pub[64], err[1024];
	int st;

	setvbuf(stderr, NULL, _IONBF, 0);
	atexit(at_exit);
	dir = h_tmpdir("https");
	if (orch_certs_init(dir, &o, err, sizeof(err)) != ORCH_OK)
		h_fail(__FILE__, __LINE__, "certs init: %s", err);
	file_in(ca, sizeof(ca), "ca.crt");
	file_in(crt, sizeof(crt), "manager.crt");
	file_in(key, sizeof(key), "manager.key");
	file_in(log_path, sizeof(log_path), "manager.log");
	file_in(data, sizeof(data), "data");

	port = h_free_port();
	snprintf(base, sizeof(base), "https://127.0.0.1:%d", port);
	snprintf(http, sizeof(http), "127.0.0.1:%d", port);
	snprintf(rpc, sizeof(rpc), "tcp://127.0.0.1:%d", h_free_port());
	snprintf(pub, sizeof(pub), "tcp://127.0.0.1:%d", h_free_port());
	bin = h_bin("orch-manager");
	{
		char *argv[] = {bin, "--http", http, "--rpc", rpc, "--pub", pub,
		    "--data", data, "--http-tls-cert", crt, "--http-tls-key",
		    key, "--request-timeout", "1", NULL};

		mgr = h_spawn(argv, log_path);
	}
	free(bin);
	if (!h_wait_until(healthy, NULL, 15000))
		h_fail(__FILE__, __LINE__,
		    "the manager did not answer over "
		    "HTTPS");

	RUN(test_flags);
	RUN(test_curl_verifies_with_the_ca);
	RUN(test_orchctl_cacert);
	RUN(test_expect_continue_and_big_answers);
	RUN(test_keep_alive);
	RUN(test_plain_and_silent_clients);

	/* Under ASan a clean exit also means no leak on the HTTPS paths. */
	st = h_kill(mgr, SIGTERM);
	mgr = 0;
	ASSERT(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	finished = true;
	return 0;
}
