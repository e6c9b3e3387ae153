/*
 * certs.c: the cluster's certificate authority (see certs.h).
 *
 * mbed TLS 2.28 writes the certificates.  It has no helper for the
 * subjectAltName and extendedKeyUsage extensions, so those are encoded
 * here with its ASN.1 writer (which writes backwards, from the end of
 * the buffer).  An IP address given with --host goes into subjectAltName
 * twice: as an iPAddress, which OpenSSL (curl) matches, and as a dNSName
 * holding its text, which is the only form mbed TLS 2.28 (NNG, the agent)
 * matches a host name against.
 */
#include "certs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/ecp.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "flag.h"
#include "node.h"
#include "tls.h"

#define PEM_MAX 8192
#define SKEW_S 300 /* not_before this far back: clocks differ a little */
#define HOST_MAX_LEN 253

static const char *const default_hosts[] = {"localhost", "127.0.0.1", "::1"};

/* ---- names ---- */

bool
orch_certs_name_valid(const char *name)
{
	/* "ca" would be ca.crt of its folder; "." and ".." not a folder. */
	return orch_node_name_valid(name) && strcmp(name, "ca") != 0 &&
	    strcmp(name, ORCH_TLS_MANAGER_NAME) != 0 &&
	    strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* An IP address (4 or 16 bytes in ip, *iplen) or 0 for a host name. */
static bool
host_ip(const char *h, unsigned char ip[16], size_t *iplen)
{
	if (inet_pton(AF_INET, h, ip) == 1) {
		*iplen = 4;
		return true;
	}
	if (inet_pton(AF_INET6, h, ip) == 1) {
		*iplen = 16;
		return true;
	}
	return false;
}

/* A DNS name: dot-separated labels of letters, digits and '-'. */
static bool
host_valid(const char *h)
{
	unsigned char ip[16];
	size_t n = strlen(h), label = 0, iplen;

	if (host_ip(h, ip, &iplen))
		return true;
	if (n == 0 || n > HOST_MAX_LEN || h[0] == '.' || h[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];

		if (c == '.') {
			if (label == 0 || h[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (c == '-' && (label == 0 || i == n - 1))
			return false;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		        (c >= '0' && c <= '9') || c == '-') ||
		    ++label > 63)
			return false;
	}
	return true;
}

/* ---- files ---- */

static int
mkdir_p(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(path)) {
		snprintf(err, errlen, "bad directory \"%s\"", dir);
		return ORCH_EINVAL;
	}
	memcpy(path, dir, n + 1);
	for (char *p = path + 1;; p++) {
		bool end = *p == '\0';

		if (!end && *p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", path,
			    strerror(errno));
			return orch_err_from_errno(errno);
		}
		if (end)
			break;
		*p = '/';
	}
	return ORCH_OK;
}

static int path_fmt(char *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Formats a path into out (PATH_MAX bytes).  Returns ORCH_OK, or
 * ORCH_ETOOBIG when it does not fit. */
static int
path_fmt(char *out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, PATH_MAX, fmt, ap);
	va_end(ap);
	return n >= 0 && n < PATH_MAX ? ORCH_OK : ORCH_ETOOBIG;
}

/* Fails with ORCH_EEXIST, naming the first of paths that exists. */
static int
none_exist(const char *const *paths, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		if (access(paths[i], F_OK) == 0) {
			snprintf(err, errlen,
			    "%s exists: not overwriting it (--force "
			    "replaces it)",
			    paths[i]);
			return ORCH_EEXIST;
		}
	}
	return ORCH_OK;
}

/* Writes data to a new file path with exactly mode, replacing an old one
 * only when force.  Flushed to disk before it returns. */
