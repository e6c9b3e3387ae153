#include "task_fixture.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "harness.h"

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	ASSERT(p != NULL);
	return p;
}

orch_task *
tf_task_make(const char *name, const char *image, const char *const *env,
    const char *const *cmd, int64_t memory_mb, double cpu)
{
	orch_task_spec *s = malloc(sizeof(*s));
	orch_task *t;
	size_t n;

	ASSERT(s != NULL);
	orch__task_spec__init(s);
	s->name = xstrdup(name);
	if (image != NULL)
		s->image = xstrdup(image);
	else
		s->driver = xstrdup(ORCH_DRIVER_EXEC);
	s->has_memory_mb = true;
	s->memory_mb = memory_mb;
	s->has_cpu = true;
	s->cpu = cpu;
	for (n = 0; env != NULL && env[2 * n] != NULL; n++)
		;
	if (n > 0) {
		s->env = calloc(n, sizeof(*s->env));
		ASSERT(s->env != NULL);
		for (size_t i = 0; i < n; i++) {
			s->env[i] = malloc(sizeof(*s->env[i]));
			ASSERT(s->env[i] != NULL);
			orch__task_spec__env_entry__init(s->env[i]);
			s->env[i]->key = xstrdup(env[2 * i]);
			s->env[i]->value = xstrdup(env[2 * i + 1]);
		}
		s->n_env = n;
	}
	for (n = 0; cmd != NULL && cmd[n] != NULL; n++)
		;
	if (n > 0) {
		s->command = calloc(n, sizeof(*s->command));
		ASSERT(s->command != NULL);
		for (size_t i = 0; i < n; i++)
			s->command[i] = xstrdup(cmd[i]);
		s->n_command = n;
	}
	ASSERT(orch_task_new(s, &t) == ORCH_OK);
	return t;
}
