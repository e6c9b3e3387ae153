/*
 * auth.c: the API tokens (auth.h).
 */
#include "auth.h"

#include <mbedtls/constant_time.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "log.h"

#define DIGEST_LEN 32

struct orch_tokens {
	size_t n;
	uint8_t (*digest)[DIGEST_LEN];
};

static void
sha256(const char *s, size_t len, uint8_t out[DIGEST_LEN])
{
	/* Renamed in mbed TLS 3; it cannot fail for SHA-256 in either. */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	(void)mbedtls_sha256((const unsigned char *)s, len, out, 0);
#else
	(void)mbedtls_sha256_ret((const unsigned char *)s, len, out, 0);
#endif
}

/* True when s[0..len) is an RFC 6750 b64token of an allowed length. */
static bool
token_valid(const char *s, size_t len)
{
	size_t i = 0;

	if (len < ORCH_TOKEN_MIN || len > ORCH_TOKEN_MAX)
		return false;
	for (; i < len && s[i] != '='; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		        c == '_' || c == '~' || c == '+' || c == '/'))
			return false;
	}
	/* Padding only at the end, after at least one character. */
	if (i == 0)
		return false;
	for (; i < len; i++) {
		if (s[i] != '=')
			return false;
	}
	return true;
}

static bool
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

int
orch_tokens_parse(const char *buf, size_t len, struct orch_tokens **out,
    char *err, size_t errlen)
{
	struct orch_tokens *t;
	const char *p = buf, *end = buf + len;
	int line = 0;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->digest = calloc(ORCH_TOKENS_MAX, sizeof(*t->digest))) == NULL) {
		free(t);
		snprintf(err, errlen, "out of memory");
		return ORCH_ENOMEM;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl != NULL ? nl : end, *s = p;

		line++;
		p = nl != NULL ? nl + 1 : end;
		while (s < e && blank(*s))
			s++;
		while (e > s && blank(e[-1]))
			e--;
		if (s == e || *s == '#')
			continue;
		/* The message never quotes the line: it may be a secret with
		 * one character wrong. */
		if (!token_valid(s, (size_t)(e - s))) {
			snprintf(err, errlen,
			    "line %d: a token must be %d to %d letters, digits "
			    "or -._~+/ characters, then any '=' padding, alone "
			    "on its line (try: openssl rand -hex 32)",
			    line, ORCH_TOKEN_MIN, ORCH_TOKEN_MAX);
			goto bad;
		}
		if (t->n == ORCH_TOKENS_MAX) {
			snprintf(err, errlen, "line %d: more than %d tokens",
			    line, ORCH_TOKENS_MAX);
			goto bad;
		}
		sha256(s, (size_t)(e - s), t->digest[t->n++]);
	}
	if (t->n == 0) {
		snprintf(err, errlen,
		    "no token in it (one a line; blank lines and # comments "
		    "are ignored)");
		goto bad;
	}
	*out = t;
	return ORCH_OK;
bad:
	orch_tokens_free(t);
	return ORCH_EINVAL;
}

/* Refuses a file that others could read or change, as ssh refuses such a
 * private key: a token anyone on the host can read protects nothing.
 * why gets the reason, without the path. */
static int
file_mode_check(
    const char *path, const struct stat *st, char *why, size_t whylen)
{
	if (st->st_mode & (S_IROTH | S_IWOTH | S_IWGRP)) {
		snprintf(why, whylen,
		    "other users may %s it (mode %04o): chmod 600 %s",
		    (st->st_mode & (S_IROTH | S_IWOTH)) ? "read or change"
		                                        : "change",
		    (unsigned)(st->st_mode & 07777), path);
		return ORCH_EPERM;
	}
	if (st->st_mode & S_IRGRP)
		orch_warn("auth",
		    "token file %s is readable by its group (mode %04o); "
		    "chmod 600 %s unless that is meant",
		    path, (unsigned)(st->st_mode & 07777), path);
	if (st->st_uid != geteuid() && st->st_uid != 0)
		orch_warn("auth",
		    "token file %s belongs to uid %u, who can change the "
		    "tokens; it should belong to this user or root",
		    path, (unsigned)st->st_uid);
	return ORCH_OK;
}

int
orch_tokens_load(
    const char *path, struct orch_tokens **out, char *err, size_t errlen)
{
	char why[256];
	char *buf = NULL;
	struct stat st;
	size_t len = 0;
	int rc;

	*out = NULL;
	if ((rc = orch_buf_file_read(path, ORCH_TOKEN_FILE_MAX, &buf, &len, &st,
	         why, sizeof(why))) != ORCH_OK ||
	    (rc = file_mode_check(path, &st, why, sizeof(why))) != ORCH_OK ||
	    (rc = orch_tokens_parse(buf, len, out, why, sizeof(why))) !=
	        ORCH_OK)
		snprintf(err, errlen, "token file %s: %s", path, why);
	if (buf != NULL) {
		mbedtls_platform_zeroize(buf, len);
		free(buf);
	}
	return rc;
}

void
orch_tokens_free(struct orch_tokens *t)
{
	if (t == NULL)
		return;
	if (t->digest != NULL)
		mbedtls_platform_zeroize(
		    t->digest, ORCH_TOKENS_MAX * sizeof(*t->digest));
	free(t->digest);
	free(t);
}

size_t
orch_tokens_count(const struct orch_tokens *t)
{
	return t != NULL ? t->n : 0;
}

enum orch_auth
orch_tokens_check(const struct orch_tokens *t, const char *value, size_t len)
{
	uint8_t d[DIGEST_LEN];
	unsigned match = 0;
	size_t i = 6;

	if (value == NULL)
		return ORCH_AUTH_MISSING;
	if (len < 7 || strncasecmp(value, "Bearer", 6) != 0 ||
	    (value[6] != ' ' && value[6] != '\t'))
		return ORCH_AUTH_MALFORMED;
	while (i < len && (value[i] == ' ' || value[i] == '\t'))
		i++;
	if (!token_valid(value + i, len - i))
		return ORCH_AUTH_MALFORMED;
	/*
	 * Digests have one length whatever the token's, and every one is
	 * compared in full (mbedtls_ct_memcmp has no early exit): the time
	 * taken depends on the request and the number of tokens only.
	 */
	sha256(value + i, len - i, d);
	for (size_t k = 0; t != NULL && k < t->n; k++)
		match |= (unsigned)(mbedtls_ct_memcmp(
		                        d, t->digest[k], DIGEST_LEN) == 0);
	mbedtls_platform_zeroize(d, sizeof(d));
	return match != 0 ? ORCH_AUTH_OK : ORCH_AUTH_INVALID;
}
