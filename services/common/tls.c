/*
 * tls.c: mutual TLS between the manager and its agents (see tls.h).
 */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/oid.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "log.h"
#include "rpc_client.h"
#include "tls_engine.h"

#define TLS_COMPONENT "tls"

/* ---- randomness ---- */

static pthread_once_t rng_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t rng_mu = PTHREAD_MUTEX_INITIALIZER;
static mbedtls_entropy_context rng_entropy;
static mbedtls_ctr_drbg_context rng_drbg;
static int rng_seed_ret;

static void
rng_seed(void)
{
	static const char pers[] = "orch";

	mbedtls_entropy_init(&rng_entropy);
	mbedtls_ctr_drbg_init(&rng_drbg);
	rng_seed_ret = mbedtls_ctr_drbg_seed(&rng_drbg, mbedtls_entropy_func,
	    &rng_entropy, (const unsigned char *)pers, sizeof(pers) - 1);
}

int
orch_tls_random(void *p, unsigned char *buf, size_t len)
{
	int ret;

	(void)p;
	pthread_once(&rng_once, rng_seed);
	if (rng_seed_ret != 0)
		return rng_seed_ret;
	pthread_mutex_lock(&rng_mu);
	ret = mbedtls_ctr_drbg_random(&rng_drbg, buf, len);
	pthread_mutex_unlock(&rng_mu);
	return ret;
}

/* ---- files ---- */

int
orch_tls_pem_read(const char *path, char **out, char *err, size_t errlen)
{
	struct stat st;
	char why[256];
	size_t len;
	int rc;

	if ((rc = orch_buf_file_read(path, ORCH_TLS_PEM_MAX, out, &len, &st,
	         why, sizeof(why))) != ORCH_OK)
		snprintf(err, errlen, "cannot read %s: %s", path, why);
	return rc;
}

/* Reads path and parses it as certificates into crt. */
static int
crt_load(const char *path, mbedtls_x509_crt *crt, char **pem, char *err,
    size_t errlen)
{
	int rc;

	if ((rc = orch_tls_pem_read(path, pem, err, errlen)) != ORCH_OK)
		return rc;
	if (mbedtls_x509_crt_parse(
	        crt, (const unsigned char *)*pem, strlen(*pem) + 1) != 0) {
		snprintf(err, errlen, "%s holds no PEM certificate", path);
		return ORCH_EINVAL;
	}
	return ORCH_OK;
}

/* A private key anyone else can read is no longer private: said once. */
static void
key_mode_check(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && (st.st_mode & 077) != 0)
		orch_warn(TLS_COMPONENT,
		    "%s can be read by other users (mode %03o): "
		    "chmod 600 it",
		    path, (unsigned)(st.st_mode & 0777));
}

/* ---- certificates, for people ---- */

void
orch_tls_crt_cn(const mbedtls_x509_crt *crt, char *out, size_t len)
{
	out[0] = '\0';
	for (const mbedtls_x509_name *n = &crt->subject; n != NULL;
	     n = n->next) {
		if (n->oid.p == NULL ||
		    MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) != 0)
			continue;
		if (n->val.len >= len)
			return;
		for (size_t i = 0; i < n->val.len; i++) {
			if (n->val.p[i] < 0x20 || n->val.p[i] >= 0x7f)
				return;
		}
		memcpy(out, n->val.p, n->val.len);
		out[n->val.len] = '\0';
		return;
	}
}

