/*
 * flag.h: checking command-line flag values, shared by orch-manager and
 * orch-agent, so that both refuse bad values with the same words.
 */
#ifndef ORCH_FLAG_H
#define ORCH_FLAG_H

/*
 * Parses s as a decimal integer from min to max for flag of program prog.
 * Returns ORCH_OK with *out set, or ORCH_EINVAL after printing
 * '<prog>: <flag> wants an integer from <min> to <max>, got "<s>"' on
 * stderr.
 */
int orch_flag_int(const char *prog, const char *flag, const char *s,
    long long min, long long max, long long *out /* OUT */);

/* Sets the log level from s ("debug", "info", "warn", "error").  Returns
 * ORCH_OK, or ORCH_EINVAL after printing why on stderr. */
int orch_flag_log_level(const char *prog, const char *s);

/* Sets the log format from s ("text", "json").  Returns ORCH_OK, or
 * ORCH_EINVAL after printing why on stderr. */
int orch_flag_log_format(const char *prog, const char *s);

#endif