static int
file_write(const char *path, const void *data, size_t len, mode_t mode,
    bool force, char *err, size_t errlen)
{
	const char *p = data;
	int fd, rc = ORCH_OK;

	if (force && unlink(path) != 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot replace %s: %s", path,
		    strerror(errno));
		return orch_err_from_errno(errno);
	}
	/* O_EXCL: never into a file someone else made, with its mode. */
	fd = open(
	    path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		rc = orch_err_from_errno(errno);
		snprintf(
		    err, errlen, "cannot create %s: %s", path, strerror(errno));
		return rc;
	}
	if (fchmod(fd, mode) != 0)
		goto fail;
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) != 0)
		goto fail;
	close(fd);
	return ORCH_OK;
fail:
	rc = orch_err_from_errno(errno);
	snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
	close(fd);
	unlink(path);
	return rc;
}

/* ---- keys and certificates ---- */

static int
key_new(mbedtls_pk_context *pk, char *err, size_t errlen)
{
	int ret;

	if ((ret = mbedtls_pk_setup(
	         pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))) != 0 ||
	    (ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1,
	         mbedtls_pk_ec(*pk), orch_tls_random, NULL)) != 0) {
		snprintf(
		    err, errlen, "cannot make a P-256 key (mbed TLS %d)", ret);
		return ORCH_EINTERNAL;
	}
	return ORCH_OK;
}

/* What one certificate is made of. */
struct crt_req {
	const char *subject; /* "CN=...,O=orch" */
	const char *issuer;  /* the CA's subject (its own, for the CA) */
	mbedtls_pk_context *subject_key, *issuer_key;
	bool ca;
	const char *eku; /* extended key usage OID, NULL for the CA */
	size_t eku_len;
	const char *const *hosts; /* subjectAltName, may be empty */
	size_t n_hosts;
	time_t not_before, not_after;
};

/* t in UTC, in buf (len bytes): as X.509 validity is given to mbed TLS
 * ("20270301120000"), or for people ("2027-03-01 12:00 UTC"). */
static void
time_fmt(time_t t, bool x509, char *buf, size_t len)
{
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	n = x509 ? strftime(buf, len, "%Y%m%d%H%M%S", &tm)
	         : strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm);
	if (n == 0)
		buf[0] = '\0';
}

/* Closes the len bytes written before *p into a SEQUENCE.  Returns the
 * bytes it added, or < 0. */
