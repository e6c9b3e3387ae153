/*
 * container.h: the container settings of a task spec (privileged, volumes,
 * network, cap_add): their syntax, checked wherever a spec enters the
 * manager, and the reading of them that the container policy (policy.h)
 * and the Docker driver share.
 *
 * Whether a setting is allowed is the policy's business, not this
 * module's: here "/etc:/host-etc" is a well-formed host bind mount.
 */
#ifndef ORCH_CONTAINER_H
#define ORCH_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>

#include "task.h"

#define ORCH_VOLUMES_MAX 64      /* entries of volumes */
#define ORCH_VOLUME_LEN_MAX 8192 /* bytes of one entry */
#define ORCH_VOLUME_NAME_MAX 255 /* a named volume's name */
#define ORCH_CAP_ADD_MAX 64      /* entries of cap_add */
#define ORCH_CAP_NAME_MAX 64     /* bytes of one capability name */

/* One entry of volumes, "SOURCE:TARGET[:ro|:rw]", split.  The slices point
 * into the entry. */
struct orch_volume {
	const char *source;
	size_t source_len;
	const char *target;
	size_t target_len;
	bool host;      /* SOURCE is a host path (else a volume name) */
	bool read_only; /* ":ro" */
};

/*
 * Splits the volumes entry s into *v.  SOURCE is an absolute host path or
 * a volume name ([A-Za-z0-9][A-Za-z0-9_.-]*, at most ORCH_VOLUME_NAME_MAX
 * bytes); TARGET an absolute path; neither may hold a "." or ".."
 * component, so that a path means what it reads as.  Returns ORCH_OK, or
 * ORCH_EINVAL with why (a message without the field's name) written.
 */
int orch_volume_parse(
    const char *s, struct orch_volume *v /* OUT */, char *why, size_t whylen);

/*
 * Writes into out (at least ORCH_CAP_NAME_MAX + 1 bytes) the canonical
 * form of the capability name s: upper case, without a "CAP_" prefix
 * ("cap_net_admin" -> "NET_ADMIN"), the form Docker and the policy use.
 * Returns ORCH_OK, or ORCH_EINVAL when s is not letters, digits and '_'
 * (1 to ORCH_CAP_NAME_MAX bytes).
 */
int orch_cap_name_canon(const char *s, char *out /* OUT */);

/*
 * Checks the container settings of spec: volumes (orch_volume_parse()),
 * network (absent, "bridge", "host" or "none") and cap_add
 * (orch_cap_name_canon()), with their limits above.  On failure writes a
 * message naming the field into err.  Returns ORCH_OK or ORCH_EINVAL.
 */
int orch_container_spec_validate(
    const orch_task_spec *spec, char *err, size_t errlen);

#endif
