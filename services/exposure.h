/*
 * exposure.h: the manager's refusal to serve beyond loopback unguarded.
 *
 * Whoever reaches the HTTP API, or the RPC socket, can run containers on
 * every node.  So each listener the manager opens is checked before the
 * manager starts: one that other hosts can reach (any address but
 * 127.0.0.0/8 and ::1, including the wildcards 0.0.0.0 and ::) must be
 * guarded (the HTTP API by --token-file), or the manager refuses to start
 * and says how to fix it.  --insecure turns the refusal into a loud
 * warning, for a network the operator trusts.
 *
 * Each listener is one entry of a table that main.c fills, so that
 * another listener (the RPC and PUB sockets, guarded by TLS) is one more
 * entry.
 */
#ifndef ORCH_EXPOSURE_H
#define ORCH_EXPOSURE_H

#include <stdbool.h>
#include <stddef.h>

/* How far an address reaches. */
enum orch_reach {
	ORCH_REACH_LOCAL,   /* loopback, a unix socket or in-process */
	ORCH_REACH_NETWORK, /* other hosts, or any interface */
	ORCH_REACH_UNKNOWN, /* cannot be told (a name that does not resolve):
	                     * the listener's own error will say why */
};

/* One listener of the manager. */
struct orch_listener {
	const char *flag;  /* the flag that sets it: "--http" */
	const char *addr;  /* as given: "HOST:PORT", or an NNG URL */
	bool nng_url;      /* addr is an NNG URL (tcp://HOST:PORT, ipc://) */
	bool guarded;      /* what protects it beyond loopback is on */
	const char *guard; /* how to turn it on: "give --token-file FILE" */
	/* What whoever reaches it could do, when not the default "run any
	 * container on every node": "read ..." */
	const char *risk;
};

/*
 * How far host reaches when listened on: every address it resolves to
 * (as the listener resolves it, getaddrinfo with AI_PASSIVE) must be a
 * loopback address for ORCH_REACH_LOCAL.  "" and "*" are the wildcard.
 */
enum orch_reach orch_host_reach(const char *host);

/* How far the listen address addr ("HOST:PORT" or "[V6]:PORT", or an NNG
 * URL when nng_url) reaches. */
enum orch_reach orch_listen_reach(const char *addr, bool nng_url);

/*
 * Checks the n listeners of l.  Each that reaches the network unguarded
 * is refused: returns ORCH_EPERM with err naming the flag, the address
 * and the two ways out (the guard, or 127.0.0.1).  With insecure each is
 * instead logged as a warning, and ORCH_OK returned.
 */
int orch_exposure_check(const struct orch_listener *l, size_t n, bool insecure,
    char *err, size_t errlen);

#endif
