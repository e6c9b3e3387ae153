/*
 * print: what orchctl shows of the manager's JSON to a person.
 */
#include <stdlib.h>
#include <string.h>

#include "print.h"
#include "color.h"
#include "table.h"

bool
orch_print_text(const char *s, FILE *fp)
{
	char *e = orch_table_text_escape(s);

	if (e == NULL)
		return false;
	fputs(e, fp);
	free(e);
	return true;
}

const char *
orch_print_cut(const char *s, size_t n, char *buf, size_t len)
{
	size_t o = 0;

	for (; *s != '\0' && o + 1 < len; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80 && n-- == 0)
			break;
		buf[o++] = *s;
	}
	buf[o] = '\0';
	return buf;
}

/* True when s needs quotes to read as one shell word. */
static bool
shell_needs_quotes(const char *s)
{
	if (*s == '\0')
		return true;
	for (; *s != '\0'; s++) {
		if (strchr(
		        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		        "0123456789_@%+=:,./-",
		        *s) == NULL)
			return true;
	}
	return false;
}

/* Prints s as one shell word, in single quotes when it needs them. */
static bool
shell_word_print(const char *s, FILE *fp)
{
	char *e;
	const char *p;

	if (!shell_needs_quotes(s))
		return orch_print_text(s, fp);
	if ((e = orch_table_text_escape(s)) == NULL)
		return false;
	/* "it's" reads better than 'it'\''s' where nothing in it expands. */
	if (strchr(e, '\'') != NULL && strpbrk(e, "\"$`\\!") == NULL) {
		fprintf(fp, "\"%s\"", e);
		free(e);
		return true;
	}
	fputc('\'', fp);
	for (p = e; *p != '\0'; p++) {
		if (*p == '\'')
			fputs("'\\''", fp);
		else
			fputc(*p, fp);
	}
	fputc('\'', fp);
	free(e);
	return true;
}

/* A member of an array or object: a string as a shell word. */
static bool
member_print(const json_t *m, FILE *fp)
{
	if (json_is_string(m))
		return shell_word_print(json_string_value(m), fp);
	return orch_print_value(m, fp);
}