static int
seq_close(unsigned char **p, unsigned char *buf, int len)
{
	int n = 0, ret;

	MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_len(p, buf, (size_t)len));
	MBEDTLS_ASN1_CHK_ADD(n,
	    mbedtls_asn1_write_tag(
	        p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	return n;
}

/* subjectAltName: GeneralNames, written from the end of buf backwards;
 * *start (OUT) is where it begins.  Returns its length or < 0. */
static int
san_encode(const struct crt_req *r, unsigned char *buf, size_t size,
    unsigned char **start)
{
	unsigned char *p = buf + size;
	int len = 0, ret;

	for (size_t i = r->n_hosts; i-- > 0;) {
		const char *h = r->hosts[i];
		unsigned char ip[16];
		size_t iplen;

		if (host_ip(h, ip, &iplen)) {
			MBEDTLS_ASN1_CHK_ADD(len,
			    mbedtls_asn1_write_tagged_string(&p, buf,
			        MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7,
			        (const char *)ip, iplen));
		}
		MBEDTLS_ASN1_CHK_ADD(len,
		    mbedtls_asn1_write_tagged_string(&p, buf,
		        MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2, h, strlen(h)));
	}
	MBEDTLS_ASN1_CHK_ADD(len, seq_close(&p, buf, len));
	*start = p;
	return len;
}

/* extendedKeyUsage: a SEQUENCE of one OID. */
static int
eku_encode(const struct crt_req *r, unsigned char *buf, size_t size,
    unsigned char **start)
{
	unsigned char *p = buf + size;
	int len = 0, ret;

	MBEDTLS_ASN1_CHK_ADD(
	    len, mbedtls_asn1_write_oid(&p, buf, r->eku, r->eku_len));
	MBEDTLS_ASN1_CHK_ADD(len, seq_close(&p, buf, len));
	*start = p;
	return len;
}

/* Makes the certificate r asks for, PEM in pem (size bytes). */
static int
crt_make(const struct crt_req *r, unsigned char *pem, size_t size, char *err,
    size_t errlen)
{
	mbedtls_x509write_cert w;
	mbedtls_mpi serial;
	unsigned char rnd[16], ext[4096], *ext_start;
	char nb[16], na[16];
	int ret, len;

	mbedtls_x509write_crt_init(&w);
	mbedtls_mpi_init(&serial);
	/* A random positive serial: no state to keep, no two alike. */
	if ((ret = orch_tls_random(NULL, rnd, sizeof(rnd))) != 0)
		goto out;
	rnd[0] = (unsigned char)((rnd[0] & 0x7f) | 0x01);
	/* X.509 validity as mbed TLS takes it. */
	time_fmt(r->not_before, true, nb, sizeof(nb));
	time_fmt(r->not_after, true, na, sizeof(na));
	mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, r->subject_key);
	mbedtls_x509write_crt_set_issuer_key(&w, r->issuer_key);
	if ((ret = mbedtls_mpi_read_binary(&serial, rnd, sizeof(rnd))) != 0 ||
	    (ret = mbedtls_x509write_crt_set_serial(&w, &serial)) != 0 ||
	    (ret = mbedtls_x509write_crt_set_subject_name(&w, r->subject)) !=
	        0 ||
	    (ret = mbedtls_x509write_crt_set_issuer_name(&w, r->issuer)) != 0 ||
	    (ret = mbedtls_x509write_crt_set_validity(&w, nb, na)) != 0 ||
	    (ret = mbedtls_x509write_crt_set_basic_constraints(
	         &w, r->ca ? 1 : 0, r->ca ? 0 : -1)) != 0 ||
	    (ret = mbedtls_x509write_crt_set_subject_key_identifier(&w)) != 0 ||
	    (ret = mbedtls_x509write_crt_set_authority_key_identifier(&w)) !=
	        0 ||
	    (ret = mbedtls_x509write_crt_set_key_usage(&w,
	         r->ca
	             ? MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN
	             : MBEDTLS_X509_KU_DIGITAL_SIGNATURE)) != 0)
		goto out;
	if (r->eku != NULL) {
		if ((ret = len = eku_encode(r, ext, sizeof(ext), &ext_start)) <
		        0 ||
		    (ret = mbedtls_x509write_crt_set_extension(&w,
		         MBEDTLS_OID_EXTENDED_KEY_USAGE,
		         MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0,
		         ext_start, (size_t)len)) != 0)
			goto out;
	}
	if (r->n_hosts > 0) {
		if ((ret = len = san_encode(r, ext, sizeof(ext), &ext_start)) <
		        0 ||
		    (ret = mbedtls_x509write_crt_set_extension(&w,
		         MBEDTLS_OID_SUBJECT_ALT_NAME,
		         MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
		         ext_start, (size_t)len)) != 0)
			goto out;
	}
	ret = mbedtls_x509write_crt_pem(&w, pem, size, orch_tls_random, NULL);
out:
	mbedtls_x509write_crt_free(&w);
	mbedtls_mpi_free(&serial);
	if (ret != 0) {
		snprintf(err, errlen,
		    "cannot make the certificate of %s (mbed TLS -0x%04x)",
		    r->subject, (unsigned)-ret);
		return ORCH_EINTERNAL;
	}
	return ORCH_OK;
}

static time_t
x509_time(const mbedtls_x509_time *t)
{
	struct tm tm = {
	    .tm_year = t->year - 1900,
	    .tm_mon = t->mon - 1,
	    .tm_mday = t->day,
	    .tm_hour = t->hour,
	    .tm_min = t->min,
	    .tm_sec = t->sec,
	};

	return timegm(&tm);
}

/* The validity of a certificate issued now: o's explicit period, or
 * days (o->days, else dflt) from a few minutes ago. */
