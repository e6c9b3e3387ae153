/*
 * test_tls.c: TLS over NNG (tls.c, tls_engine.c) in one process: URLs,
 * loading certificate directories, and real handshakes on loopback
 * between a REP socket with the manager's configuration and REQ sockets
 * with nodes' ones, good and bad, with what the engine logs about them.
 */
#include <fcntl.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "certs.h"
#include "error.h"
#include "harness.h"
#include "tls.h"
#include "tls_engine.h"

static char *dir;   /* the cluster */
static char *other; /* another cluster */
static char *log_path;
static int saved_stderr = -1;

/* ---- what the engine logs ---- */

static void
log_capture(void)
{
	int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ASSERT(fd >= 0);
	fflush(stderr);
	saved_stderr = dup(2);
	ASSERT(dup2(fd, 2) == 2);
	close(fd);
}

/* Stops capturing; returns what was logged (malloc'd). */
static char *
log_release(void)
{
	fflush(stderr);
	ASSERT(dup2(saved_stderr, 2) == 2);
	close(saved_stderr);
	return h_read_file(log_path);
}

struct log_want {
	const char *s1, *s2;
};

static bool
log_has(void *arg)
{
	const struct log_want *w = arg;
	char *log = h_read_file(log_path);
	bool ok = log != NULL && strstr(log, w->s1) != NULL &&
	    (w->s2 == NULL || strstr(log, w->s2) != NULL);

	free(log);
	return ok;
}

/* NNG's threads log on their own time (a refused handshake, a pipe
 * joining): waits until the capture holds s1 and s2 (may be NULL), then
 * stops capturing and returns the log (malloc'd). */
static char *
log_wait_release(const char *s1, const char *s2)
{
	struct log_want w = {s1, s2};
	bool ok = h_wait_until(log_has, &w, 10000);
	char *log = log_release();

	if (!ok)
		h_fail(__FILE__, __LINE__, "no \"%s\" and \"%s\" in: %s", s1,
		    s2 != NULL ? s2 : "", log != NULL ? log : "");
	return log;
}

/* Puts the CA of cluster d into folder f, in place of its own. */
static void
ca_copy(const char *d, const char *f)
{
	char path[1100], *pem;
	FILE *out;

	snprintf(path, sizeof(path), "%s/ca.crt", d);
	ASSERT((pem = h_read_file(path)) != NULL);
	snprintf(path, sizeof(path), "%s/ca.crt", f);
	ASSERT((out = fopen(path, "w")) != NULL);
	ASSERT(fputs(pem, out) >= 0);
	ASSERT(fclose(out) == 0);
	free(pem);
}

/* ---- URLs ---- */

static void
test_url_scheme(void)
{
	static const struct {
		const char *url;
		bool tls;
		int rc;
		const char *want; /* the URL, or a part of the error */
	} cases[] = {
	    {"tcp://127.0.0.1:3001", true, ORCH_OK, "tls+tcp://127.0.0.1:3001"},
	    {"tcp6://[::1]:3001", true, ORCH_OK, "tls+tcp6://[::1]:3001"},
	    {"tls+tcp://h:1", true, ORCH_OK, "tls+tcp://h:1"},
	    {"tcp://h:1", false, ORCH_OK, "tcp://h:1"},
	    {"ipc:///tmp/x", false, ORCH_OK, "ipc:///tmp/x"},
	    {"ipc:///tmp/x", true, ORCH_EINVAL,
	        "--pub ipc:///tmp/x: with --tls-dir the URL must be tcp:// or "
	        "tls+tcp://"},
	    {"tls+tcp://h:1", false, ORCH_EINVAL, "needs --tls-dir"},
	    {"tls+ws://h:1/x", true, ORCH_EINVAL, "tcp:// or tls+tcp://"},
	};
	char out[128], err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ASSERT_INT_EQ(orch_tls_url("--pub", cases[i].url, cases[i].tls,
		                  out, sizeof(out), err, sizeof(err)),
		    cases[i].rc);
		if (cases[i].rc == ORCH_OK)
			ASSERT_STR_EQ(out, cases[i].want);
		else
			ASSERT_STR_CONTAINS(err, cases[i].want);
	}
	ASSERT_INT_EQ(orch_tls_url("--rpc", "tcp://127.0.0.1:3001", true, out,
	                  10, err, sizeof(err)),
	    ORCH_ETOOBIG);
}

/* ---- configurations ---- */

