#include "rt_error.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char error_message[512];

vkt_status rt_error(vkt_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    return status;
}

const char *rt_error_message(void)
{
    return error_message;
}

void rt_error_clear(void)
{
    error_message[0] = '\0';
}
