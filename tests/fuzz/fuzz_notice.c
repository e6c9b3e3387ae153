/*
 * fuzz_notice.c: the agent's reading of a message on the manager's notice
 * socket (agent/notice.c): anything may arrive there.
 *
 * The input is the whole message, topic included.  Whatever it is, the
 * reading never crashes and hands over a notice exactly when it says
 * "log request"; a node without an id yet is never asked anything; and
 * no topic but the node's own and "nodes " ever makes it beat.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "notice.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ME "0a1b2c3d-1111-4222-8333-444455556666"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char own[] = "node/" ME " ", nodes[] = "nodes ";
	Orch__NodeNotice *logs = NULL;
	enum orch_notice_act act;
	bool mine;

	act = orch_notice_read(data, size, ME, &logs);
	CHECK((act == ORCH_NOTICE_LOGS) == (logs != NULL));
	if (logs != NULL) {
		CHECK(logs->log_request != NULL && logs->node_id != NULL &&
		    strcmp(logs->node_id, ME) == 0);
		orch__node_notice__free_unpacked(logs, NULL);
	}
	mine = (size >= sizeof(own) - 1 &&
	           memcmp(data, own, sizeof(own) - 1) == 0) ||
	    (size >= sizeof(nodes) - 1 &&
	        memcmp(data, nodes, sizeof(nodes) - 1) == 0);
	CHECK(mine || act == ORCH_NOTICE_IGNORE);
	CHECK(act != ORCH_NOTICE_MALFORMED ||
	    memcmp(data, nodes, sizeof(nodes) - 1) == 0);

	act = orch_notice_read(data, size, "", &logs);
	CHECK(act == ORCH_NOTICE_IGNORE && logs == NULL);
	return 0;
}
