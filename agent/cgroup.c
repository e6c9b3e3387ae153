/*
 * cgroup.c: cgroup v2 for the exec driver (cgroup.h).  Linux only, like
 * the interface it speaks: files under /sys/fs/cgroup.
 */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "error.h"

/* cpu.max's period: the kernel's default, 100 ms. */
#define CPU_PERIOD_US 100000
/* cgroup.procs of one task's cgroup: a few pids.  Read in chunks. */
#define PROCS_CHUNK 4096

/* Writes text to the existing file at path.  Returns 0 or an errno. */
static int
file_write(const char *path, const char *text)
{
	size_t n = strlen(text);
	ssize_t w;
	int fd, e = 0;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return errno;
	w = write(fd, text, n);
	if (w < 0)
		e = errno;
	else if ((size_t)w != n)
		e = EIO;
	close(fd);
	return e;
}

/* Reads the start of the file at path into buf (NUL-terminated).  Returns
 * 0 or an errno. */
static int
file_read(const char *path, char *buf, size_t len)
{
	ssize_t r;
	int fd, e = 0;

	buf[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno;
	if ((r = read(fd, buf, len - 1)) < 0)
		e = errno;
	else
		buf[r] = '\0';
	close(fd);
	return e;
}

/* True when the space-separated list holds word. */
static bool
has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)) != NULL; p += n) {
		if ((p == list || p[-1] == ' ') &&
		    (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
			return true;
	}
	return false;
}

/* Makes dir (when missing) a cgroup whose children get the memory and cpu
 * controllers. */
static int
cgroup_enable(const char *dir, char *why, size_t whylen)
{
	char path[ORCH_CGROUP_PATH_LEN + 32], have[512];
	int e;

	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		snprintf(
		    why, whylen, "cannot create %s: %s", dir, strerror(errno));
		return orch_err_from_errno(errno);
	}
	snprintf(path, sizeof(path), "%s/cgroup.controllers", dir);
	if ((e = file_read(path, have, sizeof(have))) != 0) {
		snprintf(why, whylen, "cannot read %s: %s", path, strerror(e));
		return orch_err_from_errno(e);
	}
	if (!has_word(have, "memory") || !has_word(have, "cpu")) {
		snprintf(why, whylen,
		    "%s offers \"%.*s\", not both memory and cpu (enable "
		    "them in its parent's cgroup.subtree_control)",
		    path, (int)strcspn(have, "\n"), have);
		return ORCH_EUNAVAIL;
	}
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
	if ((e = file_read(path, have, sizeof(have))) == 0 &&
	    has_word(have, "memory") && has_word(have, "cpu"))
		return ORCH_OK;
	/* EBUSY: the cgroup holds processes itself (cgroup v2 lets only
	 * the root have both processes and limited children). */
	if ((e = file_write(path, "+memory +cpu")) != 0) {
		snprintf(why, whylen, "cannot enable memory and cpu in %s: %s",
		    path, strerror(e));
		return orch_err_from_errno(e);
	}
	return ORCH_OK;
}

int
orch_cgroup_probe(
    const char *dir, const char *node, char *path, char *why, size_t whylen)
{
	char parent[ORCH_CGROUP_PATH_LEN];
	struct statfs sf;
	const char *slash;
	int rc;

	path[0] = '\0';
	if (dir == NULL || dir[0] != '/' ||
	    strlen(dir) + strlen(node) + 2 > ORCH_CGROUP_PATH_LEN) {
		snprintf(why, whylen,
		    "the cgroup directory must be an absolute "
		    "path of fewer than 400 bytes");
		return ORCH_EINVAL;
	}
	/* The directory may not exist yet: its parent must be cgroup v2
	 * already (a tmpfs at /sys/fs/cgroup is a v1 or hybrid host). */
	slash = strrchr(dir, '/');
	snprintf(parent, sizeof(parent), "%.*s",
	    slash == dir ? 1 : (int)(slash - dir), dir);
	if (statfs(parent, &sf) != 0) {
		snprintf(why, whylen, "cannot look at %s: %s", parent,
		    strerror(errno));
		return orch_err_from_errno(errno);
	}
	if (sf.f_type != CGROUP2_SUPER_MAGIC) {
		snprintf(why, whylen,
		    "%s is not on a cgroup v2 file system (a cgroup v1 or "
		    "hybrid host; boot with "
		    "systemd.unified_cgroup_hierarchy=1)",
		    parent);
		return ORCH_EUNAVAIL;
	}
	if ((rc = cgroup_enable(dir, why, whylen)) != ORCH_OK)
		return rc;
	snprintf(path, ORCH_CGROUP_PATH_LEN, "%s/%s", dir, node);
	if ((rc = cgroup_enable(path, why, whylen)) != ORCH_OK)
		path[0] = '\0';
	return rc;
}

