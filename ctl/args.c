#include "args.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void args_error(struct orch_args *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
args_error(struct orch_args *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->err, sizeof(a->err), fmt, ap);
	va_end(ap);
}

int
orch_args_next(
    struct orch_args *a, const struct orch_args_opt *opts, const char **val)
{
	const char *arg, *name, *eq;
	const struct orch_args_opt *o;
	size_t n;

	*val = NULL;
	if (a->i >= a->argc)
		return ORCH_ARGS_END;
	arg = a->argv[a->i++];
	if (a->rest || arg[0] != '-' || arg[1] == '\0') {
		*val = arg;
		return ORCH_ARGS_POSITIONAL;
	}
	if (strcmp(arg, "--") == 0) {
		a->rest = true;
		return ORCH_ARGS_DASHDASH;
	}
	if (arg[1] == '-') {
		name = arg + 2;
		eq = strchr(name, '=');
		n = eq != NULL ? (size_t)(eq - name) : strlen(name);
		for (o = opts; o->id != 0; o++) {
			if (o->lname != NULL && strlen(o->lname) == n &&
			    strncmp(o->lname, name, n) == 0)
				break;
		}
		if (o->id == 0) {
			args_error(
			    a, "unknown option '%.*s'", (int)(n + 2), arg);
			return ORCH_ARGS_ERROR;
		}
		if (!o->arg) {
			if (eq != NULL) {
				args_error(a, "option '--%s' takes no value",
				    o->lname);
				return ORCH_ARGS_ERROR;
			}
			return o->id;
		}
		if (eq != NULL) {
			*val = eq + 1;
			return o->id;
		}
	} else {
		for (o = opts; o->id != 0; o++) {
			if (o->sname != 0 && o->sname == arg[1])
				break;
		}
		if (o->id == 0 || (!o->arg && arg[2] != '\0')) {
			args_error(a, "unknown option '%s'", arg);
			return ORCH_ARGS_ERROR;
		}
		if (!o->arg)
			return o->id;
		if (arg[2] != '\0') {
			*val = arg + 2;
			return o->id;
		}
	}
	if (a->i >= a->argc) {
		args_error(a, "option '%s' needs a value", arg);
		return ORCH_ARGS_ERROR;
	}
	*val = a->argv[a->i++];
	return o->id;
}
