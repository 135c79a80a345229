/* What tools/vktrain/presets.c needs from the rest of vktrain, for
 * vkagg: its error reporting (worded for vkagg) and the model names.
 * Goes away when the presets move to tools/common. */
#include "vkagg.h"

#include <stdarg.h>
#include <stdio.h>

void cli_error(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("vkagg: error: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
}

int cli_api_error(vkt_status status, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("vkagg: error: ", stderr);
    vfprintf(stderr, format, args);
    va_end(args);
    const char *detail = vkt_last_error();
    fprintf(stderr, ": %s\n", detail && *detail ? detail : vkt_status_name(status));
    return 1;
}

const char *cli_model_name(cli_model model)
{
    switch (model) {
    case CLI_MODEL_MLP: return "mlp";
    case CLI_MODEL_CNN: return "cnn";
    default: return "none";
    }
}
