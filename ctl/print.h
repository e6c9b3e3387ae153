/*
 * print: what orchctl shows of the manager's JSON to a person.
 *
 * Text that comes from the manager goes through orch_table_text_escape(),
 * so that it cannot drive the terminal.
 */
#ifndef ORCH_CTL_PRINT_H
#define ORCH_CTL_PRINT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Prints s escaped.  Returns false when out of memory. */
bool orch_print_text(const char *s, FILE *fp);

/*
 * Copies the first n characters (not bytes) of s into buf, of len bytes.
 * Returns buf.
 */
const char *orch_print_cut(const char *s, size_t n, char *buf, size_t len);

/*
 * Prints one value for a person: null as "-", an array of strings as shell
 * words (a command), an object as K=V words (env), any other nesting as
 * compact JSON.  Returns false when out of memory.
 */
bool orch_print_value(const json_t *v, FILE *fp);

/*
 * Prints every member of object o as "key: value" lines, in the manager's
 * order so that new fields show up, except the member skip (may be NULL).
 * With color, the values of "status" and "health" are coloured
 * (color.h).  Returns false when out of memory.
 */
bool orch_print_fields(const json_t *o, const char *skip, bool color, FILE *fp);

/*
 * Prints one line of GET /events for a person:
 *
 *   TIME INDEX TYPE NAME ID DETAIL
 *   2026-11-27T00:12:38.603Z 3 task.status web 1eacb02d Pending->Scheduled
 * node=9c0e1a2b
 *
 * ID is cut to 8 characters; DETAIL is the task's status (the change for
 * task.status) and node and error, a node's status or drain, a service's
 * replicas.  An events.missed line prints its message.  Returns false
 * when out of memory.
 */
bool orch_print_event(const json_t *ev, FILE *fp);

#endif
