/*
 * orchctl: the command-line client of the manager's HTTP JSON gateway.
 *
 * Every verb parses all of its arguments before it talks to the manager,
 * so that a usage error never leaves a request half done.  Data goes to
 * stdout; messages and errors go to stderr.  Exit status: 0 done, 1 the
 * manager refused or answered something unexpected, 2 a usage error, 3 the
 * manager cannot be reached (an https:// manager whose certificate is not
 * trusted included), 4 the manager wants a token (none was given, or it
 * refused the one given), 5 --wait saw the task fail (or stop before it
 * ran), 6 --wait gave up (--wait-timeout), 130 --wait was interrupted.
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "age.h"
#include "args.h"
#include "client.h"
#include "clock.h"
#include "color.h"
#include "error.h"
#include "idem.h"
#include "print.h"
#include "table.h"
#include "task.h"
#include "trail.h"
#include "version.h"

#define ADDR_DEFAULT "http://127.0.0.1:3000"
#define ADDR_ENV "ORCH_ADDR"
#define CACERT_ENV "ORCH_CACERT"
#define ADDR_MAX 2048
#define TOKEN_ENV "ORCH_TOKEN"
#define TOKEN_MAX 4096

/* A shorter id prefix would match by accident too often to be useful. */
#define ID_PREFIX_MIN 4
/* Characters of an id or container id shown in tables and messages. */
#define ID_SHORT 8

enum ctl_exit {
	EXIT_DONE = 0,
	EXIT_REFUSED = 1, /* the manager refused, or answered nonsense */
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,   /* no connection, or an untrusted certificate */
	EXIT_UNAUTHORIZED = 4,  /* HTTP 401: no token, or a refused one */
	EXIT_TASK_FAILED = 5,   /* --wait: it failed, or stopped unstarted */
	EXIT_WAIT_TIMEOUT = 6,  /* --wait: not there within --wait-timeout */
	EXIT_INTERRUPTED = 130, /* --wait: SIGINT or SIGTERM (128 + 2) */
};

/* --wait: how often the task is asked for, and the default limit. */
#define WAIT_POLL_MS 200
#define WAIT_TIMEOUT_DEFAULT_S 300
#define WAIT_TIMEOUT_MAX_S 86400

/* A verb printed its help: main() exits EXIT_DONE. */
#define CTL_HELPED (-1)

enum opt_id {
	OPT_HELP = 1,
	OPT_VERSION,
	OPT_ADDR,
	OPT_CACERT,
	OPT_OUTPUT,
	OPT_STATUS,
	OPT_CPU,
	OPT_MEMORY,
	OPT_ENV,
	OPT_REPLICAS,
	OPT_CONSTRAINT,
	OPT_PLACEMENT,
	OPT_RESTART,
	OPT_IDEM_KEY,
	OPT_TOKEN,
	OPT_PRIVILEGED,
	OPT_VOLUME,
	OPT_NETWORK,
	OPT_CAP_ADD,
	OPT_SINCE,
	OPT_DRIVER,
	OPT_FOLLOW,
	OPT_TAIL,
	OPT_STREAM,
	OPT_COLOR,
	OPT_WAIT,
	OPT_WAIT_TIMEOUT,
};

struct ctl;

struct verb {
	const char *name;
	const char *synopsis; /* arguments after "orchctl <name> " */
	const char *help;     /* the rest of "orchctl <name> --help" */
	int (*run)(struct ctl *ctl, struct orch_args *a);
};

struct ctl {
	const struct verb *verb;
	const char *addr_flag;   /* --addr: beats ORCH_ADDR */
	const char *cacert_flag; /* --cacert: beats ORCH_CACERT */
	const char *token_flag;  /* --token: beats ORCH_TOKEN */
	const char *token_from;  /* where the token sent came from, or NULL */
	char base[ADDR_MAX];
	struct orch_client *client;
	bool json;                  /* -o json */
	bool names;                 /* -o name */
	enum orch_color_mode color; /* --color */
	bool wait;                  /* --wait or --wait-timeout */
	int wait_timeout_s;
};

static const char usage_text[] =
    "Usage: orchctl [--addr URL] [--token TOKEN] [--cacert FILE] COMMAND "
    "[ARGS]\n"
    "\n"
    "Commands:\n"
    "  run NAME IMAGE [--cpu N] [--memory MB] [-e K=V]... [--constraint C]...\n"
    "      [--placement P] [--restart R] [--replicas N] [--privileged]\n"
    "      [-v SRC:DST[:ro]]... [--network N] [--cap-add CAP]...\n"
    "      [--idempotency-key K] [--wait] [--wait-timeout SEC]\n"
    "      [-- CMD ARGS...]\n"
    "                        submit a task (with --replicas: a service)\n"
    "  list [--status S] [-o json|name]\n"
    "                        list the tasks of the cluster\n"
    "  get ID|NAME [-o json] show one task\n"
    "  stop ID|NAME [--wait] [--wait-timeout SEC]\n"
    "                        ask for a task to be stopped\n"
    "  nodes [-o json|name]  list the nodes of the cluster\n"
    "  node get ID|NAME [-o json]\n"
    "                        show one node\n"
    "  node drain|undrain ID|NAME\n"
    "                        stop placing tasks on a node and move its\n"
    "                        replicas away, or undo it\n"
    "  service create NAME IMAGE [--replicas N] [run's options]\n"
    "                        create a service\n"
    "  service ls [-o json|name]\n"
    "                        list the services\n"
    "  service get NAME [-o json]\n"
    "                        show a service and its tasks\n"
    "  service rm NAME       delete a service and its tasks\n"
    "  scale NAME N          set a service's replicas\n"
    "  events [--since N] [-o json]\n"
    "                        print events as they happen\n"
    "  logs TASK [-f] [--tail N] [--stream S]\n"
    "                        print what a task printed, -f as it prints\n"
    "  help [COMMAND]        show this help, or a command's\n"
    "\n"
    "Options:\n"
    "  --addr URL            the manager's HTTP address (environment " ADDR_ENV
    ";\n"
    "                        default " ADDR_DEFAULT ")\n"
    "  --cacert FILE         verify an https:// manager with the CA "
    "certificates\n"
    "                        of FILE only (environment " CACERT_ENV
    "; default:\n"
    "                        the system's)\n"
    "  --token TOKEN         the API token, when the manager has a token "
    "file\n"
    "                        (environment " TOKEN_ENV "; safer: not shown "
    "by ps)\n"
    "  --color WHEN          colour statuses: auto (the default: on a "
    "terminal,\n"
    "                        unless NO_COLOR is set), always or never\n"
    "  -h, --help            show this help; COMMAND --help shows a command's\n"
    "  --version             print the version\n"
    "\n"
    "A task is named by its id, a unique id prefix of at least 4 characters,\n"
    "or its name; a node by its id or its name.\n"
    "\n"
    "Exit status: 0 done, 1 the manager refused or answered unexpectedly,\n"
    "2 usage error, 3 the manager cannot be reached (or its certificate is\n"
    "not trusted), 4 the manager wants a token (none given, or the one given\n"
    "was refused), 5 --wait saw the task fail (or stop before it ran),\n"
    "6 --wait gave up after --wait-timeout, 130 --wait was interrupted.\n";

/* The options that reach the manager, which every verb takes too. */
/* clang-format off */
#define CONN_OPTS                                                              \
	{"addr", 0, true, OPT_ADDR}, {"cacert", 0, true, OPT_CACERT},          \
	{"token", 0, true, OPT_TOKEN}, {"color", 0, true, OPT_COLOR}
/* clang-format on */

static const struct orch_args_opt global_opts[] = {
    {"help", 'h', false, OPT_HELP},
    {"version", 0, false, OPT_VERSION},
    CONN_OPTS,
    {NULL, 0, false, 0},
};

static const struct orch_args_opt run_opts[] = {
    {"help", 'h', false, OPT_HELP},
    CONN_OPTS,
    {"cpu", 0, true, OPT_CPU},
    {"memory", 0, true, OPT_MEMORY},
    {"env", 'e', true, OPT_ENV},
    {"replicas", 0, true, OPT_REPLICAS},
    {"constraint", 0, true, OPT_CONSTRAINT},
    {"placement", 0, true, OPT_PLACEMENT},
    {"restart", 0, true, OPT_RESTART},
    {"idempotency-key", 0, true, OPT_IDEM_KEY},
    {"privileged", 0, false, OPT_PRIVILEGED},
    {"volume", 'v', true, OPT_VOLUME},
    {"network", 0, true, OPT_NETWORK},
    {"cap-add", 0, true, OPT_CAP_ADD},
    {"driver", 0, true, OPT_DRIVER},
    {"wait", 0, false, OPT_WAIT},
    {"wait-timeout", 0, true, OPT_WAIT_TIMEOUT},
    {NULL, 0, false, 0},
};

static const struct orch_args_opt list_opts[] = {
    {"help", 'h', false, OPT_HELP},
    CONN_OPTS,
    {"output", 'o', true, OPT_OUTPUT},
    {"status", 0, true, OPT_STATUS},
    {NULL, 0, false, 0},
};

static const struct orch_args_opt get_opts[] = {
    {"help", 'h', false, OPT_HELP},
    CONN_OPTS,
    {"output", 'o', true, OPT_OUTPUT},
    {NULL, 0, false, 0},
};

static const struct orch_args_opt stop_opts[] = {
    {"help", 'h', false, OPT_HELP},
    CONN_OPTS,
    {"wait", 0, false, OPT_WAIT},
    {"wait-timeout", 0, true, OPT_WAIT_TIMEOUT},
    {NULL, 0, false, 0},
};

/* The options of a verb that only talks to the manager (scale). */
static const struct orch_args_opt conn_opts[] = {
    {"help", 'h', false, OPT_HELP},
    CONN_OPTS,
    {NULL, 0, false, 0},
};

static const struct orch_args_opt events_opts[] = {
    {"help", 'h', false, OPT_HELP},
    CONN_OPTS,
    {"output", 'o', true, OPT_OUTPUT},
    {"since", 0, true, OPT_SINCE},
    {NULL, 0, false, 0},
};

static const struct orch_args_opt logs_opts[] = {
    {"help", 'h', false, OPT_HELP},
    {"addr", 0, true, OPT_ADDR},
    {"cacert", 0, true, OPT_CACERT},
    {"token", 0, true, OPT_TOKEN},
    {"follow", 'f', false, OPT_FOLLOW},
    {"tail", 0, true, OPT_TAIL},
    {"stream", 0, true, OPT_STREAM},
    {NULL, 0, false, 0},
};

static const struct orch_args_opt help_opts[] = {
    {"help", 'h', false, OPT_HELP},
    {NULL, 0, false, 0},
};

/* The options every verb takes to reach the manager, for its help. */
#define CONN_OPTIONS_HELP                                                      \
	"  --addr URL       the manager's HTTP address\n"                      \
	"  --token TOKEN    the API token (environment " TOKEN_ENV ")\n"       \
	"  --cacert FILE    the CA to verify an https:// manager with\n"       \
	"                   (environment " CACERT_ENV ")\n"                    \
	"  --color WHEN     colour statuses: auto (on a terminal, unless\n"    \
	"                   NO_COLOR is set), always or never\n"

/* What --wait is after. */
enum wait_goal {
	WAIT_RUNNING, /* run: Running, or ended */
	WAIT_ENDED,   /* stop: Stopped, or ended otherwise */
};

static int task_wait(
    struct ctl *ctl, const char *id, const char *name, enum wait_goal goal);
static int service_wait(struct ctl *ctl, const char *name);
static bool path_make(
    const char *prefix, const char *name, char *path, size_t len);

/* ---- messages ---- */

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "orchctl: <message>" on stderr. */
static void
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("orchctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int ctl_usage(const struct ctl *ctl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reports a usage error of the current verb.  Returns EXIT_USAGE. */
static int
ctl_usage(const struct ctl *ctl, const char *fmt, ...)
{
	const struct verb *v = ctl->verb;
	va_list ap;

	fprintf(stderr, "orchctl %s: ", v->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr,
	    "\nUsage: orchctl %s %s\nRun 'orchctl %s --help' for more.\n",
	    v->name, v->synopsis, v->name);
	return EXIT_USAGE;
}

static void
verb_help_print(const struct verb *v)
{
	printf("Usage: orchctl %s %s\n\n%s", v->name, v->synopsis, v->help);
}

/* ---- JSON helpers ---- */

/* The string member key of object o, or NULL when absent or not a string. */
static const char *
jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/*
 * Makes a JSON string of a command-line argument.  Returns ORCH_OK,
 * ORCH_EINVAL when s is not UTF-8, or ORCH_ENOMEM.
 */
static int
jstr_new(const char *s, json_t **out)
{
	json_t *t;

	if ((*out = json_string(s)) != NULL)
		return ORCH_OK;
	/* json_string() fails alike on bad UTF-8 and on no memory. */
	if ((t = json_string_nocheck(s)) == NULL)
		return ORCH_ENOMEM;
	json_decref(t);
	return ORCH_EINVAL;
}

/* Prints JSON pretty, as -o json does.  Returns an exit code. */
static int
json_print(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2));

	if (s == NULL) {
		fail("out of memory");
		return EXIT_REFUSED;
	}
	puts(s);
	free(s);
	return EXIT_DONE;
}

