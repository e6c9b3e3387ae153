/*
 * docker_parse.h: reading the Docker Engine API's answers, for the Docker
 * driver (docker.c) only.
 *
 * Pure functions from the bytes of an answer's body, or of one line of a
 * stream, to what the driver needs: no socket, no state, so that every
 * answer the daemon (or anything else listening on its socket) could send
 * is tested and fuzzed here (tests/fuzz/fuzz_docker_parse.c) rather than
 * through a daemon.  Whatever the input, they neither crash nor read past
 * len, and every string they hand back is NUL-terminated within its
 * buffer.
 *
 * A body that is not what the API promises is ORCH_EPROTO, with what (a
 * buffer of whatlen bytes) saying what was wrong ("not JSON (...)",
 * "no valid \"Id\""); docker.c prefixes it with the call.
 */
#ifndef ORCH_DOCKER_PARSE_H
#define ORCH_DOCKER_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "driver.h"

/* The longest node name the driver accepts (orch.node label values). */
#define ORCH_DOCKER_NODE_MAX 128

/* True when h can go into a URL path as a container reference: 1 to
 * ORCH_HANDLE_LEN - 1 bytes of [A-Za-z0-9_.-], as Docker's ids and names
 * use, so that nothing else is ever sent. */
bool orch_docker_handle_valid(const char *h);

/* Copies s into buf of len bytes.  Returns false, leaving buf empty,
 * when it does not fit. */
bool orch_docker_str_copy(char *buf, size_t len, const char *s);

/* What GET /version says, as far as the driver uses it. */
struct orch_docker_version {
	int api_minor;     /* ApiVersion 1.N: N */
	int min_api_minor; /* MinAPIVersion 1.N: N; 12 when absent */
	bool has_min;
	char api[16];     /* ApiVersion as sent ("1.43"), for messages */
	char min_api[16]; /* MinAPIVersion as sent, "" when absent */
	char engine[64];  /* Version (Docker's), "?" when absent or odd */
};

/* Reads the body of GET /version.  ApiVersion is required, both versions
 * must be "1.N" (N from 0 to 1000).  Returns ORCH_OK or ORCH_EPROTO. */
int orch_docker_version_parse(const char *body, size_t len,
    struct orch_docker_version *out /* OUT */, char *what, size_t whatlen);

/* Reads NCPU and MemTotal (bytes) of GET /info, both positive integers,
 * into cores and MB.  Returns ORCH_OK or ORCH_EPROTO. */
int orch_docker_info_parse(const char *body, size_t len, double *cpu /* OUT */,
    int64_t *memory_mb /* OUT */, char *what, size_t whatlen);

/* What inspect learns beyond struct orch_instance. */
struct orch_docker_inspect_extra {
	char node[ORCH_DOCKER_NODE_MAX + 1]; /* orch.node label, "" when none */
	char status[32];                     /* State.Status */
};

/*
 * Reads the body of GET /containers/{id}/json into out (zeroed first) and,
 * when extra is not NULL, into extra: the handle (Id), running, exited
 * with exit_code (Status "exited" or "dead"), the start and end times
 * (0 when unknown; never a negative run time), State.Error and the
 * orch.task label.  Id, State.Running, State.Status and State.ExitCode
 * are required; Config.Labels may be absent or null but nothing else.
 * Returns ORCH_OK or ORCH_EPROTO.
 */
int orch_docker_inspect_parse(const char *body, size_t len,
    struct orch_instance *out /* OUT */,
    struct orch_docker_inspect_extra *extra /* OUT, may be NULL */, char *what,
    size_t whatlen);

/* Reads the Id of the body of POST /containers/create into handle (and
 * of POST /containers/{id}/exec, which answers the same way).
 * Returns ORCH_OK or ORCH_EPROTO (no valid Id). */
int orch_docker_create_parse(const char *body, size_t len,
    char handle[ORCH_HANDLE_LEN] /* OUT */, char *what, size_t whatlen);

