/* libFuzzer target for what xapi reads from an xe client (xe-cli.md 5):
 * the /cli request body through the tokeniser, and the client's side of
 * the thin protocol (version handshake, Load and Prompt answers: responses,
 * Wait heartbeats, chunked blobs) through proto.c over a socket pair whose
 * far end holds the input. Besides the sanitizers, it checks what the
 * tokeniser promises: a command without '=', every argument named. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/strbuf.h"
#include "xapi-c/cli/cli.h"
#include "xapi-c/cli/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void tokenise(const uint8_t *data, size_t size)
{
    char *cmd = NULL;
    struct cli_arg *args = NULL;
    size_t n = 0;

    if (cli_tokenise((const char *)data, size, &cmd, &args, &n) < 0)
        return;
    assert(cmd && *cmd && !strchr(cmd, '='));
    for (size_t i = 0; i < n; i++)
        assert(args[i].name && args[i].value);
    free(cmd);
    cli_args_free(args, n);
}

/* The server's reads of the client: the input is everything the client
 * sends, then it hangs up. */
static void protocol(const uint8_t *data, size_t size)
{
    int sv[2];
    struct strbuf sb;

    /* A socket buffer holds any input libFuzzer makes by default (4 KiB)
     * and what the server writes back, so neither side blocks. */
    if (size > 64 * 1024 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return;
    if (size && write(sv[1], data, size) != (ssize_t)size) {
        close(sv[0]);
        close(sv[1]);
        return;
    }
    shutdown(sv[1], SHUT_WR);
    struct cli_conn c = {.fd = sv[0], .timeout_ms = 1000};
    strbuf_init(&sb, 0);
    if (cli_proto_handshake(&c) == 0 && cli_load(&c, "file", 1024 * 1024, &sb) == 0) {
        assert(sb.len <= 1024 * 1024);
        strbuf_reset(&sb);
        (void)cli_prompt(&c, &sb);
    }
    cli_send_exit(&c, 0);
    cli_conn_close(&c);
    strbuf_done(&sb);
    close(sv[0]);
    close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tokenise(data, size);
    protocol(data, size);
    return 0;
}
