/* libFuzzer target for networkd's OVSDB reader (networkd/ovsdb.c): the
 * input is what ovsdb-server sends, cut into reads where the fuzzer says
 * (each chunk is a length byte and up to that many bytes), fed through
 * ovsdb_feed into one connection whose far end is a socket pair (echo
 * requests are answered there). Then a call is made whose answer is the
 * rest of the stream. Besides the sanitizers it checks that a connection
 * declared dead stays dead and that callbacks see only what was sent. */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "networkd/ovsdb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_update(json_object *params, void *userdata)
{
    size_t *n = userdata;
    /* Borrowed: reading it must be safe. */
    (void)json_object_to_json_string(params);
    (*n)++;
}

/* Reads what the client answered, so that its writes never block. */
static void drain(int fd)
{
    char buf[4096];
    while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
        ;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    int sv[2];
    size_t updates = 0, off = 0;
    int r = 0;

    if (!quiet) {
        log_set_level("*", "err");
        quiet = true;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
        return 0;
    struct ovsdb *db = ovsdb_new(sv[0]);
    ovsdb_set_update_cb(db, on_update, &updates);
    /* Chunks: a length byte, then that many bytes (fewer at the end). A
     * zero length ends the chunks: the rest answers a call. */
    while (off < size && r == 0) {
        size_t len = data[off++];
        if (len == 0)
            break;
        if (len > size - off)
            len = size - off;
        r = ovsdb_feed(db, (const char *)data + off, len);
        assert(r == 0 || r == -EBADMSG);
        off += len;
        drain(sv[1]);
    }
    assert(updates <= size);
    if (r == 0 && off < size) {
        /* The server's answer to the first call is the rest. */
        ssize_t n = write(sv[1], data + off, size - off);
        (void)n;
        shutdown(sv[1], SHUT_WR);
        json_object *result = NULL, *error = NULL;
        r = ovsdb_call(db, "transact", NULL, 5, &result, &error);
        assert(r == 0 || r == -EPROTO || r == -ECONNRESET || r == -EBADMSG);
        assert(r == 0 || !result);
        json_object_put(result);
        json_object_put(error);
    }
    ovsdb_free(db);
    close(sv[1]);
    return 0;
}
