/*
 * tls_engine.c: an NNG TLS engine on mbed TLS 2.28 (see tls_engine.h).
 *
 * NNG calls the connection operations with the connection's lock held and
 * moves the bytes itself: the engine reads and writes through
 * nng_tls_engine_recv/send, which answer NNG_EAGAIN until NNG's own
 * buffers have room or data, exactly like a non-blocking socket.  One
 * mbedtls_ssl_config is shared by every connection made with it, which
 * mbed TLS allows once it is set up; NNG stops configuration changes
 * once a connection uses it.
 */
#include "tls_engine.h"

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>
#include <nng/supplemental/tls/engine.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "error.h"
#include "log.h"
#include "tls.h"

#define TLS_COMPONENT "tls"
/* A repeated handshake failure (a peer redialing with the same bad
 * certificate) is logged once per this many milliseconds. */
#define LOG_REPEAT_MS 60000
#define LOG_RECENT 8
#define LOG_MSG_MAX 512

struct nng_tls_engine_config {
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca;
	mbedtls_x509_crl crl;
	mbedtls_x509_crt own;
	mbedtls_pk_context key;
	char *server_name;
	nng_tls_mode mode;
	bool has_ca, has_crl, has_own;
};

struct nng_tls_engine_conn {
	void *tls; /* NNG's handle, for nng_tls_engine_send/recv */
	nng_tls_engine_config *cfg;
	mbedtls_ssl_context ssl;
	bool verified;
	/* The peer's certificate as verification saw it: for the log of a
	 * refusal, or the peer's name once verified. */
	bool seen;
	uint32_t flags;
	char cn[ORCH_TLS_NAME_MAX + 1];
	char issuer[160];
	char valid_to[32];
};

/* orch_tls_engine_peer() asks the engine through NNG_OPT_TLS_VERIFIED:
 * NNG answers it by calling the connection's verified() on the asking
 * thread, which leaves the name here. */
struct peer_query {
	char *cn;
	size_t len;
	bool answered;
	bool too_long;
};
static _Thread_local struct peer_query *tl_query;

/* ---- logging refusals, without flooding ---- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char msg[LOG_MSG_MAX];
	int64_t at_ms;
} log_recent[LOG_RECENT];
static unsigned log_next;

void
orch_tls_log_refusal(const char *fmt, ...)
{
	char msg[LOG_MSG_MAX];
	int64_t now = orch_mono_ms();
	bool repeat = false;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&log_mu);
	for (unsigned i = 0; i < LOG_RECENT; i++) {
		if (log_recent[i].at_ms != 0 &&
		    now - log_recent[i].at_ms < LOG_REPEAT_MS &&
		    strcmp(log_recent[i].msg, msg) == 0) {
			repeat = true;
			break;
		}
	}
	if (!repeat) {
		snprintf(log_recent[log_next].msg, LOG_MSG_MAX, "%s", msg);
		log_recent[log_next].at_ms = now;
		log_next = (log_next + 1) % LOG_RECENT;
	}
	pthread_mutex_unlock(&log_mu);
	if (repeat)
		orch_debug(TLS_COMPONENT, "%s (again)", msg);
	else
		orch_warn(TLS_COMPONENT, "%s", msg);
}

/* ---- configuration ---- */

static int
nng_err_from_mbed(int ret)
{
	switch (ret) {
	case MBEDTLS_ERR_SSL_ALLOC_FAILED:
	case MBEDTLS_ERR_X509_ALLOC_FAILED:
	case MBEDTLS_ERR_PK_ALLOC_FAILED: return NNG_ENOMEM;
	}
	return NNG_EINVAL;
}

