/*
 * curlfloor.c: the resident memory any program pays for talking to
 * Docker through libcurl, the floor under orch-agent's (bench/footprint.sh).
 *
 * It links what orch-agent links for its Docker client (libcurl, and
 * through it Debian's libcurl dependencies), asks the daemon for
 * GET /_ping over its unix socket as the agent does, prints "ready" and
 * then waits for its standard input to close, so that the caller can read
 * /proc/PID/status meanwhile.  Nothing else: no manager, no threads.
 *
 *   orch-curlfloor [DOCKER_SOCKET]
 */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static size_t
sink(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

int
main(int argc, char **argv)
{
	const char *sock = argc > 1 ? argv[1] : "/var/run/docker.sock";
	char buf[64];
	long code = 0;
	CURLcode rc;
	CURL *c;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (c = curl_easy_init()) == NULL) {
		fprintf(stderr, "orch-curlfloor: libcurl did not start\n");
		return 1;
	}
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_URL, "http://localhost/_ping");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (rc != CURLE_OK || code != 200) {
		fprintf(stderr, "orch-curlfloor: GET /_ping on %s: %s (HTTP %ld)\n",
		    sock, rc != CURLE_OK ? curl_easy_strerror(rc) : "refused",
		    code);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	/* Until the caller closes our standard input. */
	while (read(0, buf, sizeof(buf)) > 0)
		;
	curl_easy_cleanup(c);
	curl_global_cleanup();
	return 0;
}
