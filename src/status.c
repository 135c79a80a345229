/* Status names, the per-thread last error, and the log hook. */
#include <stdarg.h>
#include <stdio.h>

#include <vktrain/vktrain.h>

#include "log.h"
#include "runtime/rt_error.h"

const char *vkt_last_error(void)
{
    return rt_error_message();
}

const char *vkt_status_name(vkt_status status)
{
    switch (status) {
    case VKT_OK: return "ok";
    case VKT_ERR_INVALID_ARG: return "invalid argument";
    case VKT_ERR_SHAPE: return "shape mismatch";
    case VKT_ERR_IO: return "i/o error";
    case VKT_ERR_FORMAT: return "format error";
    case VKT_ERR_NO_MEMORY: return "out of memory";
    case VKT_ERR_UNSUPPORTED: return "unsupported";
    case VKT_ERR_DEVICE: return "device error";
    case VKT_ERR_NOT_FOUND: return "not found";
    case VKT_ERR_STATE: return "invalid state";
    }
    return "unknown status";
}

static vkt_log_fn log_fn;
static void *log_user;

void vkt_set_log_callback(vkt_log_fn fn, void *user)
{
    log_fn = fn;
    log_user = user;
}

void vkt_log(vkt_log_level level, const char *fmt, ...)
{
    if (!log_fn)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_fn(level, msg, log_user);
}

#define VKT_STR2(x) #x
#define VKT_STR(x) VKT_STR2(x)

const char *vkt_version(void)
{
    return VKT_STR(VKTRAIN_VERSION_MAJOR) "." VKT_STR(VKTRAIN_VERSION_MINOR) "." VKT_STR(VKTRAIN_VERSION_PATCH);
}
