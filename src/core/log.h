/*
 * log.h: leveled messages on stderr, in PostgreSQL's frontend layout:
 *
 *   dhp-import: WHERE: error: MESSAGE
 *   dhp-import: detail: DETAIL
 *
 * Nothing here ever receives patient data: callers name records by their
 * source location and key (see err.h). -q lowers the level to errors only.
 */
#ifndef DHP_LOG_H
#define DHP_LOG_H

#include "core/err.h"

enum log_level { LOG_ERROR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);

void log_msg(enum log_level level, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Print an error struct (message, then its detail line if any). */
void log_error(const struct dhp_error *err);

#define log_err(...) log_msg(LOG_ERROR, NULL, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, NULL, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, NULL, __VA_ARGS__)

#endif
