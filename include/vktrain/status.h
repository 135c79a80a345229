/* vktrain — status codes, per-thread error messages and the log hook.
 *
 * Every fallible call returns a vkt_status. On failure,
 * vkt_last_error() gives a readable message for the calling thread,
 * valid until that thread's next failing call. The library never prints,
 * exits or aborts on bad input. */
#ifndef VKTRAIN_STATUS_H
#define VKTRAIN_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vkt_status {
    VKT_OK = 0,
    VKT_ERR_INVALID_ARG = 1, /* a caller passed something unusable     */
    VKT_ERR_SHAPE = 2,       /* tensor shapes do not fit together       */
    VKT_ERR_IO = 3,          /* open/read/write/rename failed           */
    VKT_ERR_FORMAT = 4,      /* a file is truncated, corrupt or foreign */
    VKT_ERR_NO_MEMORY = 5,   /* host or device allocation failed        */
    VKT_ERR_UNSUPPORTED = 6, /* valid request this build/device lacks   */
    VKT_ERR_DEVICE = 7,      /* the backend device failed               */
    VKT_ERR_NOT_FOUND = 8,   /* a named thing does not exist            */
    VKT_ERR_STATE = 9,       /* call not valid in the object's state    */
} vkt_status;

/* Message of the calling thread's most recent failure ("" if none). */
const char *vkt_last_error(void);

/* Short fixed name of a status code, e.g. "format error". */
const char *vkt_status_name(vkt_status status);

typedef enum vkt_log_level {
    VKT_LOG_DEBUG = 0,
    VKT_LOG_INFO = 1,
    VKT_LOG_WARN = 2,
} vkt_log_level;

typedef void (*vkt_log_fn)(vkt_log_level level, const char *message, void *user);

/* Install (or remove, with NULL) the process-wide log hook. Without one
 * the library stays silent. */
void vkt_set_log_callback(vkt_log_fn fn, void *user);

#ifdef __cplusplus
}
#endif
#endif
