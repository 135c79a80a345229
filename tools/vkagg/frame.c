/* vkagg's frame protocol, client side (frame.h): blocking sockets with
 * send and receive timeouts. */
#include "frame.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

uint32_t frame_le32(const uint8_t b[4])
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

void frame_put_le32(uint8_t b[4], uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static void set_timeouts(int fd, double timeout_s)
{
    struct timeval tv = {.tv_sec = (time_t)timeout_s, .tv_usec = (suseconds_t)((timeout_s - (double)(time_t)timeout_s) * 1e6)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

int frame_connect(const char *host, uint16_t port, double timeout_s, char *err, size_t err_size)
{
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *list = NULL;
    int gai = getaddrinfo(host, service, &hints, &list);
    if (gai != 0) {
        snprintf(err, err_size, "cannot resolve '%s': %s", host, gai_strerror(gai));
        return -1;
    }
    int fd = -1, last_errno = 0;
    for (struct addrinfo *ai = list; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        set_timeouts(fd, timeout_s);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            last_errno = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(list);
    if (fd < 0)
        snprintf(err, err_size, "cannot connect to %s port %u: %s", host, (unsigned)port, strerror(last_errno));
    return fd;
}

bool frame_send_raw(int fd, const void *data, size_t size, char *err, size_t err_size)
{
    const uint8_t *p = data;
    while (size > 0) {
        ssize_t n = send(fd, p, size, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, err_size, "send failed: %s", n < 0 ? strerror(errno) : "connection closed");
            return false;
        }
        p += n;
        size -= (size_t)n;
    }
    return true;
}

bool frame_read_reply(int fd, uint8_t *reply, char *err, size_t err_size)
{
    for (;;) {
        ssize_t n = recv(fd, reply, 1, 0);
        if (n == 1)
            return true;
        if (n < 0 && errno == EINTR)
            continue;
        snprintf(err, err_size, "no reply from the aggregator: %s",
                 n == 0 ? "connection closed" : strerror(errno));
        return false;
    }
}

bool frame_send(int fd, const uint8_t *data, size_t size, uint8_t *reply, char *err, size_t err_size)
{
    if (size == 0 || size > UINT32_MAX) {
        snprintf(err, err_size, "a frame holds 1 to 4 GiB, not %zu bytes", size);
        return false;
    }
    uint8_t head[FRAME_HEADER_BYTES];
    frame_put_le32(head, (uint32_t)size);
    return frame_send_raw(fd, head, sizeof head, err, err_size) && frame_send_raw(fd, data, size, err, err_size) &&
           frame_read_reply(fd, reply, err, err_size);
}
