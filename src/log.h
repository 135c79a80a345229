/* Internal logging through the app's hook (silent without one). */
#ifndef VKT_LOG_H
#define VKT_LOG_H

#include <vktrain/status.h>

void vkt_log(vkt_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