/* ---- talking to the manager ---- */

/*
 * Finds the token to send: --token, else ORCH_TOKEN, else none.  A token
 * goes into a header as it is, so one that could break the header (a
 * blank, a control character) is a usage error, which never quotes it.
 * Returns an exit code, with *token (OUT) NULL when there is none.
 */
static int
ctl_token(struct ctl *ctl, const char **token)
{
	const char *t = ctl->token_flag, *from = "--token";
	size_t n;

	if (t == NULL) {
		t = getenv(TOKEN_ENV);
		from = TOKEN_ENV;
	}
	*token = NULL;
	if (t == NULL || (t[0] == '\0' && ctl->token_flag == NULL))
		return EXIT_DONE;
	for (n = 0; t[n] != '\0'; n++) {
		if ((unsigned char)t[n] <= ' ' || (unsigned char)t[n] >= 0x7f)
			break;
	}
	if (n == 0 || t[n] != '\0' || n > TOKEN_MAX) {
		fail("the token from %s is not a token: it must be 1 to %d "
		     "printable characters without blanks",
		    from, TOKEN_MAX);
		return EXIT_USAGE;
	}
	ctl->token_from = from;
	*token = t;
	return EXIT_DONE;
}

/*
 * Creates the client once: the address comes from --addr, else ORCH_ADDR,
 * else the default; the token as ctl_token() finds it.  Returns an exit
 * code.
 */
static int
ctl_connect(struct ctl *ctl)
{
	const char *addr, *from, *cacert, *token;
	int rc;

	if (ctl->client != NULL)
		return EXIT_DONE;
	if (ctl->addr_flag != NULL) {
		addr = ctl->addr_flag;
		from = "--addr";
	} else if ((addr = getenv(ADDR_ENV)) != NULL && addr[0] != '\0') {
		from = ADDR_ENV;
	} else {
		addr = ADDR_DEFAULT;
		from = "the default";
	}
	rc = orch_client_addr_normalize(addr, ctl->base, sizeof(ctl->base));
	if (rc != ORCH_OK) {
		fail("bad manager address \"%s\" (from %s): want "
		     "http://HOST:PORT "
		     "or https://HOST:PORT",
		    addr, from);
		return EXIT_USAGE;
	}
	cacert = ctl->cacert_flag;
	if (cacert == NULL && (cacert = getenv(CACERT_ENV)) != NULL &&
	    cacert[0] == '\0')
		cacert = NULL;
	/* curl would only say it cannot use it, after connecting. */
	if (cacert != NULL && access(cacert, R_OK) != 0) {
		fail("cannot read the CA file \"%s\" (from %s): %s", cacert,
		    ctl->cacert_flag != NULL ? "--cacert" : CACERT_ENV,
		    strerror(errno));
		return EXIT_USAGE;
	}
	if ((rc = ctl_token(ctl, &token)) != EXIT_DONE)
		return rc;
	if (orch_client_new(ctl->base, cacert, &ctl->client) != ORCH_OK ||
	    (token != NULL &&
	        orch_client_token_set(ctl->client, token) != ORCH_OK)) {
		fail("out of memory");
		return EXIT_REFUSED;
	}
	return EXIT_DONE;
}

/* Prints the error of a non-2xx answer: the manager's {"error"} message. */
static void
ctl_reply_error(const struct ctl *ctl, const struct orch_reply *r)
{
	json_t *j = json_loadb(r->body, r->len, 0, NULL);
	const char *msg = jstr(j, "error");

	fputs("orchctl: ", stderr);
	if (msg != NULL) {
		orch_print_text(msg, stderr);
		fprintf(stderr, " (HTTP %ld)\n", r->status);
	} else if (r->len == 0) {
		fprintf(stderr,
		    "the manager at %s answered HTTP %ld with no "
		    "message\n",
		    ctl->base, r->status);
	} else {
		char head[128];

		/* A proxy's HTML page, say: a little of it helps. */
		fprintf(stderr,
		    "the manager at %s answered HTTP %ld without a "
		    "JSON error: \"",
		    ctl->base, r->status);
		orch_print_text(
		    orch_print_cut(r->body, 80, head, sizeof(head)), stderr);
		fputs(r->len > strlen(head) ? "...\"\n" : "\"\n", stderr);
	}
	json_decref(j);
}

/* Prints why an answer is not 2xx.  Returns EXIT_DONE for a 2xx, else
 * the exit code. */
static int
ctl_reply_check(const struct ctl *ctl, const struct orch_reply *r)
{
	if (r->status == 401) {
		ctl_reply_error(ctl, r);
		if (ctl->token_from == NULL)
			fail("the manager at %s wants an API token: give it "
			     "with --token or %s",
			    ctl->base, TOKEN_ENV);
		else
			fail("the manager at %s refused the token from %s",
			    ctl->base, ctl->token_from);
		return EXIT_UNAUTHORIZED;
	}
	if (r->status < 200 || r->status > 299) {
		ctl_reply_error(ctl, r);
		return EXIT_REFUSED;
	}
	return EXIT_DONE;
}

/* How many times a request with an idempotency key is sent, and the
 * waits before the second and the third. */
#define KEYED_ATTEMPTS 3
static const int keyed_backoff_ms[KEYED_ATTEMPTS - 1] = {500, 1500};

/* Whether a keyed request that ended with crc and reply r is worth
 * sending again: the connection failed or broke, so the request may not
 * have been served (or may have been: the key makes that safe), or the
 * manager said it cannot serve it now (503). */
static bool
keyed_retry(int crc, const struct orch_reply *r)
{
	return crc == ORCH_ECLOSED || crc == ORCH_EUNAVAIL ||
	    (crc == ORCH_OK && r->status == 503);
}

/*
 * Sends a request and decodes the JSON answer.  With an idempotency key
 * (key not NULL) it goes with the request, and the request is sent again,
 * up to KEYED_ATTEMPTS times, when keyed_retry() says so: the manager
 * answers a retry the object the first attempt created, never a second.
 * Returns EXIT_DONE with *root (OUT, a new reference) when the manager
 * answered 2xx with JSON; otherwise prints why and returns the exit code.
 */
static int
ctl_call_keyed(struct ctl *ctl, const char *method, const char *path,
    const char *body, const char *key, json_t **root)
{
	struct orch_reply r = {0};
	json_error_t jerr;
	char err[CURL_ERROR_SIZE + 64], hdr[ORCH_IDEM_KEY_MAX + 32];
	const char *const headers[] = {hdr, NULL};
	int rc, crc;

	*root = NULL;
	if ((rc = ctl_connect(ctl)) != EXIT_DONE)
		goto out;
	snprintf(
	    hdr, sizeof(hdr), "Idempotency-Key: %s", key != NULL ? key : "");
	for (int attempt = 1;; attempt++) {
		orch_reply_fini(&r);
		crc = orch_client_request(ctl->client, method, path, body,
		    key != NULL ? headers : NULL, &r, err, sizeof(err));
		if (key == NULL || attempt == KEYED_ATTEMPTS ||
		    !keyed_retry(crc, &r))
			break;
		fprintf(stderr,
		    "orchctl: the manager at %s %s; trying again (the "
		    "request's idempotency key keeps it from being done "
		    "twice)\n",
		    ctl->base,
		    crc == ORCH_OK ? "is unavailable (HTTP 503)"
		                   : "did not answer");
		poll(NULL, 0, keyed_backoff_ms[attempt - 1]);
	}
	switch (crc) {
	case ORCH_OK: break;
	case ORCH_EUNAVAIL:
	case ORCH_ETIMEDOUT:
	case ORCH_ECLOSED:
	case ORCH_EIO:
		fail("cannot reach the manager at %s: %s", ctl->base, err);
		rc = EXIT_UNREACHABLE;
		goto out;
	case ORCH_ETOOBIG:
	case ORCH_EPROTO:
		fail("unexpected answer from the manager at %s: %s", ctl->base,
		    err);
		rc = EXIT_REFUSED;
		goto out;
	default:
		fail("%s %s: %s", method, path, err);
		rc = EXIT_REFUSED;
		goto out;
	}
	if ((rc = ctl_reply_check(ctl, &r)) != EXIT_DONE)
		goto out;
	/* A long list streams; one the manager could not finish says why
	 * in a trailer, and is not shown as if it were whole. */
	if (r.cut[0] != '\0') {
		fprintf(stderr,
		    "orchctl: the manager at %s cut its answer to %s %s "
		    "short: ",
		    ctl->base, method, path);
		orch_print_text(r.cut, stderr);
		fputc('\n', stderr);
		rc = EXIT_REFUSED;
		goto out;
	}
	if ((*root = json_loadb(r.body, r.len, 0, &jerr)) == NULL) {
		fail("unexpected answer from the manager at %s to %s %s "
		     "(HTTP %ld): not JSON: %s",
		    ctl->base, method, path, r.status, jerr.text);
		rc = EXIT_REFUSED;
		goto out;
	}
	rc = EXIT_DONE;
out:
	orch_reply_fini(&r);
	return rc;
}

/* ctl_call_keyed() without a key: sent once. */
static int
ctl_call(struct ctl *ctl, const char *method, const char *path,
    const char *body, json_t **root)
{
	return ctl_call_keyed(ctl, method, path, body, NULL, root);
}

/* Reports a 2xx answer of the wrong shape.  Returns EXIT_REFUSED. */
static int
ctl_unexpected(const struct ctl *ctl, const char *what)
{
	fail("unexpected answer from the manager at %s: %s", ctl->base, what);
	return EXIT_REFUSED;
}

/*
 * ctl_call() for an answer of JSON type want (an object or an array):
 * another one is reported as unexpected, with the message what.  Returns
 * EXIT_DONE with *root (OUT, a new reference), or the exit code.
 */
static int
ctl_call_expect(struct ctl *ctl, const char *method, const char *path,
    json_type want, const char *what, json_t **root)
{
	int rc = ctl_call(ctl, method, path, NULL, root);

	if (rc == EXIT_DONE && json_typeof(*root) != want) {
		json_decref(*root);
		*root = NULL;
		rc = ctl_unexpected(ctl, what);
	}
	return rc;
}

/*
 * Finds the task that arg names.  A full id is asked for directly; anything
 * else is looked up in the list of all tasks, as an exact name first and
 * then as an id prefix of at least ID_PREFIX_MIN characters.  Names may
 * repeat, so several matches are an error that lists their ids.  Returns
 * EXIT_DONE with *task (OUT, a new reference), or prints why not and
 * returns the exit code.
 */