static void
test_server_config_errors(void)
{
	struct orch_certs_opts o = {0};
	char *d = h_tmpdir("tls-empty"), err[1024];
	nng_tls_config *cfg = NULL;
	time_t now = time(NULL);

	ASSERT_INT_EQ(
	    orch_tls_server_config(d, &cfg, err, sizeof(err)), ORCH_ENOENT);
	ASSERT(cfg == NULL);
	ASSERT_STR_CONTAINS(err, "ca.crt");
	ASSERT_STR_CONTAINS(err, "certs init --dir");

	/* A manager certificate that expired refuses to serve. */
	o.not_before = now - 3 * 86400;
	o.not_after = now - 2 * 86400;
	ASSERT_INT_EQ(orch_certs_init(d, &o, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_tls_server_config(d, &cfg, err, sizeof(err)), ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "manager.crt cannot serve TLS");
	ASSERT_STR_CONTAINS(err, "it expired on");
	h_rm_rf(d);
	free(d);

	ASSERT_INT_EQ(
	    orch_tls_server_config(dir, &cfg, err, sizeof(err)), ORCH_OK);
	nng_tls_config_free(cfg);
}

static void
test_client_config_errors(void)
{
	char folder[1024], err[1024];
	nng_tls_config *cfg = NULL;

	snprintf(folder, sizeof(folder), "%s/nodes/n1", dir);
	ASSERT_INT_EQ(orch_tls_client_config(folder, "n9",
	                  "tls+tcp://127.0.0.1:1", &cfg, err, sizeof(err)),
	    ORCH_ENOENT);
	ASSERT_STR_CONTAINS(err, "n9.crt");
	ASSERT_STR_CONTAINS(err, "certs issue --dir DIR --name n9");
	ASSERT_INT_EQ(orch_tls_client_config(
	                  folder, "n1", "tls+tcp://:1", &cfg, err, sizeof(err)),
	    ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "host name");
	ASSERT_INT_EQ(orch_tls_client_config(folder, "n1",
	                  "tls+tcp://127.0.0.1:1", &cfg, err, sizeof(err)),
	    ORCH_OK);
	nng_tls_config_free(cfg);
}

/* ---- handshakes ---- */

static atomic_int pipes_added;

static void
count_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	(void)ev;
	(void)arg;
	atomic_fetch_add(&pipes_added, 1);
}

struct server {
	nng_socket rep;
	char url[64];
};

static void
server_start(struct server *s, bool tls)
{
	nng_tls_config *cfg = NULL;
	char err[1024];

	snprintf(s->url, sizeof(s->url), "%s://127.0.0.1:%d",
	    tls ? "tls+tcp" : "tcp", h_free_port());
	if (tls)
		ASSERT_INT_EQ(
		    orch_tls_server_config(dir, &cfg, err, sizeof(err)),
		    ORCH_OK);
	ASSERT(nng_rep0_open(&s->rep) == 0);
	ASSERT(nng_socket_set_ms(s->rep, NNG_OPT_RECVTIMEO, 10000) == 0);
	ASSERT_INT_EQ(
	    orch_tls_listen(s->rep, s->url, cfg, "test", err, sizeof(err)),
	    ORCH_OK);
	/* After orch_tls_listen, which registers its own ADD_POST. */
	ASSERT(nng_pipe_notify(s->rep, NNG_PIPE_EV_ADD_PRE, count_pipe, NULL) ==
	    0);
	if (cfg != NULL)
		nng_tls_config_free(cfg);
}

/* Dials s (or url) synchronously with the identity name of folder d
 * (NULL: no TLS), verifying the server as the host of cfg_url (NULL: the
 * URL dialed), so that a refused handshake is the dial's error.  Returns
 * the dial's NNG result; *req (OUT) is the socket when it is 0. */
static int
client_dial(const struct server *s, const char *d, const char *name,
    const char *url, const char *cfg_url, nng_socket *req)
{
	nng_tls_config *cfg = NULL;
	nng_dialer dl;
	char err[1024];
	int rv;

	ASSERT(nng_req0_open(req) == 0);
	ASSERT(nng_socket_set_ms(*req, NNG_OPT_RECVTIMEO, 10000) == 0);
	if (d != NULL)
		ASSERT_INT_EQ(orch_tls_client_config(d, name,
		                  cfg_url != NULL   ? cfg_url
		                      : url != NULL ? url
		                                    : s->url,
		                  &cfg, err, sizeof(err)),
		    ORCH_OK);
	ASSERT(nng_dialer_create(&dl, *req, url != NULL ? url : s->url) == 0);
	if (cfg != NULL) {
		ASSERT(nng_dialer_set_ptr(dl, NNG_OPT_TLS_CONFIG, cfg) == 0);
		nng_tls_config_free(cfg);
	}
	rv = nng_dialer_start(dl, 0);
	if (rv != 0)
		nng_close(*req);
	return rv;
}

/* Sends one message from req to s; returns the server's view of its
 * sender's name, as orch_tls_engine_peer() with a buffer of len bytes. */
