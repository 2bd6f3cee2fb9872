/* xe's printer (xe-cli.md 2.1, 2.4): records with their aligned keys, list
 * items and messages, --minimal collection with its escaping, and errors in
 * the multi-line form xe shows, with each code's documentation sentence. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lib/util.h"
#include "xapi-c/db.h"
#include "xapi-c/model.h"

struct errdoc {
    const char *code;
    const char *doc;
};

static const struct errdoc errdocs[] = {
#define ERRDOC(c, d) {#c, d},
#include "errdocs.def"
#undef ERRDOC
};

static const char *errdoc_find(const char *code)
{
    for (size_t i = 0; i < ELEMENTSOF(errdocs); i++)
        if (streq(errdocs[i].code, code))
            return errdocs[i].doc;
    return NULL;
}

static const char *err_param_names(const char *code)
{
    for (size_t i = 0; i < ERR__COUNT; i++)
        if (streq(model_errors[i].code, code))
            return model_errors[i].params;
    return NULL;
}

void cli_record_add(struct cli_record *r, const char *key, const char *val)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 16;
        r->keys = xrealloc(r->keys, r->cap * sizeof(char *));
        r->vals = xrealloc(r->vals, r->cap * sizeof(char *));
    }
    r->keys[r->n] = xstrdup(key);
    r->vals[r->n] = xstrdup(val);
    r->n++;
}

void cli_record_done(struct cli_record *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->keys[i]);
        free(r->vals[i]);
    }
    free(r->keys);
    free(r->vals);
    *r = (struct cli_record){0};
}

/* Adds one --minimal item: ',' and '\' inside it are escaped. */
static void minimal_add(struct cli_ctx *ctx, const char *s)
{
    if (ctx->n_min++ > 0)
        strbuf_addc(&ctx->min, ',');
    for (; *s; s++) {
        if (*s == ',' || *s == '\\')
            strbuf_addc(&ctx->min, '\\');
        strbuf_addc(&ctx->min, *s);
    }
}

void cli_print_record(struct cli_ctx *ctx, const struct cli_record *r)
{
    struct strbuf sb;
    size_t width = 0;

    if (r->n == 0)
        return;
    if (ctx->minimal) {
        minimal_add(ctx, r->vals[0]);
        return;
    }
    for (size_t i = 0; i < r->n; i++)
        if (strlen(r->keys[i]) > width)
            width = strlen(r->keys[i]);
    width += 4;
    strbuf_init(&sb, 256);
    for (size_t i = 0; i < r->n; i++) {
        /* The first key is left-aligned, the others right-aligned. */
        if (i == 0)
            strbuf_addf(&sb, "%-*s: %s\n", (int)width, r->keys[i], r->vals[i]);
        else
            strbuf_addf(&sb, "%*s: %s\n", (int)width, r->keys[i], r->vals[i]);
    }
    /* The client adds a newline of its own: two empty lines in all. */
    strbuf_addc(&sb, '\n');
    cli_send_print(ctx->conn, sb.buf);
    strbuf_done(&sb);
}

void cli_print_item(struct cli_ctx *ctx, const char *text)
{
    if (ctx->minimal)
        minimal_add(ctx, text);
    else
        cli_send_print(ctx->conn, text);
}

void cli_print_message(struct cli_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    struct strbuf sb;

    if (ctx->minimal)
        return;
    strbuf_init(&sb, 128);
    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    cli_send_print(ctx->conn, sb.buf);
    strbuf_done(&sb);
}

void cli_print_stderr(struct cli_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    struct strbuf sb;

    strbuf_init(&sb, 128);
    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    strbuf_addc(&sb, '\n');
    cli_send_stderr(ctx->conn, sb.buf);
    strbuf_done(&sb);
}

int cli_fail(struct cli_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    struct strbuf sb;

    strbuf_init(&sb, 128);
    strbuf_adds(&sb, "Error: ");
    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    strbuf_addc(&sb, '\n');
    cli_send_stderr(ctx->conn, sb.buf);
    strbuf_done(&sb);
    return 1;
}

/* An OpaqueRef parameter shows as "<uuid> (<name-label>)" when it names an
 * object of any class. */
static void render_param(const char *v, struct strbuf *out)
{
    if (strncmp(v, "OpaqueRef:", 10) == 0) {
        db_rdlock();
        for (int c = 0; c < C__COUNT; c++) {
            const struct row *r;
            if (!(model_classes[c].flags & CF_DB) || !(r = db_get(c, v)))
                continue;
            const struct class_desc *cd = &model_classes[c];
            const char *uuid = cd->uuid_field >= 0 ? r->v[cd->uuid_field] : NULL;
            const char *name = cd->name_label_field >= 0 ? r->v[cd->name_label_field] : NULL;
            if (uuid) {
                strbuf_adds(out, uuid);
                if (name)
                    strbuf_addf(out, " (%s)", name);
                db_unlock();
                return;
            }
        }
        db_unlock();
    }
    strbuf_adds(out, v);
}

void cli_render_api_error(const struct api_error *e, struct strbuf *out)
{
    const char *doc = errdoc_find(e->code);
    const char *names = err_param_names(e->code);
    size_t i = 0;

    strbuf_addf(out, "%s\n", doc);
    /* One line per declared parameter, then the extra values. */
    for (const char *p = names && *names ? names : NULL; p; i++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        strbuf_addf(out, "%.*s: ", (int)len, p);
        if (i < e->n)
            render_param(e->params[i], out);
        else
            strbuf_adds(out, "<unknown>");
        strbuf_addc(out, '\n');
        p = comma ? comma + 1 : NULL;
    }
    for (; i < e->n; i++) {
        strbuf_adds(out, "<extra>: ");
        render_param(e->params[i], out);
        strbuf_addc(out, '\n');
    }
}

int cli_fail_api(struct cli_ctx *ctx, struct api_error *e)
{
    if (!errdoc_find(e->code)) {
        /* Codes xe has no sentence for are printed by the client itself. */
        cli_send_error(ctx->conn, e->code, (const char *const *)e->params, e->n);
    } else {
        struct strbuf sb;
        strbuf_init(&sb, 256);
        cli_render_api_error(e, &sb);
        cli_send_stderr(ctx->conn, sb.buf);
        strbuf_done(&sb);
    }
    api_error_free(e);
    return 1;
}

void cli_flush_minimal(struct cli_ctx *ctx)
{
    if (ctx->minimal)
        cli_send_print(ctx->conn, ctx->min.buf ? ctx->min.buf : "");
}
