/* vkagg's TCP transport, server side: one thread, poll(), many
 * connections, length-prefixed frames (frame.h) with a hard size cap and
 * per-connection timeouts. Nothing a peer sends can crash it or make it
 * allocate more than the cap per connection: a bad length closes that
 * connection, a slow peer times out, the rest carry on. */
#ifndef VKAGG_SERVER_H
#define VKAGG_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct agg_server agg_server;

typedef struct agg_server_config {
    const char *host;       /* numeric address to bind, e.g. "127.0.0.1" */
    uint16_t port;          /* 0: any free port (see agg_server_port) */
    size_t max_frame;       /* largest frame accepted, bytes */
    int max_connections;    /* more are accepted and closed at once */
    double idle_timeout_s;  /* a connection silent this long between frames is closed */
    double frame_timeout_s; /* a frame must arrive whole this soon after its first byte */
    /* Connection events (timeouts, refused frames); may be NULL. */
    void (*log)(void *user, const char *message);
    void *log_user;
} agg_server_config;

/* Counts since the server opened. */
typedef struct agg_server_counts {
    uint64_t connections;  /* accepted */
    uint64_t rejected;     /* over max_connections */
    uint64_t frames;       /* whole frames handed to the handler */
    uint64_t bad_frames;   /* length 0 or over max_frame */
    uint64_t timeouts;     /* connections closed idle or mid-frame */
    uint64_t truncated;    /* peers that closed mid-frame */
} agg_server_counts;

/* Handle one whole frame; returns the reply byte (FRAME_REPLY_*). */
typedef uint8_t (*agg_frame_handler)(const uint8_t *frame, size_t size, const char *peer, void *user);
/* Checked after every frame and wake-up: true ends agg_server_run. */
typedef bool (*agg_server_done)(void *user);

/* Bind and listen. On failure returns false with the reason in err. */
bool agg_server_open(const agg_server_config *config, agg_server **out, char *err, size_t err_size);
uint16_t agg_server_port(const agg_server *s);
/* Seconds on CLOCK_MONOTONIC, the clock of deadlines. */
double agg_server_now(void);
/* Serve until done() is true, `deadline` (agg_server_now() clock; 0:
 * none) passes, or agg_server_stop(). false (reason in err) only when
 * poll itself fails. */
bool agg_server_run(agg_server *s, agg_frame_handler handler, agg_server_done done, void *user, double deadline,
                    char *err, size_t err_size);
/* Ask a running server to return; safe from a signal handler or another
 * thread. */
void agg_server_stop(agg_server *s);
void agg_server_counts_get(const agg_server *s, agg_server_counts *out);
/* Closes every connection and the socket. NULL is ignored. */
void agg_server_close(agg_server *s);

#endif
