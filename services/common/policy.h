/*
 * policy.h: the container policy: which tasks may weaken their container's
 * isolation, by image.
 *
 * Four settings of a task spec (container.h) hand a container some of the
 * host: privileged mode, a bind mount of a host path, the host's network
 * namespace, added capabilities.  With no policy none is allowed.  A
 * policy file allows them per image pattern:
 *
 *   {"rules": [
 *     {"image": "registry.example.com/netops:*",
 *      "allow": ["cap_add", "network_host"], "caps": ["NET_ADMIN"]},
 *     {"image": "registry.example.com/backup:*", "allow": ["host_mounts"],
 *      "comment": "nightly backups read /srv"}
 *   ]}
 *
 * "image" is an fnmatch(3) pattern matched against the image reference
 * exactly as the task writes it ("busybox" is not "busybox:latest"); '*'
 * also matches '/'.  "allow" names what the rule allows: "privileged",
 * "host_mounts", "network_host", "cap_add".  "caps", only beside
 * "cap_add", limits the capabilities it allows (canonical names, see
 * orch_cap_name_canon(); "ALL" must be listed to be allowed); without it
 * any capability is.  Rules only allow: a spec passes when, for each
 * setting it asks for, some rule whose pattern matches its image allows
 * it.  Named volumes, network "bridge" and "none" need no rule.
 *
 * A task of the exec driver runs its command as a plain process on the
 * node's host, as the agent's user (root, usually): it has the host, so it
 * is refused unless a command rule allows it:
 *
 *   {"command": "/usr/local/bin/orch-jobs-*", "allow": ["exec"]}
 *
 * "command" is an fnmatch(3) pattern over the task's program (command[0],
 * as written; "*" matches any); such a rule allows "exec" and nothing
 * else, and an image rule never allows "exec".  The pattern limits which
 * program starts, not what it does: a shell allowed runs anything.  An
 * exec task's "exec" health check runs its command on the host too, so
 * that command's program needs a command rule as well.
 *
 * The manager checks every task and service it admits (HTTP and RPC); an
 * agent given a policy checks each task before it starts it.
 */
#ifndef ORCH_POLICY_H
#define ORCH_POLICY_H

#include <stddef.h>

#include "task.h"

/* The largest policy file read. */
#define ORCH_POLICY_FILE_MAX (1024 * 1024)

struct orch_policy;

/*
 * Parses the policy text buf[0..len) (the JSON above, strictly: unknown
 * keys, duplicate keys, unknown permissions and malformed capability
 * names are refused).  On ORCH_OK *out is a new policy owned by the
 * caller; otherwise err says where: "line 3 column 9: ..." for malformed
 * JSON, "rules[1].allow[0]: ..." for a bad value.  Returns ORCH_OK,
 * ORCH_EINVAL or ORCH_ENOMEM.
 */
int orch_policy_parse(const char *buf, size_t len,
    struct orch_policy **out /* OUT */, char *err, size_t errlen);

/*
 * Reads and parses the policy file at path (at most ORCH_POLICY_FILE_MAX
 * bytes).  On error err starts with "policy file PATH: " and says why.
 * Returns ORCH_OK, ORCH_EINVAL (malformed), ORCH_ETOOBIG, ORCH_ENOMEM or
 * the error of opening or reading it (ORCH_ENOENT, ORCH_EIO...).
 */
int orch_policy_load(const char *path, struct orch_policy **out /* OUT */,
    char *err, size_t errlen);

/* Frees a policy.  NULL is a no-op. */
void orch_policy_free(struct orch_policy *p);

/* The number of rules of p (0 for NULL). */
size_t orch_policy_rule_count(const struct orch_policy *p);

/*
 * Checks the container settings of spec (already valid: see
 * orch_task_spec_validate()) against p, or for an exec task its program;
 * NULL is the default policy, which allows none of the four and no exec
 * task.  Returns ORCH_OK, or ORCH_EPERM with err naming
 * the first field refused and what would allow it:
 * 'field "privileged": not allowed by the container policy for image
 * "x:1" (a --policy rule for the image must allow "privileged")'; a
 * malformed volumes entry is ORCH_EINVAL.
 */
int orch_policy_check(const struct orch_policy *p, const orch_task_spec *spec,
    char *err, size_t errlen);

#endif