static int
validity(const struct orch_certs_opts *o, int dflt, time_t *nb, time_t *na,
    char *err, size_t errlen)
{
	time_t now = time(NULL);
	int days = o->days > 0 ? o->days : dflt;

	if (o->not_before != 0 || o->not_after != 0) {
		*nb = (time_t)o->not_before;
		*na = (time_t)o->not_after;
	} else {
		*nb = now - SKEW_S;
		*na = now + (time_t)days * 86400;
	}
	if (*na <= *nb || days > ORCH_CERTS_DAYS_MAX) {
		snprintf(err, errlen,
		    "bad validity: at most %d days, ending after it starts",
		    ORCH_CERTS_DAYS_MAX);
		return ORCH_EINVAL;
	}
	return ORCH_OK;
}

/* Writes key (0600) and crt (0644) PEMs. */
static int
pair_write(const char *key_path, mbedtls_pk_context *key, const char *crt_path,
    const unsigned char *crt, bool force, char *err, size_t errlen)
{
	unsigned char pem[PEM_MAX];
	int rc;

	if (mbedtls_pk_write_key_pem(key, pem, sizeof(pem)) != 0) {
		snprintf(err, errlen, "cannot encode the key of %s", key_path);
		return ORCH_EINTERNAL;
	}
	rc = file_write(
	    key_path, pem, strlen((char *)pem), 0600, force, err, errlen);
	memset(pem, 0, sizeof(pem));
	if (rc != ORCH_OK)
		return rc;
	return file_write(
	    crt_path, crt, strlen((const char *)crt), 0644, force, err, errlen);
}

int
orch_certs_init(
    const char *dir, const struct orch_certs_opts *o, char *err, size_t errlen)
{
	char ca_crt[PATH_MAX], ca_key[PATH_MAX], m_crt[PATH_MAX],
	    m_key[PATH_MAX], ca_subject[64];
	const char *const paths[] = {ca_crt, ca_key, m_crt, m_key};
	const char *const *hosts = o->n_hosts > 0 ? o->hosts : default_hosts;
	size_t n_hosts = o->n_hosts > 0 ? o->n_hosts : 3;
	unsigned char ca_pem[PEM_MAX], m_pem[PEM_MAX], id[8];
	mbedtls_pk_context ca_pk, m_pk;
	struct crt_req r;
	time_t now = time(NULL), nb, na;
	int rc;

	mbedtls_pk_init(&ca_pk);
	mbedtls_pk_init(&m_pk);
	if (n_hosts > ORCH_CERTS_HOSTS_MAX) {
		snprintf(err, errlen, "at most %d --host names",
		    ORCH_CERTS_HOSTS_MAX);
		rc = ORCH_EINVAL;
		goto out;
	}
	for (size_t i = 0; i < n_hosts; i++) {
		if (!host_valid(hosts[i])) {
			snprintf(err, errlen,
			    "--host \"%s\" is neither an IP address nor a "
			    "DNS name",
			    hosts[i]);
			rc = ORCH_EINVAL;
			goto out;
		}
	}
	if ((rc = validity(o, ORCH_CERTS_DAYS, &nb, &na, err, errlen)) !=
	    ORCH_OK)
		goto out;
	if (path_fmt(ca_crt, "%s/" ORCH_TLS_CA_FILE, dir) != ORCH_OK ||
	    path_fmt(ca_key, "%s/ca.key", dir) != ORCH_OK ||
	    path_fmt(m_crt, "%s/" ORCH_TLS_MANAGER_NAME ".crt", dir) !=
	        ORCH_OK ||
	    path_fmt(m_key, "%s/" ORCH_TLS_MANAGER_NAME ".key", dir) !=
	        ORCH_OK) {
		snprintf(err, errlen, "--dir %.100s...: too long", dir);
		rc = ORCH_ETOOBIG;
		goto out;
	}
	if ((rc = mkdir_p(dir, err, errlen)) != ORCH_OK ||
	    (!o->force && (rc = none_exist(paths, 4, err, errlen)) != ORCH_OK))
		goto out;
	/* Each CA has a name of its own, so that certificates of two
	 * clusters are never mistaken for one another's. */
	if (orch_tls_random(NULL, id, sizeof(id)) != 0) {
		snprintf(err, errlen, "no randomness for the CA's name");
		rc = ORCH_EINTERNAL;
		goto out;
	}
	snprintf(ca_subject, sizeof(ca_subject),
	    "CN=orch CA %02x%02x%02x%02x%02x%02x%02x%02x,O=orch", id[0], id[1],
	    id[2], id[3], id[4], id[5], id[6], id[7]);
	if ((rc = key_new(&ca_pk, err, errlen)) != ORCH_OK ||
	    (rc = key_new(&m_pk, err, errlen)) != ORCH_OK)
		goto out;
	r = (struct crt_req){
	    .subject = ca_subject,
	    .issuer = ca_subject,
	    .subject_key = &ca_pk,
	    .issuer_key = &ca_pk,
	    .ca = true,
	    .not_before = now - SKEW_S,
	    .not_after = now + (time_t)ORCH_CERTS_CA_DAYS * 86400,
	};
	if (nb < r.not_before)
		r.not_before = nb;
	if ((rc = crt_make(&r, ca_pem, sizeof(ca_pem), err, errlen)) != ORCH_OK)
		goto out;
	r = (struct crt_req){
	    .subject = "CN=" ORCH_TLS_MANAGER_NAME ",O=orch",
	    .issuer = ca_subject,
	    .subject_key = &m_pk,
	    .issuer_key = &ca_pk,
	    .eku = MBEDTLS_OID_SERVER_AUTH,
	    .eku_len = MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH),
	    .hosts = hosts,
	    .n_hosts = n_hosts,
	    .not_before = nb,
	    .not_after = na,
	};
	if ((rc = crt_make(&r, m_pem, sizeof(m_pem), err, errlen)) != ORCH_OK)
		goto out;
	if ((rc = pair_write(ca_key, &ca_pk, ca_crt, ca_pem, o->force, err,
	         errlen)) != ORCH_OK ||
	    (rc = pair_write(
	         m_key, &m_pk, m_crt, m_pem, o->force, err, errlen)) != ORCH_OK)
		goto out;
	snprintf(err, errlen, "wrote %s and %s (the cluster CA), %s and %s",
	    ca_crt, ca_key, m_crt, m_key);
