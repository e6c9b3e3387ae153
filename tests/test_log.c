/*
 * test_log.c: the log record formats (services/common/log.c): the text
 * line people and the bench scripts grep, its key=value fields and their
 * quoting, the JSON line read back by jansson (escapes, bytes that are
 * not UTF-8, cut records), and the syslog level prefix when stderr is
 * the journal.
 */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#include "error.h"
#include "log.h"

/* 2026-11-26T21:01:57.042Z */
#define T0 1795726917042LL

static char line[ORCH_LOG_LINE_MAX];

/* Formats one record into line (NUL-terminated) and checks that it is
 * one line ending in its only newline. */
static const char *
fmt(enum orch_log_level level, const char *comp, const struct orch_log_field *f,
    size_t n, const char *msg)
{
	size_t len = orch_log_format_record(
	    line, sizeof(line) - 1, T0, level, comp, f, n, msg);

	ASSERT(len > 0 && len < sizeof(line));
	line[len] = '\0';
	ASSERT(line[len - 1] == '\n');
	ASSERT(strchr(line, '\n') == line + len - 1);
	return line;
}

/* Parses the JSON record in line; fails the test unless it is an object. */
static json_t *
json_line(void)
{
	json_error_t e;
	json_t *j = json_loads(line, 0, &e);

	if (j == NULL || !json_is_object(j))
		h_fail(__FILE__, __LINE__, "not a JSON object (%s): %s", e.text,
		    line);
	return j;
}

static void
test_text(void)
{
	orch_log_format_set(ORCH_LOG_TEXT);
	ASSERT_STR_EQ(fmt(ORCH_LOG_INFO, "gateway", NULL, 0,
	                  "listening on 127.0.0.1:3000"),
	    "2026-11-26T21:01:57.042Z INFO  gateway: listening on "
	    "127.0.0.1:3000\n");
	/* What bench/simcluster.sh and bench/start.sh grep stays as it was,
	 * the fields after it. */
	ASSERT_STR_EQ(fmt(ORCH_LOG_WARN, "scheduler",
	                  ORCH_LOG_FIELDS({"task", "3f2a"}, {"node", "n1"}),
	                  "task 3f2a (web.1) placed on node n1 (9c0e)"),
	    "2026-11-26T21:01:57.042Z WARN  scheduler: task 3f2a (web.1) "
	    "placed on node n1 (9c0e) task=3f2a node=n1\n");
	/* Values that would not read back as one are quoted and escaped; a
	 * NULL value is left out. */
	ASSERT_STR_EQ(
	    fmt(ORCH_LOG_ERROR, "agent",
	        ORCH_LOG_FIELDS({"a", "two words"}, {"b", ""},
	            {"c", "x=\"y\"\\"}, {"skip", NULL}, {"d", "line\nbreak"}),
	        "m"),
	    "2026-11-26T21:01:57.042Z ERROR agent: m a=\"two words\" b=\"\" "
	    "c=\"x=\\\"y\\\"\\\\\" d=\"line\\nbreak\"\n");
	/* A message is one line whatever it holds. */
	ASSERT_STR_EQ(fmt(ORCH_LOG_DEBUG, "docker", NULL, 0,
	                  "daemon said: \"no\"\r\n\tbye\x01\x7f"),
	    "2026-11-26T21:01:57.042Z DEBUG docker: daemon said: "
	    "\"no\"\\r\\n\\tbye\\x01\\x7f\n");
}

