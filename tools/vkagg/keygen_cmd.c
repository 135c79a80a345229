/* vkagg keygen: a fresh aggregator key pair (and its public key for the
 * clients). */
#include "vkagg.h"

#include <stdio.h>
#include <stdlib.h>

int agg_keygen_command(int argc, char **argv)
{
    agg_options o;
    agg_parse_result parsed = agg_parse_options(AGG_KEYGEN, argc, argv, &o);
    if (parsed != AGG_PARSE_OK) {
        free(o.files);
        return parsed == AGG_PARSE_HELP ? 0 : 1;
    }
    vkt_keypair kp;
    vkt_status st = vkt_keypair_generate(&kp);
    if (st == VKT_OK && (st = vkt_keypair_save(&kp, o.out_path)) != VKT_OK)
        cli_api_error(st, "cannot write %s", o.out_path);
    else if (st != VKT_OK)
        cli_api_error(st, "cannot generate a key pair");
    if (st == VKT_OK && o.public_path && (st = vkt_public_key_save(kp.public_key, o.public_path)) != VKT_OK)
        cli_api_error(st, "cannot write %s", o.public_path);
    if (st == VKT_OK) {
        printf("public key ");
        for (int i = 0; i < VKT_KX_PUBLIC_KEY_BYTES; i++)
            printf("%02x", kp.public_key[i]);
        printf("\nkey pair written to %s (mode 0600)%s%s\n", o.out_path, o.public_path ? ", public key to " : "",
               o.public_path ? o.public_path : "");
    }
    vkt_keypair_wipe(&kp);
    free(o.files);
    return st == VKT_OK ? 0 : 1;
}
