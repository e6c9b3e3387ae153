/*
 * rpc_seeds.c: writes the seed corpus of fuzz_rpc (tests/fuzz/corpus/rpc):
 * one well-formed orch.Request per method, with typical and edge-case
 * bodies, so that the fuzzer starts past the envelope.  The files are
 * committed; run this again after adding a method or a field:
 *
 *   build/tests/fuzz_rpc_seeds tests/fuzz/corpus/rpc
 *
 * Names start with "seed-"; inputs the fuzzer found are kept beside them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orch.pb-c.h"

static const char *dir;
static int failures;

/* Writes Request{method, body = packed m} to dir/seed-<name>. */
static void
emit(const char *name, const char *method, const ProtobufCMessage *m)
{
	Orch__Request req = ORCH__REQUEST__INIT;
	uint8_t *body = NULL, *out;
	size_t blen = 0, olen;
	char path[512];
	FILE *f;

	if (m != NULL) {
		blen = protobuf_c_message_get_packed_size(m);
		body = malloc(blen + 1);
		protobuf_c_message_pack(m, body);
		req.has_body = 1;
		req.body.data = body;
		req.body.len = blen;
	}
	req.method = (char *)method;
	olen = orch__request__get_packed_size(&req);
	out = malloc(olen + 1);
	orch__request__pack(&req, out);
	snprintf(path, sizeof(path), "%s/seed-%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(out, 1, olen, f) != olen || fclose(f) != 0) {
		perror(path);
		failures++;
	}
	free(out);
	free(body);
}

/* Writes raw bytes, for envelopes that are not well formed. */
static void
emit_raw(const char *name, const void *data, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/seed-%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    (len > 0 && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
		perror(path);
		failures++;
	}
}

#define M(x) (&(x).base)