out:
	mbedtls_pk_free(&ca_pk);
	mbedtls_pk_free(&m_pk);
	return rc;
}

/* Loads dir's CA: its certificate, key, and subject as a string. */
static int
ca_load(const char *dir, mbedtls_x509_crt *crt, mbedtls_pk_context *key,
    char *subject, size_t slen, char *err, size_t errlen)
{
	char path[PATH_MAX], cn[256];
	char *pem = NULL;
	int rc, ret;

	if (path_fmt(path, "%s/" ORCH_TLS_CA_FILE, dir) != ORCH_OK) {
		snprintf(err, errlen, "--dir %.100s...: too long", dir);
		return ORCH_ETOOBIG;
	}
	if ((rc = orch_tls_pem_read(path, &pem, err, errlen)) != ORCH_OK) {
		size_t n = strlen(err);

		snprintf(err + n, errlen > n ? errlen - n : 0,
		    " (orch-manager certs init --dir %s makes the CA)", dir);
		return rc;
	}
	ret = mbedtls_x509_crt_parse(
	    crt, (const unsigned char *)pem, strlen(pem) + 1);
	free(pem);
	pem = NULL;
	orch_tls_crt_cn(crt, cn, sizeof(cn));
	if (ret != 0 || cn[0] == '\0' || !crt->ca_istrue) {
		snprintf(err, errlen, "%s is not a CA certificate", path);
		return ORCH_EINVAL;
	}
	/* The issuer of what it signs must be its subject, byte for byte:
	 * the same string as certs init used gives the same encoding. */
	snprintf(subject, slen, "CN=%s,O=orch", cn);
	(void)path_fmt(path, "%s/ca.key", dir); /* shorter than ca.crt */
	if ((rc = orch_tls_pem_read(path, &pem, err, errlen)) != ORCH_OK)
		return rc;
	ret = mbedtls_pk_parse_key(
	    key, (const unsigned char *)pem, strlen(pem) + 1, NULL, 0);
	memset(pem, 0, strlen(pem));
	free(pem);
	if (ret != 0 || mbedtls_pk_check_pair(&crt->pk, key) != 0) {
		snprintf(err, errlen,
		    "%s is not the unencrypted key of %s/" ORCH_TLS_CA_FILE,
		    path, dir);
		return ORCH_EINVAL;
	}
	return ORCH_OK;
}

