/*
 * fuzz_rpc.c: the manager's RPC server (services/rpc.c) from the socket in.
 *
 * Each input is one NNG message, sent as a client would send it to a real
 * RPC server (orch_rpc_start on an inproc:// URL) over a real store
 * (SQLite in a temporary directory), node registry and notifier.  So the
 * whole path is fuzzed as the manager runs it: the orch.Request envelope,
 * the method lookup, the body's decoding as the method's input, the
 * handler with its store writes and reads, and the reply.  The seam is
 * the module's public API, not its internals, so that the target stays
 * right however rpc.c serves calls (worker threads, asynchronous writes).
 *
 * Every input must get exactly one reply within a deadline, and the reply
 * must be an orch.Reply: OK with a body that decodes as the method's
 * output, or an error code the protocol defines with a message for a
 * person that is valid UTF-8.  A message that is not a Request must be
 * INVALID_ARGUMENT, an unknown method UNIMPLEMENTED.
 *
 * The store is shared by consecutive inputs (state is what makes Heartbeat
 * after RegisterNode or GetTask after SubmitTask interesting) and started
 * afresh every RESET_EVERY inputs, so that a long run does not slow down
 * as tasks pile up.  A crash found this way may need the inputs before it
 * to reproduce: libFuzzer's -runs and the corpus replay keep the order.
 */
#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "fuzz_util.h"
#include "log.h"
#include "nodes.h"
#include "notify.h"
#include "orch.pb-c.h"
#include "rpc.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RESET_EVERY 4096
/* Long enough for a commit on a loaded machine under ASan; a reply that
 * takes longer is a hang. */
#define REPLY_TIMEOUT_MS 30000

static struct {
	bool up;
	char dir[64];
	char url[64];
	struct orch_store *store;
	struct orch_nodes *nodes;
	struct orch_notify *notify;
	struct orch_rpc *rpc;
	nng_socket req;
	unsigned served;
} F;

static void
rm_dir(const char *dir)
{
	static const char *const files[] = {
	    "orch.db", "orch.db-wal", "orch.db-shm", "orch.db-journal"};
	char path[128];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

static void
server_down(void)
{
	if (!F.up)
		return;
	nng_close(F.req);
	orch_rpc_stop(F.rpc);
	orch_store_close(F.store);
	orch_notify_close(F.notify);
	orch_nodes_free(F.nodes);
	rm_dir(F.dir);
	F.up = false;
}

static void
server_up(void)
{
	struct orch_store_opts opts;
	const char *tmp = getenv("TMPDIR");
	char err[256];

	snprintf(F.dir, sizeof(F.dir), "%.40s/orch-fuzz-rpc-XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	CHECK(mkdtemp(F.dir) != NULL);
	snprintf(
	    F.url, sizeof(F.url), "inproc://orch-fuzz-rpc-%ld", (long)getpid());
	orch_store_opts_default(&opts);
	/* Durability is not what is fuzzed; fsyncs would only slow it. */
	opts.sync_full = false;
	CHECK(orch_store_open(F.dir, &opts, &F.store) == ORCH_OK);
	CHECK(orch_nodes_new(5000, &F.nodes) == ORCH_OK);
	CHECK(orch_notify_open(&F.notify, "pub", err, sizeof(err)) == ORCH_OK);
	if (orch_rpc_start(F.store, F.nodes, F.notify, NULL, NULL, F.url, NULL,
	        &F.rpc, err, sizeof(err)) != ORCH_OK) {
		fprintf(stderr, "%s\n", err);
		CHECK(!"the RPC server starts");
	}
	CHECK(nng_req0_open(&F.req) == 0);
	/* One request at a time, never resent: a reply that does not come is
	 * a bug to report, not to paper over. */
	CHECK(nng_socket_set_ms(
	          F.req, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE) == 0);
	CHECK(
	    nng_socket_set_ms(F.req, NNG_OPT_RECVTIMEO, REPLY_TIMEOUT_MS) == 0);
	CHECK(nng_dial(F.req, F.url, NULL, 0) == 0);
	F.served = 0;
	F.up = true;
}

/* The method the server should find for data, or NULL; *is_request says
 * whether data is an orch.Request at all. */
static const ProtobufCMethodDescriptor *
expected_method(const uint8_t *data, size_t size, bool *is_request)
{
	const ProtobufCServiceDescriptor *sd = &orch__manager__descriptor;
	const ProtobufCMethodDescriptor *md = NULL;
	Orch__Request *req = orch__request__unpack(NULL, size, data);
	size_t plen = strlen(sd->name);

	*is_request = req != NULL;
	if (req != NULL && req->method != NULL &&
	    strncmp(req->method, sd->name, plen) == 0 &&
	    req->method[plen] == '/')
		md = protobuf_c_service_descriptor_get_method_by_name(
		    sd, req->method + plen + 1);
	orch__request__free_unpacked(req, NULL);
	return md;
}

static void
check_reply(const uint8_t *data, size_t size, const uint8_t *rbuf, size_t rlen)
{
	const ProtobufCMethodDescriptor *md;
	Orch__Reply *rep = orch__reply__unpack(NULL, rlen, rbuf);
	ProtobufCMessage *out;
	bool is_request;
	int code;

	CHECK(rep != NULL);
	code = rep->has_code ? (int)rep->code : ORCH__ERROR_CODE__OK;
	md = expected_method(data, size, &is_request);
	if (!is_request)
		CHECK(code == ORCH__ERROR_CODE__INVALID_ARGUMENT);
	else if (md == NULL)
		CHECK(code == ORCH__ERROR_CODE__UNIMPLEMENTED);
	if (code != ORCH__ERROR_CODE__OK) {
		CHECK(code >= ORCH__ERROR_CODE__INVALID_ARGUMENT &&
		    code <= ORCH__ERROR_CODE__PERMISSION_DENIED);
		CHECK(code != ORCH__ERROR_CODE__INTERNAL);
		CHECK(rep->error != NULL && rep->error[0] != '\0');
		CHECK(fuzz_utf8_ok(rep->error));
		CHECK(!rep->has_body);
	} else {
		CHECK(md != NULL);
		out = protobuf_c_message_unpack(md->output, NULL,
		    rep->has_body ? rep->body.len : 0,
		    rep->has_body ? rep->body.data : NULL);
		CHECK(out != NULL);
		protobuf_c_message_free_unpacked(out, NULL);
	}
	orch__reply__free_unpacked(rep, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *rbuf = NULL;
	size_t rlen = 0;
	int rv;

	if (!F.up) {
		/* The store and the server log every start; only trouble
		 * is worth reading here. */
		orch_log_level_set(ORCH_LOG_ERROR);
		server_up();
		atexit(server_down);
	} else if (F.served >= RESET_EVERY) {
		server_down();
		server_up();
	}
	F.served++;
	CHECK(nng_send(F.req, (void *)data, size, 0) == 0);
	if ((rv = nng_recv(F.req, &rbuf, &rlen, NNG_FLAG_ALLOC)) != 0) {
		fprintf(stderr, "no reply: %s\n", nng_strerror(rv));
		CHECK(!"every request gets a reply");
	}
	check_reply(data, size, rbuf, rlen);
	nng_free(rbuf, rlen);
	return 0;
}
