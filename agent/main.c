/*
 * main.c: orch-agent, the worker.  Joins the manager named by --manager,
 * runs the tasks it assigns to this node as Docker containers or plain
 * processes (its drivers), and reports what becomes of them, until SIGINT
 * or SIGTERM.  Stopping the agent does not stop the tasks: the next agent
 * on the node adopts them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <nng/nng.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
#include "cgroup.h"
#include "driver.h"
#include "error.h"
#include "flag.h"
#include "log.h"
#include "node.h"
#include "policy.h"
#include "sdnotify.h"
#include "task.h"
#include "tls.h"
#include "version.h"

#define LABEL_KEY_MAX 128
#define LABEL_VALUE_MAX 256
#define HEARTBEAT_MIN_S 0.05
#define HEARTBEAT_MAX_S 3600.0
/* Beyond the stop timeout, how long a stopping agent waits for a driver
 * call under way before it leaves it unfinished. */
#define EXIT_GRACE_MS 5000

#define PROG "orch-agent"
#define STATE_DIR_DEFAULT "/var/lib/orch-agent"

struct config {
	const char *manager;
	const char *events;
	const char *name;
	const char *docker;
	struct orch_agent_label labels[ORCH_AGENT_LABELS_MAX];
	size_t n_labels;
	double cpu;
	int64_t memory_mb;
	int heartbeat_ms;
	int stop_timeout_s;
	int workers;
	const char *tls_dir;
	const char *tls_name;
	char manager_url[512]; /* tls+tcp:// with --tls-dir */
	char events_url[512];
	const char *policy;
	const struct orch_driver_ops *drivers[ORCH_AGENT_DRIVERS_MAX];
	size_t n_drivers;
	const char *state_dir;
	const char *cgroup_dir; /* "" for --cgroup none */
};

/* Every driver the agent has, in the order it asks them for capacity. */
static const struct orch_driver_ops *const all_drivers[] = {
    &orch_docker_driver,
    &orch_exec_driver,
};
#define N_ALL_DRIVERS (sizeof(all_drivers) / sizeof(all_drivers[0]))

static void
usage(FILE *f)
{
	fprintf(f,
	    "Usage: orch-agent [OPTIONS]\n"
	    "\n"
	    "The orch worker: joins the manager, runs the tasks it assigns to\n"
	    "this node as Docker containers or plain processes and reports "
	    "what\n"
	    "becomes of them.\n"
	    "\n"
	    "Options:\n"
	    "  --manager URL           the manager's RPC socket (its --rpc)\n"
	    "                          (default tcp://127.0.0.1:3001)\n"
	    "  --events URL            the manager's notice socket (its "
	    "--pub)\n"
	    "                          (default tcp://127.0.0.1:3002)\n"
	    "  --name NAME             node name (default: the host name);\n"
	    "                          letters, digits, '.', '_', '-'\n"
	    "  --label K=V             a node label; repeatable\n"
	    "  --cpu N                 CPU capacity in cores (default: "
	    "the host's)\n"
	    "  --memory MB             memory capacity in MB (default: "
	    "the host's)\n"
	    "  --drivers LIST          the drivers to offer, comma-separated\n"
	    "                          (default docker,exec); one whose "
	    "runtime does\n"
	    "                          not answer is off until it does\n"
	    "  --docker PATH           Docker's unix socket\n"
	    "                          (default /var/run/docker.sock)\n"
	    "  --state-dir DIR         the exec driver's task files and "
	    "output\n"
	    "                          (default " STATE_DIR_DEFAULT ")\n"
	    "  --cgroup DIR|none       cgroup v2 directory for exec tasks' "
	    "limits\n"
	    "                          (default " ORCH_CGROUP_DIR_DEFAULT
	    "); none: no limits\n"
	    "  --heartbeat SECONDS     beat interval, fractions allowed\n"
	    "                          (default 1)\n"
	    "  --stop-timeout SECONDS  grace before SIGKILL when a task is\n"
	    "                          stopped (default 10)\n"
	    "  --workers N             driver calls at once: containers "
	    "created,\n"
	    "                          started, stopped (1 to 64, default 8)\n"
	    "  --tls-dir DIR           dial over mutual TLS with the "
	    "certificate\n"
	    "                          folder DIR (orch-manager certs issue "
	    "makes it);\n"
	    "                          tcp:// URLs become tls+tcp://\n"
	    "  --tls-name NAME         the certificate DIR/NAME.crt, key "
	    "DIR/NAME.key\n"
	    "                          (default: --name)\n"
	    "  --policy FILE           this node's container policy (the "
	    "manager's\n"
	    "                          format): tasks it refuses fail "
	    "unstarted\n"
	    "                          (default: what the manager admits)\n"
	    "  --log-level LEVEL       debug, info, warn or error (default "
	    "info)\n"
	    "  --log-format FORMAT     text (default) or json: one JSON object "
	    "a line\n"
	    "                          on stderr, for log shippers\n"
	    "  -h, --help              show this help and exit\n"
	    "  --version               print the version and exit\n");
}