void
orch_cgroup_limits_format(double cpu, int64_t memory_mb, char *memory_max,
    size_t mlen, char *cpu_max, size_t clen)
{
	long long quota = (long long)(cpu * CPU_PERIOD_US + 0.5);

	snprintf(memory_max, mlen, "%lld", (long long)memory_mb * 1024 * 1024);
	/* The kernel refuses a quota under 1 ms. */
	if (cpu <= 0)
		snprintf(cpu_max, clen, "max %d", CPU_PERIOD_US);
	else
		snprintf(cpu_max, clen, "%lld %d", quota < 1000 ? 1000 : quota,
		    CPU_PERIOD_US);
}

int
orch_cgroup_task_create(const char *parent, const char *name, double cpu,
    int64_t memory_mb, char *path, int *procs_fd, char *err, size_t errlen)
{
	char file[ORCH_CGROUP_PATH_LEN + 32], mem[32], cpum[48];
	int e;

	*procs_fd = -1;
	if (snprintf(path, ORCH_CGROUP_PATH_LEN, "%s/%s", parent, name) >=
	    ORCH_CGROUP_PATH_LEN) {
		snprintf(
		    err, errlen, "cgroup path %s/%s too long", parent, name);
		return ORCH_EINVAL;
	}
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		e = errno;
		snprintf(err, errlen, "cannot create the cgroup %s: %s", path,
		    strerror(e));
		return orch_err_from_errno(e);
	}
	orch_cgroup_limits_format(
	    cpu, memory_mb, mem, sizeof(mem), cpum, sizeof(cpum));
	snprintf(file, sizeof(file), "%s/memory.max", path);
	if ((e = file_write(file, mem)) != 0)
		goto fail;
	snprintf(file, sizeof(file), "%s/cpu.max", path);
	if ((e = file_write(file, cpum)) != 0)
		goto fail;
	snprintf(file, sizeof(file), "%s/cgroup.procs", path);
	if ((*procs_fd = open(file, O_WRONLY | O_CLOEXEC)) < 0) {
		e = errno;
		goto fail;
	}
	return ORCH_OK;
fail:
	snprintf(err, errlen, "cannot write %s: %s", file, strerror(e));
	rmdir(path);
	return orch_err_from_errno(e);
}

int
orch_cgroup_signal(const char *path, int sig, size_t *n)
{
	char file[ORCH_CGROUP_PATH_LEN + 32], buf[PROCS_CHUNK + 1];
	size_t cnt = 0, have = 0;
	ssize_t r;
	int fd;

	if (n != NULL)
		*n = 0;
	/* cgroup.kill catches what forks meanwhile; where the kernel lacks
	 * it, every process listed is sent SIGKILL below.  Either way they
	 * are counted: they may take a moment to go. */
	snprintf(file, sizeof(file), "%s/cgroup.kill", path);
	if (sig == SIGKILL)
		(void)file_write(file, "1");
	snprintf(file, sizeof(file), "%s/cgroup.procs", path);
	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? ORCH_ENOENT
		                       : orch_err_from_errno(errno);
	/* One pid a line; a line cut by the chunk is kept for the next. */
	while ((r = read(fd, buf + have, PROCS_CHUNK - have)) > 0) {
		char *line = buf, *nl;

		have += (size_t)r;
		buf[have] = '\0';
		while ((nl = strchr(line, '\n')) != NULL) {
			char *end;
			long pid;

			*nl = '\0';
			errno = 0;
			pid = strtol(line, &end, 10);
			if (errno == 0 && end != line && *end == '\0' &&
			    pid > 0) {
				cnt++;
				if (sig != 0)
					(void)kill((pid_t)pid, sig);
			}
			line = nl + 1;
		}
		have = (size_t)(buf + have - line);
		memmove(buf, line, have);
	}
	close(fd);
	if (n != NULL)
		*n = cnt;
	return ORCH_OK;
}

int
orch_cgroup_remove(const char *path)
{
	if (rmdir(path) == 0 || errno == ENOENT)
		return ORCH_OK;
	return errno == EBUSY ? ORCH_ECONFLICT : orch_err_from_errno(errno);
}
