/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmmctl/output.h"

#define JSON_FLAGS_COMPACT (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define JSON_FLAGS_PRETTY  (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | \
			    JSON_C_TO_STRING_NOSLASHESCAPE)

int table_init(struct table *t, size_t n_cols, const char *const *header)
{
	*t = (struct table) { .n_cols = n_cols };
	if (n_cols == 0 || n_cols > TABLE_COLS_MAX)
		return -EINVAL;
	return table_add_row(t, header);
}

int table_add_row(struct table *t, const char *const *cells)
{
	if (t->n_rows == t->cap_rows) {
		size_t cap = t->cap_rows ? t->cap_rows * 2 : 8;
		char **nc = reallocarray(t->cells, cap * t->n_cols, sizeof(char *));

		if (!nc)
			return -ENOMEM;
		t->cells = nc;
		t->cap_rows = cap;
	}
	char **row = t->cells + t->n_rows * t->n_cols;
	for (size_t i = 0; i < t->n_cols; i++) {
		row[i] = strdup(cells[i] ? cells[i] : "-");
		if (!row[i]) {
			while (i-- > 0)
				free(row[i]);
			return -ENOMEM;
		}
	}
	t->n_rows++;
	return 0;
}

void table_print(const struct table *t, FILE *f)
{
	size_t width[TABLE_COLS_MAX] = {};

	for (size_t r = 0; r < t->n_rows; r++)
		for (size_t c = 0; c < t->n_cols; c++) {
			size_t w = strlen(t->cells[r * t->n_cols + c]);
			if (w > width[c])
				width[c] = w;
		}
	for (size_t r = 0; r < t->n_rows; r++) {
		for (size_t c = 0; c < t->n_cols; c++) {
			const char *cell = t->cells[r * t->n_cols + c];

			if (c + 1 == t->n_cols)
				fprintf(f, "%s\n", cell);
			else
				fprintf(f, "%-*s  ", (int) width[c], cell);
		}
	}
}

void table_done(struct table *t)
{
	for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
		free(t->cells[i]);
	free(t->cells);
	*t = (struct table) {};
}

void format_uptime(double seconds, char *buf, size_t len)
{
	long long s;

	if (isnan(seconds) || seconds < 0 || seconds > 1e15) {
		snprintf(buf, len, "-");
		return;
	}
	s = (long long) seconds;
	if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

void format_mib(long long mib, char *buf, size_t len)
{
	if (mib >= 1024 && mib % 1024 == 0)
		snprintf(buf, len, "%lldGiB", mib / 1024);
	else
		snprintf(buf, len, "%lldMiB", mib);
}

void format_value(struct json_object *v, char *buf, size_t len)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		snprintf(buf, len, "-");
		break;
	case json_type_string:
		snprintf(buf, len, "%s", json_object_get_string(v));
		break;
	case json_type_boolean:
		snprintf(buf, len, "%s", json_object_get_boolean(v) ? "yes" : "no");
		break;
	default:
		snprintf(buf, len, "%s", json_object_to_json_string_ext(v, JSON_FLAGS_COMPACT));
		break;
	}
}

void format_exit(struct json_object *exit, char *buf, size_t len)
{
	const char *reason = json_lookup_str(exit, "reason", NULL);
	const char *message = json_lookup_str(exit, "message", NULL);
	struct json_object *code = json_lookup(exit, "code");
	char code_text[48] = "";
	char message_text[160] = "";

	if (!reason) {
		snprintf(buf, len, "-");
		return;
	}
	if (code)
		snprintf(code_text, sizeof(code_text), " code %s",
			 json_object_to_json_string_ext(code, JSON_FLAGS_COMPACT));
	if (message && *message)
		snprintf(message_text, sizeof(message_text), " (%s)", message);
	snprintf(buf, len, "%s%s%s", reason, code_text, message_text);
}

