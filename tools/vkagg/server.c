/* The TCP frame server (server.h). Every socket is non-blocking and
 * every connection a small state machine: reading the 4-byte length,
 * then the body into a buffer grown as bytes arrive (a peer that claims
 * a large frame and sends nothing holds no memory), then one reply byte.
 * Frames are handled one at a time on this thread, so the handler needs
 * no locking. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"

#define READ_CHUNK 65536
#define READS_PER_WAKE 16 /* fairness: one busy peer cannot starve others */
#define MAX_WAIT_MS 1000
#define PEER_TEXT (NI_MAXHOST + NI_MAXSERV + 2)

typedef struct conn {
    int fd;
    char peer[PEER_TEXT];
    uint8_t head[FRAME_HEADER_BYTES];
    size_t head_got;
    uint8_t *body;
    size_t body_len, body_got, body_cap;
    double frame_started; /* first byte of the current frame */
    double last_activity;
} conn;

struct agg_server {
    agg_server_config config;
    int listen_fd;
    int wake[2]; /* self-pipe: agg_server_stop writes, poll wakes */
    uint16_t port;
    conn *conns;
    int conn_count;
    agg_server_counts counts;
};

double agg_server_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void server_log(agg_server *s, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void server_log(agg_server *s, const char *format, ...)
{
    if (!s->config.log)
        return;
    char message[256];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    s->config.log(s->config.log_user, message);
}

static void peer_text(const struct sockaddr *sa, socklen_t len, char *out, size_t size)
{
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    if (getnameinfo(sa, len, host, sizeof host, serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) == 0)
        snprintf(out, size, "%s:%s", host, serv);
    else
        snprintf(out, size, "(unknown peer)");
}

bool agg_server_open(const agg_server_config *config, agg_server **out, char *err, size_t err_size)
{
    *out = NULL;
    if (config->max_frame < 1 || config->max_frame > UINT32_MAX || config->max_connections < 1) {
        snprintf(err, err_size, "bad server limits (frame cap 1..4 GiB, at least one connection)");
        return false;
    }
    agg_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_size, "out of memory");
        return false;
    }
    s->config = *config;
    s->listen_fd = -1;
    s->wake[0] = s->wake[1] = -1;
    s->conns = calloc((size_t)config->max_connections, sizeof *s->conns);

    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)config->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(config->host, port, &hints, &ai);
    if (!s->conns || gai != 0) {
        snprintf(err, err_size, "cannot use address '%s': %s", config->host,
                 gai != 0 ? gai_strerror(gai) : "out of memory");
        if (ai)
            freeaddrinfo(ai);
        agg_server_close(s);
        return false;
    }
    s->listen_fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    bool ok = s->listen_fd >= 0 && setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
              bind(s->listen_fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(s->listen_fd, 64) == 0 &&
              pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) == 0;
    freeaddrinfo(ai);
    if (!ok) {
        snprintf(err, err_size, "cannot listen on %s port %u: %s", config->host, (unsigned)config->port,
                 strerror(errno));
        agg_server_close(s);
        return false;
    }
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    if (getsockname(s->listen_fd, (struct sockaddr *)&addr, &len) == 0) {
        if (addr.ss_family == AF_INET)
            s->port = ntohs(((struct sockaddr_in *)&addr)->sin_port);
        else if (addr.ss_family == AF_INET6)
            s->port = ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    }
    *out = s;
    return true;
}

uint16_t agg_server_port(const agg_server *s)
{
    return s->port;
}

void agg_server_counts_get(const agg_server *s, agg_server_counts *out)
{
    *out = s->counts;
}

void agg_server_stop(agg_server *s)
{
    if (s && s->wake[1] >= 0) {
        ssize_t n = write(s->wake[1], "x", 1);
        (void)n; /* a full pipe already wakes the loop */
    }
}

static void conn_reset_frame(conn *c)
{
    free(c->body);
    c->body = NULL;
    c->body_len = c->body_got = c->body_cap = 0;
    c->head_got = 0;
}

static void conn_close(agg_server *s, int index)
{
    conn *c = &s->conns[index];
    close(c->fd);
    conn_reset_frame(c);
    s->conns[index] = s->conns[--s->conn_count];
}

void agg_server_close(agg_server *s)
{
    if (!s)
        return;
    while (s->conn_count > 0)
        conn_close(s, s->conn_count - 1);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    for (int i = 0; i < 2; i++)
        if (s->wake[i] >= 0)
            close(s->wake[i]);
    free(s->conns);
    free(s);
}