void
orch_tls_verify_reason(
    uint32_t flags, const mbedtls_x509_crt *crt, char *out, size_t len)
{
	static const struct {
		uint32_t flag;
		const char *why;
	} reasons[] = {
	    {MBEDTLS_X509_BADCERT_MISSING, "there is no certificate"},
	    {MBEDTLS_X509_BADCERT_EXPIRED, "it expired"},
	    {MBEDTLS_X509_BADCERT_FUTURE, "it is not valid yet"},
	    {MBEDTLS_X509_BADCERT_NOT_TRUSTED,
	        "it is not signed by this cluster's CA"},
	    {MBEDTLS_X509_BADCERT_REVOKED, "it is revoked"},
	    {MBEDTLS_X509_BADCERT_CN_MISMATCH,
	        "it is not for the host name dialed (see certs init "
	        "--host)"},
	    {MBEDTLS_X509_BADCERT_KEY_USAGE |
	            MBEDTLS_X509_BADCERT_EXT_KEY_USAGE |
	            MBEDTLS_X509_BADCERT_NS_CERT_TYPE,
	        "it is not meant for this use (a node's certificate used as "
	        "the manager's, or the reverse)"},
	    {MBEDTLS_X509_BADCERT_BAD_MD | MBEDTLS_X509_BADCERT_BAD_PK |
	            MBEDTLS_X509_BADCERT_BAD_KEY,
	        "its key or signature algorithm is refused"},
	};
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		if (!(flags & reasons[i].flag))
			continue;
		flags &= ~reasons[i].flag;
		if (n < len)
			n += (size_t)snprintf(out + n, len - n, "%s%s",
			    n > 0 ? "; " : "", reasons[i].why);
		if (reasons[i].flag == MBEDTLS_X509_BADCERT_EXPIRED &&
		    crt != NULL && n < len)
			n += (size_t)snprintf(out + n, len - n,
			    " on %04d-%02d-%02d %02d:%02d:%02d UTC",
			    crt->valid_to.year, crt->valid_to.mon,
			    crt->valid_to.day, crt->valid_to.hour,
			    crt->valid_to.min, crt->valid_to.sec);
	}
	if (flags != 0 && n < len)
		snprintf(out + n, len - n, "%sverification flags 0x%x",
		    n > 0 ? "; " : "", (unsigned)flags);
}

/* ---- configurations ---- */

/* A certificate directory's CA and one identity in it, read and checked
 * against each other. */
struct identity {
	char ca_path[4096], crt_path[4096], key_path[4096];
	char *ca_pem, *crt_pem;
	mbedtls_x509_crt crt;
	uint32_t flags; /* how crt fails to verify against the CA now */
};

static void
identity_fini(struct identity *id)
{
	mbedtls_x509_crt_free(&id->crt);
	free(id->ca_pem);
	free(id->crt_pem);
}

/* Reads dir/ca.crt and dir/<name>.crt (the key is read when the
 * configuration is made).  On error err says which file and hint how to
 * make it.  identity_fini() in any case. */
static int
identity_load(const char *dir, const char *name, const char *hint,
    struct identity *id, char *err, size_t errlen)
{
	mbedtls_x509_crt ca;
	int rc;

	memset(id, 0, sizeof(*id));
	mbedtls_x509_crt_init(&id->crt);
	mbedtls_x509_crt_init(&ca);
	snprintf(id->ca_path, sizeof(id->ca_path), "%s/" ORCH_TLS_CA_FILE, dir);
	snprintf(id->crt_path, sizeof(id->crt_path), "%s/%s.crt", dir, name);
	snprintf(id->key_path, sizeof(id->key_path), "%s/%s.key", dir, name);
	if ((rc = crt_load(id->ca_path, &ca, &id->ca_pem, err, errlen)) !=
	        ORCH_OK ||
	    (rc = crt_load(id->crt_path, &id->crt, &id->crt_pem, err,
	         errlen)) != ORCH_OK) {
		size_t n = strlen(err);

		snprintf(err + n, errlen > n ? errlen - n : 0, " (%s)", hint);
		goto out;
	}
	if (mbedtls_x509_crt_verify(
	        &id->crt, &ca, NULL, NULL, &id->flags, NULL, NULL) == 0)
		id->flags = 0;
out:
	mbedtls_x509_crt_free(&ca);
	return rc;
}

/* Allocates a configuration for mode with the identity id, its key, and
 * auth mode REQUIRED.  Says which file is wrong. */