/* One container of GET /containers/json that belongs to the node. */
struct orch_docker_listed {
	char handle[ORCH_HANDLE_LEN];
	char task_id[ORCH_ID_LEN]; /* the orch.task label, "" when none */
	bool running;              /* running, paused or restarting */
	bool ended; /* exited or dead: inspect it for its exit code */
};

/*
 * Reads the body of GET /containers/json (an array) and keeps the
 * containers whose orch.node label is node: the daemon filters by label
 * already, but a foreign container must never be adopted.  Every element
 * must have a valid Id, a State, and Labels absent, null or an object;
 * otherwise the whole answer is refused.  On ORCH_OK *out is a malloc'd
 * array of *n (NULL when 0), freed with free().  Returns ORCH_OK,
 * ORCH_EPROTO or ORCH_ENOMEM.
 */
int orch_docker_list_parse(const char *body, size_t len, const char *node,
    struct orch_docker_listed **out /* OUT */, size_t *n /* OUT */, char *what,
    size_t whatlen);

/* A die event of one of the node's containers. */
struct orch_docker_event {
	char handle[ORCH_HANDLE_LEN];
	char task_id[ORCH_ID_LEN]; /* a valid task id */
	int exit_code;
	int64_t time_ns; /* timeNano, 0 when absent */
};

/*
 * Reads one line of GET /events.  Returns ORCH_OK for a container's die
 * event labelled orch.node=node with a valid orch.task label and exitCode;
 * ORCH_ENOENT for any other event (another type, action or node), which
 * the monitor skips quietly; ORCH_EPROTO, with what, for a line that is
 * not a JSON object or a die event of the node that cannot be read.
 */
int orch_docker_event_parse(const char *line, size_t len, const char *node,
    struct orch_docker_event *out /* OUT */, char *what, size_t whatlen);

/* Reads one line of the progress stream of POST /images/create: true when
 * it is an {"error": "..."} line, with the message in buf ("(empty
 * error)" for an empty one); false for anything else. */
bool orch_docker_pull_error(
    const char *line, size_t len, char *buf /* OUT */, size_t buflen);

/* ---- health checks: exec and ports ---- */

/* Reads GET /exec/{id}/json: whether the command still runs, and once it
 * has ended its exit code (ExitCode required then; outside int: 255).
 * Returns ORCH_OK or ORCH_EPROTO. */
int orch_docker_exec_inspect_parse(const char *body, size_t len,
    bool *running /* OUT */, int *exit_code /* OUT */, char *what,
    size_t whatlen);

/*
 * The output of an exec as POST /exec/{id}/start sends it without a TTY:
 * frames of an 8-byte header (the stream, 0 to 2; three zero bytes; the
 * payload's length, big-endian) and a payload, the last possibly cut
 * short.  Output that does not start with a header is taken as it is.
 * Writes into buf the first line of it that is not blank, as
 * orch_docker_errf() makes text safe for a person ("" when none).
 */
void orch_docker_exec_output(
    const char *raw, size_t len, char *buf /* OUT */, size_t buflen);

/* Room for a loopback address ("127.0.0.1", "::1"), NUL included. */
#define ORCH_DOCKER_HOST_LEN 16

/*
 * Where TCP port port of a container is reachable from this host, read
 * from GET /containers/{id}/json: with network "host" the port itself on
 * 127.0.0.1; otherwise the host port it is published on, reached on
 * 127.0.0.1 for a binding on 0.0.0.0, 127.0.0.1 or all addresses, on ::1
 * for one on :: or ::1 (IPv4 first).  Never the container's own address.
 * Returns ORCH_OK with host and host_port; ORCH_ENOENT with what saying
 * why it is not reachable so (not published, published on another
 * address only, network "none"); ORCH_EPROTO for an unreadable answer.
 */
int orch_docker_port_parse(const char *body, size_t len, unsigned port,
    char host[ORCH_DOCKER_HOST_LEN] /* OUT */, unsigned *host_port /* OUT */,
    char *what, size_t whatlen);

#endif