void format_timestamp(double epoch_s, char *buf, size_t len)
{
	char date[24];
	struct tm tm;
	time_t secs;
	int ms;

	if (isnan(epoch_s) || epoch_s < 0 || epoch_s > 1e12) {
		snprintf(buf, len, "-");
		return;
	}
	secs = (time_t) epoch_s;
	ms = (int) ((epoch_s - (double) secs) * 1000.0 + 0.5);   /* rounded, without libm */
	if (ms >= 1000) {
		secs++;
		ms -= 1000;
	}
	if (!gmtime_r(&secs, &tm) || strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(buf, len, "-");
		return;
	}
	snprintf(buf, len, "%s.%03dZ", date, ms % 1000);
}

void print_kv(FILE *f, int width, const char *key, const char *value)
{
	int pad = width - (int) strlen(key);

	if (!value)
		value = "-";
	/* No trailing blanks after an empty value. */
	if (!*value)
		fprintf(f, "%s:\n", key);
	else
		fprintf(f, "%s:%*s %s\n", key, pad > 0 ? pad : 0, "", value);
}

void print_json(FILE *f, struct json_object *obj)
{
	fprintf(f, "%s\n", json_object_to_json_string_ext(obj, JSON_FLAGS_PRETTY));
}

static void put_escaped(FILE *f, const unsigned char *p, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];

		switch (c) {
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		case '"':  fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		default:
			/* Escape everything else non-printable so one event stays one line
			 * and a guest cannot send terminal control sequences through it. */
			if (c < 0x20 || c >= 0x7f)
				fprintf(f, "\\x%02x", c);
			else
				fputc(c, f);
		}
	}
	fputc('"', f);
}

static void put_event_detail(FILE *f, const char *type, struct json_object *data)
{
	if (strcmp(type, "state") == 0 && json_lookup_str(data, "state", NULL)) {
		const char *previous = json_lookup_str(data, "previous", NULL);
		struct json_object *exit = json_lookup(data, "exit");

		fputs(json_lookup_str(data, "state", NULL), f);
		if (previous)
			fprintf(f, " (was %s)", previous);
		if (exit) {
			char why[256];

			format_exit(exit, why, sizeof(why));
			fprintf(f, " exit %s", why);
		}
		return;
	}
	if (strcmp(type, "console") == 0) {
		struct json_object *offset = json_lookup(data, "offset");
		unsigned char *bytes;
		size_t n;

		if (json_lookup_bytes(data, "data", &bytes, &n) == 0) {
			if (offset)
				fprintf(f, "@%s ", json_object_to_json_string_ext(offset, JSON_FLAGS_COMPACT));
			put_escaped(f, bytes, n);
			free(bytes);
			return;
		}
	}
	fputs(data ? json_object_to_json_string_ext(data, JSON_FLAGS_COMPACT) : "null", f);
}

int format_event_line(struct json_object *params, bool json, char **ret)
{
	struct json_object *ts;
	char *line = NULL;
	size_t size = 0;
	char when[40];
	FILE *f;

	if (!json_object_is_type(params, json_type_object))
		return -EINVAL;
	f = open_memstream(&line, &size);
	if (!f)
		return -ENOMEM;

	if (json)
		fputs(json_object_to_json_string_ext(params, JSON_FLAGS_COMPACT), f);
	else {
		const char *type = json_lookup_str(params, "type", "?");

		ts = json_lookup(params, "timestamp");
		if (json_object_is_type(ts, json_type_double) || json_object_is_type(ts, json_type_int))
			format_timestamp(json_object_get_double(ts), when, sizeof(when));
		else
			snprintf(when, sizeof(when), "-");
		fprintf(f, "%s %s %s ", when, json_lookup_str(params, "vm", "-"), type);
		put_event_detail(f, type, json_lookup(params, "data"));
	}
	if (fclose(f) != 0 || !line) {
		free(line);
		return -ENOMEM;
	}
	*ret = line;
	return 0;
}
