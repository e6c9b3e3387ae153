/*
 * main.c: orch-manager, the control plane.
 *
 * Opens the store, then serves the JSON API on the HTTP gateway (this
 * thread's event loop), protobuf RPCs on an NNG REP socket, notices on an
 * NNG PUB socket and, with --events-pub, events on another, and keeps
 * services and restarts reconciled and places tasks on nodes (the
 * scheduler's thread), until SIGINT or SIGTERM.
 * With --dev it also runs an agent in the same process (dev.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "auth.h"
#include "certs.h"
#include "dev.h"
#include "dirs.h"
#include "error.h"
#include "events.h"
#include "exposure.h"
#include "flag.h"
#include "gateway.h"
#include "log.h"
#include "logs.h"
#include "manager_metrics.h"
#include "nodes.h"
#include "notify.h"
#include "policy.h"
#include "rpc.h"
#include "scheduler.h"
#include "sdnotify.h"
#include "store.h"
#include "tls.h"
#include "version.h"

#define PROG "orch-manager"

struct config {
	const char *http;
	const char *rpc;
	const char *pub;
	const char *events_pub; /* NULL: events are not published over NNG */
	const char *data;
	bool sync_full;
	int max_conns;
	int header_timeout_s;
	int body_timeout_s;
	int idle_timeout_s;
	int write_timeout_s;
	int heartbeat_ttl_s;
	long long events_keep;
	const char *token_file;
	const char *policy_file;
	bool insecure;
	const char *tls_dir;
	const char *http_tls_cert; /* HTTPS on --http: both or neither */
	const char *http_tls_key;
	char rpc_url[512]; /* --rpc, --pub, --events-pub: tls+tcp:// with TLS */
	char pub_url[512];
	char events_url[512]; /* "" without --events-pub */
	bool dev;             /* --dev: one process, an agent included */
	bool data_set;        /* --data was given */
	bool rpc_set;         /* --rpc or --pub was given */
};

static struct orch_gw *the_gw;

