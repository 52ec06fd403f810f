#include "core/dhp.h"
#include "core/err.h"

const char *dhp_code_name(enum dhp_code code)
{
	static const char *const names[] = {
	    [DHP_OK] = "ok",
	    [DHP_ESYNTAX] = "syntax",
	    [DHP_EPATH] = "path",
	    [DHP_ETYPE] = "type",
	    [DHP_ETRANSFORM] = "transform",
	    [DHP_ECODETABLE] = "code-table",
	    [DHP_EIO] = "io",
	    [DHP_ECONNECT] = "connect",
	    [DHP_EQUERY] = "query",
	    [DHP_EVALUE] = "value",
	    [DHP_EKEY] = "key",
	    [DHP_EREQUIRED] = "required",
	    [DHP_ECONFIG] = "config",
	    [DHP_ELIMIT] = "limit",
	};
	if ((size_t)code < ARRAY_SIZE(names) && names[code])
		return names[code];
	return "unknown";
}

int dhp_vfail(struct dhp_error *err, enum dhp_code code, const char *where, const char *fmt,
	      va_list ap)
{
	if (!err)
		return -1;
	err->code = code;
	snprintf(err->where, sizeof(err->where), "%s", where ? where : "");
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	err->detail[0] = '\0';
	return -1;
}

int dhp_fail(struct dhp_error *err, enum dhp_code code, const char *where, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	dhp_vfail(err, code, where, fmt, ap);
	va_end(ap);
	return -1;
}

void dhp_detail(struct dhp_error *err, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
}

void dhp_error_clear(struct dhp_error *err)
{
	*err = (struct dhp_error)DHP_ERROR_INIT;
}