/* Splits "K=V" in place (arg is argv's own storage) and checks both. */
static int
label_parse(char *arg, struct config *cfg)
{
	char *eq = strchr(arg, '=');
	const char *k, *v;
	size_t kn, vn;

	if (eq == NULL) {
		fprintf(
		    stderr, "orch-agent: --label wants K=V, got \"%s\"\n", arg);
		return -1;
	}
	*eq = '\0';
	k = arg;
	v = eq + 1;
	kn = strlen(k);
	vn = strlen(v);
	if (kn == 0 || kn > LABEL_KEY_MAX ||
	    !((k[0] >= 'A' && k[0] <= 'Z') || (k[0] >= 'a' && k[0] <= 'z') ||
	        (k[0] >= '0' && k[0] <= '9'))) {
		fprintf(stderr,
		    "orch-agent: --label: the key \"%s\" must be 1 to "
		    "%d characters starting with a letter or digit\n",
		    k, LABEL_KEY_MAX);
		return -1;
	}
	for (size_t i = 0; i < kn; i++) {
		if (!orch_node_name_char(k[i]) && k[i] != '/') {
			fprintf(stderr,
			    "orch-agent: --label: the key \"%s\" may "
			    "hold only letters, digits, '.', '_', '-', '/'\n",
			    k);
			return -1;
		}
	}
	if (vn > LABEL_VALUE_MAX) {
		fprintf(stderr,
		    "orch-agent: --label %s: the value is longer than "
		    "%d bytes\n",
		    k, LABEL_VALUE_MAX);
		return -1;
	}
	for (size_t i = 0; i < vn; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 0x20 || c >= 0x7f) {
			fprintf(stderr,
			    "orch-agent: --label %s: the value may hold "
			    "only printable ASCII\n",
			    k);
			return -1;
		}
	}
	for (size_t i = 0; i < cfg->n_labels; i++) {
		if (strcmp(cfg->labels[i].key, k) == 0) {
			fprintf(
			    stderr, "orch-agent: --label %s given twice\n", k);
			return -1;
		}
	}
	if (cfg->n_labels >= ORCH_AGENT_LABELS_MAX) {
		fprintf(stderr, "orch-agent: at most %d labels\n",
		    ORCH_AGENT_LABELS_MAX);
		return -1;
	}
	cfg->labels[cfg->n_labels].key = k;
	cfg->labels[cfg->n_labels].value = v;
	cfg->n_labels++;
	return 0;
}

