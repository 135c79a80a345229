/* Runs a fuzz target's entry point on every file of the given corpus
 * directories, without libFuzzer, so the normal test suite (gcc, ASan)
 * replays the corpus. Fails if a directory is missing or empty. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        len = ftell(f);
    rewind(f);
    /* An exact-size buffer, so reading one byte too far is caught by ASan. */
    uint8_t *buf = len >= 0 ? malloc(len ? (size_t)len : 1) : NULL;
    int ok = buf && fread(buf, 1, (size_t)len, f) == (size_t)len;
    fclose(f);
    if (ok)
        LLVMFuzzerTestOneInput(buf, (size_t)len);
    free(buf);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    int total = 0;
    for (int a = 1; a < argc; a++) {
        DIR *dir = opendir(argv[a]);
        if (!dir) {
            fprintf(stderr, "cannot open corpus directory %s\n", argv[a]);
            return 1;
        }
        struct dirent *e;
        while ((e = readdir(dir))) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[a], e->d_name);
            if (replay_file(path) != 0) {
                fprintf(stderr, "cannot read %s\n", path);
                closedir(dir);
                return 1;
            }
            total++;
        }
        closedir(dir);
    }
    printf("replayed %d inputs\n", total);
    return total > 0 ? 0 : 1;
}
