/* SPDX-License-Identifier: MIT */
/*
 * Logging for the daemon and its workers: one line per event on stderr,
 * with a "<N>" priority prefix when stderr is the journal (systemd's
 * sd-daemon convention), plain otherwise. Library code returns errors; the
 * daemon layer logs them once, at the point where they are handled:
 *     return log_error_errno(r, "Failed to map guest memory: %m");
 */
#pragma once

#include <errno.h>
#include <stdarg.h>

enum log_level { LOG_LVL_ERR = 3, LOG_LVL_WARNING = 4, LOG_LVL_NOTICE = 5, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

void log_set_level(enum log_level level);
int log_parse_level(const char *s);         /* -EINVAL if unknown */
void log_set_ident(const char *ident);      /* e.g. "vmmd" or "worker[hello]" */
enum log_level log_get_level(void);

/* Logs the message; with error != 0, %m expands to strerror(|error|). Returns -|error|. */
int log_full_errno(enum log_level level, int error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error_errno(r, ...)   log_full_errno(LOG_LVL_ERR, (r), __VA_ARGS__)
#define log_warning_errno(r, ...) log_full_errno(LOG_LVL_WARNING, (r), __VA_ARGS__)
#define log_debug_errno(r, ...)   log_full_errno(LOG_LVL_DEBUG, (r), __VA_ARGS__)
#define log_error(...)            (void) log_full_errno(LOG_LVL_ERR, 0, __VA_ARGS__)
#define log_warning(...)          (void) log_full_errno(LOG_LVL_WARNING, 0, __VA_ARGS__)
#define log_notice(...)           (void) log_full_errno(LOG_LVL_NOTICE, 0, __VA_ARGS__)
#define log_info(...)             (void) log_full_errno(LOG_LVL_INFO, 0, __VA_ARGS__)
#define log_debug(...)            (void) log_full_errno(LOG_LVL_DEBUG, 0, __VA_ARGS__)
