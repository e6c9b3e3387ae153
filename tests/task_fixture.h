/*
 * task_fixture.h: tasks made up for tests of the drivers.
 */
#ifndef ORCH_TASK_FIXTURE_H
#define ORCH_TASK_FIXTURE_H

#include <stdint.h>

#include "task.h"

/* A task named name of image (NULL: an exec task), built from malloc'd
 * parts (orch_task_free releases it); fails the test when it cannot be
 * made.  env is
 * NULL-terminated key, value pairs and cmd NULL-terminated; both may be
 * NULL. */
orch_task *tf_task_make(const char *name, const char *image,
    const char *const *env, const char *const *cmd, int64_t memory_mb,
    double cpu);

#endif
