/* Fixed-point encoding of float vectors into Z_{2^32}. The rule (also in
 * secagg.h): with B = floor((2^31 - 1) / max_clients), x in [-range,
 * range] becomes round(x * B / range) as a two's complement u32. Since B
 * is an integer and |x * B / range| <= B, rounding keeps |q| <= B, so any
 * sum of max_clients encodings lies in [-(2^31 - 1), 2^31 - 1] and reads
 * back from its u32 without ambiguity. */
#include <math.h>

#include "secagg_internal.h"
#include "runtime/rt_error.h"

static vkt_status levels(double range, uint32_t max_clients, double *bound)
{
    if (!(range > 0.0) || !isfinite(range) || max_clients < 1 || max_clients > VKT_SECAGG_MAX_CLIENTS)
        return rt_error(VKT_ERR_INVALID_ARG, "secagg quantize: range must be finite and > 0, clients 1..%u",
                        VKT_SECAGG_MAX_CLIENTS);
    *bound = (double)(INT32_MAX / max_clients);
    return VKT_OK;
}

double vkt_secagg_quant_step(double range, uint32_t max_clients)
{
    double bound = 1.0;
    return levels(range, max_clients, &bound) == VKT_OK ? range / bound : 0.0;
}

vkt_status vkt_secagg_quantize(const float *x, size_t count, double range, uint32_t max_clients, uint32_t *out)
{
    double bound = 1.0;
    vkt_status st = levels(range, max_clients, &bound);
    if (st != VKT_OK)
        return st;
    if ((!x || !out) && count > 0)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_secagg_quantize: NULL vector");
    for (size_t i = 0; i < count; i++)
        if (!(fabs((double)x[i]) <= range))
            return rt_error(VKT_ERR_INVALID_ARG,
                            "secagg quantize: element %zu is %g, outside the agreed range [-%g, %g]", i,
                            (double)x[i], range, range);
    double scale = bound / range;
    for (size_t i = 0; i < count; i++) {
        double q = nearbyint((double)x[i] * scale);
        if (q > bound) /* x == range can round past B by a ulp of the product */
            q = bound;
        if (q < -bound)
            q = -bound;
        out[i] = (uint32_t)(int32_t)q;
    }
    return VKT_OK;
}

vkt_status vkt_secagg_dequantize(const uint32_t *sum, size_t count, double range, uint32_t max_clients,
                                 double *out)
{
    double bound = 1.0;
    vkt_status st = levels(range, max_clients, &bound);
    if (st != VKT_OK)
        return st;
    if ((!sum || !out) && count > 0)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_secagg_dequantize: NULL vector");
    double step = range / bound;
    for (size_t i = 0; i < count; i++) {
        /* two's complement without implementation-defined conversion */
        int64_t v = sum[i] >= 0x80000000u ? (int64_t)sum[i] - 0x100000000ll : (int64_t)sum[i];
        out[i] = (double)v * step;
    }
    return VKT_OK;
}
