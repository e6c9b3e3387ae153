/*
 * task.h: the task model.
 *
 * A task is the generated protobuf struct Orch__Task (proto/orch.proto):
 * one definition for the store, the RPCs and the JSON API.  Every task and
 * spec handled outside protobuf-c's unpacker is built from malloc'd parts so
 * that orch_task_free() (protobuf_c_message_free_unpacked) releases it.
 */
#ifndef ORCH_TASK_H
#define ORCH_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orch.pb-c.h"

typedef Orch__Task orch_task;
typedef Orch__TaskSpec orch_task_spec;

/* Length of a task id ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx") plus NUL. */
#define ORCH_ID_LEN 37

/* Hard limits on a spec, checked when decoding any input. */
#define ORCH_NAME_MAX 128
#define ORCH_IMAGE_MAX 512
#define ORCH_ENV_MAX 1024     /* entries */
#define ORCH_COMMAND_MAX 1024 /* arguments */
#define ORCH_STRING_MAX 65536 /* one env value or argument, bytes */
#define ORCH_MEMORY_MIN_MB 6  /* Docker's minimum */
#define ORCH_MEMORY_MAX_MB (16LL * 1024 * 1024)
#define ORCH_CPU_MAX 1024.0

/* The drivers a task may name (TaskSpec.driver). */
#define ORCH_DRIVER_DOCKER "docker"
#define ORCH_DRIVER_EXEC "exec"
/* Room for a driver name, NUL included. */
#define ORCH_DRIVER_LEN 16

/* Writes a new random UUID v4 into id (ORCH_ID_LEN bytes). */
void orch_id_new(char id[ORCH_ID_LEN]);

/* True when s is a UUID in its canonical 36-character form. */
bool orch_id_valid(const char *s);

/* True when s has no control character: no byte below 0x20, none equal
 * to 0x7f.  Names and other one-line texts must pass it. */
bool orch_text_printable(const char *s);

/* The length of the valid UTF-8 sequence (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF) that starts at s, or 0.  Reads
 * no further than a NUL. */
size_t orch_utf8_seq_len(const unsigned char *s);

/* Replaces with '?' each byte of s that does not belong to a valid UTF-8
 * character: text quoted raw from elsewhere (jansson's error text, a
 * command's output) may hold any bytes. */
void orch_text_utf8_repair(char *s);

/* How many bytes of s to quote in a message: at most max, never ending
 * inside a UTF-8 character, so that the message stays valid UTF-8 for the
 * JSON error body that carries it (jansson refuses anything else).  For
 * "%.*s". */
int orch_text_quote_len(const char *s, size_t max);

/* The API name of a status ("Pending", ...), or NULL for an unknown value. */
const char *orch_task_status_name(int status);

/* Parses an API status name.  "Complete" (the original project's spelling)
 * is accepted as Completed.  Returns ORCH_OK or ORCH_EINVAL. */
int orch_task_status_parse(const char *s, int *status /* OUT */);

/* True for Completed, Failed and Stopped. */
bool orch_task_status_terminal(int status);

/* The driver spec names: its driver field, or "docker" when it has none
 * (every task before drivers existed).  spec may be NULL. */
const char *orch_task_spec_driver(const orch_task_spec *spec);

/* Checks a spec against the limits above, and its constraints, placement
 * ("spread" or "binpack"), restart policy (restart.h) and container
 * settings (their syntax only: container.h), and its driver: "docker"
 * (the default) needs an image, "exec" a non-empty command and neither an
 * image nor container settings; and its health check (health.h).  On failure
 * writes a message for a person, naming the field, into err.  Returns ORCH_OK
 * or ORCH_EINVAL. */
int orch_task_spec_validate(
    const orch_task_spec *spec, char *err, size_t errlen);

/*
 * Creates a Pending task from spec with a new id and created_at = now,
 * storing the spec's defaults (memory 256, cpu 0.5, placement spread,
 * restart never, driver docker, and those of its health check:
 * orch_health_check_defaults()) and restarts 0.
 * On success the task owns spec; on error the caller keeps it.
 * Returns ORCH_OK or ORCH_ENOMEM.
 */
int orch_task_new(orch_task_spec *spec, orch_task **out /* OUT */);

/* A deep copy of the message m (through its serialized form), of m's
 * type, freed as one unpacked by protobuf-c; NULL when out of memory. */
void *orch_msg_copy(const ProtobufCMessage *m);

/* orch_msg_copy() of a task, freed with orch_task_free(). */
orch_task *orch_task_copy(const orch_task *t);

/* Frees a task and everything it holds.  NULL is a no-op. */
void orch_task_free(orch_task *t);

/* Frees a spec.  NULL is a no-op. */
void orch_task_spec_free(orch_task_spec *spec);

/* Replaces *field (a protobuf-c string) with a copy of s (NULL clears it).
 * Returns ORCH_OK or ORCH_ENOMEM, leaving *field unchanged on error. */
int orch_str_set(char **field, const char *s);

/* A status report, as PUT /tasks/{id}/status or the UpdateTaskStatus RPC. */
struct orch_task_update {
	int status;               /* an ORCH__TASK_STATUS__ value */
	const char *container_id; /* NULL: keep the stored one */
	bool has_exit_code;
	int32_t exit_code;
	const char *error; /* NULL: keep */
	/* When the instance started and ended by the reporter's clock; unset:
	 * the time of the report. */
	bool has_started_at_ms;
	int64_t started_at_ms;
	bool has_finished_at_ms;
	int64_t finished_at_ms;
	/* The task's health (an ORCH__HEALTH_STATUS__ value); 0: unchanged.
	 * Only for a task with a health check. */
	int health;
};

/*
 * Applies a status report to t at time now_ms.  Terminal tasks accept only
 * a repeat of their own status (so a retried report changes nothing); a
 * task never moves back to an earlier status.  Sets started_at on the first
 * Running (or on a terminal status that arrives with its own start time)
 * and finished_at on the first terminal status, from the report's times
 * when given, else now_ms.  A task leaving Pending drops the scheduler's
 * explanation of why it waited (its error) unless the report brings an
 * error of its own.  On error writes a message into err and leaves t
 * unchanged.
 * Returns ORCH_OK, ORCH_EINVAL (bad status), ORCH_ECONFLICT or ORCH_ENOMEM.
 */
int orch_task_apply_update(orch_task *t, const struct orch_task_update *u,
    int64_t now_ms, char *err, size_t errlen);

/*
 * Records a stop request on t.  A task that has not started (Pending or
 * Scheduled with no node to stop it) becomes Stopped at once; a running
 * one keeps its status with stop_requested set until its node reports.
 * A terminal task is left as it is.  Returns ORCH_OK or ORCH_ENOMEM.
 */
int orch_task_stop(orch_task *t, int64_t now_ms);

#endif