static int
parse_double(
    const char *flag, const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < min ||
	    v > max) {
		fprintf(stderr,
		    "orch-agent: %s wants a number from %g to %g, got "
		    "\"%s\"\n",
		    flag, min, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* Parses --drivers "docker,exec" into cfg->drivers. */
static int
drivers_parse(const char *arg, struct config *cfg)
{
	const char *p = arg;

	cfg->n_drivers = 0;
	while (*p != '\0') {
		size_t n = strcspn(p, ","), i;

		for (i = 0; i < N_ALL_DRIVERS; i++) {
			if (strlen(all_drivers[i]->name) == n &&
			    strncmp(all_drivers[i]->name, p, n) == 0)
				break;
		}
		if (i == N_ALL_DRIVERS) {
			fprintf(stderr,
			    "orch-agent: --drivers: \"%.*s\" is not a driver; "
			    "the drivers are docker and exec\n",
			    (int)n, p);
			return -1;
		}
		for (size_t j = 0; j < cfg->n_drivers; j++) {
			if (cfg->drivers[j] == all_drivers[i]) {
				fprintf(stderr,
				    "orch-agent: --drivers: %s given twice\n",
				    all_drivers[i]->name);
				return -1;
			}
		}
		cfg->drivers[cfg->n_drivers++] = all_drivers[i];
		p += n;
		if (*p == ',' && *++p == '\0')
			break;
	}
	if (cfg->n_drivers == 0) {
		fprintf(stderr,
		    "orch-agent: --drivers wants a list such as docker,exec\n");
		return -1;
	}
	return 0;
}

static int
url_check(const char *flag, const char *s)
{
	nng_url *u = NULL;
	int rv;

	if ((rv = nng_url_parse(&u, s)) != 0) {
		fprintf(stderr,
		    "orch-agent: %s: \"%s\" is not a URL NNG can dial "
		    "(%s); for example tcp://127.0.0.1:3001\n",
		    flag, s, nng_strerror(rv));
		return -1;
	}
	nng_url_free(u);
	return 0;
}

/* Returns 0 to go on, 1 to exit successfully, 2 on a usage error. */
static int
parse_args(int argc, char **argv, struct config *cfg)
{
	enum {
		OPT_MANAGER = 256,
		OPT_EVENTS,
		OPT_NAME,
		OPT_LABEL,
		OPT_CPU,
		OPT_MEMORY,
		OPT_DOCKER,
		OPT_HEARTBEAT,
		OPT_STOP,
		OPT_WORKERS,
		OPT_LOG,
		OPT_LOG_FORMAT,
		OPT_TLS_DIR,
		OPT_TLS_NAME,
		OPT_POLICY,
		OPT_DRIVERS,
		OPT_STATE_DIR,
		OPT_CGROUP,
		OPT_VERSION
	};
	static const struct option opts[] = {
	    {"manager", required_argument, NULL, OPT_MANAGER},
	    {"events", required_argument, NULL, OPT_EVENTS},
	    {"name", required_argument, NULL, OPT_NAME},
	    {"label", required_argument, NULL, OPT_LABEL},
	    {"cpu", required_argument, NULL, OPT_CPU},
	    {"memory", required_argument, NULL, OPT_MEMORY},
	    {"docker", required_argument, NULL, OPT_DOCKER},
	    {"heartbeat", required_argument, NULL, OPT_HEARTBEAT},
	    {"stop-timeout", required_argument, NULL, OPT_STOP},
	    {"workers", required_argument, NULL, OPT_WORKERS},
	    {"log-level", required_argument, NULL, OPT_LOG},
	    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
	    {"tls-dir", required_argument, NULL, OPT_TLS_DIR},
	    {"tls-name", required_argument, NULL, OPT_TLS_NAME},
	    {"policy", required_argument, NULL, OPT_POLICY},
	    {"drivers", required_argument, NULL, OPT_DRIVERS},
	    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
	    {"cgroup", required_argument, NULL, OPT_CGROUP},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {NULL, 0, NULL, 0},
	};
	char err[600];
	long long ll;
	double d;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_MANAGER:
			if (url_check("--manager", optarg) != 0)
				return 2;
			cfg->manager = optarg;
			break;
		case OPT_EVENTS:
			if (url_check("--events", optarg) != 0)
				return 2;
			cfg->events = optarg;
			break;
		case OPT_NAME:
			if (!orch_node_name_valid(optarg)) {
				fprintf(stderr,
				    "orch-agent: --name wants 1 to %d "
				    "letters, digits, '.', '_' or '-', got "
				    "\"%s\"\n",
				    ORCH_NODE_NAME_MAX, optarg);
				return 2;
			}
			cfg->name = optarg;
			break;
		case OPT_LABEL:
			if (label_parse(optarg, cfg) != 0)
				return 2;
			break;
		case OPT_CPU:
			if (parse_double("--cpu", optarg, 0.001, ORCH_CPU_MAX,
			        &cfg->cpu) != 0)
				return 2;
			break;
		case OPT_MEMORY:
			if (orch_flag_int(PROG, "--memory", optarg,
			        ORCH_MEMORY_MIN_MB, ORCH_MEMORY_MAX_MB,
			        &ll) != ORCH_OK)
				return 2;
			cfg->memory_mb = ll;
			break;
		case OPT_DOCKER:
			if (optarg[0] == '\0' ||
			    strlen(optarg) >=
			        sizeof(((struct sockaddr_un *)0)->sun_path)) {
				fprintf(stderr,
				    "orch-agent: --docker wants the path "
				    "of a unix socket, got \"%s\"\n",
				    optarg);
				return 2;
			}
			cfg->docker = optarg;
			break;
		case OPT_HEARTBEAT:
			if (parse_double("--heartbeat", optarg, HEARTBEAT_MIN_S,
			        HEARTBEAT_MAX_S, &d) != 0)
				return 2;
			cfg->heartbeat_ms = (int)llround(d * 1000);
			break;
		case OPT_STOP:
			if (orch_flag_int(PROG, "--stop-timeout", optarg, 1,
			        3600, &ll) != ORCH_OK)
				return 2;
			cfg->stop_timeout_s = (int)ll;
			break;
		case OPT_WORKERS:
			if (orch_flag_int(PROG, "--workers", optarg, 1, 64,
			        &ll) != ORCH_OK)
				return 2;
			cfg->workers = (int)ll;
			break;
		case OPT_LOG:
			if (orch_flag_log_level(PROG, optarg) != ORCH_OK)
				return 2;
			break;
		case OPT_LOG_FORMAT:
			if (orch_flag_log_format(PROG, optarg) != ORCH_OK)
				return 2;
			break;
		case OPT_TLS_DIR: cfg->tls_dir = optarg; break;
		case OPT_TLS_NAME:
			if (!orch_node_name_valid(optarg)) {
				fprintf(stderr,
				    "orch-agent: --tls-name wants 1 to %d "
				    "letters, digits, '.', '_' or '-', got "
				    "\"%s\"\n",
				    ORCH_NODE_NAME_MAX, optarg);
				return 2;
			}
			cfg->tls_name = optarg;
			break;
		case OPT_POLICY: cfg->policy = optarg; break;
		case OPT_DRIVERS:
			if (drivers_parse(optarg, cfg) != 0)
				return 2;
			break;
		case OPT_STATE_DIR:
			if (optarg[0] == '\0' || strlen(optarg) > 3000) {
				fprintf(stderr,
				    "orch-agent: --state-dir wants a "
				    "directory, got \"%s\"\n",
				    optarg);
				return 2;
			}
			cfg->state_dir = optarg;
			break;
		case OPT_CGROUP:
			if (strcmp(optarg, "none") == 0) {
				cfg->cgroup_dir = "";
			} else if (optarg[0] != '/' || strlen(optarg) > 400) {
				fprintf(stderr,
				    "orch-agent: --cgroup wants the absolute "
				    "path of a cgroup v2 directory, or none; "
				    "got \"%s\"\n",
				    optarg);
				return 2;
			} else {
				cfg->cgroup_dir = optarg;
			}
			break;
		case 'h': usage(stdout); return 1;
		case OPT_VERSION:
			printf("orch-agent %s\n", orch_version);
			return 1;
		case ':':
			fprintf(stderr, "orch-agent: %s needs a value\n",
			    argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr,
			    "orch-agent: unknown option \"%s\"; see "
			    "--help\n",
			    argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
		    "orch-agent: unexpected argument \"%s\"; see "
		    "--help\n",
		    argv[optind]);
		return 2;
	}
	if (cfg->tls_name != NULL && cfg->tls_dir == NULL) {
		fprintf(stderr, "orch-agent: --tls-name needs --tls-dir\n");
		return 2;
	}
	if (orch_tls_url("--manager", cfg->manager, cfg->tls_dir != NULL,
	        cfg->manager_url, sizeof(cfg->manager_url), err,
	        sizeof(err)) != ORCH_OK ||
	    orch_tls_url("--events", cfg->events, cfg->tls_dir != NULL,
	        cfg->events_url, sizeof(cfg->events_url), err,
	        sizeof(err)) != ORCH_OK) {
		fprintf(stderr, "orch-agent: %s\n", err);
		return 2;
	}
	return 0;
}

/*
 * Where this host can be found, for people reading the node list: the
 * first address of an interface that is up and not loopback, else the
 * host name.  Nothing is ever sent to it.
 */
static void
host_address(const char *hostname, char *buf, size_t len)
{
	struct ifaddrs *ifs = NULL, *i;
	bool found = false;

	snprintf(buf, len, "%s", hostname);
	if (getifaddrs(&ifs) != 0)
		return;
	for (int pass = 0; pass < 2 && !found; pass++) {
		int family = pass == 0 ? AF_INET : AF_INET6;

		for (i = ifs; i != NULL && !found; i = i->ifa_next) {
			const void *addr;

			if (i->ifa_addr == NULL ||
			    i->ifa_addr->sa_family != family ||
			    !(i->ifa_flags & IFF_UP) ||
			    (i->ifa_flags & IFF_LOOPBACK))
				continue;
			addr = family == AF_INET
			    ? (const void *)&(
			          (struct sockaddr_in *)(void *)i->ifa_addr)
			          ->sin_addr
			    : (const void *)&(
			          (struct sockaddr_in6 *)(void *)i->ifa_addr)
			          ->sin6_addr;
			/* IPv6 link-local addresses need a scope to mean
			 * anything: skip them. */
			if (family == AF_INET6 &&
			    IN6_IS_ADDR_LINKLOCAL(
			        (const struct in6_addr *)addr))
				continue;
			found = inet_ntop(family, addr, buf, (socklen_t)len) !=
			    NULL;
		}
	}
	if (!found)
		snprintf(buf, len, "%s", hostname);
	freeifaddrs(ifs);
}

int
main(int argc, char **argv)
{
	struct config cfg = {
	    .manager = "tcp://127.0.0.1:3001",
	    .events = "tcp://127.0.0.1:3002",
	    .docker = "/var/run/docker.sock",
	    .heartbeat_ms = 1000,
	    .stop_timeout_s = 10,
	    .drivers = {&orch_docker_driver, &orch_exec_driver},
	    .n_drivers = 2,
	    .state_dir = STATE_DIR_DEFAULT,
	};
	struct orch_agent_config ac = {0};
	struct orch_agent *a = NULL;
	struct orch_policy *policy = NULL;
	char hostname[256], address[INET6_ADDRSTRLEN + 256], err[2048];
	char drivers[128];
	sigset_t sigs;
	double cpu;
	int64_t memory_mb;
	int rc, sig = 0, status = 1;
	bool stopped = true;

	if ((rc = parse_args(argc, argv, &cfg)) != 0)
		return rc == 1 ? 0 : 2;
	if (gethostname(hostname, sizeof(hostname)) != 0)
		hostname[0] = '\0';
	hostname[sizeof(hostname) - 1] = '\0';
	if (cfg.name == NULL) {
		if (!orch_node_name_valid(hostname)) {
			fprintf(stderr,
			    "orch-agent: the host name \"%s\" cannot be "
			    "a node name; give one with --name\n",
			    hostname);
			return 2;
		}
		cfg.name = hostname;
	}
	host_address(hostname, address, sizeof(address));
	if (cfg.tls_name != NULL && strcmp(cfg.tls_name, cfg.name) != 0)
		orch_warn("agent",
		    "--tls-name %s differs from the node name %s: the manager "
		    "lets a node register only under its certificate's name",
		    cfg.tls_name, cfg.name);
	if (cfg.policy != NULL &&
	    orch_policy_load(cfg.policy, &policy, err, sizeof(err)) !=
	        ORCH_OK) {
		fprintf(stderr, "orch-agent: %s\n", err);
		return 2;
	}

	signal(SIGPIPE, SIG_IGN);
	/* Blocked before any thread exists (NNG's, the driver's, ours), so
	 * that only sigwait below receives them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	ac.manager_url = cfg.manager_url;
	ac.events_url = cfg.events_url;
	ac.tls_dir = cfg.tls_dir;
	ac.tls_name = cfg.tls_name;
	ac.name = cfg.name;
	ac.address = address;
	ac.labels = cfg.labels;
	ac.n_labels = cfg.n_labels;
	ac.cpu = cfg.cpu;
	ac.memory_mb = cfg.memory_mb;
	ac.heartbeat_ms = cfg.heartbeat_ms;
	ac.drivers = cfg.drivers;
	ac.n_drivers = cfg.n_drivers;
	ac.docker_socket = cfg.docker;
	ac.stop_timeout_s = cfg.stop_timeout_s;
	ac.workers = cfg.workers;
	ac.state_dir = cfg.state_dir;
	ac.cgroup_dir = cfg.cgroup_dir;
	ac.policy = policy;
	if ((rc = orch_agent_new(&ac, &a, err, sizeof(err))) != ORCH_OK) {
		if (rc == ORCH_EUNAVAIL)
			fprintf(stderr,
			    "orch-agent: no driver can run tasks (Docker's "
			    "socket is %s): %s\n",
			    cfg.docker, err);
		else
			fprintf(stderr, "orch-agent: %s\n", err);
		goto out;
	}
	if ((rc = orch_agent_start(a, err, sizeof(err))) != ORCH_OK) {
		fprintf(stderr, "orch-agent: %s\n", err);
		goto out;
	}
	orch_agent_capacity(a, &cpu, &memory_mb);
	orch_agent_drivers(a, drivers, sizeof(drivers));
	orch_info("agent",
	    "orch-agent %s: node \"%s\" at %s, drivers %s (Docker %s, "
	    "state %s), capacity %.2f CPUs %lld MB, manager %s%s%s",
	    orch_version, cfg.name, address, drivers, cfg.docker, cfg.state_dir,
	    cpu, (long long)memory_mb, cfg.manager_url,
	    cfg.tls_dir != NULL ? ", certificates in " : "",
	    cfg.tls_dir != NULL ? cfg.tls_dir : "");
	if ((rc = orch_sd_notify("READY=1\nSTATUS=running")) != ORCH_OK)
		orch_warn("agent", "cannot tell systemd it is ready: %s",
		    orch_strerror(rc));
	while (sigwait(&sigs, &sig) != 0)
		;
	(void)orch_sd_notify("STOPPING=1\nSTATUS=stopping");
	orch_info("agent", "%s: stopping (tasks keep running)",
	    sig == SIGINT ? "SIGINT" : "SIGTERM");
	status = 0;
out:
	if (a != NULL)
		stopped = orch_agent_stop(
		    a, cfg.stop_timeout_s * 1000 + EXIT_GRACE_MS);
	/* An agent with a driver call still under way is left to the exit. */
	if (stopped) {
		orch_agent_free(a);
		orch_policy_free(policy);
	}
	return status;
}