/* Parses what was just made and checks it against the CA. */
static int
crt_check_issued(const unsigned char *pem, mbedtls_x509_crt *ca,
    bool explicit_validity, char *err, size_t errlen)
{
	mbedtls_x509_crt crt;
	uint32_t flags = 0;
	int rc = ORCH_OK;

	mbedtls_x509_crt_init(&crt);
	if (mbedtls_x509_crt_parse(&crt, pem, strlen((const char *)pem) + 1) !=
	        0 ||
	    crt.issuer_raw.len != ca->subject_raw.len ||
	    memcmp(crt.issuer_raw.p, ca->subject_raw.p, crt.issuer_raw.len) !=
	        0) {
		snprintf(err, errlen,
		    "the certificate made does not name its CA as issuer");
		rc = ORCH_EINTERNAL;
		goto out;
	}
	(void)mbedtls_x509_crt_verify(&crt, ca, NULL, NULL, &flags, NULL, NULL);
	if (explicit_validity)
		flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED |
		    MBEDTLS_X509_BADCERT_FUTURE);
	if (flags != 0) {
		char why[256];

		orch_tls_verify_reason(flags, &crt, why, sizeof(why));
		snprintf(err, errlen,
		    "the certificate made does not verify: %s", why);
		rc = ORCH_EINTERNAL;
	}
out:
	mbedtls_x509_crt_free(&crt);
	return rc;
}

