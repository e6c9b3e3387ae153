/*
 * exposure.c: refusing to listen beyond loopback unguarded (exposure.h).
 */
#include "exposure.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "error.h"
#include "log.h"

static bool
addr_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)sa)->sin6_addr;

		/* ::ffff:127.x.y.z is IPv4 loopback seen from IPv6. */
		return IN6_IS_ADDR_LOOPBACK(a) ||
		    (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

enum orch_reach
orch_host_reach(const char *host)
{
	struct addrinfo hints = {0}, *res = NULL;
	enum orch_reach reach = ORCH_REACH_LOCAL;

	if (host[0] == '\0' || strcmp(host, "*") == 0)
		return ORCH_REACH_NETWORK;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return ORCH_REACH_UNKNOWN;
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		if (!addr_loopback(ai->ai_addr))
			reach = ORCH_REACH_NETWORK;
	}
	freeaddrinfo(res);
	return reach;
}

/* Copies the host of the authority "HOST:PORT", "[V6]:PORT" or ":PORT"
 * (s[0..n)) into host.  Returns false when it is none of them. */
static bool
authority_host(const char *s, size_t n, char *host, size_t hostlen)
{
	const char *h = s, *colon;
	size_t hn;

	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (close == NULL || (size_t)(close - s) + 1 >= n ||
		    close[1] != ':')
			return false;
		h = s + 1;
		hn = (size_t)(close - h);
	} else {
		for (colon = s + n; colon > s && colon[-1] != ':'; colon--)
			;
		if (colon == s)
			return false;
		hn = (size_t)(colon - 1 - s);
	}
	if (hn >= hostlen)
		return false;
	memcpy(host, h, hn);
	host[hn] = '\0';
	return true;
}

enum orch_reach
orch_listen_reach(const char *addr, bool nng_url)
{
	static const char *const local_schemes[] = {
	    "ipc", "inproc", "abstract", "unix", NULL};
	char host[256];
	const char *auth = addr, *sep;
	size_t n;

	if (nng_url) {
		if ((sep = strstr(addr, "://")) == NULL)
			return ORCH_REACH_UNKNOWN;
		for (int i = 0; local_schemes[i] != NULL; i++) {
			if ((size_t)(sep - addr) == strlen(local_schemes[i]) &&
			    strncasecmp(addr, local_schemes[i],
			        (size_t)(sep - addr)) == 0)
				return ORCH_REACH_LOCAL;
		}
		auth = sep + 3;
	}
	/* A websocket URL has a path after its authority. */
	n = strcspn(auth, nng_url ? "/" : "");
	if (!authority_host(auth, n, host, sizeof(host)))
		return ORCH_REACH_UNKNOWN;
	return orch_host_reach(host);
}

int
orch_exposure_check(const struct orch_listener *l, size_t n, bool insecure,
    char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		const char *risk = l[i].risk;

		if (l[i].guarded ||
		    orch_listen_reach(l[i].addr, l[i].nng_url) !=
		        ORCH_REACH_NETWORK)
			continue;
		if (insecure) {
			orch_warn("manager",
			    "INSECURE (--insecure): %s %s is reachable beyond "
			    "loopback and unguarded: anyone who reaches it "
			    "can %s",
			    l[i].flag, l[i].addr,
			    risk != NULL
			        ? risk
			        : "run any container, as root, on every node");
			continue;
		}
		snprintf(err, errlen,
		    "refusing to start: %s %s is reachable beyond loopback "
		    "and unguarded, so anyone who reaches it could %s.  "
		    "Either %s, or listen on 127.0.0.1; --insecure starts "
		    "anyway (docs/security.md)",
		    l[i].flag, l[i].addr,
		    risk != NULL ? risk : "run any container on every node",
		    l[i].guard);
		return ORCH_EPERM;
	}
	return ORCH_OK;
}
