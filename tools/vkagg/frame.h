/* vkagg's wire protocol (docs/federated.md): over one TCP connection a
 * client sends frames, each a u32 little-endian length L (1..the
 * server's cap) then L bytes holding one update packet; the server
 * answers every frame with one byte: FRAME_REPLY_ACCEPTED, the
 * vkt_fed_refusal that refused it, or FRAME_REPLY_BAD_FRAME (length 0 or
 * over the cap), after which it closes the connection. */
#ifndef VKAGG_FRAME_H
#define VKAGG_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_BYTES 4
#define FRAME_REPLY_ACCEPTED 0
#define FRAME_REPLY_BAD_FRAME 255

/* Client side, blocking with a timeout per call: connect to host:port
 * (names or numeric addresses); returns the socket or -1 with err set. */
int frame_connect(const char *host, uint16_t port, double timeout_s, char *err, size_t err_size);
/* Send one frame and read its reply byte. */
bool frame_send(int fd, const uint8_t *data, size_t size, uint8_t *reply, char *err, size_t err_size);
/* Send raw bytes (tests: garbage, half frames). */
bool frame_send_raw(int fd, const void *data, size_t size, char *err, size_t err_size);
/* Read the reply byte; false at end of stream or timeout. */
bool frame_read_reply(int fd, uint8_t *reply, char *err, size_t err_size);

uint32_t frame_le32(const uint8_t b[4]);
void frame_put_le32(uint8_t b[4], uint32_t v);

#endif
