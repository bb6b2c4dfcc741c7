/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/macro.h"
#include "vmmd/common/log.h"

static enum log_level max_level = LOG_LVL_INFO;
static char ident[64] = "vmmd";
static int journal = -1;   /* -1: not yet decided */

void log_set_level(enum log_level level) { max_level = level; }
enum log_level log_get_level(void) { return max_level; }

void log_set_ident(const char *s)
{
	snprintf(ident, sizeof(ident), "%s", s);
}

int log_parse_level(const char *s)
{
	static const struct { const char *name; enum log_level level; } table[] = {
		{ "error", LOG_LVL_ERR }, { "warning", LOG_LVL_WARNING },
		{ "notice", LOG_LVL_NOTICE }, { "info", LOG_LVL_INFO }, { "debug", LOG_LVL_DEBUG },
	};
	for (size_t i = 0; i < ELEMENTSOF(table); i++)
		if (strcasecmp(s, table[i].name) == 0)
			return table[i].level;
	return -EINVAL;
}

/* Under systemd, stderr is a journal stream: JOURNAL_STREAM names it. */
static int stderr_is_journal(void)
{
	if (journal < 0)
		journal = getenv("JOURNAL_STREAM") != NULL;
	return journal;
}

int log_full_errno(enum log_level level, int error, const char *fmt, ...)
{
	int saved = errno;
	if (error < 0)
		error = -error;
	if (level <= max_level) {
		char msg[1024];
		va_list ap;
		errno = error;   /* so %m in fmt names this error */
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		if (stderr_is_journal())
			fprintf(stderr, "<%d>%s: %s\n", level, ident, msg);
		else
			fprintf(stderr, "%s: %s\n", ident, msg);
	}
	errno = saved;
	return -error;
}
