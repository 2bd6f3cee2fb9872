/* The thin CLI protocol over a taken-over connection (see proto.h). The
 * socket is non-blocking (the HTTP server made it so), so every transfer
 * waits with poll() for at most the connection's timeout. */
#include "proto.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/util.h"

static int wait_fd(struct cli_conn *c, short events)
{
    struct pollfd p = {.fd = c->fd, .events = events};
    int r;

    do
        r = poll(&p, 1, c->timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    if (r == 0)
        return -ETIMEDOUT;
    return 0;
}

static int write_all(struct cli_conn *c, const void *buf, size_t len)
{
    const char *p = buf;

    if (c->broken)
        return -EPIPE;
    while (len > 0) {
        ssize_t n;
        if (c->tls) {
            n = gnutls_record_send(c->tls, p, len);
            if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
                if (wait_fd(c, POLLOUT) < 0)
                    goto fail;
                continue;
            }
            if (n < 0)
                goto fail;
        } else {
            n = send(c->fd, p, len, MSG_NOSIGNAL);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                if (wait_fd(c, POLLOUT) < 0)
                    goto fail;
                continue;
            }
            if (n <= 0)
                goto fail;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
fail:
    c->broken = true;
    return -EPIPE;
}

static int read_all(struct cli_conn *c, void *buf, size_t len)
{
    char *p = buf;

    if (c->broken)
        return -EPIPE;
    while (len > 0) {
        ssize_t n;
        if (c->tls) {
            n = gnutls_record_recv(c->tls, p, len);
            if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
                if (wait_fd(c, POLLIN) < 0)
                    goto fail;
                continue;
            }
            if (n <= 0)
                goto fail;
        } else {
            n = recv(c->fd, p, len, 0);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                if (wait_fd(c, POLLIN) < 0)
                    goto fail;
                continue;
            }
            if (n <= 0)
                goto fail;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
fail:
    c->broken = true;
    return -EPIPE;
}

static void put_u32(struct strbuf *sb, uint32_t v)
{
    unsigned char b[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff};
    strbuf_add(sb, b, 4);
}

static uint32_t get_u32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void put_string(struct strbuf *sb, const char *s)
{
    size_t n = strlen(s);
    put_u32(sb, (uint32_t)n);
    strbuf_add(sb, s, n);
}

/* Sends one framed message whose payload (tags onward) is in payload. */
static int send_frame(struct cli_conn *c, const struct strbuf *payload)
{
    struct strbuf sb;
    int r;

    strbuf_init(&sb, payload->len + 4);
    put_u32(&sb, (uint32_t)payload->len);
    strbuf_add(&sb, payload->buf, payload->len);
    r = write_all(c, sb.buf, sb.len);
    strbuf_done(&sb);
    return r;
}

/* Reads one framed message of at most 64 bytes (responses and blob
 * headers are a few ints) into buf; its length goes to ret_len. */
static int recv_frame(struct cli_conn *c, unsigned char buf[64], size_t *ret_len)
{
    unsigned char h[4];
    uint32_t len;
    int r;

    if ((r = read_all(c, h, 4)) < 0)
        return r;
    len = get_u32(h);
    if (len < 4 || len > 64) {
        c->broken = true;
        return -EPROTO;
    }
    if ((r = read_all(c, buf, len)) < 0)
        return r;
    *ret_len = len;
    return 0;
}

int cli_proto_handshake(struct cli_conn *c)
{
    struct strbuf sb;
    unsigned char peer[sizeof(CLI_PROTO_PREFIX) - 1 + 8];
    size_t plen = sizeof(CLI_PROTO_PREFIX) - 1;
    int r;

    strbuf_init(&sb, sizeof(peer));
    strbuf_adds(&sb, CLI_PROTO_PREFIX);
    put_u32(&sb, CLI_PROTO_MAJOR);
    put_u32(&sb, CLI_PROTO_MINOR);
    r = write_all(c, sb.buf, sb.len);
    strbuf_done(&sb);
    if (r < 0)
        return r;
    if ((r = read_all(c, peer, sizeof(peer))) < 0)
        return r;
    if (memcmp(peer, CLI_PROTO_PREFIX, plen) != 0 || get_u32(peer + plen) != CLI_PROTO_MAJOR) {
        c->broken = true;
        return -EPROTO;
    }
    return 0;
}

static int send_command_string(struct cli_conn *c, enum cli_cmd_tag tag, const char *text)
{
    struct strbuf sb;
    int r;

    strbuf_init(&sb, strlen(text) + 16);
    put_u32(&sb, CLI_MSG_COMMAND);
    put_u32(&sb, tag);
    put_string(&sb, text);
    r = send_frame(c, &sb);
    strbuf_done(&sb);
    return r;
}

int cli_send_print(struct cli_conn *c, const char *text)
{
    return send_command_string(c, CLI_PRINT, text);
}

int cli_send_stderr(struct cli_conn *c, const char *text)
{
    return send_command_string(c, CLI_PRINT_STDERR, text);
}

int cli_send_exit(struct cli_conn *c, int code)
{
    struct strbuf sb;
    int r;

    strbuf_init(&sb, 12);
    put_u32(&sb, CLI_MSG_COMMAND);
    put_u32(&sb, CLI_EXIT);
    put_u32(&sb, (uint32_t)code);
    r = send_frame(c, &sb);
    strbuf_done(&sb);
    return r;
}

int cli_send_error(struct cli_conn *c, const char *code, const char *const *params, size_t n)
{
    struct strbuf sb;
    int r;

    strbuf_init(&sb, 64);
    put_u32(&sb, CLI_MSG_COMMAND);
    put_u32(&sb, CLI_ERROR);
    put_string(&sb, code);
    put_u32(&sb, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        put_string(&sb, params[i]);
    r = send_frame(c, &sb);
    strbuf_done(&sb);
    return r;
}

/* Reads the client's response to a command: 0 for OK, -ENOENT for Failed.
 * Wait heartbeats are skipped. */
static int recv_response(struct cli_conn *c)
{
    for (;;) {
        unsigned char buf[64];
        size_t len;
        int r = recv_frame(c, buf, &len);
        if (r < 0)
            return r;
        if (len != 8 || get_u32(buf) != CLI_MSG_RESPONSE)
            goto bad;
        switch (get_u32(buf + 4)) {
        case CLI_RESP_OK:
            return 0;
        case CLI_RESP_FAILED:
            return -ENOENT;
        case CLI_RESP_WAIT:
            continue;
        default:
            goto bad;
        }
    }
bad:
    c->broken = true;
    return -EPROTO;
}

/* Reads Chunk/End blobs into out, refusing more than max bytes. */
static int recv_blobs(struct cli_conn *c, size_t max, struct strbuf *out)
{
    for (;;) {
        unsigned char buf[64];
        size_t len;
        int r = recv_frame(c, buf, &len);
        if (r < 0)
            return r;
        if (len < 8 || get_u32(buf) != CLI_MSG_BLOB)
            goto bad;
        if (get_u32(buf + 4) == CLI_BLOB_END && len == 8)
            return 0;
        if (get_u32(buf + 4) != CLI_BLOB_CHUNK || len != 12)
            goto bad;
        uint32_t n = get_u32(buf + 8);
        if (n > max || out->len > max - n) {
            c->broken = true;
            return -EFBIG;
        }
        strbuf_grow(out, n + 1);
        if ((r = read_all(c, out->buf + out->len, n)) < 0)
            return r;
        out->len += n;
        out->buf[out->len] = '\0';
    }
bad:
    c->broken = true;
    return -EPROTO;
}

int cli_load(struct cli_conn *c, const char *name, size_t max, struct strbuf *out)
{
    int r = send_command_string(c, CLI_LOAD, name);
    if (r < 0)
        return r;
    if ((r = recv_response(c)) < 0)
        return r;
    return recv_blobs(c, max, out);
}

int cli_prompt(struct cli_conn *c, struct strbuf *out)
{
    struct strbuf sb;
    int r;

    strbuf_init(&sb, 8);
    put_u32(&sb, CLI_MSG_COMMAND);
    put_u32(&sb, CLI_PROMPT);
    r = send_frame(c, &sb);
    strbuf_done(&sb);
    if (r < 0)
        return r;
    if ((r = recv_blobs(c, 64 * 1024, out)) < 0)
        return r;
    while (out->len > 0 && (out->buf[out->len - 1] == '\n' || out->buf[out->len - 1] == '\r'))
        out->buf[--out->len] = '\0';
    return 0;
}

int cli_http_transfer(struct cli_conn *c, enum cli_cmd_tag tag, const char *file, const char *url,
                      int silence_ms)
{
    struct strbuf sb;
    int r, saved = c->timeout_ms;

    strbuf_init(&sb, strlen(file) + strlen(url) + 16);
    put_u32(&sb, CLI_MSG_COMMAND);
    put_u32(&sb, tag);
    put_string(&sb, file);
    put_string(&sb, url);
    r = send_frame(c, &sb);
    strbuf_done(&sb);
    /* The client answers when its side connection is done: a transfer may
     * take hours, with a Wait heartbeat every few minutes. */
    c->timeout_ms = silence_ms;
    if (r == 0)
        r = recv_response(c);
    c->timeout_ms = saved;
    return r;
}

void cli_conn_close(struct cli_conn *c)
{
    if (c->tls && !c->broken)
        gnutls_bye(c->tls, GNUTLS_SHUT_WR);
    else if (!c->tls)
        shutdown(c->fd, SHUT_WR);
    c->broken = true;
}