static int
ctl_task_resolve(struct ctl *ctl, const char *arg, json_t **task)
{
	json_t *root = NULL, *t, *matches = NULL;
	char path[64];
	const char *kind = "name";
	size_t i, n, arglen = strlen(arg);
	int rc;

	*task = NULL;
	if (orch_id_valid(arg)) {
		snprintf(path, sizeof(path), "/tasks/%s", arg);
		return ctl_call_expect(ctl, "GET", path, JSON_OBJECT,
		    "a task is not a JSON object", task);
	}

	if ((rc = ctl_call_expect(ctl, "GET", "/tasks", JSON_ARRAY,
	         "the task list is not a JSON array", &root)) != EXIT_DONE)
		goto out;
	if ((matches = json_array()) == NULL)
		goto nomem;
	json_array_foreach(root, i, t)
	{
		const char *name = jstr(t, "name");

		if (name != NULL && strcmp(name, arg) == 0 &&
		    json_array_append(matches, t) != 0)
			goto nomem;
	}
	if (json_array_size(matches) == 0 && arglen >= ID_PREFIX_MIN) {
		kind = "id prefix";
		json_array_foreach(root, i, t)
		{
			const char *id = jstr(t, "id");

			if (id != NULL && strncasecmp(id, arg, arglen) == 0 &&
			    json_array_append(matches, t) != 0)
				goto nomem;
		}
	}

	/* A name of a task that restarted names its last attempt: drop the
	 * ones something replaced, when that leaves any. */
	n = json_array_size(matches);
	if (n > 1) {
		json_t *last = json_array();

		if (last == NULL)
			goto nomem;
		json_array_foreach(matches, i, t)
		{
			if (jstr(t, "replaced_by") == NULL &&
			    json_array_append(last, t) != 0) {
				json_decref(last);
				goto nomem;
			}
		}
		if (json_array_size(last) > 0) {
			json_decref(matches);
			matches = last;
		} else {
			json_decref(last);
		}
	}
	n = json_array_size(matches);
	if (n == 1) {
		*task = json_incref(json_array_get(matches, 0));
		rc = EXIT_DONE;
		goto out;
	}
	rc = EXIT_REFUSED;
	fputs("orchctl: ", stderr);
	if (n == 0) {
		fputs("no task with id or name \"", stderr);
		orch_print_text(arg, stderr);
		fputs("\"\n", stderr);
		goto out;
	}
	fprintf(stderr, "%s \"", kind);
	orch_print_text(arg, stderr);
	fprintf(stderr, "\" matches %zu tasks; use an id:", n);
	json_array_foreach(matches, i, t)
	{
		const char *id = jstr(t, "id");

		fputs(i == 0 ? " " : ", ", stderr);
		orch_print_text(id != NULL ? id : "?", stderr);
	}
	fputc('\n', stderr);
	goto out;
nomem:
	fail("out of memory");
	rc = EXIT_REFUSED;
out:
	json_decref(matches);
	json_decref(root);
	return rc;
}

/* A whole number from min to max. */
static bool
parse_whole(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end != '\0' || errno == ERANGE || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* The positional arguments of a verb that takes up to max of them. */
struct ctl_pos {
	const char *val[2];
	int n;
	int max;
	const char *extra; /* said after "unexpected argument \"X\"" */
};

/*
 * Reads a verb's arguments up to its next own option, handling on the way
 * what every verb takes alike: --addr, -o, --help, "--", and positionals
 * into pos.  When pos is NULL, positionals are the verb's own too.
 * Returns EXIT_DONE with *k (OUT) the verb's own option, a positional or
 * ORCH_ARGS_END, and *val (OUT) its value; CTL_HELPED after --help; or a
 * usage error.
 */
static int
ctl_arg_next(struct ctl *ctl, struct orch_args *a,
    const struct orch_args_opt *opts, struct ctl_pos *pos, int *k,
    const char **val)
{
	for (;;) {
		switch ((*k = orch_args_next(a, opts, val))) {
		case ORCH_ARGS_ERROR: return ctl_usage(ctl, "%s", a->err);
		case ORCH_ARGS_DASHDASH: break;
		case ORCH_ARGS_POSITIONAL:
			if (pos == NULL)
				return EXIT_DONE;
			if (pos->n == pos->max)
				return ctl_usage(ctl,
				    "unexpected argument \"%s\"%s", *val,
				    pos->extra);
			pos->val[pos->n++] = *val;
			break;
		case OPT_HELP: verb_help_print(ctl->verb); return CTL_HELPED;
		case OPT_ADDR: ctl->addr_flag = *val; break;
		case OPT_CACERT: ctl->cacert_flag = *val; break;
		case OPT_TOKEN: ctl->token_flag = *val; break;
		case OPT_OUTPUT:
			if (strcmp(*val, "json") == 0)
				ctl->json = true;
			else if (strcmp(*val, "name") == 0)
				ctl->names = true;
			else
				return ctl_usage(ctl,
				    "unknown output format "
				    "\"%s\": want json or name",
				    *val);
			break;
		case OPT_COLOR:
			if (orch_color_mode_parse(*val, &ctl->color) != ORCH_OK)
				return ctl_usage(ctl,
				    "--color wants auto, always or never, not "
				    "\"%s\"",
				    *val);
			break;
		case OPT_WAIT: ctl->wait = true; break;
		case OPT_WAIT_TIMEOUT: {
			long long v;

			if (!parse_whole(*val, 1, WAIT_TIMEOUT_MAX_S, &v))
				return ctl_usage(ctl,
				    "--wait-timeout wants whole seconds from 1 "
				    "to %d, not \"%s\"",
				    WAIT_TIMEOUT_MAX_S, *val);
			ctl->wait = true;
			ctl->wait_timeout_s = (int)v;
			break;
		}
		default: return EXIT_DONE;
		}
	}
}

/*
 * Reads all the arguments of a verb that has no options of its own.
 * Returns an exit code as ctl_arg_next() does.
 */
static int
ctl_args_read(struct ctl *ctl, struct orch_args *a,
    const struct orch_args_opt *opts, struct ctl_pos *pos)
{
	const char *val;
	int k, rc;

	if ((rc = ctl_arg_next(ctl, a, opts, pos, &k, &val)) == EXIT_DONE &&
	    k != ORCH_ARGS_END)
		rc = ctl_usage(ctl, "unexpected option");
	return rc;
}

/* ---- run ---- */

/* The options run and service create share, for their help. */
#define RUN_OPTIONS_HELP                                                       \
	"  --driver D       docker (default: IMAGE as a container) or exec\n"  \
	"                   (no IMAGE: CMD as a plain process on the node;\n"  \
	"                   only where the container policy allows it)\n"      \
	"  --cpu N          CPU cores, a positive number (default 0.5)\n"      \
	"  --memory MB      memory in MB, a positive integer (default 256)\n"  \
	"  -e, --env K=V    set an environment variable; repeatable\n"         \
	"  --constraint C   where it may run: KEY==VALUE or KEY!=VALUE over "  \
	"the\n"                                                                \
	"                   nodes' labels (and node.name, node.id); "          \
	"repeatable\n"                                                         \
	"  --placement P    spread (default: the least allocated node) or\n"   \
	"                   binpack (the most allocated node that fits)\n"     \
	"  --restart R      never (a task's default), on-failure,\n"           \
	"                   on-failure:N or always (a service's default)\n"    \
	"  --idempotency-key K\n"                                              \
	"                   the request's key (default: a new UUID each "      \
	"time):\n"                                                             \
	"                   the same K again within 24 h answers what the\n"   \
	"                   first created instead of creating another\n"       \
	"  --privileged     run the container privileged *\n"                  \
	"  -v, --volume SRC:DST[:ro]\n"                                        \
	"                   mount a host path (absolute: *) or a named\n"      \
	"                   volume at DST, read-only with :ro; repeatable\n"   \
	"  --network N      bridge (default), host (*) or none\n"              \
	"  --cap-add CAP    add a Linux capability (NET_ADMIN) *; "            \
	"repeatable\n"                                                         \
	"                   * only where the manager's container policy\n"     \
	"                     allows it for the image (else HTTP 403)\n"       \
	"  --wait           wait until the task runs (or has ended; a\n"       \
	"                   service: until all its replicas run), showing\n"   \
	"                   its status as it changes; exit 5 if it fails\n"    \
	"  --wait-timeout SEC\n"                                               \
	"                   give up waiting after SEC seconds, exit 6\n"       \
	"                   (default 300; implies --wait)\n"

static bool
parse_cpu(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	/* The negated test also refuses NaN. */
	if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v) ||
	    !(v > 0.0))
		return false;
	*out = v;
	return true;
}

static bool
parse_memory(const char *s, long long *out)
{
	return parse_whole(s, 1, LLONG_MAX, out);
}

static bool
parse_replicas(const char *s, long long *out)
{
	return parse_whole(s, 0, 1000000, out);
}

/*
 * Makes a JSON string of the argument s (*out, OUT, a new reference).
 * Returns an exit code: a usage error that names s as what when s is not
 * UTF-8.
 */
static int
arg_string(struct ctl *ctl, const char *s, const char *what, json_t **out)
{
	int rc = jstr_new(s, out);

	if (rc == ORCH_EINVAL)
		return ctl_usage(ctl, "%s is not UTF-8 text", what);
	if (rc != ORCH_OK) {
		fail("out of memory");
		return EXIT_REFUSED;
	}
	return EXIT_DONE;
}

/*
 * run and service create: a task, or a service when as_service or when
 * --replicas is given.  Reads NAME IMAGE and the options, then submits.
 */