static int
ping_peer(struct server *s, nng_socket req, char *cn, size_t len)
{
	nng_msg *msg;
	int rc;

	ASSERT(nng_send(req, "hi", 2, 0) == 0);
	ASSERT(nng_recvmsg(s->rep, &msg, 0) == 0);
	rc = orch_tls_engine_peer(nng_msg_get_pipe(msg), cn, len);
	nng_msg_free(msg);
	return rc;
}

static void
test_peer_name_of_a_verified_client(void)
{
	struct server s;
	nng_socket req;
	char folder[1024], cn[ORCH_TLS_NAME_MAX + 1], *log;

	snprintf(folder, sizeof(folder), "%s/nodes/n1", dir);
	server_start(&s, true);
	log_capture();
	ASSERT_INT_EQ(client_dial(&s, folder, "n1", NULL, NULL, &req), 0);
	ASSERT_INT_EQ(ping_peer(&s, req, cn, sizeof(cn)), ORCH_OK);
	ASSERT_STR_EQ(cn, "n1");
	/* Its arrival is logged with its address and name. */
	log = log_wait_release(
	    "test: 127.0.0.1:", "connected with the certificate \"n1\"");
	free(log);
	/* Too small a buffer gets no name rather than a cut one. */
	ASSERT_INT_EQ(ping_peer(&s, req, cn, 2), ORCH_ETOOBIG);
	ASSERT_STR_EQ(cn, "");
	nng_close(req);
	nng_close(s.rep);
}

/* As proto/README.md shows integrators: NNG's own calls, with the
 * certificate and key of `certs issue` in one file. */
static void
test_integrator_with_nngs_own_calls(void)
{
	struct server s;
	nng_tls_config *cfg;
	nng_socket req;
	nng_dialer dl;
	char path[1100], pem_path[1100], cn[ORCH_TLS_NAME_MAX + 1];
	char *crt, *key;
	FILE *f;

	snprintf(path, sizeof(path), "%s/nodes/n1/n1.crt", dir);
	ASSERT((crt = h_read_file(path)) != NULL);
	snprintf(path, sizeof(path), "%s/nodes/n1/n1.key", dir);
	ASSERT((key = h_read_file(path)) != NULL);
	snprintf(pem_path, sizeof(pem_path), "%s/nodes/n1/n1.pem", dir);
	ASSERT((f = fopen(pem_path, "w")) != NULL);
	ASSERT(fputs(crt, f) >= 0 && fputs(key, f) >= 0 && fclose(f) == 0);
	free(crt);
	free(key);

	server_start(&s, true);
	snprintf(path, sizeof(path), "%s/nodes/n1/ca.crt", dir);
	ASSERT(nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT) == 0);
	ASSERT(nng_tls_config_ca_file(cfg, path) == 0);
	ASSERT(nng_tls_config_cert_key_file(cfg, pem_path, NULL) == 0);
	ASSERT(nng_tls_config_server_name(cfg, "127.0.0.1") == 0);
	ASSERT(nng_req0_open(&req) == 0);
	ASSERT(nng_dialer_create(&dl, req, s.url) == 0);
	ASSERT(nng_dialer_set_ptr(dl, NNG_OPT_TLS_CONFIG, cfg) == 0);
	nng_tls_config_free(cfg);
	ASSERT_INT_EQ(nng_dialer_start(dl, 0), 0);
	ASSERT_INT_EQ(ping_peer(&s, req, cn, sizeof(cn)), ORCH_OK);
	ASSERT_STR_EQ(cn, "n1");
	nng_close(req);
	nng_close(s.rep);
}

static void
test_plain_pipe_has_no_peer_name(void)
{
	struct server s;
	nng_socket req;
	char cn[ORCH_TLS_NAME_MAX + 1];

	server_start(&s, false);
	ASSERT_INT_EQ(client_dial(&s, NULL, NULL, NULL, NULL, &req), 0);
	ASSERT_INT_EQ(ping_peer(&s, req, cn, sizeof(cn)), ORCH_ENOENT);
	ASSERT_STR_EQ(cn, "");
	nng_close(req);
	nng_close(s.rep);
}

/* A client the server must refuse: the dial fails, no pipe reaches the
 * socket, and the server logs want and want2. */
static void
refused(const char *d, const char *name, const char *want, const char *want2)
{
	struct server s;
	nng_socket req;
	char *log;
	int rv;

	atomic_store(&pipes_added, 0);
	server_start(&s, true);
	log_capture();
	rv = client_dial(&s, d, name, NULL, NULL, &req);
	log = log_wait_release(want, want2);
	if (rv == 0)
		h_fail(__FILE__, __LINE__, "%s/%s.crt was let in", d, name);
	ASSERT_INT_EQ(atomic_load(&pipes_added), 0);
	free(log);
	nng_close(s.rep);
}

