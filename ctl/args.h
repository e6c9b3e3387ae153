/*
 * args.h: orchctl's argument scanner.
 *
 * Options may come before or after positionals, as a person types them
 * ("orchctl run web nginx --cpu 2"); "--" ends the options, and what follows
 * is positional (a command and its own flags).  Each option is taken as
 * --name value, --name=value, -x value or -xvalue.  Unlike getopt_long(),
 * nothing is printed and argv is not reordered, so the caller can tell
 * arguments before "--" from those after it.
 */
#ifndef ORCH_CTL_ARGS_H
#define ORCH_CTL_ARGS_H

#include <stdbool.h>

/* What orch_args_next() answers besides an option id (ids are > 0). */
enum {
	ORCH_ARGS_POSITIONAL = 0,
	ORCH_ARGS_END = -1,
	ORCH_ARGS_ERROR = -2,
	ORCH_ARGS_DASHDASH = -3,
};

/* One option; a table of them ends with an entry whose id is 0. */
struct orch_args_opt {
	const char *lname; /* "cpu" for --cpu, or NULL */
	char sname;        /* 'e' for -e, or 0 */
	bool arg;          /* takes a value */
	int id;            /* > 0, answered by orch_args_next() */
};

/* A walk over argv.  Set argc, argv and the first index i; zero the rest. */
struct orch_args {
	int argc;
	char **argv;
	int i;         /* the next argv index */
	bool rest;     /* after "--": every argument is positional */
	char err[256]; /* why orch_args_next() answered ORCH_ARGS_ERROR */
};

/*
 * Returns the id of the next option in opts with its value in *val (OUT;
 * NULL for an option without one), or ORCH_ARGS_POSITIONAL with the
 * argument in *val, ORCH_ARGS_DASHDASH after "--" (a->rest is then set),
 * ORCH_ARGS_END, or ORCH_ARGS_ERROR with a message for a person in a->err
 * (an unknown option, a missing value, a value given to a flag).  *val
 * points into argv.
 */
int orch_args_next(struct orch_args *a, const struct orch_args_opt *opts,
    const char **val /* OUT */);

#endif
