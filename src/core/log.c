#include "core/dhp.h"
#include "core/log.h"

#include <stdarg.h>

static enum log_level current = LOG_INFO;

void log_set_level(enum log_level level)
{
	current = level;
}

enum log_level log_get_level(void)
{
	return current;
}

static const char *level_name(enum log_level level)
{
	switch (level) {
	case LOG_ERROR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_INFO:
		return "info";
	case LOG_DEBUG:
		return "debug";
	}
	return "";
}

void log_msg(enum log_level level, const char *where, const char *fmt, ...)
{
	va_list ap;
	if (level > current)
		return;
	fputs("dhp-import: ", stderr);
	if (where && *where)
		fprintf(stderr, "%s: ", where);
	if (level != LOG_INFO)
		fprintf(stderr, "%s: ", level_name(level));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void log_error(const struct dhp_error *err)
{
	log_msg(LOG_ERROR, err->where, "%s", err->msg);
	if (err->detail[0] && current >= LOG_ERROR)
		fprintf(stderr, "dhp-import: detail: %s\n", err->detail);
}
