/* vkagg aggregate: one round from packet files. A file that cannot be
 * read or whose packet is refused is reported and skipped; the model is
 * written if the round (FedAvg) or any step (FedBuff) was applied. */
#include "vkagg.h"

#include <stdio.h>
#include <stdlib.h>

static int run(const agg_options *o, agg_setup *s)
{
    int steps = 0;
    for (int i = 0; i < o->file_count; i++) {
        uint8_t *packet;
        size_t size;
        if (!agg_read_packet(o->files[i], s->max_frame, &packet, &size))
            continue;
        vkt_fed_receipt r;
        vkt_status st = vkt_fed_submit_packet(s->agg, packet, size, &r);
        free(packet);
        agg_log_receipt(o, o->files[i], size, st, &r);
        if (r.applied) {
            vkt_fed_round_stats stats;
            vkt_fed_last_stats(s->agg, &stats);
            if (!agg_write_step(o, s, &stats))
                return 1;
            steps++;
        }
    }
    vkt_fed_round_stats pending;
    vkt_fed_pending_stats(s->agg, &pending);
    /* FedAvg: the round; FedBuff: what is left in a partial buffer. */
    if (pending.accepted > 0 || steps == 0) {
        vkt_fed_round_stats stats;
        vkt_status st = vkt_fed_round_finish(s->agg, &stats);
        if (st != VKT_OK && steps == 0)
            return cli_api_error(st, "no model written");
        if (st == VKT_OK && !agg_write_step(o, s, &stats))
            return 1;
    }
    return 0;
}

int agg_aggregate_command(int argc, char **argv)
{
    agg_options o;
    agg_parse_result parsed = agg_parse_options(AGG_AGGREGATE, argc, argv, &o);
    if (parsed != AGG_PARSE_OK) {
        free(o.files);
        return parsed == AGG_PARSE_HELP ? 0 : 1;
    }
    agg_setup s;
    int status = agg_setup_create(&o, &s) ? run(&o, &s) : 1;
    agg_setup_free(&s);
    free(o.files);
    return status;
}
