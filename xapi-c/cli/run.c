/* POST /cli: from the request body to a finished command (xe-cli.md 1, 5).
 * The body is the command line, one word per line; the connection is taken
 * over from the HTTP server for the protocol's handshake and commands. The
 * words are tokenised as xapi does, the command found in the table, its
 * required parameters checked before any login, a session made for it
 * through session.login_with_password (root on the Unix socket is trusted)
 * and ended afterwards; every path ends with an Exit command. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "lib/log.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/dispatch.h"
#include "xapi-c/sessions.h"

LOG_MODULE("cli");

/* How long one read or write to the client may take. The client answers
 * Prompt with a line the user types, so this is generous. */
#define CLI_IO_TIMEOUT_MS (15 * 60 * 1000)

static const char *const stdparams[] = {"server",           "password", "port",     "username",
                                        "minimal",          "force",    "multiple", "all",
                                        "message-priority", "trace",    NULL};

bool cli_is_stdparam(const char *name)
{
    for (const char *const *p = stdparams; *p; p++)
        if (streq(*p, name))
            return true;
    return false;
}

const char *cli_arg(const struct cli_ctx *ctx, const char *name)
{
    for (size_t i = 0; i < ctx->n_args; i++)
        if (streq(ctx->args[i].name, name))
            return ctx->args[i].value;
    return NULL;
}

bool cli_arg_bool(const struct cli_ctx *ctx, const char *name, bool def)
{
    static const char *const yes[] = {"true", "t", "yes", "y", "1"};
    static const char *const no[] = {"false", "f", "no", "n", "0"};
    const char *v = cli_arg(ctx, name);

    if (!v)
        return def;
    for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return true;
        if (strcasecmp(v, no[i]) == 0)
            return false;
    }
    return def;
}

static int usage_error(struct cli_ctx *ctx, const char *line)
{
    cli_print_stderr(ctx, "%s", line);
    cli_print_stderr(ctx, "For usage run: 'xe help'");
    return 1;
}

/* Logs in as xe's username= and password= say, through the same handler
 * as session.login_with_password. */
static int login(struct cli_ctx *ctx)
{
    const char *user = cli_arg(ctx, "username"), *pw = cli_arg(ctx, "password");
    const struct method *m = api_find_method("session.login_with_password");
    struct call *c;
    struct out o;
    struct api_error *e;

    if (!user || !*user)
        return usage_error(ctx, "Username/password must be specified");
    c = xcalloc(1, sizeof(*c));
    c->m = m;
    c->wire_name = xstrdup(m->wire);
    c->originator = xstrdup("cli");
    c->client_addr = xstrdup(ctx->peer ? ctx->peer : "");
    c->local = ctx->local;
    c->n_args = m->n_params;
    c->args = xcalloc((size_t)m->n_params + 1, sizeof(char *));
    for (int i = 0; i < m->n_params; i++)
        c->args[i] = xstrdup(i == 0 ? user : i == 1 ? (pw ? pw : "") : i == 2 ? "1.0" : "cli");
    out_init(&o, WIRE_JSON);
    c->out = &o;
    e = dispatch_run(c);
    if (!e) {
        size_t len;
        const char *v = out_value(&o, &len);
        /* The value is a JSON string of a ref, which needs no unescaping. */
        if (len >= 2 && len - 2 < sizeof(ctx->session)) {
            memcpy(ctx->session, v + 1, len - 2);
            ctx->session[len - 2] = '\0';
        }
    }
    out_done(&o);
    call_free(c);
    if (e) {
        bool auth = streq(e->code, "SESSION_AUTHENTICATION_FAILED");
        if (!auth)
            return cli_fail_api(ctx, e);
        api_error_free(e);
        return usage_error(ctx, "Authentication failed");
    }
    return 0;
}

static int run(struct cli_ctx *ctx, const char *name)
{
    const struct cli_cmd *cmd = cli_find(name);
    int r;

    if (!cmd) {
        struct strbuf sb;
        strbuf_init(&sb, 64);
        strbuf_addf(&sb, "Unknown command: %s", name);
        r = usage_error(ctx, sb.buf);
        strbuf_done(&sb);
        return r;
    }
    ctx->cmd = cmd;
    for (const char *const *p = cmd->reqd; p && *p; p++)
        if (!cli_arg(ctx, *p)) {
            cli_print_stderr(ctx, "Required parameter not found: %s", *p);
            cli_print_stderr(ctx, "For usage run: 'xe help'");
            return 1;
        }
    if (!(cmd->flags & CMD_NO_LOGIN) && (r = login(ctx)))
        return r;
    r = cmd->fn(ctx);
    if (r == 0)
        cli_flush_minimal(ctx);
    if (ctx->session[0]) {
        api_error_free(session_destroy(ctx->session));
        ctx->session[0] = '\0';
    }
    return r;
}

void cli_http(const struct http_request *req, struct http_response *resp)
{
    struct cli_conn conn = {
        .fd = req->fd, .tls = req->tls_session, .timeout_ms = CLI_IO_TIMEOUT_MS};
    struct cli_ctx ctx = {.conn = &conn, .local = req->local, .peer = req->peer};
    char *name = NULL;
    int code;

    if (req->body_len > CLI_MAX_BODY) {
        resp->status = 413;
        resp->content_type = "text/plain";
        resp->close = true;
        strbuf_adds(&resp->body, "Request body too large\n");
        return;
    }
    if (req->fd < 0) {
        resp->status = 500;
        resp->close = true;
        return;
    }
    resp->hijacked = true;
    cli_init();
    if (cli_proto_handshake(&conn) < 0) {
        log_info("a client on /cli from %s did not speak the thin CLI protocol", req->peer);
        cli_conn_close(&conn);
        return;
    }
    strbuf_init(&ctx.min, 0);
    if (cli_tokenise(req->body, req->body_len, &name, &ctx.args, &ctx.n_args) < 0)
        code = usage_error(&ctx, "Syntax error: ");
    else {
        ctx.minimal = cli_arg_bool(&ctx, "minimal", false);
        log_info("xe %s from %s", name, req->peer);
        code = run(&ctx, name);
    }
    cli_send_exit(&conn, code);
    cli_conn_close(&conn);
    if (ctx.session[0])
        api_error_free(session_destroy(ctx.session));
    free(name);
    cli_args_free(ctx.args, ctx.n_args);
    strbuf_done(&ctx.min);
}