int
main(int argc, char **argv)
{
	static const char *const cmd[] = {"sh", "-c", "echo hi"};
	static const char *const cons[] = {"zone==a", "node.name!=b"};
	Orch__TaskSpec spec = ORCH__TASK_SPEC__INIT;
	Orch__TaskSpec__EnvEntry env = ORCH__TASK_SPEC__ENV_ENTRY__INIT;
	Orch__TaskSpec__EnvEntry *envs[] = {&env};
	Orch__TaskSpec bad = ORCH__TASK_SPEC__INIT;
	Orch__SubmitTaskRequest submit = ORCH__SUBMIT_TASK_REQUEST__INIT;
	Orch__ListTasksRequest list = ORCH__LIST_TASKS_REQUEST__INIT;
	Orch__GetTaskRequest get = ORCH__GET_TASK_REQUEST__INIT;
	Orch__StopTaskRequest stop = ORCH__STOP_TASK_REQUEST__INIT;
	Orch__TaskStatusUpdate upd = ORCH__TASK_STATUS_UPDATE__INIT;
	Orch__NodeRegistration reg = ORCH__NODE_REGISTRATION__INIT;
	Orch__NodeRegistration__LabelsEntry lab =
	    ORCH__NODE_REGISTRATION__LABELS_ENTRY__INIT;
	Orch__NodeRegistration__LabelsEntry *labs[] = {&lab};
	Orch__HeartbeatRequest hb = ORCH__HEARTBEAT_REQUEST__INIT;
	Orch__ListNodesRequest ln = ORCH__LIST_NODES_REQUEST__INIT;
	Orch__GetNodeRequest gn = ORCH__GET_NODE_REQUEST__INIT;
	Orch__CreateServiceRequest cs = ORCH__CREATE_SERVICE_REQUEST__INIT;
	Orch__ListServicesRequest ls = ORCH__LIST_SERVICES_REQUEST__INIT;
	Orch__GetServiceRequest gs = ORCH__GET_SERVICE_REQUEST__INIT;
	Orch__ScaleServiceRequest ss = ORCH__SCALE_SERVICE_REQUEST__INIT;
	Orch__DeleteServiceRequest ds = ORCH__DELETE_SERVICE_REQUEST__INIT;
	Orch__DrainNodeRequest dn = ORCH__DRAIN_NODE_REQUEST__INIT;
	char *drivers[] = {"docker"};
	const char *id = "2b9e0a70-3c1f-4d6e-9a51-8f0c6b1d2e34";

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];

	spec.name = "web";
	spec.image = "busybox:latest";
	spec.has_memory_mb = 1;
	spec.memory_mb = 64;
	spec.has_cpu = 1;
	spec.cpu = 0.25;
	env.key = "PORT";
	env.value = "80";
	spec.n_env = 1;
	spec.env = envs;
	spec.n_command = 3;
	spec.command = (char **)cmd;
	spec.n_constraints = 2;
	spec.constraints = (char **)cons;
	spec.placement = "binpack";
	spec.restart = "on-failure:3";
	submit.spec = &spec;
	emit("submit-full", "orch.Manager/SubmitTask", M(submit));
	submit.idempotency_key = "retry-key-1";
	emit("submit-keyed", "orch.Manager/SubmitTask", M(submit));
	submit.idempotency_key = NULL;
	bad.name = "x";
	bad.image = "";
	bad.has_cpu = 1;
	bad.cpu = -1;
	bad.service = "svc";
	submit.spec = &bad;
	emit("submit-invalid", "orch.Manager/SubmitTask", M(submit));
	submit.spec = NULL;
	emit("submit-nospec", "orch.Manager/SubmitTask", M(submit));

	emit("list-all", "orch.Manager/ListTasks", M(list));
	list.has_status = 1;
	list.status = ORCH__TASK_STATUS__TASK_STATUS_RUNNING;
	emit("list-running", "orch.Manager/ListTasks", M(list));
	list.status = 99;
	emit("list-badstatus", "orch.Manager/ListTasks", M(list));

	get.id = (char *)id;
	emit("get", "orch.Manager/GetTask", M(get));
	get.id = "not-an-id";
	emit("get-badid", "orch.Manager/GetTask", M(get));
	stop.id = (char *)id;
	emit("stop", "orch.Manager/StopTask", M(stop));

	upd.id = (char *)id;
	upd.has_status = 1;
	upd.status = ORCH__TASK_STATUS__TASK_STATUS_FAILED;
	upd.container_id = "4f1c";
	upd.has_exit_code = 1;
	upd.exit_code = 3;
	upd.error = "it broke";
	upd.node_id = (char *)id;
	upd.has_started_at_ms = 1;
	upd.started_at_ms = 1700000000000;
	upd.has_finished_at_ms = 1;
	upd.finished_at_ms = -1;
	emit("update", "orch.Manager/UpdateTaskStatus", M(upd));

	reg.name = "node-1";
	reg.address = "127.0.0.1";
	lab.key = "zone";
	lab.value = "a";
	reg.n_labels = 1;
	reg.labels = labs;
	reg.has_cpu = 1;
	reg.cpu = 4;
	reg.has_memory_mb = 1;
	reg.memory_mb = 8192;
	reg.n_drivers = 1;
	reg.drivers = drivers;
	reg.agent_version = "0.1.0";
	emit("register", "orch.Manager/RegisterNode", M(reg));
	reg.has_cpu = 0;
	emit("register-nocpu", "orch.Manager/RegisterNode", M(reg));
	hb.node_id = (char *)id;
	emit("heartbeat", "orch.Manager/Heartbeat", M(hb));
	emit("list-nodes", "orch.Manager/ListNodes", M(ln));
	gn.id = "node-1";
	emit("get-node", "orch.Manager/GetNode", M(gn));
	dn.id = "node-1";
	dn.has_drain = 1;
	dn.drain = 1;
	emit("drain", "orch.Manager/DrainNode", M(dn));

	cs.name = "web";
	cs.spec = &spec;
	cs.has_replicas = 1;
	cs.replicas = 3;
	emit("create-service", "orch.Manager/CreateService", M(cs));
	cs.idempotency_key = "retry-key-2";
	emit("create-service-keyed", "orch.Manager/CreateService", M(cs));
	cs.idempotency_key = NULL;
	cs.replicas = 100000;
	emit("create-service-toomany", "orch.Manager/CreateService", M(cs));
	emit("list-services", "orch.Manager/ListServices", M(ls));
	gs.name = "web";
	emit("get-service", "orch.Manager/GetService", M(gs));
	ss.name = "web";
	ss.has_replicas = 1;
	ss.replicas = 0;
	emit("scale-service", "orch.Manager/ScaleService", M(ss));
	ds.name = "web";
	emit("delete-service", "orch.Manager/DeleteService", M(ds));

	emit("unknown-method", "orch.Manager/Nope", NULL);
	emit("other-service", "other.Service/SubmitTask", NULL);
	emit("no-body", "orch.Manager/GetTask", NULL);
	emit_raw("empty", "", 0);
	emit_raw("not-protobuf", "\xff\xff\xff\xff", 4);
	/* Request{method: "orch.Manager/GetTask", body: a truncated varint} */
	emit_raw(
	    "bad-body", "\x0a\x14orch.Manager/GetTask\x12\x02\x08\xff", 26);
	return failures > 0 ? 1 : 0;
}
