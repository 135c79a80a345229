/* Round parameters: limits and the default threshold. t > n/2 keeps two
 * disjoint groups of clients from both reaching the threshold (a server
 * could otherwise get b_u from one group and u's key from the other). */
#include "secagg_internal.h"
#include "runtime/rt_error.h"

vkt_status vkt_secagg_params_resolve(const vkt_secagg_params *in, vkt_secagg_params *out)
{
    if (!in || !out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_secagg_params_resolve: NULL argument");
    vkt_secagg_params p = *in;
    if (p.client_count < 2 || p.client_count > VKT_SECAGG_MAX_CLIENTS)
        return rt_error(VKT_ERR_INVALID_ARG, "secagg: %u clients; a round needs 2..%u", p.client_count,
                        VKT_SECAGG_MAX_CLIENTS);
    if (p.vector_length < 1 || p.vector_length > VKT_SECAGG_MAX_LENGTH)
        return rt_error(VKT_ERR_INVALID_ARG, "secagg: vector length %u outside 1..%u", p.vector_length,
                        VKT_SECAGG_MAX_LENGTH);
    if (p.threshold == 0)
        p.threshold = p.client_count - p.client_count / 3;
    if (p.threshold > p.client_count || 2 * p.threshold <= p.client_count)
        return rt_error(VKT_ERR_INVALID_ARG, "secagg: threshold %u with %u clients; it must be > n/2 and <= n",
                        p.threshold, p.client_count);
    *out = p;
    return VKT_OK;
}
