/*
 * test_auth.c: the API tokens: the token file's syntax (comments, blanks,
 * refusals that name the line and never quote it), the file's mode, and
 * the check of an Authorization header's value.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "error.h"
#include "harness.h"

#define TOK_A "0123456789abcdef0123456789abcdef"
#define TOK_B "Zm9vYmFyYmF6cXV4LXF1dXg_~+/.-=="

static struct orch_tokens *
parse_ok(const char *text, size_t want_count)
{
	struct orch_tokens *t = NULL;
	char err[512];

	if (orch_tokens_parse(text, strlen(text), &t, err, sizeof(err)) !=
	    ORCH_OK)
		h_fail(__FILE__, __LINE__, "refused: %s", err);
	ASSERT_INT_EQ(orch_tokens_count(t), want_count);
	return t;
}

static void
parse_bad(const char *text, const char *why, const char *secret)
{
	struct orch_tokens *t = NULL;
	char err[512];

	ASSERT_INT_EQ(
	    orch_tokens_parse(text, strlen(text), &t, err, sizeof(err)),
	    ORCH_EINVAL);
	ASSERT(t == NULL);
	ASSERT_STR_CONTAINS(err, why);
	/* A refused line may be a real token with a typo: never echoed. */
	if (secret != NULL)
		ASSERT(strstr(err, secret) == NULL);
}

/* The check of "value" against t, with value as the gateway gives it. */
static enum orch_auth
check(const struct orch_tokens *t, const char *value)
{
	return orch_tokens_check(t, value, value != NULL ? strlen(value) : 0);
}

static void
test_parse(void)
{
	struct orch_tokens *t;

	t = parse_ok(TOK_A "\n", 1);
	orch_tokens_free(t);
	/* No final newline; CRLF; blanks around; comments; blank lines. */
	t = parse_ok("# the ops team\n"
	             "\n"
	             "   \t\n"
	             "  " TOK_A "  \r\n"
	             "    # rotated out on Friday\n"
	             "\t" TOK_B,
	    2);
	ASSERT_INT_EQ(check(t, "Bearer " TOK_A), ORCH_AUTH_OK);
	ASSERT_INT_EQ(check(t, "Bearer " TOK_B), ORCH_AUTH_OK);
	orch_tokens_free(t);

	parse_bad("", "no token in it", NULL);
	parse_bad("# only a comment\n\n", "no token in it", NULL);
	parse_bad(TOK_A "\nshort-secret-1\n", "line 2:", "short-secret-1");
	parse_bad("\n\n" TOK_A " " TOK_B "\n", "line 3:", TOK_A);
	parse_bad(TOK_A "\n0123456789abcdef\"0123456789\n",
	    "line 2:", "0123456789abcdef\"");
	parse_bad("0123456789abcdef=0123456789\n", "line 1:", "=0123456789");
	parse_bad("================\n", "line 1:", NULL);
	parse_bad(TOK_A "\x01\n", "line 1:", NULL);
	{
		/* The longest token is taken, one more character is not. */
		char big[ORCH_TOKEN_MAX + 3];

		memset(big, 'k', ORCH_TOKEN_MAX);
		big[ORCH_TOKEN_MAX] = '\0';
		t = parse_ok(big, 1);
		orch_tokens_free(t);
		big[ORCH_TOKEN_MAX] = 'k';
		big[ORCH_TOKEN_MAX + 1] = '\0';
		parse_bad(big, "line 1:", NULL);
	}
}