static int
config_make(nng_tls_mode mode, const struct identity *id, nng_tls_config **out,
    char *err, size_t errlen)
{
	nng_tls_config *cfg = NULL;
	char *key_pem = NULL;
	int rv, rc;

	*out = NULL;
	if ((rc = orch_tls_engine_install()) != ORCH_OK) {
		snprintf(err, errlen, "this NNG library has no TLS support");
		return rc;
	}
	if ((rc = orch_tls_pem_read(id->key_path, &key_pem, err, errlen)) !=
	    ORCH_OK)
		return rc;
	key_mode_check(id->key_path);
	if ((rv = nng_tls_config_alloc(&cfg, mode)) != 0) {
		snprintf(
		    err, errlen, "TLS configuration: %s", nng_strerror(rv));
		rc = orch_err_from_nng(rv);
		goto out;
	}
	if ((rv = nng_tls_config_ca_chain(cfg, id->ca_pem, NULL)) != 0) {
		snprintf(err, errlen, "%s: not a usable CA certificate: %s",
		    id->ca_path, nng_strerror(rv));
		rc = ORCH_EINVAL;
		goto out;
	}
	if ((rv = nng_tls_config_own_cert(cfg, id->crt_pem, key_pem, NULL)) !=
	    0) {
		snprintf(err, errlen,
		    "%s is not an unencrypted private key matching %s",
		    id->key_path, id->crt_path);
		rc = ORCH_EINVAL;
		goto out;
	}
	if ((rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) !=
	    0) {
		snprintf(
		    err, errlen, "TLS configuration: %s", nng_strerror(rv));
		rc = orch_err_from_nng(rv);
		goto out;
	}
	*out = cfg;
	cfg = NULL;
out:
	if (cfg != NULL)
		nng_tls_config_free(cfg);
	if (key_pem != NULL) {
		/* Key material does not linger in freed memory. */
		memset(key_pem, 0, strlen(key_pem));
		free(key_pem);
	}
	return rc;
}

int
orch_tls_server_config(
    const char *dir, nng_tls_config **out, char *err, size_t errlen)
{
	struct identity id;
	char hint[4200], why[256];
	int rc;

	*out = NULL;
	snprintf(hint, sizeof(hint),
	    "orch-manager certs init --dir %s makes the CA and the manager's "
	    "certificate",
	    dir);
	if ((rc = identity_load(dir, ORCH_TLS_MANAGER_NAME, hint, &id, err,
	         errlen)) != ORCH_OK)
		goto out;
	if (id.flags != 0) {
		orch_tls_verify_reason(id.flags, &id.crt, why, sizeof(why));
		snprintf(err, errlen, "%s cannot serve TLS with the CA %s: %s",
		    id.crt_path, id.ca_path, why);
		rc = ORCH_EINVAL;
		goto out;
	}
	rc = config_make(NNG_TLS_MODE_SERVER, &id, out, err, errlen);
out:
	identity_fini(&id);
	return rc;
}

int
orch_tls_client_config(const char *dir, const char *name, const char *url,
    nng_tls_config **out, char *err, size_t errlen)
{
	struct identity id;
	char hint[600], why[256], cn[ORCH_TLS_NAME_MAX + 1];
	nng_url *u = NULL;
	int rv, rc;

	*out = NULL;
	memset(&id, 0, sizeof(id));
	mbedtls_x509_crt_init(&id.crt);
	if ((rv = nng_url_parse(&u, url)) != 0 || u->u_hostname == NULL ||
	    u->u_hostname[0] == '\0') {
		snprintf(err, errlen,
		    "%s: TLS needs a URL with the manager's host name or "
		    "address",
		    url);
		rc = ORCH_EINVAL;
		goto out;
	}
	snprintf(hint, sizeof(hint),
	    "on the manager, orch-manager certs issue --dir DIR --name %.128s "
	    "makes DIR/nodes/%.128s/: copy it here",
	    name, name);
	if ((rc = identity_load(dir, name, hint, &id, err, errlen)) != ORCH_OK)
		goto out;
	/* The manager decides: these are warnings, for the person who will
	 * read why it refuses this certificate. */
	if (id.flags != 0) {
		orch_tls_verify_reason(id.flags, &id.crt, why, sizeof(why));
		orch_warn(TLS_COMPONENT, "%s: %s; the manager will refuse it",
		    id.crt_path, why);
	}
	orch_tls_crt_cn(&id.crt, cn, sizeof(cn));
	if (strcmp(cn, name) != 0)
		orch_warn(TLS_COMPONENT,
		    "%s is the certificate of \"%s\", not of \"%s\": the "
		    "manager only lets a node register under its "
		    "certificate's name",
		    id.crt_path, cn, name);
	if ((rc = config_make(NNG_TLS_MODE_CLIENT, &id, out, err, errlen)) !=
	    ORCH_OK)
		goto out;
	if ((rv = nng_tls_config_server_name(*out, u->u_hostname)) != 0) {
		snprintf(err, errlen, "TLS server name %s: %s", u->u_hostname,
		    nng_strerror(rv));
		nng_tls_config_free(*out);
		*out = NULL;
		rc = orch_err_from_nng(rv);
	}
out:
	if (u != NULL)
		nng_url_free(u);
	identity_fini(&id);
	return rc;
}

/* ---- URLs ---- */

