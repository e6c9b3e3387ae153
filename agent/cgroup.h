/*
 * cgroup.h: memory and cpu limits for the exec driver's processes, through
 * Linux cgroup v2.
 *
 * The agent is given a directory of the unified (v2) hierarchy it may
 * write (--cgroup, default /sys/fs/cgroup/orch): the root's child when it
 * runs as root on a cgroup v2 host, or a subtree delegated to it.  Under
 * it each node gets a cgroup named after it, and each task a leaf under
 * that: DIR/<node>/<task id>, with memory.max (the task's memory) and
 * cpu.max (its cpu, as a quota of 100 ms periods).  A task's processes are
 * moved into its leaf before the program is run, so that whatever it
 * forks is limited and can be killed with it.
 *
 * Where the host does not allow it (a cgroup v1 or hybrid host, no root,
 * a parent that does not offer the memory and cpu controllers), probing
 * says why and the driver runs tasks without limits.
 */
#ifndef ORCH_CGROUP_H
#define ORCH_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Where the agent makes its cgroups unless told otherwise. */
#define ORCH_CGROUP_DIR_DEFAULT "/sys/fs/cgroup/orch"

/* Room for a cgroup path. */
#define ORCH_CGROUP_PATH_LEN 512

/*
 * Makes sure tasks of node can be limited under dir: dir lies on a cgroup
 * v2 file system, dir and dir/<node> exist (made when missing) and offer
 * the memory and cpu controllers to their children (cgroup.subtree_control).
 * On ORCH_OK path (OUT, ORCH_CGROUP_PATH_LEN bytes) is dir/<node>;
 * otherwise why says, for a person, what the host lacks ("/sys/fs/cgroup
 * is not a cgroup v2 file system (a cgroup v1 host)").
 */
int orch_cgroup_probe(const char *dir, const char *node, char *path /* OUT */,
    char *why, size_t whylen);

/*
 * The values of memory.max and cpu.max for memory_mb and cpu cores:
 * "268435456" and "50000 100000" for 256 MB and 0.5 cpu ("max" for cpu
 * <= 0).  Pure.
 */
void orch_cgroup_limits_format(double cpu, int64_t memory_mb,
    char *memory_max /* OUT */, size_t mlen, char *cpu_max /* OUT */,
    size_t clen);

/*
 * Makes (or reuses: a start that did not finish) the cgroup parent/name,
 * writes its memory.max and cpu.max, and opens its cgroup.procs for
 * writing (O_CLOEXEC) into *procs_fd (OUT): writing "0" to it moves the
 * writer in.  path (OUT, ORCH_CGROUP_PATH_LEN bytes) is the cgroup's.  On
 * error err says what failed on what.
 */
int orch_cgroup_task_create(const char *parent, const char *name, double cpu,
    int64_t memory_mb, char *path /* OUT */, int *procs_fd /* OUT */, char *err,
    size_t errlen);

/*
 * Sends sig to every process of the cgroup at path; SIGKILL goes through
 * cgroup.kill where the kernel has it (5.14), which also catches processes
 * forked meanwhile.  *n (OUT, may be NULL) counts the processes found.
 * Returns ORCH_OK, or ORCH_ENOENT when the cgroup is gone.
 */
int orch_cgroup_signal(const char *path, int sig, size_t *n /* OUT */);

/* Removes the (empty) cgroup at path.  A missing one is success; one that
 * still holds processes is ORCH_ECONFLICT. */
int orch_cgroup_remove(const char *path);

#endif