static void
test_check(void)
{
	struct orch_tokens *t = parse_ok(TOK_A "\n" TOK_B "\n", 2);

	ASSERT_INT_EQ(check(t, "Bearer " TOK_A), ORCH_AUTH_OK);
	ASSERT_INT_EQ(check(t, "bearer " TOK_A), ORCH_AUTH_OK);
	ASSERT_INT_EQ(check(t, "BEARER\t  " TOK_B), ORCH_AUTH_OK);

	ASSERT_INT_EQ(check(t, NULL), ORCH_AUTH_MISSING);
	/* Wrong: one character off, a prefix, a longer one. */
	ASSERT_INT_EQ(check(t, "Bearer 0123456789abcdef0123456789abcdeF"),
	    ORCH_AUTH_INVALID);
	ASSERT_INT_EQ(check(t, "Bearer 0123456789abcdef0123456789abcde"),
	    ORCH_AUTH_INVALID);
	ASSERT_INT_EQ(check(t, "Bearer " TOK_A "0"), ORCH_AUTH_INVALID);
	/* Not "Bearer <token>". */
	ASSERT_INT_EQ(check(t, ""), ORCH_AUTH_MALFORMED);
	ASSERT_INT_EQ(check(t, "Bearer"), ORCH_AUTH_MALFORMED);
	ASSERT_INT_EQ(check(t, TOK_A), ORCH_AUTH_MALFORMED);
	ASSERT_INT_EQ(check(t, "Basic " TOK_A), ORCH_AUTH_MALFORMED);
	ASSERT_INT_EQ(check(t, "Bearer" TOK_A), ORCH_AUTH_MALFORMED);
	ASSERT_INT_EQ(check(t, "Bearer " TOK_A " x"), ORCH_AUTH_MALFORMED);
	ASSERT_INT_EQ(check(t, "Bearer short"), ORCH_AUTH_MALFORMED);
	/* The value is taken by its length: no NUL ends it early. */
	ASSERT_INT_EQ(orch_tokens_check(t, "Bearer " TOK_A "\0xyz",
	                  strlen("Bearer " TOK_A) + 4),
	    ORCH_AUTH_MALFORMED);
	orch_tokens_free(t);
}

/* Writes text into dir/name with mode; returns the path (malloc'd). */
static char *
write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT(fd >= 0);
	ASSERT_INT_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
	close(fd);
	ASSERT(chmod(path, mode) == 0);
	return strdup(path);
}

static void
test_load(void)
{
	char *dir = h_tmpdir("auth"), *p, err[1024];
	struct orch_tokens *t = NULL;

	p = write_file(dir, "ok", "# ops\n" TOK_A "\n", 0600);
	ASSERT_INT_EQ(orch_tokens_load(p, &t, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(check(t, "Bearer " TOK_A), ORCH_AUTH_OK);
	orch_tokens_free(t);
	t = NULL;
	/* Group-readable is only warned about (a deliberate root:orch 640). */
	ASSERT(chmod(p, 0640) == 0);
	ASSERT_INT_EQ(orch_tokens_load(p, &t, err, sizeof(err)), ORCH_OK);
	orch_tokens_free(t);
	t = NULL;
	free(p);

	/* Others may read it, or its group change it: refused, with the
	 * fix, and without its content. */
	p = write_file(dir, "open", TOK_A "\n", 0644);
	ASSERT_INT_EQ(orch_tokens_load(p, &t, err, sizeof(err)), ORCH_EPERM);
	ASSERT(t == NULL);
	ASSERT_STR_CONTAINS(err, p);
	ASSERT_STR_CONTAINS(err, "mode 0644");
	ASSERT_STR_CONTAINS(err, "chmod 600");
	ASSERT(strstr(err, TOK_A) == NULL);
	ASSERT(chmod(p, 0620) == 0);
	ASSERT_INT_EQ(orch_tokens_load(p, &t, err, sizeof(err)), ORCH_EPERM);
	ASSERT_STR_CONTAINS(err, "mode 0620");
	ASSERT(chmod(p, 0602) == 0);
	ASSERT_INT_EQ(orch_tokens_load(p, &t, err, sizeof(err)), ORCH_EPERM);
	free(p);

	/* Empty, missing, a directory, too short a token: refused. */
	p = write_file(dir, "empty", "", 0600);
	ASSERT_INT_EQ(orch_tokens_load(p, &t, err, sizeof(err)), ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "no token in it");
	ASSERT_STR_CONTAINS(err, p);
	free(p);
	ASSERT_INT_EQ(
	    orch_tokens_load("/nonexistent/tokens", &t, err, sizeof(err)),
	    ORCH_ENOENT);
	ASSERT_STR_CONTAINS(err, "token file /nonexistent/tokens: No such");
	ASSERT_INT_EQ(orch_tokens_load(dir, &t, err, sizeof(err)), ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "not a regular file");
	p = write_file(dir, "weak", "hunter2\n", 0600);
	ASSERT_INT_EQ(orch_tokens_load(p, &t, err, sizeof(err)), ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "line 1:");
	ASSERT(strstr(err, "hunter2") == NULL);
	free(p);
	ASSERT(t == NULL);

	h_rm_rf(dir);
	free(dir);
}

int
main(void)
{
	RUN(test_parse);
	RUN(test_check);
	RUN(test_load);
	return 0;
}
