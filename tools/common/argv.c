#include "argv.h"

#include <string.h>

const char *tool_option_value(int argc, char **argv, int *i, bool flag, const char **value)
{
    const char *equals = strchr(argv[*i], '=');
    *value = NULL;
    if (flag)
        return equals ? "takes no value" : NULL;
    if (equals)
        *value = equals + 1;
    else if (*i + 1 < argc)
        *value = argv[++*i];
    else
        return "needs a value";
    return NULL;
}