static void
usage(FILE *f)
{
	fprintf(f,
	    "Usage: orch-manager [OPTIONS]\n"
	    "\n"
	    "The orch control plane: stores tasks in SQLite, serves the JSON "
	    "API\n"
	    "over HTTP and protobuf RPCs over NNG.\n"
	    "\n"
	    "Options:\n"
	    "  --http HOST:PORT        HTTP API address (default "
	    "127.0.0.1:3000)\n"
	    "  --rpc URL               NNG REP address for RPCs\n"
	    "                          (default tcp://127.0.0.1:3001)\n"
	    "  --pub URL               NNG PUB address for notices to agents\n"
	    "                          (default tcp://127.0.0.1:3002)\n"
	    "  --events-pub URL        NNG PUB address for the event stream "
	    "(topics\n"
	    "                          event/<kind>/<id>); default: events "
	    "are not\n"
	    "                          published over NNG (GET /events "
	    "serves them)\n"
	    "  --data DIR              data directory, created if missing\n"
	    "                          (default ./orch-data; with --dev a new\n"
	    "                          temporary one, removed at exit)\n"
	    "  --dev                   development mode: the manager and one "
	    "agent\n"
	    "                          in this process (docker and exec "
	    "drivers),\n"
	    "                          RPC in-process, HTTP on loopback only\n"
	    "  --sync full|normal      SQLite synchronous mode (default "
	    "full):\n"
	    "                          normal survives a manager crash but "
	    "may\n"
	    "                          lose the last commits on power loss\n"
	    "  --max-conns N           open HTTP connections before 503 "
	    "(default 4096)\n"
	    "  --header-timeout SEC    408 when a request's head is not in "
	    "SEC\n"
	    "                          seconds after its first byte "
	    "(default 10)\n"
	    "  --body-timeout SEC      408 when its body is not in SEC "
	    "seconds\n"
	    "                          after its head (default 10)\n"
	    "  --request-timeout SEC   both of the above at once\n"
	    "  --idle-timeout SEC      close idle keep-alive connections after "
	    "SEC\n"
	    "                          seconds (default 60)\n"
	    "  --write-timeout SEC     close a connection whose client takes "
	    "no\n"
	    "                          byte of its answer (or of what waits\n"
	    "                          for its event stream) for SEC seconds "
	    "(default 30)\n"
	    "  --heartbeat-ttl SEC     a node not heard from for SEC seconds "
	    "is\n"
	    "                          Down: its tasks are lost and replaced "
	    "on\n"
	    "                          other nodes where their restart policy "
	    "or\n"
	    "                          service asks; after a restart, nodes "
	    "have\n"
	    "                          two TTLs to check in (default 5)\n"
	    "  --events-keep N         events kept for GET /events; older "
	    "ones\n"
	    "                          are pruned (default 100000)\n"
	    "  --token-file FILE       API tokens, one a line: every HTTP "
	    "request\n"
	    "                          but GET /healthz needs "
	    "\"Authorization:\n"
	    "                          Bearer TOKEN\"; the file must be "
	    "mode 600\n"
	    "  --policy FILE           container policy (JSON): which images "
	    "may ask\n"
	    "                          for privileged, host mounts, network "
	    "host,\n"
	    "                          cap_add (default: none may)\n"
	    "  --tls-dir DIR           serve --rpc, --pub and --events-pub "
	    "over "
	    "mutual\n"
	    "                          TLS with the certificates of DIR (see "
	    "certs);\n"
	    "                          tcp:// URLs become tls+tcp://\n"
	    "  --http-tls-cert FILE    serve --http as HTTPS with this "
	    "certificate\n"
	    "                          (PEM; DIR/manager.crt of certs init "
	    "will do)\n"
	    "  --http-tls-key FILE     and its private key\n"
	    "  --insecure              start even when a listener reaches "
	    "beyond\n"
	    "                          loopback unguarded: --http without "
	    "--token-file,\n"
	    "                          --rpc, --pub or --events-pub without "
	    "--tls-dir\n"
	    "                          (see docs/security.md)\n"
	    "  --log-level LEVEL       debug, info, warn or error (default "
	    "info)\n"
	    "  --log-format FORMAT     text (default) or json: one JSON object "
	    "a line\n"
	    "                          on stderr, for log shippers\n"
	    "  -h, --help              show this help and exit\n"
	    "  --version               print the version and exit\n"
	    "\n"
	    "       orch-manager certs init|issue ...   the cluster's "
	    "certificates\n"
	    "                                            (orch-manager certs "
	    "--help)\n");
}

/* Checks that url, given to --events-pub, reads as an NNG URL; whether
 * its transport can listen there is for the listener to say.  Returns
 * ORCH_OK, or ORCH_EINVAL with err naming the flag. */
static int
events_url_check(const char *url, char *err, size_t errlen)
{
	nng_url *u = NULL;

	if (strstr(url, "://") == NULL || nng_url_parse(&u, url) != 0) {
		snprintf(err, errlen,
		    "--events-pub %s: not an NNG URL (tcp://HOST:PORT, "
		    "ipc:///PATH)",
		    url);
		return ORCH_EINVAL;
	}
	nng_url_free(u);
	return ORCH_OK;
}