static void accept_all(agg_server *s, double now)
{
    for (;;) {
        struct sockaddr_storage addr;
        socklen_t len = sizeof addr;
        int fd = accept4(s->listen_fd, (struct sockaddr *)&addr, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return; /* EAGAIN, or a connection that died while queued */
        if (s->conn_count == s->config.max_connections) {
            s->counts.rejected++;
            close(fd);
            continue;
        }
        conn *c = &s->conns[s->conn_count++];
        memset(c, 0, sizeof *c);
        c->fd = fd;
        c->last_activity = now;
        peer_text((struct sockaddr *)&addr, len, c->peer, sizeof c->peer);
        s->counts.connections++;
    }
}

/* One reply byte. The socket's buffer is empty (the peer waits for this
 * byte), so a failed send means the peer is gone. */
static bool send_reply(conn *c, uint8_t reply)
{
    return send(c->fd, &reply, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1;
}

typedef enum conn_result { CONN_OPEN, CONN_CLOSE } conn_result;

/* The length has arrived: check it, prepare the body. */
static conn_result begin_body(agg_server *s, conn *c)
{
    uint32_t len = frame_le32(c->head);
    if (len == 0 || len > s->config.max_frame) {
        s->counts.bad_frames++;
        server_log(s, "%s: frame of %u bytes refused (allowed 1..%zu); connection closed", c->peer, (unsigned)len,
              s->config.max_frame);
        send_reply(c, FRAME_REPLY_BAD_FRAME);
        return CONN_CLOSE;
    }
    c->body_len = len;
    return CONN_OPEN;
}

static bool grow_body(conn *c)
{
    if (c->body_got < c->body_cap)
        return true;
    size_t cap = c->body_cap ? 2 * c->body_cap : READ_CHUNK;
    if (cap > c->body_len)
        cap = c->body_len;
    uint8_t *grown = realloc(c->body, cap);
    if (!grown)
        return false;
    c->body = grown;
    c->body_cap = cap;
    return true;
}

static conn_result read_conn(agg_server *s, conn *c, double now, agg_frame_handler handler, void *user)
{
    for (int reads = 0; reads < READS_PER_WAKE; reads++) {
        bool in_head = c->head_got < FRAME_HEADER_BYTES;
        if (!in_head && !grow_body(c)) {
            server_log(s, "%s: out of memory for a frame; connection closed", c->peer);
            return CONN_CLOSE;
        }
        uint8_t *dst = in_head ? c->head + c->head_got : c->body + c->body_got;
        size_t want = in_head ? FRAME_HEADER_BYTES - c->head_got : c->body_cap - c->body_got;
        ssize_t n = recv(c->fd, dst, want, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return CONN_OPEN;
        if (n <= 0) {
            if (c->head_got > 0) {
                s->counts.truncated++;
                server_log(s, "%s: connection ended in the middle of a frame", c->peer);
            }
            return CONN_CLOSE;
        }
        if (c->head_got == 0)
            c->frame_started = now;
        c->last_activity = now;
        if (in_head) {
            c->head_got += (size_t)n;
            if (c->head_got == FRAME_HEADER_BYTES && begin_body(s, c) == CONN_CLOSE)
                return CONN_CLOSE;
            continue;
        }
        c->body_got += (size_t)n;
        if (c->body_got < c->body_len)
            continue;
        s->counts.frames++;
        uint8_t reply = handler(c->body, c->body_len, c->peer, user);
        conn_reset_frame(c);
        if (!send_reply(c, reply))
            return CONN_CLOSE;
        return CONN_OPEN; /* let done() look before the next frame */
    }
    return CONN_OPEN;
}

static double conn_deadline(const agg_server *s, const conn *c)
{
    if (c->head_got > 0)
        return c->frame_started + s->config.frame_timeout_s;
    return c->last_activity + s->config.idle_timeout_s;
}

static void expire(agg_server *s, double now)
{
    for (int i = s->conn_count - 1; i >= 0; i--) {
        conn *c = &s->conns[i];
        if (now < conn_deadline(s, c))
            continue;
        s->counts.timeouts++;
        server_log(s, "%s: %s; connection closed", c->peer,
              c->head_got > 0 ? "frame not complete in time" : "idle too long");
        conn_close(s, i);
    }
}

static int wait_ms(const agg_server *s, double now, double deadline)
{
    double next = now + MAX_WAIT_MS / 1000.0;
    if (deadline > 0 && deadline < next)
        next = deadline;
    for (int i = 0; i < s->conn_count; i++) {
        double d = conn_deadline(s, &s->conns[i]);
        if (d < next)
            next = d;
    }
    double ms = (next - now) * 1000.0;
    return ms <= 0 ? 0 : (int)ms + 1;
}

bool agg_server_run(agg_server *s, agg_frame_handler handler, agg_server_done done, void *user, double deadline,
                    char *err, size_t err_size)
{
    struct pollfd *fds = calloc((size_t)s->config.max_connections + 2, sizeof *fds);
    if (!fds) {
        snprintf(err, err_size, "out of memory");
        return false;
    }
    bool ok = true;
    while (!(done && done(user))) {
        double now = agg_server_now();
        if (deadline > 0 && now >= deadline)
            break;
        fds[0] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
        fds[1] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
        for (int i = 0; i < s->conn_count; i++)
            fds[2 + i] = (struct pollfd){.fd = s->conns[i].fd, .events = POLLIN};
        int count = s->conn_count;
        int n = poll(fds, (nfds_t)count + 2, wait_ms(s, now, deadline));
        if (n < 0 && errno != EINTR) {
            snprintf(err, err_size, "poll failed: %s", strerror(errno));
            ok = false;
            break;
        }
        if (fds[1].revents)
            break; /* agg_server_stop */
        now = agg_server_now();
        /* Backwards, so closing (which moves the last entry into the
         * hole) never skips a connection polled this time. */
        for (int i = count - 1; n > 0 && i >= 0; i--) {
            if (!fds[2 + i].revents)
                continue;
            if (read_conn(s, &s->conns[i], now, handler, user) == CONN_CLOSE)
                conn_close(s, i);
            if (done && done(user))
                break;
        }
        if (fds[0].revents)
            accept_all(s, now);
        expire(s, now);
    }
    free(fds);
    return ok;
}
