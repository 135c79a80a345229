/* Command-line option values, as every vktrain tool spells them:
 * "--name=value" or "--name value"; flags take none. */
#ifndef VKT_TOOLS_ARGV_H
#define VKT_TOOLS_ARGV_H

#include <stdbool.h>

/* The value of the option at argv[*i] (NULL for a flag), consuming the
 * next argument for "--name value". Returns NULL on success, else what
 * is wrong ("takes no value", "needs a value") for the caller to report
 * after the option's name. */
const char *tool_option_value(int argc, char **argv, int *i, bool flag, const char **value);

#endif