/* Returns 0 to go on, 1 to exit successfully, 2 on a usage error. */
static int
parse_args(int argc, char **argv, struct config *cfg)
{
	char err[600];
	long long ll;
	enum {
		OPT_HTTP = 256,
		OPT_RPC,
		OPT_PUB,
		OPT_EVENTS_PUB,
		OPT_DATA,
		OPT_SYNC,
		OPT_MAXC,
		OPT_RTO,
		OPT_HTO,
		OPT_BTO,
		OPT_ITO,
		OPT_WTO,
		OPT_TTL,
		OPT_EVKEEP,
		OPT_LOG,
		OPT_LOG_FORMAT,
		OPT_TOKENS,
		OPT_POLICY,
		OPT_INSECURE,
		OPT_TLS_DIR,
		OPT_HTTP_CERT,
		OPT_HTTP_KEY,
		OPT_DEV,
		OPT_VERSION
	};
	static const struct option opts[] = {
	    {"http", required_argument, NULL, OPT_HTTP},
	    {"rpc", required_argument, NULL, OPT_RPC},
	    {"pub", required_argument, NULL, OPT_PUB},
	    {"events-pub", required_argument, NULL, OPT_EVENTS_PUB},
	    {"data", required_argument, NULL, OPT_DATA},
	    {"sync", required_argument, NULL, OPT_SYNC},
	    {"max-conns", required_argument, NULL, OPT_MAXC},
	    {"request-timeout", required_argument, NULL, OPT_RTO},
	    {"header-timeout", required_argument, NULL, OPT_HTO},
	    {"body-timeout", required_argument, NULL, OPT_BTO},
	    {"idle-timeout", required_argument, NULL, OPT_ITO},
	    {"write-timeout", required_argument, NULL, OPT_WTO},
	    {"heartbeat-ttl", required_argument, NULL, OPT_TTL},
	    {"events-keep", required_argument, NULL, OPT_EVKEEP},
	    {"log-level", required_argument, NULL, OPT_LOG},
	    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
	    {"token-file", required_argument, NULL, OPT_TOKENS},
	    {"policy", required_argument, NULL, OPT_POLICY},
	    {"insecure", no_argument, NULL, OPT_INSECURE},
	    {"tls-dir", required_argument, NULL, OPT_TLS_DIR},
	    {"http-tls-cert", required_argument, NULL, OPT_HTTP_CERT},
	    {"http-tls-key", required_argument, NULL, OPT_HTTP_KEY},
	    {"dev", no_argument, NULL, OPT_DEV},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {NULL, 0, NULL, 0},
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HTTP: cfg->http = optarg; break;
		case OPT_RPC:
			cfg->rpc = optarg;
			cfg->rpc_set = true;
			break;
		case OPT_PUB:
			cfg->pub = optarg;
			cfg->rpc_set = true;
			break;
		case OPT_EVENTS_PUB: cfg->events_pub = optarg; break;
		case OPT_DATA:
			cfg->data = optarg;
			cfg->data_set = true;
			break;
		case OPT_DEV: cfg->dev = true; break;
		case OPT_SYNC:
			if (strcmp(optarg, "full") == 0) {
				cfg->sync_full = true;
			} else if (strcmp(optarg, "normal") == 0) {
				cfg->sync_full = false;
			} else {
				fprintf(stderr,
				    "orch-manager: --sync wants full or "
				    "normal, got \"%s\"\n",
				    optarg);
				return 2;
			}
			break;
		case OPT_MAXC:
			if (orch_flag_int(PROG, "--max-conns", optarg, 1,
			        1000000, &ll) != ORCH_OK)
				return 2;
			cfg->max_conns = (int)ll;
			break;
		case OPT_RTO:
			if (orch_flag_int(PROG, "--request-timeout", optarg, 1,
			        3600, &ll) != ORCH_OK)
				return 2;
			cfg->header_timeout_s = cfg->body_timeout_s = (int)ll;
			break;
		case OPT_HTO:
			if (orch_flag_int(PROG, "--header-timeout", optarg, 1,
			        3600, &ll) != ORCH_OK)
				return 2;
			cfg->header_timeout_s = (int)ll;
			break;
		case OPT_BTO:
			if (orch_flag_int(PROG, "--body-timeout", optarg, 1,
			        3600, &ll) != ORCH_OK)
				return 2;
			cfg->body_timeout_s = (int)ll;
			break;
		case OPT_ITO:
			if (orch_flag_int(PROG, "--idle-timeout", optarg, 1,
			        86400, &ll) != ORCH_OK)
				return 2;
			cfg->idle_timeout_s = (int)ll;
			break;
		case OPT_WTO:
			if (orch_flag_int(PROG, "--write-timeout", optarg, 1,
			        3600, &ll) != ORCH_OK)
				return 2;
			cfg->write_timeout_s = (int)ll;
			break;
		case OPT_TTL:
			if (orch_flag_int(PROG, "--heartbeat-ttl", optarg, 1,
			        3600, &ll) != ORCH_OK)
				return 2;
			cfg->heartbeat_ttl_s = (int)ll;
			break;
		case OPT_EVKEEP:
			if (orch_flag_int(PROG, "--events-keep", optarg, 1,
			        1000000000, &ll) != ORCH_OK)
				return 2;
			cfg->events_keep = ll;
			break;
		case OPT_LOG:
			if (orch_flag_log_level(PROG, optarg) != ORCH_OK)
				return 2;
			break;
		case OPT_LOG_FORMAT:
			if (orch_flag_log_format(PROG, optarg) != ORCH_OK)
				return 2;
			break;
		case OPT_TOKENS: cfg->token_file = optarg; break;
		case OPT_POLICY: cfg->policy_file = optarg; break;
		case OPT_INSECURE: cfg->insecure = true; break;
		case OPT_TLS_DIR: cfg->tls_dir = optarg; break;
		case OPT_HTTP_CERT: cfg->http_tls_cert = optarg; break;
		case OPT_HTTP_KEY: cfg->http_tls_key = optarg; break;
		case 'h': usage(stdout); return 1;
		case OPT_VERSION:
			printf("orch-manager %s\n", orch_version);
			return 1;
		case ':':
			fprintf(stderr, "orch-manager: %s needs a value\n",
			    argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr,
			    "orch-manager: unknown option \"%s\"; see "
			    "--help\n",
			    argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
		    "orch-manager: unexpected argument \"%s\"; see "
		    "--help\n",
		    argv[optind]);
		return 2;
	}
	if (cfg->dev && (cfg->rpc_set || cfg->tls_dir != NULL)) {
		fprintf(stderr,
		    "orch-manager: --dev serves RPC and notices inside the "
		    "process: --rpc, --pub and --tls-dir do not apply\n");
		return 2;
	}
	if (cfg->dev &&
	    orch_listen_reach(cfg->http, false) != ORCH_REACH_LOCAL) {
		fprintf(stderr,
		    "orch-manager: --dev listens on loopback only: --http %s "
		    "reaches further (use 127.0.0.1:PORT or [::1]:PORT)\n",
		    cfg->http);
		return 2;
	}
	if (cfg->dev) {
		cfg->rpc = ORCH_DEV_RPC_URL;
		cfg->pub = ORCH_DEV_PUB_URL;
	}
	if ((cfg->http_tls_cert == NULL) != (cfg->http_tls_key == NULL)) {
		fprintf(stderr,
		    "orch-manager: HTTPS needs both --http-tls-cert and "
		    "--http-tls-key\n");
		return 2;
	}
	if (orch_tls_url("--rpc", cfg->rpc, cfg->tls_dir != NULL, cfg->rpc_url,
	        sizeof(cfg->rpc_url), err, sizeof(err)) != ORCH_OK ||
	    orch_tls_url("--pub", cfg->pub, cfg->tls_dir != NULL, cfg->pub_url,
	        sizeof(cfg->pub_url), err, sizeof(err)) != ORCH_OK ||
	    (cfg->events_pub != NULL &&
	        (events_url_check(cfg->events_pub, err, sizeof(err)) !=
	                ORCH_OK ||
	            orch_tls_url("--events-pub", cfg->events_pub,
	                cfg->tls_dir != NULL, cfg->events_url,
	                sizeof(cfg->events_url), err,
	                sizeof(err)) != ORCH_OK))) {
		fprintf(stderr, "orch-manager: %s\n", err);
		return 2;
	}
	return 0;
}