bool
orch_print_value(const json_t *v, FILE *fp)
{
	const char *key;
	const json_t *m;
	size_t i;
	char *s;
	bool ok = true;

	switch (json_typeof(v)) {
	case JSON_NULL: fputc('-', fp); return true;
	case JSON_STRING: return orch_print_text(json_string_value(v), fp);
	case JSON_INTEGER:
		fprintf(fp, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return true;
	case JSON_REAL: fprintf(fp, "%g", json_real_value(v)); return true;
	case JSON_TRUE:
	case JSON_FALSE:
		fputs(json_is_true(v) ? "true" : "false", fp);
		return true;
	case JSON_ARRAY:
		if (json_array_size(v) == 0)
			fputc('-', fp);
		json_array_foreach(v, i, m)
		{
			if (i > 0)
				fputc(' ', fp);
			ok = member_print(m, fp) && ok;
		}
		return ok;
	case JSON_OBJECT:
		if (json_object_size(v) == 0)
			fputc('-', fp);
		i = 0;
		json_object_foreach((json_t *)v, key, m)
		{
			if (i++ > 0)
				fputc(' ', fp);
			ok = orch_print_text(key, fp) && ok;
			fputc('=', fp);
			ok = member_print(m, fp) && ok;
		}
		return ok;
	}
	if ((s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
		return false;
	ok = orch_print_text(s, fp);
	free(s);
	return ok;
}

bool
orch_print_fields(const json_t *o, const char *skip, bool color, FILE *fp)
{
	const char *key;
	const json_t *v;

	json_object_foreach((json_t *)o, key, v)
	{
		const char *sgr = NULL;
		bool ok;

		if (skip != NULL && strcmp(key, skip) == 0)
			continue;
		if (color &&
		    (strcmp(key, "status") == 0 || strcmp(key, "health") == 0))
			sgr = orch_color_status(json_string_value(v));
		ok = orch_print_text(key, fp);
		fputs(": ", fp);
		if (sgr != NULL)
			fputs(sgr, fp);
		ok = orch_print_value(v, fp) && ok;
		if (sgr != NULL)
			fputs(ORCH_COLOR_RESET, fp);
		if (!ok)
			return false;
		fputc('\n', fp);
	}
	return true;
}

/* Prints " key=value" escaped (a key may come from the manager: a
 * driver's name), value quoted when it has a blank. */
static bool
kv_print(const char *key, const char *value, FILE *fp)
{
	bool quote = strpbrk(value, " \t") != NULL || *value == '\0';

	fputc(' ', fp);
	if (!orch_print_text(key, fp))
		return false;
	fprintf(fp, "=%s", quote ? "\"" : "");
	if (!orch_print_text(value, fp))
		return false;
	if (quote)
		fputc('"', fp);
	return true;
}

/* The string member key of o, or NULL. */
static const char *
jget(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

bool
orch_print_event(const json_t *ev, FILE *fp)
{
	const char *type = jget(ev, "type"), *kind = jget(ev, "kind");
	const json_t *obj = json_object_get(ev, "object");
	const char *id = jget(ev, "id"), *name = jget(obj, "name");
	const char *status = jget(obj, "status");
	char cut[64];
	bool ok = true;

	if (type != NULL && strcmp(type, "events.missed") == 0) {
		fputs("-- ", fp);
		ok = orch_print_text(jget(ev, "message") != NULL
		        ? jget(ev, "message")
		        : "some events are no longer kept",
		    fp);
		fputc('\n', fp);
		return ok;
	}
	fprintf(fp, "%s %" JSON_INTEGER_FORMAT " ",
	    jget(ev, "time") != NULL ? jget(ev, "time") : "-",
	    json_integer_value(json_object_get(ev, "index")));
	ok = orch_print_text(type != NULL ? type : "-", fp);
	fputc(' ', fp);
	ok = ok && orch_print_text(name != NULL ? name : "-", fp);
	fputc(' ', fp);
	ok = ok &&
	    orch_print_text(
	        id != NULL ? orch_print_cut(id, 8, cut, sizeof(cut)) : "-", fp);
	if (kind != NULL && strcmp(kind, "task") == 0) {
		const char *prev = jget(ev, "previous_status");
		const char *node = jget(obj, "node_id");
		const char *error = jget(obj, "error");

		fputc(' ', fp);
		if (prev != NULL) {
			ok = ok && orch_print_text(prev, fp);
			fputs("->", fp);
		}
		ok = ok && orch_print_text(status != NULL ? status : "-", fp);
		if (ok && node != NULL)
			ok = kv_print("node",
			    orch_print_cut(node, 8, cut, sizeof(cut)), fp);
		if (ok && error != NULL)
			ok = kv_print("error", error, fp);
	} else if (kind != NULL && strcmp(kind, "node") == 0) {
		const char *drv;
		json_t *h;

		if (status != NULL)
			ok = ok && kv_print("status", status, fp);
		fprintf(fp, " drain=%s",
		    json_is_true(json_object_get(obj, "drain")) ? "true"
		                                                : "false");
		/* node.driver: each driver's health, "docker=healthy" or
		 * docker="unhealthy: why". */
		json_object_foreach(
		    json_object_get(obj, "driver_health"), drv, h)
		{
			const char *why = jget(h, "error");
			char v[640];

			snprintf(v, sizeof(v), "%s%s%s",
			    json_is_false(json_object_get(h, "healthy"))
			        ? "unhealthy"
			        : "healthy",
			    why != NULL ? ": " : "", why != NULL ? why : "");
			ok = ok && kv_print(drv, v, fp);
		}
	} else if (kind != NULL && strcmp(kind, "service") == 0) {
		fprintf(fp, " replicas=%" JSON_INTEGER_FORMAT,
		    json_integer_value(json_object_get(obj, "replicas")));
	}
	fputc('\n', fp);
	return ok;
}
