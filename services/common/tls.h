/*
 * tls.h: mutual TLS between the manager and its agents, over NNG.
 *
 * A certificate directory holds what `orch-manager certs` wrote
 * (services/certs.h): the manager uses DIR/ca.crt, DIR/manager.crt and
 * DIR/manager.key; a node or an integrator named NAME uses ca.crt,
 * NAME.crt and NAME.key of the folder DIR/nodes/NAME, copied to it.
 *
 * With TLS on, every URL is tls+tcp://: a tcp:// URL given in a flag is
 * switched to tls+tcp://, and other transports (ipc://, inproc://) are
 * refused, since they carry no certificate.  The manager requires a
 * client certificate from its CA on every connection (NNG's default for a
 * server is to ask for none); clients verify the manager's certificate
 * against the same CA and the host name of the URL.
 */
#ifndef ORCH_TLS_H
#define ORCH_TLS_H

#include <mbedtls/x509_crt.h>
#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <stdbool.h>
#include <stddef.h>

#define ORCH_TLS_CA_FILE "ca.crt"
#define ORCH_TLS_MANAGER_NAME "manager"
/* The largest PEM file read (a certificate chain or a key). */
#define ORCH_TLS_PEM_MAX (1024 * 1024)

/* An mbed TLS random generator (f_rng): a CTR-DRBG seeded once from the
 * system's entropy.  Thread-safe; p is unused.  Returns 0 or an mbed TLS
 * error. */
int orch_tls_random(void *p, unsigned char *buf, size_t len);

/*
 * Reads the PEM file path (at most ORCH_TLS_PEM_MAX bytes) into *out
 * (OUT, malloc'd, NUL-terminated; the caller frees it).  Returns ORCH_OK
 * or an error with err saying "cannot read PATH: <reason>".
 */
int orch_tls_pem_read(
    const char *path, char **out /* OUT */, char *err, size_t errlen);

/* The subject CN of crt, printable ASCII only, in out (len bytes); ""
 * when it has none or it does not fit. */
void orch_tls_crt_cn(const mbedtls_x509_crt *crt, char *out, size_t len);

/* What the verification flags (MBEDTLS_X509_BADCERT_*) of crt mean, for
 * a person: "it expired on 2025-01-02 03:04:05 UTC; it is not signed by
 * this cluster's CA".  crt may be NULL. */
void orch_tls_verify_reason(
    uint32_t flags, const mbedtls_x509_crt *crt, char *out, size_t len);

/*
 * The manager's TLS configuration from the certificate directory dir:
 * its certificate and key, the CA, and a client certificate from that CA
 * required.  Checks that the certificate is valid now and signed by the
 * CA.  On ORCH_OK *out (OUT) is the caller's (nng_tls_config_free);
 * otherwise err says which file is wrong and how to make it.
 */
int orch_tls_server_config(
    const char *dir, nng_tls_config **out /* OUT */, char *err, size_t errlen);

/*
 * A client's TLS configuration: the certificate dir/<name>.crt and key
 * dir/<name>.key, the CA dir/ca.crt, and the server's certificate
 * verified against the host of url.  A certificate that is not valid now
 * is logged (the manager will refuse it) but not refused here: the clock
 * may be what is wrong.  Same ownership and errors as
 * orch_tls_server_config.
 */
int orch_tls_client_config(const char *dir, const char *name, const char *url,
    nng_tls_config **out /* OUT */, char *err, size_t errlen);

/*
 * The URL to use for url with TLS on or off, in out (len bytes): with TLS,
 * tcp:// (and tcp4://, tcp6://) becomes tls+tcp:// (tls+tcp4://, ...),
 * tls+tcp:// is kept and any other scheme is ORCH_EINVAL; without TLS, a
 * tls+ URL is ORCH_EINVAL.  flag names the flag in err.
 */
int orch_tls_url(const char *flag, const char *url, bool tls, char *out,
    size_t len, char *err, size_t errlen);

/*
 * Listens on url with s, with the TLS configuration cfg when not NULL (url
 * must then be tls+tcp://); what ("rpc", "pub") names the socket in the
 * log, where TLS peers are logged as they connect.  Returns ORCH_OK or an
 * error with err saying "cannot listen on URL: <reason>".
 */
int orch_tls_listen(nng_socket s, const char *url, nng_tls_config *cfg,
    const char *what, char *err, size_t errlen);

/* Dials url with s in the background (NNG redials by itself), with cfg
 * when not NULL.  Returns ORCH_OK or an error with err saying why. */
int orch_tls_dial(nng_socket s, const char *url, nng_tls_config *cfg, char *err,
    size_t errlen);

#endif
