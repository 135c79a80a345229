/* Staleness weights for buffered asynchronous aggregation: an update
 * trained from an older model counts less (FedBuff uses
 * 1 / sqrt(1 + tau); FedAsync also proposes a hinge). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <vktrain/fed.h>

#include "runtime/rt_error.h"

#define DEFAULT_POLY_EXPONENT 0.5
#define DEFAULT_HINGE_SLOPE 1.0

double vkt_fed_staleness_weight(const vkt_fed_staleness *s, uint64_t tau)
{
    vkt_fed_staleness none = {.kind = VKT_FED_STALENESS_POLYNOMIAL};
    if (!s)
        s = &none;
    switch (s->kind) {
    case VKT_FED_STALENESS_CONSTANT:
        return 1.0;
    case VKT_FED_STALENESS_HINGE: {
        double a = s->a > 0.0f ? s->a : DEFAULT_HINGE_SLOPE;
        double b = s->b > 0.0f ? s->b : 0.0;
        return (double)tau <= b ? 1.0 : 1.0 / (1.0 + a * ((double)tau - b));
    }
    case VKT_FED_STALENESS_POLYNOMIAL:
    default: {
        double a = s->a > 0.0f ? s->a : DEFAULT_POLY_EXPONENT;
        return pow(1.0 + (double)tau, -a);
    }
    }
}

/* A finite number >= 0 filling text[0..len) exactly. */
static bool parse_number(const char *text, size_t len, float *out)
{
    char buf[32];
    if (len == 0 || len >= sizeof buf || !(text[0] == '.' || (text[0] >= '0' && text[0] <= '9')))
        return false;
    memcpy(buf, text, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v) || v < 0.0 || v > 1e6)
        return false;
    *out = (float)v;
    return true;
}

vkt_status vkt_fed_staleness_parse(const char *text, vkt_fed_staleness *out)
{
    if (!text || !out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_fed_staleness_parse: NULL argument");
    vkt_fed_staleness s = {0};
    bool ok = false;
    if (strcmp(text, "constant") == 0) {
        s.kind = VKT_FED_STALENESS_CONSTANT;
        ok = true;
    } else if (strcmp(text, "poly") == 0) {
        s.kind = VKT_FED_STALENESS_POLYNOMIAL;
        ok = true;
    } else if (strncmp(text, "poly:", 5) == 0) {
        s.kind = VKT_FED_STALENESS_POLYNOMIAL;
        ok = parse_number(text + 5, strlen(text + 5), &s.a) && s.a > 0.0f;
    } else if (strncmp(text, "hinge:", 6) == 0) {
        const char *a = text + 6, *colon = strchr(a, ':');
        s.kind = VKT_FED_STALENESS_HINGE;
        ok = colon && parse_number(a, (size_t)(colon - a), &s.a) && s.a > 0.0f &&
             parse_number(colon + 1, strlen(colon + 1), &s.b);
    }
    if (!ok)
        return rt_error(VKT_ERR_INVALID_ARG,
                        "staleness '%s': expected poly, poly:A (A > 0), constant or hinge:A:B (A > 0, B >= 0)", text);
    *out = s;
    return VKT_OK;
}
