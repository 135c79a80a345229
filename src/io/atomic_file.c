/* Atomic file replacement, so a crash or a failed save never leaves a
 * half-written checkpoint or weights file where a good one used to be.
 *
 * The data goes to a mkstemp() file next to the target (same directory,
 * hence same filesystem, so rename() is atomic), is flushed and fsync'ed,
 * and only then renamed over the target. The directory is fsync'ed
 * afterwards, best-effort, so the rename itself survives a power loss. */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/rt_error.h"

#define TEMP_SUFFIX ".tmp.XXXXXX"
#define NEW_FILE_MODE 0644

static char *temp_path_for(const char *path)
{
    size_t n = strlen(path) + sizeof TEMP_SUFFIX;
    char *temp = malloc(n);
    if (temp)
        snprintf(temp, n, "%s%s", path, TEMP_SUFFIX);
    return temp;
}

/* mkstemp() creates 0600 files; give the result the mode of the file it
 * replaces, or an ordinary 0644 for a new one. Failure is harmless. */
static void set_final_mode(int fd, const char *final_path)
{
    struct stat st;
    mode_t mode = NEW_FILE_MODE;
    if (stat(final_path, &st) == 0)
        mode = st.st_mode & 07777;
    (void)fchmod(fd, mode);
}

static void release(atomic_file *af)
{
    free(af->final_path);
    free(af->temp_path);
    af->fp = NULL;
    af->final_path = NULL;
    af->temp_path = NULL;
}

vkt_status atomic_file_open(atomic_file *af, const char *path)
{
    if (!af)
        return rt_error(VKT_ERR_INVALID_ARG, "atomic_file_open: no handle");
    memset(af, 0, sizeof *af);
    if (!path || !path[0])
        return rt_error(VKT_ERR_INVALID_ARG, "atomic_file_open: empty path");

    af->final_path = strdup(path);
    af->temp_path = temp_path_for(path);
    if (!af->final_path || !af->temp_path) {
        release(af);
        return rt_error(VKT_ERR_NO_MEMORY, "out of memory opening '%s' for writing", path);
    }

    int fd = mkstemp(af->temp_path);
    if (fd < 0) {
        int err = errno;
        release(af);
        return rt_error(VKT_ERR_IO, "cannot create a temporary file next to '%s': %s", path, strerror(err));
    }
    set_final_mode(fd, path);

    af->fp = fdopen(fd, "wb");
    if (!af->fp) {
        int err = errno;
        close(fd);
        unlink(af->temp_path);
        release(af);
        return rt_error(VKT_ERR_IO, "cannot open a temporary file next to '%s': %s", path, strerror(err));
    }
    return VKT_OK;
}

/* fsync the directory holding `path` so the rename is durable. Some
 * filesystems refuse to fsync directories; that is not an error here. */
static void sync_parent_directory(const char *path)
{
    char *dir = strdup(path);
    if (!dir)
        return;
    char *slash = strrchr(dir, '/');
    const char *name = dir;
    if (!slash)
        name = ".";
    else if (slash == dir)
        slash[1] = '\0'; /* the root directory */
    else
        *slash = '\0';

    int fd = open(name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

/* Flush user-space buffers and the kernel's, then close. Returns 0 or an
 * errno value. Closes the stream in every case. */
static int flush_sync_close(FILE *fp)
{
    int err = 0;
    if (fflush(fp) != 0 || ferror(fp))
        err = errno ? errno : EIO;
    if (!err && fsync(fileno(fp)) != 0)
        err = errno;
    if (fclose(fp) != 0 && !err)
        err = errno ? errno : EIO;
    return err;
}

vkt_status atomic_file_commit(atomic_file *af)
{
    if (!af || !af->fp || !af->temp_path || !af->final_path) {
        if (af)
            atomic_file_abort(af);
        return rt_error(VKT_ERR_INVALID_ARG, "atomic_file_commit: file is not open");
    }

    errno = 0;
    int err = flush_sync_close(af->fp);
    af->fp = NULL;
    if (err) {
        vkt_status st = rt_error(VKT_ERR_IO, "writing '%s' failed: %s", af->final_path, strerror(err));
        atomic_file_abort(af);
        return st;
    }

    if (rename(af->temp_path, af->final_path) != 0) {
        vkt_status st = rt_error(VKT_ERR_IO, "cannot move the new file into place at '%s': %s", af->final_path,
                                 strerror(errno));
        atomic_file_abort(af);
        return st;
    }

    sync_parent_directory(af->final_path);
    release(af);
    return VKT_OK;
}

void atomic_file_abort(atomic_file *af)
{
    if (!af)
        return;
    if (af->fp)
        fclose(af->fp);
    if (af->temp_path)
        unlink(af->temp_path);
    release(af);
}