int
orch_certs_issue(const char *dir, const char *name,
    const struct orch_certs_opts *o, char *err, size_t errlen)
{
	char folder[PATH_MAX], crt_path[PATH_MAX], key_path[PATH_MAX],
	    ca_copy[PATH_MAX], ca_subject[300],
	    subject[ORCH_NODE_NAME_MAX + 16], until[32];
	const char *const paths[] = {crt_path, key_path};
	unsigned char pem[PEM_MAX], ca_pem[PEM_MAX];
	mbedtls_x509_crt ca;
	mbedtls_pk_context ca_pk, pk;
	struct crt_req r;
	time_t nb, na, ca_end;
	int rc;

	mbedtls_x509_crt_init(&ca);
	mbedtls_pk_init(&ca_pk);
	mbedtls_pk_init(&pk);
	if (!orch_certs_name_valid(name)) {
		snprintf(err, errlen,
		    "--name wants 1 to %d letters, digits, '.', '_' or '-' "
		    "(not \"ca\" nor \"manager\"), got \"%.200s\"",
		    ORCH_NODE_NAME_MAX, name);
		rc = ORCH_EINVAL;
		goto out;
	}
	if ((rc = validity(o, ORCH_CERTS_DAYS, &nb, &na, err, errlen)) !=
	        ORCH_OK ||
	    (rc = ca_load(dir, &ca, &ca_pk, ca_subject, sizeof(ca_subject), err,
	         errlen)) != ORCH_OK)
		goto out;
	/* Nothing outlives its CA. */
	ca_end = x509_time(&ca.valid_to);
	if (na > ca_end && o->not_after == 0)
		na = ca_end;
	if (path_fmt(folder, "%s/nodes/%s", dir, name) != ORCH_OK ||
	    path_fmt(crt_path, "%s/%s.crt", folder, name) != ORCH_OK ||
	    path_fmt(key_path, "%s/%s.key", folder, name) != ORCH_OK ||
	    path_fmt(ca_copy, "%s/" ORCH_TLS_CA_FILE, folder) != ORCH_OK) {
		snprintf(err, errlen, "--dir %.100s...: too long", dir);
		rc = ORCH_ETOOBIG;
		goto out;
	}
	snprintf(subject, sizeof(subject), "CN=%s,O=orch", name);
	if ((rc = mkdir_p(folder, err, errlen)) != ORCH_OK ||
	    (!o->force && (rc = none_exist(paths, 2, err, errlen)) != ORCH_OK))
		goto out;
	if ((rc = key_new(&pk, err, errlen)) != ORCH_OK)
		goto out;
	r = (struct crt_req){
	    .subject = subject,
	    .issuer = ca_subject,
	    .subject_key = &pk,
	    .issuer_key = &ca_pk,
	    .eku = MBEDTLS_OID_CLIENT_AUTH,
	    .eku_len = MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH),
	    .not_before = nb,
	    .not_after = na,
	};
	if ((rc = crt_make(&r, pem, sizeof(pem), err, errlen)) != ORCH_OK ||
	    (rc = crt_check_issued(pem, &ca,
	         o->not_before != 0 || o->not_after != 0, err, errlen)) !=
	        ORCH_OK)
		goto out;
	/* ca.crt is public and the same for every node: kept current. */
	if (ca.raw.len > sizeof(ca_pem) ||
	    mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n",
	        "-----END CERTIFICATE-----\n", ca.raw.p, ca.raw.len, ca_pem,
	        sizeof(ca_pem), &(size_t){0}) != 0) {
		snprintf(err, errlen, "cannot encode the CA certificate");
		rc = ORCH_EINTERNAL;
		goto out;
	}
	if ((rc = pair_write(key_path, &pk, crt_path, pem, o->force, err,
	         errlen)) != ORCH_OK ||
	    (rc = file_write(ca_copy, ca_pem, strlen((char *)ca_pem), 0644,
	         true, err, errlen)) != ORCH_OK)
		goto out;
	time_fmt(na, false, until, sizeof(until));
	snprintf(err, errlen,
	    "wrote %s/: %s.crt, %s.key and ca.crt (valid until %s)", folder,
	    name, name, until);
out:
	mbedtls_x509_crt_free(&ca);
	mbedtls_pk_free(&ca_pk);
	mbedtls_pk_free(&pk);
	return rc;
}

/* ---- orch-manager certs ---- */

static void
certs_usage(FILE *f)
{
	fprintf(f,
	    "Usage: orch-manager certs init --dir DIR [--host NAME]... "
	    "[--days N] [--force]\n"
	    "       orch-manager certs issue --dir DIR --name NAME [--days N] "
	    "[--force]\n"
	    "\n"
	    "init   makes the cluster CA (DIR/ca.crt, DIR/ca.key) and the "
	    "manager's\n"
	    "       certificate (DIR/manager.crt, DIR/manager.key) for the "
	    "host names\n"
	    "       and addresses agents dial it by (--host, repeatable; "
	    "default\n"
	    "       localhost, 127.0.0.1 and ::1).  The CA is valid %d days.\n"
	    "issue  makes a certificate for the node or integrator NAME, "
	    "signed by the\n"
	    "       CA, in DIR/nodes/NAME/ (NAME.crt, NAME.key, ca.crt): copy "
	    "that\n"
	    "       folder to the machine that uses it.\n"
	    "\n"
	    "  --days N   validity of the certificate made, 1 to %d (default "
	    "%d)\n"
	    "  --force    replace existing files (init --force makes a new "
	    "CA:\n"
	    "             every node then needs a new certificate)\n"
	    "Keys are EC P-256, written with mode 0600.\n",
	    ORCH_CERTS_CA_DAYS, ORCH_CERTS_DAYS_MAX, ORCH_CERTS_DAYS);
}

