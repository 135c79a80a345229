/* vkagg: entry point and subcommand dispatch. Errors read
 * "vkagg: error: ..." on stderr with exit status 1 (cli_shim.c). */
#include "vkagg.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli_error("missing command (keygen, serve, aggregate or send)");
        agg_print_usage(stderr);
        return 1;
    }
    const char *command = argv[1];
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0) {
        agg_print_usage(stdout);
        return 0;
    }
    if (strcmp(command, "--version") == 0) {
        printf("vkagg %d.%d.%d\n", VKTRAIN_VERSION_MAJOR, VKTRAIN_VERSION_MINOR, VKTRAIN_VERSION_PATCH);
        return 0;
    }
    if (strcmp(command, "keygen") == 0)
        return agg_keygen_command(argc - 2, argv + 2);
    if (strcmp(command, "serve") == 0)
        return agg_serve_command(argc - 2, argv + 2);
    if (strcmp(command, "aggregate") == 0)
        return agg_aggregate_command(argc - 2, argv + 2);
    if (strcmp(command, "send") == 0)
        return agg_send_command(argc - 2, argv + 2);
    cli_error("unknown command '%s' (expected keygen, serve, aggregate or send; see vkagg --help)", command);
    return 1;
}