static int
spec_submit(struct ctl *ctl, struct orch_args *a, bool as_service)
{
	json_t *req = NULL, *env = NULL, *cmd = NULL, *root = NULL, *s = NULL;
	json_t *cons = NULL, *vols = NULL, *caps = NULL;
	const char *pos[2] = {NULL, NULL}, *val, *id, *eq, *driver = NULL;
	char *body = NULL, *key = NULL, idem[ORCH_ID_LEN];
	const char *idem_key = NULL;
	int npos = 0, k, rc;
	long long mem, replicas = -1;
	double cpu;

	if ((req = json_object()) == NULL || (env = json_object()) == NULL ||
	    (cmd = json_array()) == NULL || (cons = json_array()) == NULL ||
	    (vols = json_array()) == NULL || (caps = json_array()) == NULL)
		goto nomem;
	while ((rc = ctl_arg_next(ctl, a, run_opts, NULL, &k, &val)) ==
	        EXIT_DONE &&
	    k != ORCH_ARGS_END) {
		switch (k) {
		case ORCH_ARGS_POSITIONAL:
			if (a->rest) {
				if ((rc = arg_string(ctl, val, "the command",
				         &s)) != EXIT_DONE)
					goto out;
				if (json_array_append_new(cmd, s) != 0)
					goto nomem;
			} else if (npos < 2) {
				pos[npos++] = val;
			} else {
				rc = ctl_usage(ctl,
				    "unexpected argument \"%s\"; give "
				    "the command after --",
				    val);
				goto out;
			}
			break;
		case OPT_CPU:
			if (!parse_cpu(val, &cpu)) {
				rc = ctl_usage(ctl,
				    "--cpu must be a positive number "
				    "of cores, not \"%s\"",
				    val);
				goto out;
			}
			if (json_object_set_new(req, "cpu", json_real(cpu)) !=
			    0)
				goto nomem;
			break;
		case OPT_MEMORY:
			if (!parse_memory(val, &mem)) {
				rc = ctl_usage(ctl,
				    "--memory must be a positive whole "
				    "number of MB, not \"%s\"",
				    val);
				goto out;
			}
			if (json_object_set_new(req, "memory",
			        json_integer((json_int_t)mem)) != 0)
				goto nomem;
			break;
		case OPT_ENV:
			if ((eq = strchr(val, '=')) == NULL || eq == val) {
				rc = ctl_usage(ctl,
				    "-e wants K=V with a non-empty K, "
				    "not \"%s\"",
				    val);
				goto out;
			}
			if ((key = strndup(val, (size_t)(eq - val))) == NULL)
				goto nomem;
			/* The key is checked alone: a bad key would otherwise
			 * look like no memory to json_object_set_new(). */
			if ((rc = arg_string(ctl, key, "-e: a variable name",
			         &s)) != EXIT_DONE)
				goto out;
			json_decref(s);
			if ((rc = jstr_new(eq + 1, &s)) == ORCH_EINVAL) {
				rc = ctl_usage(ctl,
				    "-e: the value of %s is not UTF-8 "
				    "text",
				    key);
				goto out;
			}
			if (rc != ORCH_OK ||
			    json_object_set_new(env, key, s) != 0)
				goto nomem;
			free(key);
			key = NULL;
			break;
		case OPT_REPLICAS:
			if (!parse_replicas(val, &replicas)) {
				rc = ctl_usage(ctl,
				    "--replicas must be a whole "
				    "number, 0 or more, not \"%s\"",
				    val);
				goto out;
			}
			break;
		case OPT_CONSTRAINT:
			/* The manager checks it, and names it when it is
			 * malformed. */
			if ((rc = arg_string(ctl, val, "--constraint", &s)) !=
			    EXIT_DONE)
				goto out;
			if (json_array_append_new(cons, s) != 0)
				goto nomem;
			break;
		case OPT_PLACEMENT:
		case OPT_RESTART:
		case OPT_NETWORK:
			if ((rc = arg_string(ctl, val,
			         k == OPT_PLACEMENT     ? "--placement"
			             : k == OPT_RESTART ? "--restart"
			                                : "--network",
			         &s)) != EXIT_DONE)
				goto out;
			if (json_object_set_new(req,
			        k == OPT_PLACEMENT     ? "placement"
			            : k == OPT_RESTART ? "restart"
			                               : "network",
			        s) != 0)
				goto nomem;
			break;
		case OPT_IDEM_KEY: {
			char why[200];

			if (orch_idem_key_check(val, strlen(val), why,
			        sizeof(why)) != ORCH_OK) {
				rc = ctl_usage(
				    ctl, "--idempotency-key: %s", why);
				goto out;
			}
			idem_key = val;
			break;
		}
		case OPT_PRIVILEGED:
			if (json_object_set_new(
			        req, "privileged", json_true()) != 0)
				goto nomem;
			break;
		case OPT_DRIVER:
			if (strcmp(val, "docker") != 0 &&
			    strcmp(val, "exec") != 0) {
				rc = ctl_usage(ctl,
				    "--driver must be docker or exec, not "
				    "\"%s\"",
				    val);
				goto out;
			}
			driver = val;
			if (json_object_set_new(
			        req, "driver", json_string(val)) != 0)
				goto nomem;
			break;
		case OPT_VOLUME:
		case OPT_CAP_ADD:
			/* Checked by the manager, which names a bad one. */
			if ((rc = arg_string(ctl, val,
			         k == OPT_VOLUME ? "--volume" : "--cap-add",
			         &s)) != EXIT_DONE)
				goto out;
			if (json_array_append_new(
			        k == OPT_VOLUME ? vols : caps, s) != 0)
				goto nomem;
			break;
		default: rc = ctl_usage(ctl, "unexpected option"); goto out;
		}
	}
	if (rc != EXIT_DONE)
		goto out;
	if (replicas >= 0)
		as_service = true;
	/* A new key per invocation: the retries of this one are safe, and
	 * a script that runs orchctl again gets a new object, as it asked. */
	if (idem_key == NULL) {
		orch_id_new(idem);
		idem_key = idem;
	}
	/* An exec task has a command and no image. */
	if (driver != NULL && strcmp(driver, "exec") == 0) {
		if (npos == 0 || pos[0][0] == '\0') {
			rc = ctl_usage(ctl, "missing NAME");
			goto out;
		}
		if (npos > 1) {
			rc = ctl_usage(ctl,
			    "unexpected IMAGE \"%s\": an exec task runs "
			    "its command (after --) on the node, without an "
			    "image",
			    pos[1]);
			goto out;
		}
		if (json_array_size(cmd) == 0) {
			rc = ctl_usage(
			    ctl, "an exec task needs its command after --");
			goto out;
		}
		pos[1] = json_string_value(json_array_get(cmd, 0));
	} else if (npos < 2) {
		rc = ctl_usage(ctl,
		    npos == 0 ? "missing NAME and IMAGE" : "missing IMAGE");
		goto out;
	}
	if (pos[0][0] == '\0' || (npos == 2 && pos[1][0] == '\0')) {
		rc = ctl_usage(ctl, "NAME and IMAGE must not be empty");
		goto out;
	}
	for (int i = 0; i < npos; i++) {
		if ((rc = arg_string(ctl, pos[i], i == 0 ? "NAME" : "IMAGE",
		         &s)) != EXIT_DONE)
			goto out;
		if (json_object_set_new(req, i == 0 ? "name" : "image", s) != 0)
			goto nomem;
	}
	/* Left out when empty, so that the manager's defaults apply. */
	if (json_object_size(env) > 0 && json_object_set(req, "env", env) != 0)
		goto nomem;
	if (json_array_size(cmd) > 0 &&
	    json_object_set(req, "command", cmd) != 0)
		goto nomem;
	if (json_array_size(cons) > 0 &&
	    json_object_set(req, "constraints", cons) != 0)
		goto nomem;
	if (json_array_size(vols) > 0 &&
	    json_object_set(req, "volumes", vols) != 0)
		goto nomem;
	if (json_array_size(caps) > 0 &&
	    json_object_set(req, "cap_add", caps) != 0)
		goto nomem;
	if (as_service && replicas >= 0 &&
	    json_object_set_new(
	        req, "replicas", json_integer((json_int_t)replicas)) != 0)
		goto nomem;
	if ((body = json_dumps(req, JSON_COMPACT)) == NULL)
		goto nomem;

	/* A bad address is a usage error, reported before "Submitting". */
	if ((rc = ctl_connect(ctl)) != EXIT_DONE)
		goto out;
	if (as_service)
		printf("Creating service '%s' with %s '%s' and %lld "
		       "replica%s...\n",
		    pos[0], npos == 1 ? "command" : "image", pos[1],
		    replicas >= 0 ? replicas : 1,
		    replicas == 1 || replicas < 0 ? "" : "s");
	else
		printf("Submitting task '%s' with %s '%s'...\n", pos[0],
		    npos == 1 ? "command" : "image", pos[1]);
	fflush(stdout);
	if ((rc = ctl_call_keyed(ctl, "POST",
	         as_service ? "/services" : "/tasks", body, idem_key, &root)) !=
	    EXIT_DONE)
		goto out;
	if ((id = jstr(root, "id")) == NULL) {
		rc = ctl_unexpected(ctl,
		    as_service ? "the new service has no \"id\""
		               : "the new task has no \"id\"");
		goto out;
	}
	printf(as_service ? "Service '%s' created.\nID: "
	                  : "Task '%s' successfully submitted.\nID: ",
	    pos[0]);
	orch_print_text(id, stdout);
	putchar('\n');
	rc = EXIT_DONE;
	if (ctl->wait && as_service)
		rc = service_wait(ctl, pos[0]);
	else if (ctl->wait && !orch_id_valid(id))
		rc = ctl_unexpected(ctl, "the new task's \"id\" is not an id");
	else if (ctl->wait)
		rc = task_wait(ctl, id, pos[0], WAIT_RUNNING);
	goto out;
nomem:
	fail("out of memory");
	rc = EXIT_REFUSED;
out:
	free(key);
	free(body);
	json_decref(root);
	json_decref(caps);
	json_decref(vols);
	json_decref(cons);
	json_decref(cmd);
	json_decref(env);
	json_decref(req);
	return rc;
}

static int
verb_run(struct ctl *ctl, struct orch_args *a)
{
	return spec_submit(ctl, a, false);
}

/* ---- tables ---- */

/* Scratch space for the cells of one row that are made, not pointed to. */
struct row_cells {
	char id8[4 * ID_SHORT + 1];
	char node8[4 * ID_SHORT + 1];
	char ctr8[4 * ID_SHORT + 1];
	char a[64], b[64], c[64];
	char d[256];
	char age[24];
};

/*
 * Fills row from one item of a list; ctx is the table's own data.  Cells
 * made for it go in cells.
 */
typedef void row_fill_fn(const json_t *item, const json_t *ctx, int64_t now,
    const char **row, struct row_cells *cells);

/* A short id for a cell: NULL when there is none. */
static const char *
id_cell(const char *id, char *buf, size_t len)
{
	return id != NULL ? orch_print_cut(id, ID_SHORT, buf, len) : NULL;
}

/* The time since the RFC 3339 stamp at for a cell: "-" when none. */
static const char *
age_cell(const char *at, int64_t now, char *buf, size_t len)
{
	int64_t then;

	if (at == NULL)
		snprintf(buf, len, "-");
	else if (orch_age_rfc3339_parse(at, &then) != ORCH_OK)
		snprintf(buf, len, "?");
	else
		orch_age_format(now - then, buf, len);
	return buf;
}

/* Whether stdout gets colours (--color, NO_COLOR, a terminal). */
static bool
ctl_color(const struct ctl *ctl)
{
	return orch_color_use(ctl->color, STDOUT_FILENO);
}

/*
 * Prints the objects of array items as a table with the ncols columns
 * head, a row each by fill, the column status_col (-1: none) coloured as
 * statuses when ctl_color() says.  An item that is not an object is
 * unexpected, reported as notobj.  Returns an exit code.
 */
/* The most columns a table has (the node list's). */
#define CTL_TABLE_COLS_MAX 9

static int
ctl_table_print(struct ctl *ctl, const char *const *head, size_t ncols,
    const json_t *items, row_fill_fn *fill, const json_t *ctx,
    const char *notobj, int status_col)
{
	struct orch_table *t = NULL;
	struct row_cells cells;
	const json_t *item;
	const char *row[CTL_TABLE_COLS_MAX];
	int64_t now = orch_now_ms();
	size_t i;
	int rc = EXIT_REFUSED;

	if (ncols > CTL_TABLE_COLS_MAX ||
	    orch_table_new(ncols, &t) != ORCH_OK ||
	    orch_table_row_add(t, head) != ORCH_OK)
		goto nomem;
	if (status_col >= 0 && ctl_color(ctl))
		orch_table_style_set(t, (size_t)status_col, orch_color_status);
	json_array_foreach(items, i, item)
	{
		if (!json_is_object(item)) {
			rc = ctl_unexpected(ctl, notobj);
			goto out;
		}
		fill(item, ctx, now, row, &cells);
		if (orch_table_row_add(t, row) != ORCH_OK)
			goto nomem;
	}
	if (orch_table_print(t, stdout) != ORCH_OK) {
		fail("cannot write the table: %s", strerror(errno));
		goto out;
	}
	rc = EXIT_DONE;
	goto out;
nomem:
	fail("out of memory");
out:
	orch_table_free(t);
	return rc;
}

/* -o name: the name of each object of list, one a line, for scripts and
 * the shell's completion. */
static int
names_print(const json_t *list)
{
	const json_t *o;
	size_t i;

	json_array_foreach(list, i, o)
	{
		const char *name = jstr(o, "name");

		if (name == NULL)
			continue;
		orch_print_text(name, stdout);
		putchar('\n');
	}
	return EXIT_DONE;
}

/*
 * Asks for the list at path and prints it: as JSON with -o json, else as
 * the table print makes, or the line none when it is empty.  notarray
 * reports an answer that is not a list.  Returns an exit code.
 */
static int
ctl_list_show(struct ctl *ctl, const char *path, const char *notarray,
    const char *none, int (*print)(struct ctl *, const json_t *))
{
	json_t *root = NULL;
	int rc;

	if ((rc = ctl_call_expect(
	         ctl, "GET", path, JSON_ARRAY, notarray, &root)) != EXIT_DONE)
		goto out;
	if (ctl->json)
		rc = json_print(root);
	else if (ctl->names)
		rc = names_print(root);
	else if (json_array_size(root) == 0) {
		puts(none);
		rc = EXIT_DONE;
	} else
		rc = print(ctl, root);
out:
	json_decref(root);
	return rc;
}

/*
 * Prints one object: as JSON with -o json, else every field but skip (may
 * be NULL).  Returns an exit code.
 */
static int
ctl_object_show(const struct ctl *ctl, const json_t *o, const char *skip)
{
	if (ctl->json)
		return json_print(o);
	if (ctl->names) {
		orch_print_text(
		    jstr(o, "name") != NULL ? jstr(o, "name") : "-", stdout);
		putchar('\n');
		return EXIT_DONE;
	}
	if (!orch_print_fields(o, skip, ctl_color(ctl), stdout)) {
		fail("out of memory");
		return EXIT_REFUSED;
	}
	return EXIT_DONE;
}

/* ---- list ---- */

/* Finds a status by its name, in any case.  NULL when there is none. */
static const char *
status_canonical(const char *s)
{
	const char *name;
	int st;

	if (orch_task_status_parse(s, &st) == ORCH_OK)
		return orch_task_status_name(st);
	for (st = 1; (name = orch_task_status_name(st)) != NULL; st++) {
		if (strcasecmp(s, name) == 0)
			return name;
	}
	return NULL;
}

/*
 * The names of the nodes by id, as a JSON object, for the NODE column; NULL
 * when they cannot be read, and then the column shows short ids.  Quiet:
 * the list itself is what was asked for.
 */
static json_t *
node_names_read(struct ctl *ctl)
{
	struct orch_reply r = {0};
	json_t *list = NULL, *names = NULL, *n;
	char err[CURL_ERROR_SIZE + 64];
	size_t i;

	if (orch_client_request(ctl->client, "GET", "/nodes", NULL, NULL, &r,
	        err, sizeof(err)) != ORCH_OK)
		return NULL;
	if (r.status == 200 &&
	    (list = json_loadb(r.body, r.len, 0, NULL)) != NULL &&
	    json_is_array(list) && (names = json_object()) != NULL) {
		json_array_foreach(list, i, n)
		{
			const char *id = jstr(n, "id"), *name = jstr(n, "name");

			if (id != NULL && name != NULL)
				json_object_set_new(
				    names, id, json_string(name));
		}
	}
	json_decref(list);
	orch_reply_fini(&r);
	return names;
}

