/* vktrain: entry point. Dispatches to a subcommand and owns the one
 * error format every command uses, so failures read the same everywhere:
 * "vktrain: error: ..." on stderr and exit status 1. */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void cli_error(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("vktrain: error: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
}

int cli_api_error(vkt_status status, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("vktrain: error: ", stderr);
    vfprintf(stderr, format, args);
    va_end(args);
    const char *detail = vkt_last_error();
    fprintf(stderr, ": %s\n", detail && *detail ? detail : vkt_status_name(status));
    return 1;
}

/* The library stays silent unless given a hook; its warnings (a device
 * falling back, say) are worth showing. */
static void print_library_warning(vkt_log_level level, const char *message, void *user)
{
    (void)user;
    if (level >= VKT_LOG_WARN)
        fprintf(stderr, "vktrain: warning: %s\n", message);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli_error("missing command (train or eval)");
        cli_print_usage(stderr);
        return 1;
    }
    const char *command = argv[1];
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0) {
        cli_print_usage(stdout);
        return 0;
    }
    if (strcmp(command, "--version") == 0) {
        printf("vktrain %d.%d.%d\n", VKTRAIN_VERSION_MAJOR, VKTRAIN_VERSION_MINOR,
               VKTRAIN_VERSION_PATCH);
        return 0;
    }

    vkt_set_log_callback(print_library_warning, NULL);
    if (strcmp(command, "train") == 0)
        return cli_train_command(argc - 2, argv + 2);
    if (strcmp(command, "eval") == 0)
        return cli_eval_command(argc - 2, argv + 2);
    if (strcmp(command, "devices") == 0)
        return cli_devices_command(argc - 2, argv + 2);
    if (strcmp(command, "federate") == 0)
        return cli_federate_command(argc - 2, argv + 2);

    if (strncmp(command, "-", 1) == 0)
        cli_error("unknown option '%s' (see vktrain --help)", command);
    else
        cli_error("unknown command '%s' (expected train, eval, devices or federate; see vktrain --help)", command);
    return 1;
}