/*
 * Reads the token file and the policy file, and refuses listeners that
 * reach beyond loopback unguarded (exposure.h): --http without tokens,
 * --rpc, --pub and --events-pub without mutual TLS.  Returns 0, or 2 after
 * logging why: a configuration the manager must not run with.
 */
static int
security_setup(const struct config *cfg, struct orch_tokens **tokens,
    struct orch_policy **policy)
{
	/* RPC and PUB take tls+tcp:// URLs with --tls-dir (cfg->rpc_url).
	 * The events' socket is last: checked only when given. */
	const char *tls_guard = "make certificates (orch-manager certs init "
	                        "--dir DIR --host NAME) and give --tls-dir DIR";
	const struct orch_listener listeners[] = {
	    {.flag = "--http",
	        .addr = cfg->http,
	        .guarded = cfg->token_file != NULL,
	        .guard = "give --token-file FILE"},
	    {.flag = "--rpc",
	        .addr = cfg->rpc_url,
	        .nng_url = true,
	        .guarded = cfg->tls_dir != NULL,
	        .guard = tls_guard},
	    {.flag = "--pub",
	        .addr = cfg->pub_url,
	        .nng_url = true,
	        .guarded = cfg->tls_dir != NULL,
	        .guard = tls_guard},
	    {.flag = "--events-pub",
	        .addr = cfg->events_url,
	        .nng_url = true,
	        .guarded = cfg->tls_dir != NULL,
	        .guard = tls_guard,
	        .risk = "read every change in the cluster, every task's "
	                "environment included"},
	};
	size_t nl = sizeof(listeners) / sizeof(listeners[0]);
	char err[1024];