/* The IMAGE cell: the image, or for an exec task "exec: PROGRAM". */
static const char *
image_cell(const json_t *o, char *buf, size_t len)
{
	const char *driver = jstr(o, "driver"), *prog;

	if (driver == NULL || strcmp(driver, "exec") != 0)
		return jstr(o, "image");
	prog =
	    json_string_value(json_array_get(json_object_get(o, "command"), 0));
	snprintf(buf, len, "exec: %s", prog != NULL ? prog : "?");
	return buf;
}

/* The STATUS cell: the status, and the health of a task with a health
 * check: "Running (healthy)". */
static const char *
status_cell(const json_t *o, char *buf, size_t len)
{
	const char *status = jstr(o, "status"), *health = jstr(o, "health");

	if (status == NULL || health == NULL)
		return status;
	snprintf(buf, len, "%s (%s)", status, health);
	return buf;
}

/* A task's row; ctx is the node names by id. */
static void
task_row_fill(const json_t *task, const json_t *names, int64_t now,
    const char **row, struct row_cells *c)
{
	const char *node = jstr(task, "node_id"), *nname;

	row[0] = jstr(task, "name");
	row[1] = id_cell(jstr(task, "id"), c->id8, sizeof(c->id8));
	row[2] = image_cell(task, c->b, sizeof(c->b));
	row[3] = status_cell(task, c->c, sizeof(c->c));
	/* A node by its name; by a short id when it has none. */
	if (node != NULL && (nname = jstr(names, node)) != NULL)
		row[4] = nname;
	else
		row[4] = id_cell(node, c->node8, sizeof(c->node8));
	row[5] = id_cell(jstr(task, "container_id"), c->ctr8, sizeof(c->ctr8));
	row[6] =
	    age_cell(jstr(task, "created_at"), now, c->age, sizeof(c->age));
}

static int
list_table_print(struct ctl *ctl, const json_t *tasks)
{
	static const char *const head[] = {
	    "NAME", "ID", "IMAGE", "STATUS", "NODE", "CONTAINER", "AGE"};
	const json_t *task;
	json_t *names = NULL;
	size_t i;
	int rc;

	json_array_foreach(tasks, i, task)
	{
		if (jstr(task, "node_id") != NULL) {
			names = node_names_read(ctl);
			break;
		}
	}
	rc = ctl_table_print(ctl, head, sizeof(head) / sizeof(head[0]), tasks,
	    task_row_fill, names, "a task is not a JSON object", 3);
	json_decref(names);
	return rc;
}

static int
verb_list(struct ctl *ctl, struct orch_args *a)
{
	const char *val, *status = NULL;
	char path[64];
	struct ctl_pos pos = {.max = 0, .extra = ""};
	int k, rc;

	while ((rc = ctl_arg_next(ctl, a, list_opts, &pos, &k, &val)) ==
	        EXIT_DONE &&
	    k != ORCH_ARGS_END) {
		if (k != OPT_STATUS)
			return ctl_usage(ctl, "unexpected option");
		if ((status = status_canonical(val)) == NULL)
			return ctl_usage(ctl,
			    "unknown status \"%s\": want "
			    "Pending, Scheduled, Running, Completed, Failed "
			    "or Stopped",
			    val);
	}
	if (rc != EXIT_DONE)
		return rc;

	/* A canonical status name needs no URL escaping. */
	if (status != NULL)
		snprintf(path, sizeof(path), "/tasks?status=%s", status);
	else
		snprintf(path, sizeof(path), "/tasks");
	return ctl_list_show(ctl, path, "the task list is not a JSON array",
	    "No tasks found in the cluster.", list_table_print);
}

/* ---- get and stop ---- */

/* get and stop: the options and one ID or NAME, resolved to *task (OUT). */
static int
task_args_resolve(struct ctl *ctl, struct orch_args *a,
    const struct orch_args_opt *opts, const char **arg /* OUT */,
    json_t **task /* OUT */)
{
	struct ctl_pos pos = {.max = 1, .extra = "; give one ID or NAME"};
	int rc;

	*task = NULL;
	if ((rc = ctl_args_read(ctl, a, opts, &pos)) != EXIT_DONE)
		return rc;
	if (pos.n == 0)
		return ctl_usage(ctl, "missing ID or NAME");
	*arg = pos.val[0];
	return ctl_task_resolve(ctl, *arg, task);
}

static int
verb_get(struct ctl *ctl, struct orch_args *a)
{
	json_t *task;
	const char *arg;
	int rc;

	if ((rc = task_args_resolve(ctl, a, get_opts, &arg, &task)) ==
	    EXIT_DONE)
		rc = ctl_object_show(ctl, task, NULL);
	json_decref(task);
	return rc;
}

static int
verb_stop(struct ctl *ctl, struct orch_args *a)
{
	json_t *task = NULL, *root = NULL;
	const char *arg = NULL, *id, *name, *status;
	char path[64], id8[4 * ID_SHORT + 1];
	int rc;

	if ((rc = task_args_resolve(ctl, a, stop_opts, &arg, &task)) !=
	    EXIT_DONE)
		goto out;
	/* The id goes into the path, so it must be one. */
	if ((id = jstr(task, "id")) == NULL || !orch_id_valid(id)) {
		rc = ctl_unexpected(ctl, "the task has no valid \"id\"");
		goto out;
	}
	snprintf(path, sizeof(path), "/tasks/%s", id);
	if ((rc = ctl_call_expect(ctl, "DELETE", path, JSON_OBJECT,
	         "a task is not a JSON object", &root)) != EXIT_DONE)
		goto out;
	name = jstr(root, "name");
	status = jstr(root, "status");
	fputs("Task '", stdout);
	orch_print_text(name != NULL ? name : arg, stdout);
	printf("' (%s) stop requested; status: ",
	    orch_print_cut(id, ID_SHORT, id8, sizeof(id8)));
	orch_print_text(status != NULL ? status : "?", stdout);
	putchar('\n');
	rc = EXIT_DONE;
	if (ctl->wait)
		rc = task_wait(ctl, id, name != NULL ? name : arg, WAIT_ENDED);
out:
	json_decref(root);
	json_decref(task);
	return rc;
}

/* ---- --wait ---- */

/* Set by SIGINT and SIGTERM while waiting: the wait ends, the task not. */
static volatile sig_atomic_t wait_stop;

static void
wait_on_signal(int sig)
{
	(void)sig;
	wait_stop = 1;
}

/* A wait in progress: the trail of what was seen, and how it is shown. */
struct waiter {
	struct ctl *ctl;
	const char *name;
	bool live;  /* stdout is a terminal: one line, redrawn */
	bool color; /* its steps coloured */
	bool drawn; /* a live line is on the screen */
	int64_t t0, deadline;
	struct orch_trail trail;
	json_t *nodes; /* node names by id, read when a task has a node */
	struct sigaction old_int, old_term;
};

static void
waiter_init(struct waiter *w, struct ctl *ctl, const char *name)
{
	struct sigaction sa = {0};

	memset(w, 0, sizeof(*w));
	w->ctl = ctl;
	w->name = name;
	w->live = isatty(STDOUT_FILENO) == 1;
	w->color = ctl_color(ctl);
	w->t0 = orch_mono_ms();
	w->deadline = w->t0 +
	    (int64_t)(ctl->wait_timeout_s > 0 ? ctl->wait_timeout_s
	                                      : WAIT_TIMEOUT_DEFAULT_S) *
	        1000;
	/* No SA_RESTART: the pause between two looks ends at once. */
	wait_stop = 0;
	sa.sa_handler = wait_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &w->old_int);
	sigaction(SIGTERM, &sa, &w->old_term);
}

/* Ends the live line, so that what follows starts on a line of its own. */
static void
waiter_fini(struct waiter *w)
{
	if (w->drawn)
		putchar('\n');
	w->drawn = false;
	fflush(stdout);
	sigaction(SIGINT, &w->old_int, NULL);
	sigaction(SIGTERM, &w->old_term, NULL);
	json_decref(w->nodes);
	w->nodes = NULL;
}