static bool
has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

int
orch_tls_url(const char *flag, const char *url, bool tls, char *out, size_t len,
    char *err, size_t errlen)
{
	static const char *const tcp[] = {"tcp://", "tcp4://", "tcp6://"};
	int n = -1;

	if (has_prefix(url, "tls+")) {
		if (!tls) {
			snprintf(err, errlen,
			    "%s %s: a tls+tcp:// URL needs --tls-dir", flag,
			    url);
			return ORCH_EINVAL;
		}
		for (size_t i = 0; i < 3; i++) {
			if (has_prefix(url + 4, tcp[i]))
				n = snprintf(out, len, "%s", url);
		}
	} else if (!tls) {
		n = snprintf(out, len, "%s", url);
	} else {
		for (size_t i = 0; i < 3; i++) {
			if (has_prefix(url, tcp[i]))
				n = snprintf(out, len, "tls+%s", url);
		}
	}
	if (n < 0) {
		snprintf(err, errlen,
		    "%s %s: with --tls-dir the URL must be tcp:// or "
		    "tls+tcp:// (other transports carry no certificate)",
		    flag, url);
		return ORCH_EINVAL;
	}
	if ((size_t)n >= len) {
		snprintf(err, errlen, "%s %s: the URL is too long", flag, url);
		return ORCH_ETOOBIG;
	}
	return ORCH_OK;
}

/* ---- sockets ---- */

static void
addr_format(const nng_sockaddr *sa, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	switch (sa->s_family) {
	case NNG_AF_INET:
		inet_ntop(AF_INET, &sa->s_in.sa_addr, ip, sizeof(ip));
		snprintf(out, len, "%s:%u", ip, ntohs(sa->s_in.sa_port));
		return;
	case NNG_AF_INET6:
		inet_ntop(AF_INET6, sa->s_in6.sa_addr, ip, sizeof(ip));
		snprintf(out, len, "[%s]:%u", ip, ntohs(sa->s_in6.sa_port));
		return;
	}
	snprintf(out, len, "an unknown address");
}

/* Logs each TLS peer as it joins a socket: who (its certificate) and
 * from where, which the log of a refused handshake cannot say. */
static void
peer_joined(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	const char *what = arg;
	char cn[ORCH_TLS_NAME_MAX + 1], addr[80];
	nng_sockaddr sa;

	(void)ev;
	if (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) == 0)
		addr_format(&sa, addr, sizeof(addr));
	else
		snprintf(addr, sizeof(addr), "an unknown address");
	if (orch_tls_engine_peer(p, cn, sizeof(cn)) != ORCH_OK)
		snprintf(cn, sizeof(cn), "(none)");
	orch_info(TLS_COMPONENT, "%s: %s connected with the certificate \"%s\"",
	    what, addr, cn);
}

int
orch_tls_listen(nng_socket s, const char *url, nng_tls_config *cfg,
    const char *what, char *err, size_t errlen)
{
	nng_listener l = NNG_LISTENER_INITIALIZER;
	int rv;

	if (cfg == NULL)
		rv = nng_listen(s, url, NULL, 0);
	else if ((rv = nng_listener_create(&l, s, url)) == 0 &&
	    (rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg)) == 0 &&
	    (rv = nng_pipe_notify(
	         s, NNG_PIPE_EV_ADD_POST, peer_joined, (void *)what)) == 0)
		rv = nng_listener_start(l, 0);
	if (rv != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", url,
		    nng_strerror(rv));
		if (nng_listener_id(l) > 0)
			nng_listener_close(l);
		return orch_err_from_nng(rv);
	}
	return ORCH_OK;
}

int
orch_tls_dial(nng_socket s, const char *url, nng_tls_config *cfg, char *err,
    size_t errlen)
{
	nng_dialer d = NNG_DIALER_INITIALIZER;
	int rv;

	/* Non-blocking: the manager need not be up, and a dialer that
	 * loses its connection redials by itself. */
	if (cfg == NULL)
		rv = nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK);
	else if ((rv = nng_dialer_create(&d, s, url)) == 0 &&
	    (rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg)) == 0)
		rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK);
	if (rv != 0) {
		snprintf(
		    err, errlen, "cannot dial %s: %s", url, nng_strerror(rv));
		if (nng_dialer_id(d) > 0)
			nng_dialer_close(d);
		return orch_err_from_nng(rv);
	}
	return ORCH_OK;
}