static int
wrong_option(const char *cmd, const char *opt)
{
	fprintf(stderr, "orch-manager certs %s: %s is not an option of %s\n",
	    cmd, opt, cmd);
	return 2;
}

int
orch_certs_main(int argc, char **argv)
{
	enum { OPT_DIR = 256, OPT_HOST, OPT_NAME, OPT_DAYS, OPT_FORCE };
	static const struct option opts[] = {
	    {"dir", required_argument, NULL, OPT_DIR},
	    {"host", required_argument, NULL, OPT_HOST},
	    {"name", required_argument, NULL, OPT_NAME},
	    {"days", required_argument, NULL, OPT_DAYS},
	    {"force", no_argument, NULL, OPT_FORCE},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *hosts[ORCH_CERTS_HOSTS_MAX];
	struct orch_certs_opts o = {.hosts = hosts};
	const char *dir = NULL, *name = NULL, *cmd;
	char msg[1024], **av = argv + 1;
	long long ll;
	bool init;
	int c, rc, ac = argc - 1;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		certs_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	cmd = argv[1];
	if (strcmp(cmd, "init") != 0 && strcmp(cmd, "issue") != 0) {
		fprintf(stderr,
		    "orch-manager certs: unknown command \"%s\": init or "
		    "issue\n",
		    cmd);
		return 2;
	}
	init = strcmp(cmd, "init") == 0;
	optind = 1;
	opterr = 0;
	/* Options follow the command: parsed as if it were the program. */
	while ((c = getopt_long(ac, av, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_DIR: dir = optarg; break;
		case OPT_NAME:
			if (init)
				return wrong_option(cmd, "--name");
			name = optarg;
			break;
		case OPT_HOST:
			if (!init)
				return wrong_option(cmd, "--host");
			if (o.n_hosts == ORCH_CERTS_HOSTS_MAX) {
				fprintf(stderr,
				    "orch-manager certs: at most %d "
				    "--host\n",
				    ORCH_CERTS_HOSTS_MAX);
				return 2;
			}
			hosts[o.n_hosts++] = optarg;
			break;
		case OPT_DAYS:
			if (orch_flag_int("orch-manager certs", "--days",
			        optarg, 1, ORCH_CERTS_DAYS_MAX, &ll) != ORCH_OK)
				return 2;
			o.days = (int)ll;
			break;
		case OPT_FORCE: o.force = true; break;
		case 'h': certs_usage(stdout); return 0;
		case ':':
			fprintf(stderr,
			    "orch-manager certs: %s needs a value\n",
			    av[optind - 1]);
			return 2;
		default:
			fprintf(stderr,
			    "orch-manager certs %s: unknown option \"%s\"; "
			    "see --help\n",
			    cmd, av[optind - 1]);
			return 2;
		}
	}
	if (optind < ac) {
		fprintf(stderr,
		    "orch-manager certs %s: unexpected argument \"%s\"\n", cmd,
		    av[optind]);
		return 2;
	}
	if (dir == NULL || (!init && name == NULL)) {
		fprintf(stderr, "orch-manager certs %s: %s is required\n", cmd,
		    dir == NULL ? "--dir DIR" : "--name NAME");
		return 2;
	}
	rc = init ? orch_certs_init(dir, &o, msg, sizeof(msg))
	          : orch_certs_issue(dir, name, &o, msg, sizeof(msg));
	if (rc != ORCH_OK) {
		fprintf(stderr, "orch-manager certs %s: %s\n", cmd, msg);
		return rc == ORCH_EINVAL ? 2 : 1;
	}
	printf("%s\n", msg);
	if (init)
		printf("Keep %s/ca.key on this machine only.  Next: "
		       "orch-manager --tls-dir %s ...; and for each node, "
		       "orch-manager certs issue --dir %s --name NODE\n",
		    dir, dir, dir);
	else
		printf("On %s: orch-agent --name %s --tls-dir <that folder> "
		       "...\n",
		    name, name);
	return 0;
}