/* The terminal's width in columns; 80 when it does not say. */
static size_t
term_width(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/*
 * Shows step when it is new: on a terminal, the whole trail redrawn in
 * place (also when nothing is new, for the time); elsewhere one line
 * "NAME  STEP  ELAPSED" per new step.
 */
static void
waiter_show(struct waiter *w, const char *step)
{
	char line[ORCH_TRAIL_STEPS * (ORCH_TRAIL_STEP_MAX + 32) + 256];
	char el[32];
	bool added = step != NULL && orch_trail_add(&w->trail, step);
	int64_t now = orch_mono_ms();

	if (w->live) {
		/* One column short of the width: a line that fills it
		 * would wrap on some terminals, and \r redraw only the
		 * second row. */
		orch_trail_render(&w->trail, w->name, now - w->t0, w->color,
		    term_width() - 1, line, sizeof(line));
		fputs("\r\033[K", stdout);
		fputs(line, stdout);
		w->drawn = true;
	} else if (added) {
		const char *last = orch_trail_last(&w->trail);
		const char *sgr = w->color ? orch_color_status(last) : NULL;

		orch_print_text(w->name, stdout);
		fputs("  ", stdout);
		if (sgr != NULL)
			fputs(sgr, stdout);
		fputs(last, stdout);
		if (sgr != NULL)
			fputs(ORCH_COLOR_RESET, stdout);
		printf(
		    "  %s\n", orch_trail_elapsed(now - w->t0, el, sizeof(el)));
	}
	fflush(stdout);
}

/*
 * Pauses until the next look.  Returns EXIT_DONE to look again, or,
 * after saying why, EXIT_INTERRUPTED (a signal) or EXIT_WAIT_TIMEOUT with
 * what was last seen (now).
 */
static int
waiter_pause(struct waiter *w, const char *what, const char *now)
{
	int64_t left = w->deadline - orch_mono_ms();

	if (!wait_stop && left > 0)
		poll(NULL, 0, (int)(left < WAIT_POLL_MS ? left : WAIT_POLL_MS));
	if (wait_stop) {
		waiter_fini(w);
		fprintf(
		    stderr, "orchctl: stopped waiting; the %s goes on\n", what);
		return EXIT_INTERRUPTED;
	}
	if (orch_mono_ms() >= w->deadline) {
		int s = (int)((w->deadline - w->t0 + 999) / 1000);

		waiter_fini(w);
		fputs("orchctl: gave up waiting after ", stderr);
		fprintf(
		    stderr, "%d s (--wait-timeout): the %s is still ", s, what);
		orch_print_text(now, stderr);
		fputc('\n', stderr);
		return EXIT_WAIT_TIMEOUT;
	}
	return EXIT_DONE;
}

/* The name of node id for a step, from the node list read once. */
static const char *
waiter_node(struct waiter *w, const char *id, char *buf, size_t len)
{
	const char *name;

	if (w->nodes == NULL)
		w->nodes = node_names_read(w->ctl);
	if ((name = jstr(w->nodes, id)) != NULL)
		return name;
	return orch_print_cut(id, ID_SHORT, buf, len);
}

/* A task's step: "Scheduled (node-a)", "Running (node-a, healthy)",
 * "Failed (exit 3)", "Pending". */
static void
task_step(struct waiter *w, const json_t *t, char *buf, size_t len)
{
	const char *st = jstr(t, "status"), *node = jstr(t, "node_id");
	const char *health = jstr(t, "health");
	const json_t *code = json_object_get(t, "exit_code");
	char id8[4 * ID_SHORT + 1];

	if (st == NULL)
		st = "?";
	if (json_is_integer(code) &&
	    (strcmp(st, "Failed") == 0 || strcmp(st, "Completed") == 0))
		snprintf(buf, len, "%s (exit %" JSON_INTEGER_FORMAT ")", st,
		    json_integer_value(code));
	else if (node != NULL &&
	    (strcmp(st, "Scheduled") == 0 || strcmp(st, "Running") == 0))
		snprintf(buf, len, "%s (%s%s%s)", st,
		    waiter_node(w, node, id8, sizeof(id8)),
		    health != NULL ? ", " : "", health != NULL ? health : "");
	else
		snprintf(buf, len, "%s", st);
}

/* Whether status is one a task does not leave. */
static bool
status_final(const char *st)
{
	return strcmp(st, "Completed") == 0 || strcmp(st, "Failed") == 0 ||
	    strcmp(st, "Stopped") == 0;
}

/*
 * --wait for the task id (shown as name): until it is Running or has
 * ended (goal WAIT_RUNNING), or has ended (WAIT_ENDED), looking every
 * WAIT_POLL_MS.  Returns EXIT_DONE when it got there; EXIT_TASK_FAILED
 * when, waiting for Running, it failed or was stopped first (its error
 * printed); or the exit code of a wait that gave up or of a request.
 */
static int
task_wait(
    struct ctl *ctl, const char *id, const char *name, enum wait_goal goal)
{
	struct waiter w;
	json_t *t = NULL;
	char path[64], step[ORCH_TRAIL_STEP_MAX],
	    now[ORCH_TRAIL_STEP_MAX + 600];
	const char *st, *error;
	int rc;

	snprintf(path, sizeof(path), "/tasks/%s", id);
	waiter_init(&w, ctl, name);
	for (;;) {
		json_decref(t);
		if ((rc = ctl_call_expect(ctl, "GET", path, JSON_OBJECT,
		         "a task is not a JSON object", &t)) != EXIT_DONE) {
			waiter_fini(&w);
			return rc;
		}
		if ((st = jstr(t, "status")) == NULL) {
			waiter_fini(&w);
			json_decref(t);
			return ctl_unexpected(
			    ctl, "the task has no \"status\"");
		}
		task_step(&w, t, step, sizeof(step));
		waiter_show(&w, step);
		error = jstr(t, "error");
		if (goal == WAIT_RUNNING && strcmp(st, "Running") == 0)
			break;
		if (status_final(st)) {
			if (goal == WAIT_ENDED || strcmp(st, "Completed") == 0)
				break;
			waiter_fini(&w);
			fputs("orchctl: task '", stderr);
			orch_print_text(name, stderr);
			fputs(strcmp(st, "Failed") == 0
			        ? "' failed"
			        : "' was stopped before it ran",
			    stderr);
			if (error != NULL) {
				fputs(": ", stderr);
				orch_print_text(error, stderr);
			}
			fputc('\n', stderr);
			json_decref(t);
			return EXIT_TASK_FAILED;
		}
		/* A Pending task's error says why it waits. */
		snprintf(now, sizeof(now), "%s%s%s", step,
		    error != NULL ? ": " : "", error != NULL ? error : "");
		if ((rc = waiter_pause(&w, "task", now)) != EXIT_DONE) {
			json_decref(t);
			return rc;
		}
	}
	waiter_fini(&w);
	json_decref(t);
	return EXIT_DONE;
}

/*
 * --wait for the service name: until all its replicas run, looking every
 * WAIT_POLL_MS.  Returns EXIT_DONE, or the exit code of a wait that gave
 * up (saying why the replicas that do not run wait) or of a request.
 */
static int
service_wait(struct ctl *ctl, const char *name)
{
	struct waiter w;
	json_t *svc = NULL, *t;
	char path[3 * 256 + 16], step[64], now[700];
	const json_t *want, *run;
	const char *why;
	size_t i;
	int rc;

	if (!path_make("/services/", name, path, sizeof(path)))
		return ctl_usage(ctl, "the service name is too long");
	waiter_init(&w, ctl, name);
	for (;;) {
		json_decref(svc);
		if ((rc = ctl_call_expect(ctl, "GET", path, JSON_OBJECT,
		         "a service is not a JSON object", &svc)) !=
		    EXIT_DONE) {
			waiter_fini(&w);
			return rc;
		}
		want = json_object_get(svc, "replicas");
		run = json_object_get(svc, "running");
		if (!json_is_integer(want) || !json_is_integer(run)) {
			waiter_fini(&w);
			json_decref(svc);
			return ctl_unexpected(ctl,
			    "the service has no \"replicas\" and \"running\"");
		}
		snprintf(step, sizeof(step),
		    "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT " running",
		    json_integer_value(run), json_integer_value(want));
		waiter_show(&w, step);
		if (json_integer_value(run) >= json_integer_value(want))
			break;
		/* Why a replica that does not run waits, if one says. */
		why = NULL;
		json_array_foreach(json_object_get(svc, "tasks"), i, t)
		{
			if (why == NULL && jstr(t, "error") != NULL &&
			    !status_final(jstr(t, "status") != NULL
			            ? jstr(t, "status")
			            : "Failed"))
				why = jstr(t, "error");
		}
		snprintf(now, sizeof(now), "%s%s%.600s", step,
		    why != NULL ? "; a replica waits: " : "",
		    why != NULL ? why : "");
		if ((rc = waiter_pause(&w, "service", now)) != EXIT_DONE) {
			json_decref(svc);
			return rc;
		}
	}
	waiter_fini(&w);
	json_decref(svc);
	return EXIT_DONE;
}

/* ---- nodes ---- */

/* Cores for a person: at most 3 decimals ("1.5", "2"). */
static const char *
cpu_text(const json_t *v, char *buf, size_t len)
{
	if (!json_is_number(v))
		return "?";
	snprintf(buf, len, "%g", round(json_number_value(v) * 1000.0) / 1000.0);
	return buf;
}

/* "%lld" of an integer member, else "?", into buf. */
static const char *
int_cell(const json_t *v, char *buf, size_t len)
{
	if (json_is_integer(v))
		snprintf(
		    buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else
		snprintf(buf, len, "?");
	return buf;
}

/* A node's drivers for a cell, "docker (unhealthy), exec": those its
 * agent reports unhealthy (driver_health) say so. */
static const char *
drivers_cell(const json_t *node, char *buf, size_t len)
{
	const json_t *health = json_object_get(node, "driver_health"), *d;
	size_t i, o = 0;

	buf[0] = '\0';
	json_array_foreach(json_object_get(node, "drivers"), i, d)
	{
		const char *name = json_string_value(d);
		const json_t *h = name != NULL && json_is_object(health)
		    ? json_object_get(health, name)
		    : NULL;
		bool sick = json_is_false(json_object_get(h, "healthy"));
		int k;

		if (name == NULL)
			continue;
		k = snprintf(buf + o, len - o, "%s%s%s", o > 0 ? ", " : "",
		    name, sick ? " (unhealthy)" : "");
		if (k < 0 || (size_t)k >= len - o)
			break;
		o += (size_t)k;
	}
	return buf[0] != '\0' ? buf : "-";
}

static void
node_row_fill(const json_t *node, const json_t *ctx, int64_t now,
    const char **row, struct row_cells *c)
{
	const json_t *am = json_object_get(node, "allocated_memory");
	const json_t *m = json_object_get(node, "memory");
	char c1[24], c2[24];

	(void)ctx;
	snprintf(c->a, sizeof(c->a), "%s/%s",
	    cpu_text(json_object_get(node, "allocated_cpu"), c1, sizeof(c1)),
	    cpu_text(json_object_get(node, "cpu"), c2, sizeof(c2)));
	if (json_is_integer(am) && json_is_integer(m))
		snprintf(c->b, sizeof(c->b),
		    "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT " MB",
		    json_integer_value(am), json_integer_value(m));
	else
		snprintf(c->b, sizeof(c->b), "?");
	row[0] = jstr(node, "name");
	row[1] = id_cell(jstr(node, "id"), c->id8, sizeof(c->id8));
	row[2] = jstr(node, "status");
	row[3] =
	    json_is_true(json_object_get(node, "drain")) ? "drain" : "active";
	row[4] = c->a;
	row[5] = c->b;
	row[6] =
	    int_cell(json_object_get(node, "task_count"), c->c, sizeof(c->c));
	row[7] =
	    age_cell(jstr(node, "last_heartbeat"), now, c->age, sizeof(c->age));
	row[8] = drivers_cell(node, c->d, sizeof(c->d));
}

static int
nodes_table_print(struct ctl *ctl, const json_t *nodes)
{
	static const char *const head[] = {"NAME", "ID", "STATUS",
	    "AVAILABILITY", "CPU", "MEMORY", "TASKS", "LAST SEEN", "DRIVERS"};

	return ctl_table_print(ctl, head, sizeof(head) / sizeof(head[0]), nodes,
	    node_row_fill, NULL, "a node is not a JSON object", 2);
}

static int
verb_nodes(struct ctl *ctl, struct orch_args *a)
{
	struct ctl_pos pos = {.max = 0, .extra = ""};
	int rc;

	if ((rc = ctl_args_read(ctl, a, get_opts, &pos)) != EXIT_DONE)
		return rc;
	return ctl_list_show(ctl, "/nodes", "the node list is not a JSON array",
	    "No nodes have joined the cluster.", nodes_table_print);
}

/* Escapes s for one path segment (RFC 3986: unreserved characters stay).
 * Returns false when buf is too small. */
static bool
path_escape(const char *s, char *buf, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			if (o + 1 >= len)
				return false;
			buf[o++] = (char)c;
		} else {
			if (o + 3 >= len)
				return false;
			buf[o++] = '%';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	buf[o] = '\0';
	return true;
}

/*
 * prefix and then name, escaped, into path of len bytes.  Returns false
 * when too long.
 */
static bool
path_make(const char *prefix, const char *name, char *path, size_t len)
{
	size_t n = strlen(prefix);

	if (len <= n)
		return false;
	memcpy(path, prefix, n + 1);
	return path_escape(name, path + n, len - n);
}

static int
verb_node(struct ctl *ctl, struct orch_args *a)
{
	json_t *node = NULL;
	const char *val, *sub = NULL, *arg = NULL, *name;
	char path[3 * 1024 + 16];
	bool drain;
	int k, rc;

	while ((rc = ctl_arg_next(ctl, a, get_opts, NULL, &k, &val)) ==
	        EXIT_DONE &&
	    k != ORCH_ARGS_END) {
		if (k != ORCH_ARGS_POSITIONAL)
			return ctl_usage(ctl, "unexpected option");
		if (sub == NULL) {
			if (strcmp(val, "get") != 0 &&
			    strcmp(val, "drain") != 0 &&
			    strcmp(val, "undrain") != 0)
				return ctl_usage(ctl,
				    "unknown subcommand "
				    "\"%s\": want get, drain or undrain",
				    val);
			sub = val;
		} else if (arg == NULL) {
			arg = val;
		} else {
			return ctl_usage(ctl,
			    "unexpected argument \"%s\"; "
			    "give one ID or NAME",
			    val);
		}
	}
	if (rc != EXIT_DONE)
		return rc;
	if (sub == NULL)
		return ctl_usage(
		    ctl, "missing subcommand: get, drain or undrain");
	if (arg == NULL || arg[0] == '\0')
		return ctl_usage(ctl, "missing ID or NAME");
	/* Room is left for "/drain". */
	if (!path_make("/nodes/", arg, path, sizeof(path) - sizeof("/drain")))
		return ctl_usage(ctl, "the node name is too long");
	if (strcmp(sub, "get") == 0) {
		if ((rc = ctl_call_expect(ctl, "GET", path, JSON_OBJECT,
		         "a node is not a JSON object", &node)) == EXIT_DONE)
			rc = ctl_object_show(ctl, node, NULL);
		goto out;
	}

	drain = strcmp(sub, "drain") == 0;
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "/drain");
	if ((rc = ctl_call(ctl, "PUT", path,
	         drain ? "{\"drain\":true}" : "{\"drain\":false}", &node)) !=
	    EXIT_DONE)
		goto out;
	name = jstr(node, "name");
	fputs("Node '", stdout);
	orch_print_text(name != NULL ? name : arg, stdout);
	puts(drain ? "' drained: no new tasks go there, and its service "
	             "replicas move to other nodes."
	           : "' undrained: it takes new tasks again.");
out:
	json_decref(node);
	return rc;
}

/* ---- services ---- */

static void
service_row_fill(const json_t *svc, const json_t *ctx, int64_t now,
    const char **row, struct row_cells *c)
{
	const json_t *want = json_object_get(svc, "replicas");
	const json_t *run = json_object_get(svc, "running");

	(void)ctx;
	if (json_is_integer(want) && json_is_integer(run))
		snprintf(c->a, sizeof(c->a),
		    "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
		    json_integer_value(run), json_integer_value(want));
	else
		snprintf(c->a, sizeof(c->a), "?");
	row[0] = jstr(svc, "name");
	row[1] = id_cell(jstr(svc, "id"), c->id8, sizeof(c->id8));
	row[2] = image_cell(svc, c->b, sizeof(c->b));
	row[3] = c->a;
	row[4] = jstr(svc, "placement");
	row[5] = jstr(svc, "restart");
	row[6] = age_cell(jstr(svc, "created_at"), now, c->age, sizeof(c->age));
}

static int
services_table_print(struct ctl *ctl, const json_t *svcs)
{
	static const char *const head[] = {
	    "NAME", "ID", "IMAGE", "REPLICAS", "PLACEMENT", "RESTART", "AGE"};

	return ctl_table_print(ctl, head, sizeof(head) / sizeof(head[0]), svcs,
	    service_row_fill, NULL, "a service is not a JSON object", -1);
}

/*
 * service get and rm: the options and one NAME, made into
 * "/services/<NAME>" in path.  Returns an exit code.
 */
static int
service_args(struct ctl *ctl, struct orch_args *a, const char **name,
    char *path, size_t len)
{
	struct ctl_pos pos = {.max = 1, .extra = ""};
	int rc;

	if ((rc = ctl_args_read(ctl, a, get_opts, &pos)) != EXIT_DONE)
		return rc;
	if (pos.n == 0 || pos.val[0][0] == '\0')
		return ctl_usage(ctl, "missing NAME");
	*name = pos.val[0];
	if (!path_make("/services/", *name, path, len))
		return ctl_usage(ctl, "the service name is too long");
	return EXIT_DONE;
}

static int
service_ls(struct ctl *ctl, struct orch_args *a)
{
	struct ctl_pos pos = {.max = 0, .extra = ""};
	int rc;

	if ((rc = ctl_args_read(ctl, a, get_opts, &pos)) != EXIT_DONE)
		return rc;
	return ctl_list_show(ctl, "/services",
	    "the service list is not a JSON array", "No services.",
	    services_table_print);
}

static int
service_get(struct ctl *ctl, struct orch_args *a)
{
	json_t *svc = NULL, *tasks;
	const char *name;
	char path[256];
	int rc;

	if ((rc = service_args(ctl, a, &name, path, sizeof(path))) != EXIT_DONE)
		return rc;
	if ((rc = ctl_call_expect(ctl, "GET", path, JSON_OBJECT,
	         "a service is not a JSON object", &svc)) != EXIT_DONE)
		goto out;
	/* The tasks as a table, after the other fields; JSON has them all. */
	if ((rc = ctl_object_show(ctl, svc, ctl->json ? NULL : "tasks")) !=
	        EXIT_DONE ||
	    ctl->json)
		goto out;
	tasks = json_object_get(svc, "tasks");
	if (json_is_array(tasks) && json_array_size(tasks) > 0) {
		putchar('\n');
		rc = list_table_print(ctl, tasks);
	}
out:
	json_decref(svc);
	return rc;
}

static int
service_rm(struct ctl *ctl, struct orch_args *a)
{
	json_t *svc = NULL;
	const char *name = NULL;
	char path[256];
	size_t n;
	int rc;

	if ((rc = service_args(ctl, a, &name, path, sizeof(path))) != EXIT_DONE)
		return rc;
	if ((rc = ctl_call(ctl, "DELETE", path, NULL, &svc)) != EXIT_DONE)
		goto out;
	n = json_array_size(json_object_get(svc, "tasks"));
	fputs("Service '", stdout);
	orch_print_text(name, stdout);
	printf("' removed with its %zu task%s.\n", n, n == 1 ? "" : "s");
out:
	json_decref(svc);
	return rc;
}

static int
verb_service(struct ctl *ctl, struct orch_args *a)
{
	const char *sub = a->i < a->argc ? a->argv[a->i] : NULL;

	/* The subcommand comes first: its options depend on it. */
	if (sub == NULL)
		return ctl_usage(ctl,
		    "missing subcommand: create, ls, get or "
		    "rm");
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		verb_help_print(ctl->verb);
		return EXIT_DONE;
	}
	a->i++;
	if (strcmp(sub, "create") == 0)
		return spec_submit(ctl, a, true);
	if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0)
		return service_ls(ctl, a);
	if (strcmp(sub, "get") == 0 || strcmp(sub, "inspect") == 0)
		return service_get(ctl, a);
	if (strcmp(sub, "rm") == 0 || strcmp(sub, "remove") == 0)
		return service_rm(ctl, a);
	return ctl_usage(ctl,
	    "unknown subcommand \"%s\": want create, ls, "
	    "get or rm",
	    sub);
}

