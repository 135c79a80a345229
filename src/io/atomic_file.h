/* Atomic file replacement: write to a temporary file in the target's
 * directory, flush and fsync it, then rename() over the target. A crash
 * or error at any point leaves the old file untouched. */
#ifndef VKT_ATOMIC_FILE_H
#define VKT_ATOMIC_FILE_H

#include <stdio.h>

#include <vktrain/status.h>

typedef struct atomic_file {
    FILE *fp;          /* write through this */
    char *final_path;
    char *temp_path;
} atomic_file;

vkt_status atomic_file_open(atomic_file *af, const char *path);
/* Flush, fsync, rename into place. Always releases `af`. */
vkt_status atomic_file_commit(atomic_file *af);
/* Discard the temporary file. Safe on a zeroed or released `af`. */
void atomic_file_abort(atomic_file *af);

#endif
