/* Seeds for fuzz_secagg: the messages client 1 sent and received in an
 * honest round, each behind the selector byte of the receiver that
 * expects it. Keys are fresh in every run, so replayed client-side
 * seeds fail at the key or authentication checks while server-side ones
 * pass the structural checks: both kinds exercise the parsers. */
#include <stdio.h>
#include <sys/stat.h>

#include "secagg_fuzz_round.h"

static int write_seed(const char *dir, const char *name, uint8_t selector, const uint8_t *msg, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    int ok = f && fputc(selector, f) != EOF && fwrite(msg, 1, size, f) == size;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok)
        fprintf(stderr, "cannot write %s\n", path);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    mkdir(argv[1], 0755);
    sf_round r;
    if (sf_start(&r, 4) != 0) {
        fprintf(stderr, "the honest round failed: %s\n", vkt_last_error());
        sf_free(&r);
        return 1;
    }
    static const char *const sent_names[4] = {"advertise.bin", "shares.bin", "masked.bin", "unmask.bin"};
    static const char *const got_names[4] = {NULL, "key_list.bin", "relayed.bin", "request.bin"};
    int failed = 0;
    for (int s = 0; s < 4; s++) {
        failed |= write_seed(argv[1], sent_names[s], (uint8_t)s, r.sent[s], r.sent_size[s]);
        if (s > 0)
            failed |= write_seed(argv[1], got_names[s], (uint8_t)(SF_CLIENT_KEY_LIST + s - 1), r.got[s],
                                 r.got_size[s]);
    }
    sf_free(&r);
    return failed;
}
