/*
 * dirs.h: making and removing directory trees, for the programs' own
 * directories (the manager's data, the agent's state).
 */
#ifndef ORCH_DIRS_H
#define ORCH_DIRS_H

#include <sys/types.h>

/* Creates dir and its missing parents with mode, like mkdir -p.  Returns
 * ORCH_OK or the error (translated from errno). */
int orch_dir_make(const char *dir, mode_t mode);

/* Removes the tree at path, like rm -rf, never following a symbolic link
 * out of it (what a task left in its directory is the task's).  A missing
 * path is success.  Returns ORCH_OK or the first error. */
int orch_dir_remove(const char *path);

#endif
