/*
 * auth.h: the API tokens of the manager's HTTP gateway (--token-file).
 *
 * A token file holds one token per line; blank lines and lines whose
 * first non-blank character is '#' are ignored, and blanks around a token
 * are dropped.  A token is what RFC 6750 lets a bearer token be, so that
 * it travels in a header as written: letters, digits and "-._~+/", then
 * any '=' padding; ORCH_TOKEN_MIN to ORCH_TOKEN_MAX of them
 * (`openssl rand -hex 32` makes a good one).  Several tokens let one be
 * replaced without a moment where neither works.
 *
 * Only the SHA-256 digest of each token is kept.  A request's token is
 * hashed and compared with every digest in constant time: how long the
 * check takes says nothing about how much of a token was right, nor about
 * the tokens' lengths.  No function here writes a token, or a part of
 * one, into a message or a log.
 */
#ifndef ORCH_AUTH_H
#define ORCH_AUTH_H

#include <stddef.h>

#define ORCH_TOKEN_MIN 16             /* characters: shorter is guessable */
#define ORCH_TOKEN_MAX 4096           /* characters */
#define ORCH_TOKENS_MAX 1024          /* tokens in one file */
#define ORCH_TOKEN_FILE_MAX (1 << 20) /* bytes */

struct orch_tokens;

/*
 * Parses the text of a token file, buf[0..len).  On ORCH_OK *out holds
 * its tokens' digests (the caller frees it with orch_tokens_free()).
 * Otherwise err says which line is wrong and why, never quoting it:
 * "line 3: a token must be 16 to 4096 letters, digits or -._~+/ ...", or
 * "no token in it" when it holds none.  Returns ORCH_OK, ORCH_EINVAL or
 * ORCH_ENOMEM.
 */
int orch_tokens_parse(const char *buf, size_t len,
    struct orch_tokens **out /* OUT */, char *err, size_t errlen);

/*
 * Reads the token file at path, as ssh reads a private key: it must be a
 * regular file that no other user may read or write and that its group
 * may not write (ORCH_EPERM, with "chmod 600 PATH" in err); a group that
 * may read it, or an owner other than this user or root, is only warned
 * about in the log.  Then parses it as above.  err starts with
 * "token file PATH: ".  Returns ORCH_OK, ORCH_EINVAL, ORCH_EPERM,
 * ORCH_ETOOBIG, ORCH_ENOMEM or the error of opening or reading it
 * (ORCH_ENOENT, ORCH_EIO...).
 */
int orch_tokens_load(const char *path, struct orch_tokens **out /* OUT */,
    char *err, size_t errlen);

/* Frees the tokens, wiping their digests.  NULL is a no-op. */
void orch_tokens_free(struct orch_tokens *t);

/* How many tokens t holds. */
size_t orch_tokens_count(const struct orch_tokens *t);

enum orch_auth {
	ORCH_AUTH_OK,        /* a token of t */
	ORCH_AUTH_MISSING,   /* no Authorization header */
	ORCH_AUTH_MALFORMED, /* not "Bearer <token>" */
	ORCH_AUTH_INVALID,   /* a well-formed token that is not one of t */
};

/*
 * Checks the value of a request's Authorization header, value[0..len)
 * without surrounding blanks (NULL when the header is absent), against t:
 * the scheme "Bearer" (any case), blanks, then the token.
 */
enum orch_auth orch_tokens_check(
    const struct orch_tokens *t, const char *value, size_t len);

#endif