static int
verb_scale(struct ctl *ctl, struct orch_args *a)
{
	json_t *svc = NULL;
	struct ctl_pos pos = {.max = 2, .extra = ""};
	char path[256], body[64];
	long long n;
	int rc;

	if ((rc = ctl_args_read(ctl, a, conn_opts, &pos)) != EXIT_DONE)
		return rc;
	if (pos.n < 2)
		return ctl_usage(
		    ctl, pos.n == 0 ? "missing NAME and N" : "missing N");
	if (!parse_replicas(pos.val[1], &n))
		return ctl_usage(ctl,
		    "N must be a whole number, 0 or more, "
		    "not \"%s\"",
		    pos.val[1]);
	if (pos.val[0][0] == '\0' ||
	    !path_make("/services/", pos.val[0], path, sizeof(path)))
		return ctl_usage(ctl, "bad service NAME");
	snprintf(body, sizeof(body), "{\"replicas\":%lld}", n);
	if ((rc = ctl_call(ctl, "PUT", path, body, &svc)) != EXIT_DONE)
		goto out;
	fputs("Service '", stdout);
	orch_print_text(pos.val[0], stdout);
	printf("' scaled to %lld replica%s.\n", n, n == 1 ? "" : "s");
out:
	json_decref(svc);
	return rc;
}

/* ---- events ---- */

/* Set by SIGINT and SIGTERM: a stream (events, logs) ends at the next
 * look. */
static volatile sig_atomic_t stream_stop;

static void
stream_on_signal(int sig)
{
	(void)sig;
	stream_stop = 1;
}

/* The dispositions a stream replaces while it runs. */
struct stream_sigs {
	struct sigaction old_int, old_term;
};

/* No SA_RESTART: Ctrl-C (or SIGTERM) ends the stream cleanly at its
 * next look, rather than killing orchctl in the middle of a write. */
static void
stream_sigs_catch(struct stream_sigs *ss)
{
	struct sigaction sa = {0};

	sa.sa_handler = stream_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &ss->old_int);
	sigaction(SIGTERM, &sa, &ss->old_term);
}

static void
stream_sigs_restore(const struct stream_sigs *ss)
{
	sigaction(SIGINT, &ss->old_int, NULL);
	sigaction(SIGTERM, &ss->old_term, NULL);
}

/* Says why a stream of path could not be read (crc: neither ORCH_OK
 * nor ORCH_ECLOSED, which each verb says its own way).  Returns the exit
 * code. */
static int
stream_fail(const struct ctl *ctl, int crc, const char *path, const char *err)
{
	switch (crc) {
	case ORCH_EUNAVAIL:
	case ORCH_ETIMEDOUT:
	case ORCH_EIO:
		fail("cannot reach the manager at %s: %s", ctl->base, err);
		return EXIT_UNREACHABLE;
	}
	fail("GET %s: %s", path, err);
	return EXIT_REFUSED;
}

/* What each line of the stream is printed with. */
struct events_ctx {
	bool json;
	long long last; /* the last index printed, -1 for none */
};

static int
events_line(void *arg, const char *line, size_t len)
{
	struct events_ctx *ec = arg;
	json_t *j = json_loadb(line, len, 0, NULL);
	json_t *idx = json_object_get(j, "index");

	if (json_is_integer(idx))
		ec->last = json_integer_value(idx);
	if (ec->json || j == NULL) {
		/* Lines are passed on as they came; one that is not JSON
		 * would be a bug of the manager, shown rather than hidden. */
		if (j == NULL && !ec->json)
			fputs("?? ", stdout);
		fwrite(line, 1, len, stdout);
		fputc('\n', stdout);
	} else if (!orch_print_event(j, stdout)) {
		json_decref(j);
		return -1;
	}
	json_decref(j);
	/* One line at a time, whatever reads it (a pipe, a file). */
	return fflush(stdout) != 0 ? -1 : 0;
}

static int
verb_events(struct ctl *ctl, struct orch_args *a)
{
	struct ctl_pos pos = {.max = 0, .extra = ""};
	struct events_ctx ec = {.last = -1};
	struct orch_reply r = {0};
	struct stream_sigs ss;
	char path[64] = "/events", err[CURL_ERROR_SIZE + 64];
	long long since = -1;
	const char *val;
	int k, rc, crc, stopped = 0;

	while ((rc = ctl_arg_next(ctl, a, events_opts, &pos, &k, &val)) ==
	        EXIT_DONE &&
	    k != ORCH_ARGS_END) {
		if (k != OPT_SINCE)
			return ctl_usage(ctl, "unexpected option");
		if (!parse_whole(val, 0, INT64_MAX, &since))
			return ctl_usage(ctl,
			    "--since wants an event index, a whole number "
			    "from 0, not \"%s\"",
			    val);
	}
	if (rc != EXIT_DONE)
		return rc;
	if (since >= 0)
		snprintf(path, sizeof(path), "/events?since=%lld", since);
	ec.json = ctl->json;
	if ((rc = ctl_connect(ctl)) != EXIT_DONE)
		return rc;
	stream_sigs_catch(&ss);
	switch (crc = orch_client_stream(ctl->client, path, events_line, &ec,
	            &stream_stop, &r, &stopped, err, sizeof(err))) {
	case ORCH_OK:
		if ((rc = ctl_reply_check(ctl, &r)) != EXIT_DONE || stopped)
			break;
		fail("the manager at %s ended the stream%s", ctl->base,
		    ec.last >= 0 ? "" : " before any event");
		rc = EXIT_UNREACHABLE;
		break;
	case ORCH_ECLOSED:
		if (ec.last >= 0)
			fail("the stream from the manager at %s broke after "
			     "event %lld: %s; go on with --since %lld",
			    ctl->base, ec.last, err, ec.last);
		else
			fail("the stream from the manager at %s broke: %s",
			    ctl->base, err);
		rc = EXIT_UNREACHABLE;
		break;
	default: rc = stream_fail(ctl, crc, path, err); break;
	}
	stream_sigs_restore(&ss);
	orch_reply_fini(&r);
	return rc;
}

/* ---- logs ---- */

/* Writes a piece of the task's output as it comes. */
static int
logs_write(void *arg, const char *data, size_t len)
{
	(void)arg;
	if (fwrite(data, 1, len, stdout) != len)
		return -1;
	/* Whatever reads it (a pipe, a file) sees each piece at once. */
	return fflush(stdout) != 0 ? -1 : 0;
}

static int
verb_logs(struct ctl *ctl, struct orch_args *a)
{
	struct ctl_pos pos = {.max = 1, .extra = ""};
	struct orch_reply r = {0};
	struct stream_sigs ss;
	char path[160], err[CURL_ERROR_SIZE + 64], trailer[1024];
	const char *val, *stream = NULL, *id;
	bool follow = false;
	long long tail = -1;
	json_t *task = NULL;
	int k, rc, crc, stopped = 0;
	size_t o;

	while ((rc = ctl_arg_next(ctl, a, logs_opts, &pos, &k, &val)) ==
	        EXIT_DONE &&
	    k != ORCH_ARGS_END) {
		switch (k) {
		case OPT_FOLLOW: follow = true; break;
		case OPT_TAIL:
			if (!parse_whole(val, 0, 1000000, &tail))
				return ctl_usage(ctl,
				    "--tail wants a number of lines, 0 to "
				    "1000000, not \"%s\"",
				    val);
			break;
		case OPT_STREAM:
			if (strcmp(val, "stdout") != 0 &&
			    strcmp(val, "stderr") != 0)
				return ctl_usage(ctl,
				    "--stream wants stdout or stderr, not "
				    "\"%s\"",
				    val);
			stream = val;
			break;
		default: return ctl_usage(ctl, "unexpected option");
		}
	}
	if (rc != EXIT_DONE)
		return rc;
	if (pos.n == 0)
		return ctl_usage(ctl, "missing TASK");
	if ((rc = ctl_task_resolve(ctl, pos.val[0], &task)) != EXIT_DONE)
		return rc;
	if ((id = jstr(task, "id")) == NULL || !orch_id_valid(id)) {
		json_decref(task);
		return ctl_unexpected(ctl, "a task without a valid id");
	}
	o = (size_t)snprintf(
	    path, sizeof(path), "/tasks/%s/logs?follow=%d", id, follow ? 1 : 0);
	if (tail >= 0)
		o += (size_t)snprintf(
		    path + o, sizeof(path) - o, "&tail=%lld", tail);
	if (stream != NULL)
		snprintf(path + o, sizeof(path) - o, "&stream=%s", stream);
	json_decref(task);
	stream_sigs_catch(&ss);
	switch (crc = orch_client_stream_raw(ctl->client, path, logs_write,
	            NULL, &stream_stop, "X-Orch-Logs-Error", trailer,
	            sizeof(trailer), &r, &stopped, err, sizeof(err))) {
	case ORCH_OK:
		if ((rc = ctl_reply_check(ctl, &r)) != EXIT_DONE)
			break;
		if (stopped && !stream_stop) {
			fail("cannot write the output: %s", strerror(errno));
			rc = EXIT_REFUSED;
		} else if (!stopped && trailer[0] != '\0') {
			fputs("orchctl: the output ended early: ", stderr);
			orch_print_text(trailer, stderr);
			fputc('\n', stderr);
			rc = EXIT_REFUSED;
		}
		break;
	case ORCH_ECLOSED:
		fail("the output stream from the manager at %s broke: %s",
		    ctl->base, err);
		rc = EXIT_UNREACHABLE;
		break;
	default: rc = stream_fail(ctl, crc, path, err); break;
	}
	stream_sigs_restore(&ss);
	orch_reply_fini(&r);
	return rc;
}

