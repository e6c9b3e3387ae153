/*
 * http_json.h: the manager's HTTP API as the end-to-end tests use it.
 *
 * Each call is one request on a new connection to 127.0.0.1:port; the
 * answer is parsed as JSON and the status asserted, so that a test fails
 * at the first unexpected answer with the method, path and body shown.
 */
#ifndef ORCH_HTTP_JSON_H
#define ORCH_HTTP_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Parses s (NULL reads as "") as JSON.  Returns the value (the caller owns
 * it); fails the test, showing s, when it is not JSON. */
json_t *hj_parse(const char *s);

/* One request (body may be NULL).  Fails the test unless the status is
 * want; returns the parsed body (the caller owns it). */
json_t *hj_call(
    int port, const char *method, const char *path, const char *body, int want);

/* POST /tasks with body, asserting 201.  Returns the new task's id
 * (malloc'd). */
char *hj_submit(int port, const char *body);

/* GET /tasks/<id> and GET /services/<name>, asserting 200.  Return the
 * parsed body (the caller owns it). */
json_t *hj_task(int port, const char *id);
json_t *hj_service(int port, const char *name);

/* The string (NULL when absent or not a string) and the integer (0 when
 * absent) under key k of object o; borrowed from o. */
const char *hj_str(const json_t *o, const char *k);
json_int_t hj_int(const json_t *o, const char *k);

/* Whether the manager at port (up: /nodes must answer 200) has exactly
 * one node and it is Ready, as orch-manager --dev does once its agent
 * registered; its name then goes into name (len bytes). */
bool hj_one_node_ready(int port, char *name, size_t len);

#endif