static void
test_json(void)
{
	json_t *j;

	orch_log_format_set(ORCH_LOG_JSON);
	fmt(ORCH_LOG_INFO, "scheduler",
	    ORCH_LOG_FIELDS({"task", "3f2a"}, {"msg", "a field named msg"},
	        {"v", "q\"\\\n\x02"}),
	    "placed \"web\"\t\\ on n1");
	j = json_line();
	ASSERT_STR_EQ(json_string_value(json_object_get(j, "time")),
	    "2026-11-26T21:01:57.042Z");
	ASSERT_STR_EQ(json_string_value(json_object_get(j, "level")), "info");
	ASSERT_STR_EQ(
	    json_string_value(json_object_get(j, "component")), "scheduler");
	ASSERT_STR_EQ(json_string_value(json_object_get(j, "msg")),
	    "placed \"web\"\t\\ on n1");
	ASSERT_STR_EQ(json_string_value(json_object_get(j, "task")), "3f2a");
	/* A field cannot overwrite a member of the record. */
	ASSERT_STR_EQ(json_string_value(json_object_get(j, "field.msg")),
	    "a field named msg");
	ASSERT_STR_EQ(
	    json_string_value(json_object_get(j, "v")), "q\"\\\n\x02");
	ASSERT_INT_EQ(json_object_size(j), 7);
	json_decref(j);

	/* Bytes that are not UTF-8 (a stray continuation, an overlong '/', a
	 * surrogate, a cut sequence) become U+FFFD; real UTF-8 stays. */
	fmt(ORCH_LOG_WARN, "agent", NULL, 0,
	    "caf\xc3\xa9 \x80 \xc0\xaf \xed\xa0\x80 \xe2\x82");
	j = json_line();
	ASSERT_STR_EQ(json_string_value(json_object_get(j, "msg")),
	    "caf\xc3\xa9 \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd "
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd");
	ASSERT_STR_EQ(json_string_value(json_object_get(j, "level")), "warn");
	json_decref(j);
	orch_log_format_set(ORCH_LOG_TEXT);
}

/* The longest record still fits, as valid JSON, with its cuts marked. */
static void
test_cut(void)
{
	static char big[3 * ORCH_LOG_LINE_MAX];
	struct orch_log_field f[20];
	json_t *j;
	const char *m;

	/* Control characters: six bytes each once escaped. */
	memset(big, '\x01', sizeof(big) - 1);
	for (size_t i = 0; i < 20; i++)
		f[i] = (struct orch_log_field){"k", big};
	orch_log_format_set(ORCH_LOG_JSON);
	fmt(ORCH_LOG_ERROR, "c", f, 20, big);
	j = json_line();
	m = json_string_value(json_object_get(j, "msg"));
	ASSERT(m != NULL && strlen(m) > 500);
	ASSERT(strcmp(m + strlen(m) - 3, "...") == 0);
	json_decref(j);
	orch_log_format_set(ORCH_LOG_TEXT);
	fmt(ORCH_LOG_ERROR, "c", f, 20, big);
	ASSERT_STR_CONTAINS(line, "...\" k=");
}

static void
test_parse(void)
{
	enum orch_log_format f;
	enum orch_log_level l;

	ASSERT_INT_EQ(orch_log_format_parse("json", &f), ORCH_OK);
	ASSERT_INT_EQ(f, ORCH_LOG_JSON);
	ASSERT_INT_EQ(orch_log_format_parse("text", &f), ORCH_OK);
	ASSERT_INT_EQ(f, ORCH_LOG_TEXT);
	ASSERT_INT_EQ(orch_log_format_parse("JSON", &f), ORCH_EINVAL);
	ASSERT_INT_EQ(orch_log_format_parse("logfmt", &f), ORCH_EINVAL);
	ASSERT_INT_EQ(orch_log_level_parse("warn", &l), ORCH_OK);
	ASSERT_INT_EQ(l, ORCH_LOG_WARN);
	ASSERT_INT_EQ(orch_log_level_parse("warning", &l), ORCH_EINVAL);
}

/*
 * With stderr the stream $JOURNAL_STREAM names (as systemd sets it), each
 * record starts with its syslog priority, which journald strips.  Runs
 * last: the check is made once per process, at the first record.
 */
static void
test_journal(void)
{
	char path[] = "/tmp/orch-test-log-XXXXXX", env[64], *s;
	struct stat st;
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);

	ASSERT(fd >= 0 && saved >= 0);
	ASSERT(fstat(fd, &st) == 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	ASSERT_INT_EQ(setenv("JOURNAL_STREAM", env, 1), 0);
	ASSERT(dup2(fd, STDERR_FILENO) == STDERR_FILENO);
	orch_log_format_set(ORCH_LOG_TEXT);
	orch_log_level_set(ORCH_LOG_DEBUG);
	orch_warn("test", "to the journal");
	orch_log_kv(ORCH_LOG_DEBUG, "test", ORCH_LOG_FIELDS({"k", "v"}), "dbg");
	orch_log_level_set(ORCH_LOG_INFO);
	orch_debug("test", "dropped below the level");
	ASSERT(dup2(saved, STDERR_FILENO) == STDERR_FILENO);
	close(saved);
	close(fd);
	s = h_read_file(path);
	unlink(path);
	ASSERT(s != NULL);
	ASSERT(strncmp(s, "<4>20", 5) == 0);
	ASSERT_STR_CONTAINS(s, " WARN  test: to the journal\n<7>20");
	ASSERT_STR_CONTAINS(s, " DEBUG test: dbg k=v\n");
	ASSERT(strstr(s, "dropped") == NULL);
	free(s);
	unsetenv("JOURNAL_STREAM");
}

int
main(void)
{
	RUN(test_text);
	RUN(test_json);
	RUN(test_cut);
	RUN(test_parse);
	RUN(test_journal);
	return 0;
}