/* ---- help and main ---- */

static int verb_help(struct ctl *ctl, struct orch_args *a);

static const struct verb verbs[] = {
    {
        .name = "run",
        .synopsis = "NAME IMAGE|--driver exec [--cpu N] [--memory MB] "
                    "[-e K=V]... "
                    "[--constraint C]... [--placement P] [--restart R] "
                    "[--replicas N] [--privileged] [-v SRC:DST[:ro]]... "
                    "[--network N] [--cap-add CAP]... [--idempotency-key K] "
                    "[--wait] [--wait-timeout SEC] [-- CMD ARGS...]",
        .help =
            "Submits a task that runs IMAGE, with CMD ARGS if given, and\n"
            "prints its id; with --replicas, creates a service of N\n"
            "replicas instead (as service create).  Options may come before\n"
            "or after NAME and IMAGE; everything after -- is the command.\n"
            "With --driver exec there is no IMAGE: CMD ARGS run as a plain\n"
            "process on the node (orchctl run hello --driver exec -- echo "
            "hi).\n"
            "\n"
            "Options:\n" RUN_OPTIONS_HELP "  --replicas N     create a service "
            "of N replicas\n" CONN_OPTIONS_HELP
            "  -h, --help       show this help\n",
        .run = verb_run,
    },
    {
        .name = "list",
        .synopsis = "[--status S] [-o json|name]",
        .help =
            "Lists the tasks of the cluster in the order they were submitted:\n"
            "NAME, ID, IMAGE, STATUS (with the health of a task with a\n"
            "health check: \"Running (healthy)\"), NODE (its name), CONTAINER\n"
            "and AGE.\n"
            "\n"
            "Options:\n"
            "  --status S       only tasks with status S: Pending, Scheduled,\n"
            "                   Running, Completed, Failed or Stopped\n"
            "  -o, --output json|name\n"
            "                   print the manager's JSON, or only the\n"
            "                   names, one a line\n" CONN_OPTIONS_HELP
            "  -h, --help       show this help\n",
        .run = verb_list,
    },
    {
        .name = "get",
        .synopsis = "ID|NAME [-o json]",
        .help = "Shows every field of one task, named by its id, a unique id\n"
                "prefix of at least 4 characters, or its name.\n"
                "\n"
                "Options:\n"
                "  -o, --output json|name\n"
                "                   print the manager's JSON, or only the\n"
                "                   names, one a line\n" CONN_OPTIONS_HELP
                "  -h, --help       show this help\n",
        .run = verb_get,
    },
    {
        .name = "stop",
        .synopsis = "ID|NAME [--wait] [--wait-timeout SEC]",
        .help =
            "Asks the manager to stop a task, named by its id, a unique id\n"
            "prefix of at least 4 characters, or its name.  A task that has\n"
            "not started stops at once; a running one stays Running until\n"
            "its node has stopped it.\n"
            "\n"
            "Options:\n"
            "  --wait           wait until the task has stopped (or ended\n"
            "                   otherwise), showing its status as it changes\n"
            "  --wait-timeout SEC\n"
            "                   give up waiting after SEC seconds, exit 6\n"
            "                   (default 300; implies "
            "--wait)\n" CONN_OPTIONS_HELP "  -h, --help       show this help\n",
        .run = verb_stop,
    },
    {
        .name = "nodes",
        .synopsis = "[-o json|name]",
        .help =
            "Lists the nodes of the cluster by name: NAME, ID, STATUS (Ready,\n"
            "NotReady or Down), CPU and MEMORY (allocated/capacity), TASKS\n"
            "(placed and not finished), LAST SEEN (time since its last\n"
            "heartbeat) and DRIVERS (\"docker (unhealthy)\" when its agent\n"
            "reports that Docker does not answer: no docker task goes there).\n"
            "\n"
            "Options:\n"
            "  -o, --output json|name\n"
            "                   print the manager's JSON, or only the\n"
            "                   names, one a line\n" CONN_OPTIONS_HELP
            "  -h, --help       show this help\n",
        .run = verb_nodes,
    },
    {
        .name = "node",
        .synopsis = "get|drain|undrain ID|NAME [-o json]",
        .help =
            "get shows every field of one node, named by its id or its name.\n"
            "drain stops placing tasks on the node and moves its service\n"
            "replicas to other nodes (plain tasks keep running there);\n"
            "undrain lets it take tasks again.\n"
            "\n"
            "Options:\n"
            "  -o, --output json|name\n"
            "                   print the manager's JSON, or only the\n"
            "                   names, one a line\n" CONN_OPTIONS_HELP
            "  -h, --help       show this help\n",
        .run = verb_node,
    },
    {
        .name = "service",
        .synopsis = "create|ls|get|rm ...",
        .help =
            "  service create NAME IMAGE [--replicas N] [options] [-- CMD "
            "ARGS...]\n"
            "        creates a service: the manager keeps N replicas (default\n"
            "        1) of the task running, spread over the nodes, and\n"
            "        replaces those that fail or are lost\n"
            "  service ls [-o json]\n"
            "        lists the services: NAME, ID, IMAGE, REPLICAS\n"
            "        (running/desired), PLACEMENT, RESTART, AGE\n"
            "  service get NAME [-o json]\n"
            "        shows a service and its tasks\n"
            "  service rm NAME\n"
            "        deletes a service; its replicas are stopped and removed\n"
            "\n"
            "Options of create:\n" RUN_OPTIONS_HELP
            "  --replicas N     replicas wanted (default 1)\n" CONN_OPTIONS_HELP
            "  -h, --help       show this help\n"
            "\n"
            "A service's replicas restart always by default, after a\n"
            "backoff of 1 s doubling to 60 s.\n",
        .run = verb_service,
    },
    {
        .name = "scale",
        .synopsis = "NAME N",
        .help =
            "Sets the replicas of service NAME to N (0 or more): missing\n"
            "replicas are created, extra ones (the highest slots) stopped.\n"
            "\n"
            "Options:\n" CONN_OPTIONS_HELP
            "  -h, --help       show this help\n",
        .run = verb_scale,
    },
    {
        .name = "events",
        .synopsis = "[--since N] [-o json]",
        .help =
            "Prints the cluster's events as they happen, one line each:\n"
            "TIME INDEX TYPE NAME ID and what changed (task.created,\n"
            "task.status, task.updated, task.deleted, node.registered,\n"
            "node.ready, node.down, node.drain, node.driver,\n"
            "service.created, service.scaled, service.updated,\n"
            "service.deleted), until Ctrl-C.\n"
            "\n"
            "Options:\n"
            "  --since N        first the kept events after index N (0: all\n"
            "                   that are kept); a line says so when some\n"
            "                   after N are no longer kept\n"
            "  -o, --output json\n"
            "                   print the manager's JSON lines as they "
            "come\n" CONN_OPTIONS_HELP "  -h, --help       show this help\n"
            "\n"
            "When the stream breaks, orchctl names the last index it printed:\n"
            "--since with it goes on where it stopped.\n",
        .run = verb_events,
    },
    {
        .name = "logs",
        .synopsis = "TASK [-f] [--tail N] [--stream stdout|stderr]",
        .help =
            "Prints what a task printed (stdout and stderr, as they come\n"
            "from its node), named by its id, a unique id prefix of at\n"
            "least 4 characters, or its name.  The task's node reads it\n"
            "from its container or its files: a task that has not started\n"
            "has none, and nor has one whose node has removed it after it\n"
            "ended.\n"
            "\n"
            "Options:\n"
            "  -f, --follow     go on printing what it prints, until it ends\n"
            "                   or Ctrl-C\n"
            "  --tail N         only the last N lines (exec tasks: of each\n"
            "                   stream)\n"
            "  --stream S       stdout or stderr only\n" CONN_OPTIONS_HELP
            "  -h, --help       show this help\n",
        .run = verb_logs,
    },
    {
        .name = "help",
        .synopsis = "[COMMAND]",
        .help = "Shows the help of orchctl, or of COMMAND.\n",
        .run = verb_help,
    },
};
#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

static const struct verb *
verb_find(const char *name)
{
	for (size_t i = 0; i < N_VERBS; i++) {
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	}
	return NULL;
}

static int
verb_help(struct ctl *ctl, struct orch_args *a)
{
	const struct verb *v = NULL;
	const char *val;
	int k, rc;

	while ((rc = ctl_arg_next(ctl, a, help_opts, NULL, &k, &val)) ==
	        EXIT_DONE &&
	    k != ORCH_ARGS_END) {
		if (k != ORCH_ARGS_POSITIONAL)
			return ctl_usage(ctl, "unexpected option");
		if (v != NULL)
			return ctl_usage(
			    ctl, "unexpected argument \"%s\"", val);
		if ((v = verb_find(val)) == NULL)
			return ctl_usage(ctl, "unknown command \"%s\"", val);
	}
	if (rc != EXIT_DONE)
		return rc;
	if (v != NULL)
		verb_help_print(v);
	else
		fputs(usage_text, stdout);
	return EXIT_DONE;
}

int
main(int argc, char **argv)
{
	struct ctl ctl = {0};
	struct orch_args a = {.argc = argc, .argv = argv, .i = 1};
	const char *val, *verb = NULL;
	bool curl_up = false;
	int k, rc;

	while (verb == NULL &&
	    (k = orch_args_next(&a, global_opts, &val)) != ORCH_ARGS_END) {
		switch (k) {
		case ORCH_ARGS_ERROR:
			fail("%s\nRun 'orchctl --help' for usage.", a.err);
			rc = EXIT_USAGE;
			goto out;
		case ORCH_ARGS_DASHDASH: break;
		case ORCH_ARGS_POSITIONAL: verb = val; break;
		case OPT_HELP:
			fputs(usage_text, stdout);
			rc = EXIT_DONE;
			goto out;
		case OPT_VERSION:
			printf("orchctl %s\n", orch_version);
			rc = EXIT_DONE;
			goto out;
		case OPT_ADDR: ctl.addr_flag = val; break;
		case OPT_CACERT: ctl.cacert_flag = val; break;
		case OPT_TOKEN: ctl.token_flag = val; break;
		case OPT_COLOR:
			if (orch_color_mode_parse(val, &ctl.color) != ORCH_OK) {
				fail("--color wants auto, always or never, not "
				     "\"%s\"",
				    val);
				rc = EXIT_USAGE;
				goto out;
			}
			break;
		}
	}
	if (verb == NULL) {
		fputs(usage_text, stderr);
		rc = EXIT_USAGE;
		goto out;
	}
	if ((ctl.verb = verb_find(verb)) == NULL) {
		fail("unknown command \"%s\"\nRun 'orchctl --help' for usage.",
		    verb);
		rc = EXIT_USAGE;
		goto out;
	}
	/* The verb's own arguments: options again before positionals. */
	a.rest = false;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fail("cannot initialise libcurl");
		rc = EXIT_REFUSED;
		goto out;
	}
	curl_up = true;
	if ((rc = ctl.verb->run(&ctl, &a)) == CTL_HELPED)
		rc = EXIT_DONE;
out:
	orch_client_free(ctl.client);
	if (curl_up)
		curl_global_cleanup();
	/* A full disk or a closed pipe must not look like success. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fail("cannot write the output: %s", strerror(errno));
		if (rc == EXIT_DONE)
			rc = EXIT_REFUSED;
	}
	return rc;
}
