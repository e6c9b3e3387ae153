/*
 * gw_tls.c: HTTPS for the gateway (see gw_tls.h).
 */
#include "gw_tls.h"

#include <errno.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "error.h"
#include "log.h"
#include "tls.h"

struct orch_gw_tls {
	mbedtls_ssl_config conf;
	mbedtls_x509_crt crt;
	mbedtls_pk_context key;
};

struct orch_gw_tls_conn {
	mbedtls_ssl_context ssl;
	int fd;
	/* A write that returned WANT_WRITE: mbed TLS holds a record made of
	 * this many bytes and must be called again with that many. */
	size_t write_pending;
};

int
orch_gw_tls_new(const char *cert_path, const char *key_path,
    struct orch_gw_tls **out, char *err, size_t errlen)
{
	struct orch_gw_tls *t;
	char *crt_pem = NULL, *key_pem = NULL, why[256];
	uint32_t flags;
	int rc, ret;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return ORCH_ENOMEM;
	}
	mbedtls_ssl_config_init(&t->conf);
	mbedtls_x509_crt_init(&t->crt);
	mbedtls_pk_init(&t->key);
	if ((rc = orch_tls_pem_read(cert_path, &crt_pem, err, errlen)) !=
	        ORCH_OK ||
	    (rc = orch_tls_pem_read(key_path, &key_pem, err, errlen)) !=
	        ORCH_OK)
		goto out;
	rc = ORCH_EINVAL;
	if (mbedtls_x509_crt_parse(&t->crt, (const unsigned char *)crt_pem,
	        strlen(crt_pem) + 1) != 0) {
		snprintf(err, errlen, "%s holds no PEM certificate", cert_path);
		goto out;
	}
	if (mbedtls_pk_parse_key(&t->key, (const unsigned char *)key_pem,
	        strlen(key_pem) + 1, NULL, 0) != 0 ||
	    mbedtls_pk_check_pair(&t->crt.pk, &t->key) != 0) {
		snprintf(err, errlen,
		    "%s is not an unencrypted private key matching %s",
		    key_path, cert_path);
		goto out;
	}
	flags = 0;
	if (mbedtls_x509_time_is_past(&t->crt.valid_to))
		flags |= MBEDTLS_X509_BADCERT_EXPIRED;
	if (mbedtls_x509_time_is_future(&t->crt.valid_from))
		flags |= MBEDTLS_X509_BADCERT_FUTURE;
	if (flags != 0) {
		orch_tls_verify_reason(flags, &t->crt, why, sizeof(why));
		orch_warn("gateway", "%s: %s: clients will refuse it",
		    cert_path, why);
	}
	if ((ret = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_SERVER,
	         MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) !=
	        0 ||
	    (ret = mbedtls_ssl_conf_own_cert(&t->conf, &t->crt, &t->key)) !=
	        0) {
		mbedtls_strerror(ret, why, sizeof(why));
		snprintf(err, errlen, "HTTPS: %s", why);
		goto out;
	}
	mbedtls_ssl_conf_rng(&t->conf, orch_tls_random, NULL);
	mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_NONE);
	mbedtls_ssl_conf_min_version(
	    &t->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
	*out = t;
	t = NULL;
	rc = ORCH_OK;
out:
	if (key_pem != NULL) {
		memset(key_pem, 0, strlen(key_pem));
		free(key_pem);
	}
	free(crt_pem);
	orch_gw_tls_free(t);
	return rc;
}

void
orch_gw_tls_free(struct orch_gw_tls *t)
{
	if (t == NULL)
		return;
	mbedtls_ssl_config_free(&t->conf);
	mbedtls_x509_crt_free(&t->crt);
	mbedtls_pk_free(&t->key);
	free(t);
}

static int
bio_send(void *arg, const unsigned char *buf, size_t len)
{
	struct orch_gw_tls_conn *c = arg;

	for (;;) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);

		if (n >= 0)
			return (int)n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return MBEDTLS_ERR_SSL_WANT_WRITE;
		return MBEDTLS_ERR_NET_CONN_RESET;
	}
}

static int
bio_recv(void *arg, unsigned char *buf, size_t len)
{
	struct orch_gw_tls_conn *c = arg;

	for (;;) {
		ssize_t n = recv(c->fd, buf, len, 0);

		if (n >= 0)
			return (int)n; /* 0: the peer closed */
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return MBEDTLS_ERR_SSL_WANT_READ;
		return MBEDTLS_ERR_NET_CONN_RESET;
	}
}

struct orch_gw_tls_conn *
orch_gw_tls_conn_new(struct orch_gw_tls *t, int fd)
{
	struct orch_gw_tls_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->fd = fd;
	mbedtls_ssl_init(&c->ssl);
	if (mbedtls_ssl_setup(&c->ssl, &t->conf) != 0) {
		mbedtls_ssl_free(&c->ssl);
		free(c);
		return NULL;
	}
	mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
	return c;
}

void
orch_gw_tls_conn_free(struct orch_gw_tls_conn *c)
{
	if (c == NULL)
		return;
	/* Best effort: the socket is non-blocking and about to close. */
	if (c->ssl.state == MBEDTLS_SSL_HANDSHAKE_OVER)
		(void)mbedtls_ssl_close_notify(&c->ssl);
	mbedtls_ssl_free(&c->ssl);
	free(c);
}

int
orch_gw_tls_handshake(
    struct orch_gw_tls_conn *c, bool *want_write, char *err, size_t errlen)
{
	int ret = mbedtls_ssl_handshake(&c->ssl);

	*want_write = false;
	if (ret == 0)
		return ORCH_OK;
	if (ret == MBEDTLS_ERR_SSL_WANT_READ)
		return ORCH_EAGAIN;
	if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
		*want_write = true;
		return ORCH_EAGAIN;
	}
	mbedtls_strerror(ret, err, errlen);
	return ORCH_EPROTO;
}

ssize_t
orch_gw_tls_recv(struct orch_gw_tls_conn *c, void *buf, size_t len)
{
	int ret = mbedtls_ssl_read(&c->ssl, buf, len);

	if (ret >= 0)
		return ret;
	switch (ret) {
	case MBEDTLS_ERR_SSL_WANT_READ:
	case MBEDTLS_ERR_SSL_WANT_WRITE: errno = EAGAIN; return -1;
	case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
	case MBEDTLS_ERR_SSL_CONN_EOF: return 0;
	}
	errno = ECONNRESET;
	return -1;
}

ssize_t
orch_gw_tls_send(struct orch_gw_tls_conn *c, const void *buf, size_t len)
{
	int ret;

	/* Retried: mbed TLS finishes sending the record it made of the
	 * first write_pending bytes and answers that many, not len. */
	if (c->write_pending > 0 && len >= c->write_pending)
		len = c->write_pending;
	ret = mbedtls_ssl_write(&c->ssl, buf, len);
	if (ret >= 0) {
		c->write_pending = 0;
		return ret;
	}
	if (ret == MBEDTLS_ERR_SSL_WANT_WRITE ||
	    ret == MBEDTLS_ERR_SSL_WANT_READ) {
		c->write_pending = len;
		errno = EAGAIN;
		return -1;
	}
	errno = ECONNRESET;
	return -1;
}

bool
orch_gw_tls_pending(const struct orch_gw_tls_conn *c)
{
	return mbedtls_ssl_check_pending(&c->ssl) != 0;
}