	if ((cfg->token_file != NULL &&
	        orch_tokens_load(cfg->token_file, tokens, err, sizeof(err)) !=
	            ORCH_OK) ||
	    (cfg->policy_file != NULL &&
	        orch_policy_load(cfg->policy_file, policy, err, sizeof(err)) !=
	            ORCH_OK) ||
	    (cfg->policy_file == NULL && cfg->dev &&
	        orch_policy_parse(ORCH_DEV_POLICY, strlen(ORCH_DEV_POLICY),
	            policy, err, sizeof(err)) != ORCH_OK) ||
	    orch_exposure_check(listeners,
	        cfg->events_pub != NULL ? nl : nl - 1, cfg->insecure, err,
	        sizeof(err)) != ORCH_OK) {
		orch_error("manager", "%s", err);
		return 2;
	}
	/* A token is as good as a password: beyond loopback, over plain HTTP,
	 * whoever sees the traffic can replay it. */
	if (cfg->token_file != NULL && cfg->http_tls_cert == NULL &&
	    orch_listen_reach(cfg->http, false) == ORCH_REACH_NETWORK)
		orch_warn("manager",
		    "--http %s is reachable beyond loopback over plain HTTP: "
		    "API tokens cross the network in the clear; give "
		    "--http-tls-cert and --http-tls-key (docs/security.md)",
		    cfg->http);
	orch_info("manager",
	    "API tokens: %s; container policy: %s (%zu rule%s)",
	    *tokens != NULL ? cfg->token_file : "none (the API is open)",
	    cfg->policy_file != NULL ? cfg->policy_file
	        : *policy != NULL    ? "dev mode's (exec tasks allowed)"
	                             : "the default",
	    orch_policy_rule_count(*policy),
	    orch_policy_rule_count(*policy) == 1 ? "" : "s");
	return 0;
}

static void
on_signal(int sig)
{
	(void)sig;
	if (the_gw != NULL)
		orch_gw_stop(the_gw);
}

/* Holds DIR/manager.lock so that two managers never share a data dir. */
static int
lock_data_dir(const char *dir)
{
	char path[PATH_MAX], pid[32];
	int fd;

	snprintf(path, sizeof(path), "%s/manager.lock", dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		orch_error(
		    "manager", "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);

		pid[n > 0 ? n : 0] = '\0';
		orch_error("manager",
		    "data directory %s is in use by another "
		    "orch-manager (pid %s)",
		    dir, n > 0 ? pid : "unknown");
		close(fd);
		return -1;
	}
	if (ftruncate(fd, 0) == 0) {
		int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
		(void)!pwrite(fd, pid, (size_t)n, 0);
	}
	return fd; /* kept open for the life of the process */
}

/*
 * Raises the soft limit on open files to the hard one when max_conns
 * HTTP connections and the rest (the store's files, NNG's sockets,
 * agents' pipes: FD_RESERVE) would not fit under it, so that the cap is
 * what answers 503 rather than accept() failing.  Returns the cap that
 * fits: max_conns, or less with a warning when even the hard limit is
 * too low.
 */
#define FD_RESERVE 256
static int
fd_limit_raise(int max_conns)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)max_conns + FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return max_conns;
	if (rl.rlim_cur < want && rl.rlim_cur < rl.rlim_max) {
		rlim_t was = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			rl.rlim_cur = was;
	}
	if (rl.rlim_cur >= want)
		return max_conns;
	orch_warn("manager",
	    "--max-conns %d does not fit the limit on open files (%llu, hard "
	    "limit %llu): at most %lld connections; raise it with ulimit -n",
	    max_conns, (unsigned long long)rl.rlim_cur,
	    (unsigned long long)rl.rlim_max,
	    rl.rlim_cur > 2 * FD_RESERVE ? (long long)(rl.rlim_cur - FD_RESERVE)
	                                 : (long long)(rl.rlim_cur / 2));
	return rl.rlim_cur > 2 * FD_RESERVE ? (int)(rl.rlim_cur - FD_RESERVE)
	                                    : (int)(rl.rlim_cur / 2);
}

