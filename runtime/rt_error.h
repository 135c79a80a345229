/* Per-thread error message shared by the runtime and the engine.
 * Runtime code reports a failure with rt_error(); the engine's
 * vkt_last_error() reads it back. */
#ifndef VKT_RT_ERROR_H
#define VKT_RT_ERROR_H

#include <vktrain/status.h>

/* Format the calling thread's error message; returns `status` so a
 * failure can be reported in one line: return rt_error(VKT_ERR_IO, ...). */
vkt_status rt_error(vkt_status status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *rt_error_message(void);
void rt_error_clear(void);

#endif