static int
config_init(nng_tls_engine_config *cfg, nng_tls_mode mode)
{
	int ret;

	cfg->mode = mode;
	mbedtls_ssl_config_init(&cfg->conf);
	mbedtls_x509_crt_init(&cfg->ca);
	mbedtls_x509_crl_init(&cfg->crl);
	mbedtls_x509_crt_init(&cfg->own);
	mbedtls_pk_init(&cfg->key);
	ret = mbedtls_ssl_config_defaults(&cfg->conf,
	    mode == NNG_TLS_MODE_SERVER ? MBEDTLS_SSL_IS_SERVER
	                                : MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
	if (ret != 0)
		return nng_err_from_mbed(ret);
	mbedtls_ssl_conf_rng(&cfg->conf, orch_tls_random, NULL);
	/* NNG's defaults: a server asks for no certificate, a client
	 * requires the server's. */
	mbedtls_ssl_conf_authmode(&cfg->conf,
	    mode == NNG_TLS_MODE_SERVER ? MBEDTLS_SSL_VERIFY_NONE
	                                : MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_min_version(&cfg->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	return 0;
}

static void
config_fini(nng_tls_engine_config *cfg)
{
	mbedtls_ssl_config_free(&cfg->conf);
	mbedtls_x509_crt_free(&cfg->ca);
	mbedtls_x509_crl_free(&cfg->crl);
	mbedtls_x509_crt_free(&cfg->own);
	mbedtls_pk_free(&cfg->key);
	free(cfg->server_name);
}

static int
config_server(nng_tls_engine_config *cfg, const char *name)
{
	char *copy = strdup(name);

	if (copy == NULL)
		return NNG_ENOMEM;
	free(cfg->server_name);
	cfg->server_name = copy;
	return 0;
}

static int
config_auth(nng_tls_engine_config *cfg, nng_tls_auth_mode mode)
{
	switch (mode) {
	case NNG_TLS_AUTH_MODE_NONE:
		mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_NONE);
		return 0;
	case NNG_TLS_AUTH_MODE_OPTIONAL:
		mbedtls_ssl_conf_authmode(
		    &cfg->conf, MBEDTLS_SSL_VERIFY_OPTIONAL);
		return 0;
	case NNG_TLS_AUTH_MODE_REQUIRED:
		mbedtls_ssl_conf_authmode(
		    &cfg->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
		return 0;
	}
	return NNG_EINVAL;
}

static int
config_ca_chain(nng_tls_engine_config *cfg, const char *certs, const char *crl)
{
	int ret;

	/* PEM input is parsed with its terminating NUL. */
	if ((ret = mbedtls_x509_crt_parse(
	         &cfg->ca, (const uint8_t *)certs, strlen(certs) + 1)) != 0)
		return nng_err_from_mbed(ret);
	cfg->has_ca = true;
	if (crl != NULL) {
		if ((ret = mbedtls_x509_crl_parse(&cfg->crl,
		         (const uint8_t *)crl, strlen(crl) + 1)) != 0)
			return nng_err_from_mbed(ret);
		cfg->has_crl = true;
	}
	mbedtls_ssl_conf_ca_chain(
	    &cfg->conf, &cfg->ca, cfg->has_crl ? &cfg->crl : NULL);
	return 0;
}

static int
config_own_cert(nng_tls_engine_config *cfg, const char *cert, const char *key,
    const char *pass)
{
	int ret;

	/* One identity per configuration is all orch uses. */
	if (cfg->has_own)
		return NNG_EBUSY;
	if ((ret = mbedtls_x509_crt_parse(
	         &cfg->own, (const uint8_t *)cert, strlen(cert) + 1)) != 0 ||
	    (ret = mbedtls_pk_parse_key(&cfg->key, (const uint8_t *)key,
	         strlen(key) + 1, (const uint8_t *)pass,
	         pass != NULL ? strlen(pass) : 0)) != 0)
		return nng_err_from_mbed(ret);
	if (mbedtls_pk_check_pair(&cfg->own.pk, &cfg->key) != 0)
		return NNG_EINVAL;
	if ((ret = mbedtls_ssl_conf_own_cert(
	         &cfg->conf, &cfg->own, &cfg->key)) != 0)
		return nng_err_from_mbed(ret);
	cfg->has_own = true;
	return 0;
}

static int
minor_version(nng_tls_version v)
{
	switch (v) {
	case NNG_TLS_1_0: return MBEDTLS_SSL_MINOR_VERSION_1;
	case NNG_TLS_1_1: return MBEDTLS_SSL_MINOR_VERSION_2;
	case NNG_TLS_1_2: return MBEDTLS_SSL_MINOR_VERSION_3;
	case NNG_TLS_1_3: return MBEDTLS_SSL_MINOR_VERSION_3 + 1;
	}
	return -1;
}

/* mbed TLS 2.28 speaks up to TLS 1.2: a range above it is unsupported,
 * one reaching above it is clamped. */
static int
config_version(
    nng_tls_engine_config *cfg, nng_tls_version min, nng_tls_version max)
{
	int lo = minor_version(min), hi = minor_version(max);

	if (lo < 0 || hi < 0 || lo > hi)
		return NNG_EINVAL;
	if (lo > MBEDTLS_SSL_MINOR_VERSION_3)
		return NNG_ENOTSUP;
	if (hi > MBEDTLS_SSL_MINOR_VERSION_3)
		hi = MBEDTLS_SSL_MINOR_VERSION_3;
	mbedtls_ssl_conf_min_version(
	    &cfg->conf, MBEDTLS_SSL_MAJOR_VERSION_3, lo);
	mbedtls_ssl_conf_max_version(
	    &cfg->conf, MBEDTLS_SSL_MAJOR_VERSION_3, hi);
	return 0;
}

/* ---- connections ---- */

static int
net_send(void *arg, const unsigned char *buf, size_t len)
{
	nng_tls_engine_conn *conn = arg;
	size_t sz = len;
	int rv = nng_tls_engine_send(conn->tls, buf, &sz);

	if (rv == 0)
		return (int)sz;
	if (rv == NNG_EAGAIN)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	return rv == NNG_ECLOSED ? MBEDTLS_ERR_NET_CONN_RESET
	                         : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int
net_recv(void *arg, unsigned char *buf, size_t len)
{
	nng_tls_engine_conn *conn = arg;
	size_t sz = len;
	int rv = nng_tls_engine_recv(conn->tls, buf, &sz);

	if (rv == 0)
		return (int)sz;
	if (rv == NNG_EAGAIN)
		return MBEDTLS_ERR_SSL_WANT_READ;
	return rv == NNG_ECLOSED ? MBEDTLS_ERR_NET_CONN_RESET
	                         : MBEDTLS_ERR_NET_RECV_FAILED;
}

/* Called by mbed TLS for each certificate of the peer's chain: notes the
 * peer's own (depth 0) and every problem found, changing nothing. */
static int
verify_note(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	nng_tls_engine_conn *conn = arg;

	conn->flags |= *flags;
	if (depth != 0)
		return 0;
	conn->seen = true;
	orch_tls_crt_cn(crt, conn->cn, sizeof(conn->cn));
	if (mbedtls_x509_dn_gets(
	        conn->issuer, sizeof(conn->issuer), &crt->issuer) < 0)
		conn->issuer[0] = '\0';
	snprintf(conn->valid_to, sizeof(conn->valid_to),
	    "%04d-%02d-%02d %02d:%02d:%02d UTC", crt->valid_to.year,
	    crt->valid_to.mon, crt->valid_to.day, crt->valid_to.hour,
	    crt->valid_to.min, crt->valid_to.sec);
	return 0;
}

static int
conn_init(nng_tls_engine_conn *conn, void *tls, nng_tls_engine_config *cfg)
{
	int ret;

	conn->tls = tls;
	conn->cfg = cfg;
	mbedtls_ssl_init(&conn->ssl);
	if ((ret = mbedtls_ssl_setup(&conn->ssl, &cfg->conf)) != 0)
		return nng_err_from_mbed(ret);
	mbedtls_ssl_set_bio(&conn->ssl, conn, net_send, net_recv, NULL);
	mbedtls_ssl_set_verify(&conn->ssl, verify_note, conn);
	if (cfg->server_name != NULL &&
	    (ret = mbedtls_ssl_set_hostname(&conn->ssl, cfg->server_name)) != 0)
		return nng_err_from_mbed(ret);
	return 0;
}

static void
conn_fini(nng_tls_engine_conn *conn)
{
	mbedtls_ssl_free(&conn->ssl);
}

static void
conn_close(nng_tls_engine_conn *conn)
{
	(void)mbedtls_ssl_close_notify(&conn->ssl);
}

/* Logs why a handshake failed, as precisely as mbed TLS says. */
static void
handshake_failed(nng_tls_engine_conn *conn, int ret)
{
	bool server = conn->cfg->mode == NNG_TLS_MODE_SERVER;
	const char *peer = server ? "a client" : "the server";
	uint32_t flags;
	char why[256], what[320];

	switch (ret) {
	case MBEDTLS_ERR_NET_CONN_RESET:
	case MBEDTLS_ERR_SSL_CONN_EOF:
	case MBEDTLS_ERR_NET_SEND_FAILED:
	case MBEDTLS_ERR_NET_RECV_FAILED:
		/* A probe, or a peer going away: nothing was refused. */
		orch_debug(TLS_COMPONENT,
		    "the connection with %s closed during the TLS handshake",
		    peer);
		return;
	case MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE:
		orch_tls_log_refusal(
		    "refused a TLS client that sent no certificate: "
		    "give it one with orch-manager certs issue");
		return;
	case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
		flags = conn->flags | mbedtls_ssl_get_verify_result(&conn->ssl);
		orch_tls_verify_reason(flags, NULL, why, sizeof(why));
		if (conn->seen)
			snprintf(what, sizeof(what),
			    "the certificate \"%s\" (issuer \"%.60s\", valid "
			    "to %s)",
			    conn->cn, conn->issuer, conn->valid_to);
		else
			snprintf(what, sizeof(what), "the certificate");
		orch_tls_log_refusal("refused %s of %s: %s", what, peer, why);
		return;
	case MBEDTLS_ERR_SSL_INVALID_RECORD:
	case MBEDTLS_ERR_SSL_BAD_HS_CLIENT_HELLO:
	case MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION:
		orch_tls_log_refusal(
		    "TLS handshake with %s failed: it does not speak "
		    "TLS 1.2 (a %s without TLS?)",
		    peer, server ? "client" : "server");
		return;
	}
	mbedtls_strerror(ret, why, sizeof(why));
	orch_tls_log_refusal("TLS handshake with %s failed: %s", peer, why);
}

static int
conn_handshake(nng_tls_engine_conn *conn)
{
	const mbedtls_x509_crt *peer;
	int ret = mbedtls_ssl_handshake(&conn->ssl);

	if (ret == MBEDTLS_ERR_SSL_WANT_READ ||
	    ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		return NNG_EAGAIN;
	if (ret != 0) {
		handshake_failed(conn, ret);
		return ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED ||
		        ret == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE
		    ? NNG_EPEERAUTH
		    : NNG_ECRYPTO;
	}
	peer = mbedtls_ssl_get_peer_cert(&conn->ssl);
	conn->verified =
	    peer != NULL && mbedtls_ssl_get_verify_result(&conn->ssl) == 0;
	if (peer != NULL)
		orch_tls_crt_cn(peer, conn->cn, sizeof(conn->cn));
	else
		conn->cn[0] = '\0';
	return 0;
}

static int
io_result(int ret)
{
	switch (ret) {
	case MBEDTLS_ERR_SSL_WANT_READ:
	case MBEDTLS_ERR_SSL_WANT_WRITE: return NNG_EAGAIN;
	case 0:
	case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
	case MBEDTLS_ERR_NET_CONN_RESET: return NNG_ECLOSED;
	}
	return NNG_ECRYPTO;
}

static int
conn_recv(nng_tls_engine_conn *conn, uint8_t *buf, size_t *szp)
{
	int ret = mbedtls_ssl_read(&conn->ssl, buf, *szp);

	if (ret > 0) {
		*szp = (size_t)ret;
		return 0;
	}
	return io_result(ret);
}

static int
conn_send(nng_tls_engine_conn *conn, const uint8_t *buf, size_t *szp)
{
	int ret = mbedtls_ssl_write(&conn->ssl, buf, *szp);

	if (ret > 0) {
		*szp = (size_t)ret;
		return 0;
	}
	return io_result(ret);
}

static bool
conn_verified(nng_tls_engine_conn *conn)
{
	struct peer_query *q = tl_query;

	if (q != NULL) {
		const char *cn = conn->verified ? conn->cn : "";

		/* A name cut short would be another name. */
		if (strlen(cn) < q->len)
			memcpy(q->cn, cn, strlen(cn) + 1);
		else
			q->too_long = true;
		q->answered = true;
	}
	return conn->verified;
}

static nng_tls_engine_config_ops config_ops = {
    .size = sizeof(nng_tls_engine_config),
    .init = config_init,
    .fini = config_fini,
    .server = config_server,
    .auth = config_auth,
    .ca_chain = config_ca_chain,
    .own_cert = config_own_cert,
    .version = config_version,
};

static nng_tls_engine_conn_ops conn_ops = {
    .size = sizeof(nng_tls_engine_conn),
    .init = conn_init,
    .fini = conn_fini,
    .close = conn_close,
    .handshake = conn_handshake,
    .recv = conn_recv,
    .send = conn_send,
    .verified = conn_verified,
};

static const nng_tls_engine engine = {
    .version = NNG_TLS_ENGINE_VERSION,
    .config_ops = &config_ops,
    .conn_ops = &conn_ops,
    .name = "orch-mbedtls",
    .description = MBEDTLS_VERSION_STRING_FULL " (orch's engine)",
    .fips_mode = false,
};

static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int install_rc = ORCH_EUNAVAIL;

static void
install(void)
{
	/* NNG registers its built-in engine when it initializes itself,
	 * which asking for the engine's name makes it do: ours must come
	 * after, or it would be replaced. */
	(void)nng_tls_engine_name();
	if (nng_tls_engine_register(&engine) == 0)
		install_rc = ORCH_OK;
	else
		orch_error(TLS_COMPONENT,
		    "this NNG library has no TLS support "
		    "(nng_tls_engine_register failed)");
}

int
orch_tls_engine_install(void)
{
	pthread_once(&install_once, install);
	return install_rc;
}

int
orch_tls_engine_peer(nng_pipe p, char *cn, size_t len)
{
	struct peer_query q = {.cn = cn, .len = len};
	bool verified = false;
	int rv;

	cn[0] = '\0';
	tl_query = &q;
	rv = nng_pipe_get_bool(p, NNG_OPT_TLS_VERIFIED, &verified);
	tl_query = NULL;
	if (rv == NNG_ENOTSUP)
		return ORCH_ENOENT;
	if (rv != 0)
		return ORCH_ECLOSED;
	if (q.too_long)
		return ORCH_ETOOBIG;
	/* Not answered: the pipe's engine is not this one (cannot happen
	 * once installed), so nothing is known of its peer. */
	if (!q.answered || !verified || cn[0] == '\0')
		return ORCH_ENOENT;
	return ORCH_OK;
}