int
main(int argc, char **argv)
{
	struct config cfg = {
	    .http = "127.0.0.1:3000",
	    .rpc = "tcp://127.0.0.1:3001",
	    .pub = "tcp://127.0.0.1:3002",
	    .data = "./orch-data",
	    .sync_full = true,
	    .max_conns = ORCH_GW_MAX_CONNS,
	    .header_timeout_s = ORCH_GW_HEADER_TIMEOUT_MS / 1000,
	    .body_timeout_s = ORCH_GW_BODY_TIMEOUT_MS / 1000,
	    .idle_timeout_s = ORCH_GW_IDLE_TIMEOUT_MS / 1000,
	    .write_timeout_s = ORCH_GW_WRITE_TIMEOUT_MS / 1000,
	    .heartbeat_ttl_s = 5,
	    .events_keep = ORCH_STORE_EVENTS_KEEP,
	};
	struct orch_store_opts sopts;
	struct orch_gw_opts gopts;
	struct orch_store *store = NULL;
	struct orch_api *api = NULL;
	struct orch_gw *gw = NULL;
	struct orch_rpc *rpc = NULL;
	struct orch_notify *notify = NULL, *ev_notify = NULL;
	struct orch_nodes *nodes = NULL;
	struct orch_sched *sched = NULL;
	struct orch_store_reader *r = NULL;
	nng_tls_config *tls = NULL;
	struct orch_tokens *tokens = NULL;
	struct orch_policy *policy = NULL;
	struct orch_events *events = NULL;
	struct orch_logs *logs = NULL;
	struct orch_mm *mm = NULL;
	struct orch_dev *dev = NULL;
	struct sigaction sa = {0};
	char err[1024], devdata[PATH_MAX] = "", url[300];
	int rc, lockfd = -1, status = 1;

	if (argc > 1 && strcmp(argv[1], "certs") == 0)
		return orch_certs_main(argc - 1, argv + 1);
	if ((rc = parse_args(argc, argv, &cfg)) != 0)
		return rc == 1 ? 0 : 2;

	if ((status = security_setup(&cfg, &tokens, &policy)) != 0)
		goto out;
	status = 1;
	if (cfg.dev && !cfg.data_set) {
		if (orch_dev_data_make(devdata, sizeof(devdata), err,
		        sizeof(err)) != ORCH_OK) {
			orch_error("manager", "--dev: %s", err);
			goto out;
		}
		cfg.data = devdata;
	}
	signal(SIGPIPE, SIG_IGN);
	if (cfg.tls_dir != NULL &&
	    (rc = orch_tls_server_config(
	         cfg.tls_dir, &tls, err, sizeof(err))) != ORCH_OK) {
		orch_error("manager", "--tls-dir %s: %s", cfg.tls_dir, err);
		goto out;
	}
	if ((rc = orch_dir_make(cfg.data, 0700)) != ORCH_OK) {
		orch_error("manager", "cannot create data directory %s: %s",
		    cfg.data, orch_strerror(rc));
		goto out;
	}
	if ((lockfd = lock_data_dir(cfg.data)) < 0)
		goto out;

	if ((rc = orch_mm_new(&mm)) != ORCH_OK) {
		orch_error("manager", "cannot set up the metrics: %s",
		    orch_strerror(rc));
		goto out;
	}
	orch_store_opts_default(&sopts);
	sopts.sync_full = cfg.sync_full;
	sopts.events_keep = (uint64_t)cfg.events_keep;
	sopts.on_commit = orch_mm_commit;
	sopts.on_commit_arg = mm;
	if ((rc = orch_store_open(cfg.data, &sopts, &store)) != ORCH_OK) {
		orch_error("manager", "cannot open the store in %s: %s",
		    cfg.data, orch_strerror(rc));
		goto out;
	}
	/* Events on a socket of their own (notify.h): PUB sends each message
	 * to every subscriber, and every agent subscribes to --pub. */
	if ((rc = orch_notify_open(&notify, "pub", err, sizeof(err))) !=
	        ORCH_OK ||
	    (cfg.events_pub != NULL &&
	        (rc = orch_notify_open(
	             &ev_notify, "events-pub", err, sizeof(err))) != ORCH_OK)) {
		orch_error("manager", "%s", err);
		goto out;
	}
	if ((rc = orch_events_new(store, ev_notify, &events)) != ORCH_OK) {
		orch_error("manager",
		    "cannot read the events from the store: %s",
		    orch_strerror(rc));
		goto out;
	}
	orch_events_on_placed(events, orch_mm_placed, mm);
	if ((rc = orch_nodes_new(
	         (int64_t)cfg.heartbeat_ttl_s * 1000, &nodes)) != ORCH_OK ||
	    (rc = orch_store_reader_new(store, &r)) != ORCH_OK ||
	    (rc = orch_nodes_load(nodes, r)) != ORCH_OK) {
		orch_error("manager",
		    "cannot read the nodes from the store: %s",
		    orch_strerror(rc));
		goto out;
	}
	orch_store_reader_free(r);
	r = NULL;
	/* Before anything beats or sweeps: every turn is an event. */
	orch_events_watch_nodes(events, nodes);
	orch_mm_sources(mm, store, nodes, events);
	if ((rc = orch_sched_start(store, nodes, notify, &sched)) != ORCH_OK) {
		orch_error("manager", "cannot start the scheduler: %s",
		    orch_strerror(rc));
		goto out;
	}
	if ((rc = orch_logs_new(nodes, notify, &logs)) != ORCH_OK) {
		orch_error("manager", "cannot set up task output: %s",
		    orch_strerror(rc));
		goto out;
	}
	if ((rc = orch_api_new(store, nodes, notify, tokens, policy, &api)) !=
	    ORCH_OK) {
		orch_error(
		    "manager", "cannot read the store: %s", orch_strerror(rc));
		goto out;
	}
	orch_api_attach(api, events, mm, logs);
	orch_mm_logs_source(mm, logs);
	orch_gw_opts_default(&gopts);
	gopts.listen = cfg.http;
	gopts.observe = orch_api_observe;
	gopts.observe_arg = api;
	gopts.max_conns = fd_limit_raise(cfg.max_conns);
	gopts.header_timeout_ms = cfg.header_timeout_s * 1000;
	gopts.body_timeout_ms = cfg.body_timeout_s * 1000;
	gopts.idle_timeout_ms = cfg.idle_timeout_s * 1000;
	gopts.write_timeout_ms = cfg.write_timeout_s * 1000;
	/* A request being read when SIGTERM comes is within one of its
	 * phases, its head or its body, each with its own timeout (past
	 * which it gets its 408): the longer of the two, and a second for
	 * the answer.  At most 3601 s: an int in ms. */
	gopts.drain_timeout_ms = cfg.header_timeout_s > cfg.body_timeout_s
	    ? cfg.header_timeout_s
	    : cfg.body_timeout_s;
	gopts.drain_timeout_ms = (gopts.drain_timeout_ms + 1) * 1000;
	gopts.tls_cert = cfg.http_tls_cert;
	gopts.tls_key = cfg.http_tls_key;
	if ((rc = orch_gw_new(&gopts, orch_api_handle, api, &gw, err,
	         sizeof(err))) != ORCH_OK) {
		orch_error("manager", "%s", err);
		goto out;
	}
	orch_events_attach(events, gw);
	orch_mm_gateway(mm, gw);
	if ((rc = orch_logs_attach(logs, gw)) != ORCH_OK) {
		orch_error("manager",
		    "cannot start the log streams' thread: %s",
		    orch_strerror(rc));
		goto out;
	}
	if ((rc = orch_rpc_start(store, nodes, notify, logs, policy,
	         cfg.rpc_url, tls, &rpc, err, sizeof(err))) != ORCH_OK ||
	    (rc = orch_notify_listen(
	         notify, cfg.pub_url, tls, err, sizeof(err))) != ORCH_OK) {
		orch_error("manager", "%s", err);
		goto out;
	}
	if (ev_notify != NULL &&
	    (rc = orch_notify_listen(ev_notify, cfg.events_url, tls, err,
	         sizeof(err))) != ORCH_OK) {
		orch_error("manager", "--events-pub: %s", err);
		goto out;
	}

	the_gw = gw;
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (cfg.dev &&
	    orch_dev_start(cfg.data, devdata[0] != '\0', cfg.rpc_url,
	        cfg.pub_url, &dev, err, sizeof(err)) != ORCH_OK) {
		orch_error("manager", "--dev: cannot start the agent: %s", err);
		goto out;
	}

	orch_info("manager",
	    "orch-manager %s: %s %s (port %d), rpc %s, pub %s, events-pub "
	    "%s, data %s, sync %s, heartbeat TTL %d s, %lld events kept%s%s",
	    orch_version, cfg.http_tls_cert != NULL ? "https" : "http",
	    cfg.http, orch_gw_port(gw), cfg.rpc_url, cfg.pub_url,
	    ev_notify != NULL ? cfg.events_url : "none", cfg.data,
	    cfg.sync_full ? "full" : "normal", cfg.heartbeat_ttl_s,
	    cfg.events_keep,
	    tls != NULL ? ", mutual TLS with the certificates of " : "",
	    tls != NULL ? cfg.tls_dir : "");
	if (dev != NULL) {
		snprintf(url, sizeof(url), "%s://%s%s",
		    cfg.http_tls_cert != NULL ? "https" : "http",
		    cfg.http[0] == ':' ? "127.0.0.1" : "", cfg.http);
		orch_dev_banner(dev, url, stdout);
	}
	/* systemd (Type=notify): started, and clients may connect. */
	if ((rc = orch_sd_notify("READY=1\nSTATUS=serving")) != ORCH_OK)
		orch_warn("manager", "cannot tell systemd it is ready: %s",
		    orch_strerror(rc));
	if (orch_gw_run(gw) == ORCH_OK)
		status = 0;
	(void)orch_sd_notify("STOPPING=1\nSTATUS=shutting down");
	orch_info("manager", "shutting down");
out:
	the_gw = NULL;
	/* The agent first: its last calls still find the manager. */
	orch_dev_stop(dev);
	orch_rpc_stop(rpc);
	/* Joined before the store closes: a pass waits for its writes. */
	orch_sched_stop(sched);
	/* Its streams end and its reader closes; it goes on publishing the
	 * events of the last writes until the store has closed. */
	orch_events_close(events);
	/* Its streams end; after the RPC server, whose pushes it takes. */
	orch_logs_close(logs);
	orch_api_free(api);
	orch_store_reader_free(r);
	/* Completes queued writes; their answers reach the gateway below,
	 * and a stop's completion may still publish a notice. */
	orch_store_close(store);
	orch_notify_close(ev_notify);
	orch_notify_close(notify);
	orch_nodes_free(nodes);
	orch_gw_free(gw);
	/* After the gateway, which may still run its posted work. */
	orch_events_free(events);
	orch_logs_free(logs);
	orch_mm_free(mm);
	if (tls != NULL)
		nng_tls_config_free(tls);
	orch_tokens_free(tokens);
	orch_policy_free(policy);
	if (lockfd >= 0)
		close(lockfd);
	if (devdata[0] != '\0')
		orch_dev_data_remove(devdata);
	return status;
}