static void
test_refused_clients(void)
{
	struct orch_certs_opts old = {0};
	char folder[1024], err[512];
	time_t now = time(NULL);

	/* From another cluster's CA, though it trusts our manager. */
	snprintf(folder, sizeof(folder), "%s/nodes/n1", other);
	ca_copy(dir, folder);
	refused(folder, "n1",
	    "refused the certificate \"n1\" (issuer \"CN=orch CA ",
	    "of a client: it is not signed by this cluster's CA");

	/* Expired. */
	old.not_before = now - 8 * 86400;
	old.not_after = now - 7 * 86400;
	ASSERT_INT_EQ(
	    orch_certs_issue(dir, "old", &old, err, sizeof(err)), ORCH_OK);
	snprintf(folder, sizeof(folder), "%s/nodes/old", dir);
	refused(folder, "old",
	    "refused the certificate \"old\" (issuer \"CN=orch CA ",
	    "of a client: it expired");
}

static void
test_refused_without_certificate_or_tls(void)
{
	struct server s;
	nng_socket req;
	nng_tls_config *cfg;
	nng_dialer dl;
	char path[1024], *log;
	int rv;

	/* TLS, trusting the manager, but with no certificate of its own. */
	atomic_store(&pipes_added, 0);
	server_start(&s, true);
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	ASSERT(nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT) == 0);
	ASSERT(nng_tls_config_ca_file(cfg, path) == 0);
	ASSERT(nng_tls_config_server_name(cfg, "127.0.0.1") == 0);
	ASSERT(nng_req0_open(&req) == 0);
	ASSERT(nng_dialer_create(&dl, req, s.url) == 0);
	ASSERT(nng_dialer_set_ptr(dl, NNG_OPT_TLS_CONFIG, cfg) == 0);
	nng_tls_config_free(cfg);
	log_capture();
	rv = nng_dialer_start(dl, 0);
	log = log_wait_release(
	    "refused a TLS client that sent no certificate", NULL);
	ASSERT(rv != 0);
	ASSERT_INT_EQ(atomic_load(&pipes_added), 0);
	free(log);
	nng_close(req);

	/* Plain TCP to the TLS port. */
	snprintf(path, sizeof(path), "tcp://%s", s.url + strlen("tls+tcp://"));
	log_capture();
	rv = client_dial(&s, NULL, NULL, path, NULL, &req);
	log = log_wait_release("does not speak TLS", NULL);
	ASSERT(rv != 0);
	ASSERT_INT_EQ(atomic_load(&pipes_added), 0);
	free(log);
	nng_close(s.rep);
}

static void
test_client_refuses_a_wrong_server(void)
{
	struct server s;
	nng_socket req;
	char folder[1024], url[128], *log;
	int rv;

	/* Trusting only another cluster's CA. */
	server_start(&s, true);
	snprintf(folder, sizeof(folder), "%s/nodes/n2", other);
	log_capture();
	rv = client_dial(&s, folder, "n2", NULL, NULL, &req);
	log = log_wait_release(
	    "of the server: it is not signed by this cluster's CA", NULL);
	ASSERT_INT_EQ(rv, NNG_EPEERAUTH);
	free(log);

	/* Known by a name its certificate does not carry (it was made for
	 * 127.0.0.1 only). */
	snprintf(folder, sizeof(folder), "%s/nodes/n1", dir);
	snprintf(url, sizeof(url), "tls+tcp://mgr.example:%s",
	    strrchr(s.url, ':') + 1);
	log_capture();
	rv = client_dial(&s, folder, "n1", NULL, url, &req);
	log = log_wait_release("it is not for the host name dialed", NULL);
	ASSERT_INT_EQ(rv, NNG_EPEERAUTH);
	free(log);
	nng_close(s.rep);
}

int
main(void)
{
	struct orch_certs_opts o = {0};
	const char *hosts[] = {"127.0.0.1"};
	struct orch_certs_opts h = {.hosts = hosts, .n_hosts = 1};
	char err[512];

	dir = h_tmpdir("tls");
	other = h_tmpdir("tls-other");
	log_path = h_tmpdir("tls-log");
	h_rm_rf(log_path);
	ASSERT_INT_EQ(orch_certs_init(dir, &h, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_certs_issue(dir, "n1", &o, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(orch_certs_init(other, &o, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_certs_issue(other, "n1", &o, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_certs_issue(other, "n2", &o, err, sizeof(err)), ORCH_OK);

	RUN(test_url_scheme);
	RUN(test_server_config_errors);
	RUN(test_client_config_errors);
	RUN(test_peer_name_of_a_verified_client);
	RUN(test_integrator_with_nngs_own_calls);
	RUN(test_plain_pipe_has_no_peer_name);
	RUN(test_refused_clients);
	RUN(test_refused_without_certificate_or_tls);
	RUN(test_client_refuses_a_wrong_server);

	unlink(log_path);
	h_rm_rf(dir);
	h_rm_rf(other);
	free(dir);
	free(other);
	free(log_path);
	return 0;
}
