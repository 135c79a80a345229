/* vkagg send: packet files to a serving aggregator over one connection,
 * printing the reply to each. Exit status 0 when every packet was
 * accepted. */
#include "vkagg.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "frame.h"

static const char *reply_text(uint8_t reply)
{
    if (reply == FRAME_REPLY_BAD_FRAME)
        return "frame refused (empty or too large)";
    return vkt_fed_refusal_name((vkt_fed_refusal)reply);
}

static int send_all(const agg_options *o)
{
    char err[256];
    int fd = frame_connect(o->host, (uint16_t)o->port, o->timeout, err, sizeof err);
    if (fd < 0) {
        cli_error("%s", err);
        return 1;
    }
    int refused = 0;
    for (int i = 0; i < o->file_count; i++) {
        uint8_t *packet, reply;
        size_t size;
        if (!agg_read_packet(o->files[i], UINT32_MAX, &packet, &size)) {
            refused++;
            continue;
        }
        bool sent = frame_send(fd, packet, size, &reply, err, sizeof err);
        free(packet);
        if (!sent) {
            cli_error("%s: %s", o->files[i], err);
            close(fd);
            return 1;
        }
        if (reply != FRAME_REPLY_ACCEPTED)
            refused++;
        if (reply != FRAME_REPLY_ACCEPTED || !o->quiet)
            printf("%s: %s\n", o->files[i], reply_text(reply));
        if (reply == FRAME_REPLY_BAD_FRAME)
            break; /* the server closes the connection */
    }
    close(fd);
    return refused == 0 ? 0 : 1;
}

int agg_send_command(int argc, char **argv)
{
    agg_options o;
    agg_parse_result parsed = agg_parse_options(AGG_SEND, argc, argv, &o);
    int status = parsed == AGG_PARSE_OK ? send_all(&o) : parsed == AGG_PARSE_HELP ? 0 : 1;
    free(o.files);
    return status;
}
