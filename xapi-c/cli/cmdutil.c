/* Helpers the files of custom commands share (storage_ops.c, network_ops.c,
 * snapshot_ops.c): the map parameters of creation commands, uuid
 * parameters turned into refs with XCP's error, enum parameters parsed as
 * XCP's generated parsers do, the uuid of a new object printed, and data
 * source lists. */
#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/model.h"

char *cli_read_map(const struct cli_ctx *ctx, const char *prefix, bool legacy)
{
    size_t pl = strlen(prefix);
    struct strbuf sb;
    bool first = true;

    strbuf_init(&sb, 64);
    strbuf_addc(&sb, '{');
    for (size_t i = 0; i < ctx->n_args; i++) {
        const char *n = ctx->args[i].name;
        if (strncmp(n, prefix, pl) != 0 || !(n[pl] == ':' || (legacy && n[pl] == '-')) ||
            !n[pl + 1])
            continue;
        if (!first)
            strbuf_addc(&sb, ',');
        first = false;
        strlist_add_quoted(&sb, n + pl + 1, strlen(n + pl + 1));
        strbuf_addc(&sb, ':');
        strlist_add_quoted(&sb, ctx->args[i].value, strlen(ctx->args[i].value));
    }
    strbuf_addc(&sb, '}');
    char *text = strbuf_detach(&sb, NULL);
    strbuf_done(&sb);
    return text;
}

char *cli_ref_arg(struct cli_ctx *ctx, int cls, const char *name)
{
    const char *uuid = cli_arg(ctx, name);
    char *ref = uuid ? cli_ref_of(cls, uuid) : NULL;
    if (!ref)
        cli_fail_api(ctx, api_fail(UUID_INVALID, model_classes[cls].name, uuid ? uuid : ""));
    return ref;
}

int cli_print_new(struct cli_ctx *ctx, int cls, const char *ref)
{
    _cleanup_free_ char *uuid = cli_uuid_of(cls, ref);
    cli_print_item(ctx, uuid ? uuid : ref);
    return 0;
}

const char *cli_enum_arg(struct cli_ctx *ctx, const char *enum_name, const char *text)
{
    const struct enum_desc *en = model_enum_by_name(enum_name);
    struct strbuf sb;

    if (!en) {
        cli_fail_api(ctx, api_failf(INTERNAL_ERROR, "cli: no enum %s", enum_name));
        return NULL;
    }
    for (size_t i = 0; i < en->n_values; i++)
        if (strcasecmp(en->values[i], text) == 0)
            return en->values[i];
    /* XCP's generated parser names the values as declared and echoes the
     * text lowercased, as it compared it. */
    strbuf_init(&sb, 64);
    strbuf_adds(&sb, "Expected one of ");
    for (size_t i = 0; i < en->n_values; i++)
        strbuf_addf(&sb, "%s'%s'", i ? ", " : "", en->values[i]);
    strbuf_adds(&sb, ", got ");
    for (const char *p = text; *p; p++)
        strbuf_addc(&sb, (char)tolower((unsigned char)*p));
    cli_fail(ctx, "%s", sb.buf);
    strbuf_done(&sb);
    return NULL;
}

int cli_create_print(struct cli_ctx *ctx, int cls, const struct cli_fv *fv, size_t n)
{
    _cleanup_free_ char *ref = NULL;
    struct api_error *e = cli_call_create(ctx, cls, fv, n, &ref);
    return e ? cli_fail_api(ctx, e) : cli_print_new(ctx, cls, ref);
}

/* A float as OCaml's string_of_float writes it (xe prints data sources'
 * bounds so). */
static void ocaml_float(double v, char buf[48])
{
    snprintf(buf, 48, "%.12g", v);
    if (!strpbrk(buf, ".eni"))
        strcat(buf, ".");
}

void cli_print_data_sources(struct cli_ctx *ctx, const char *json)
{
    json_object *list = json_tokener_parse(json);
    size_t n = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *ds = json_object_array_get_idx(list, i), *v;
        struct cli_record rec = {0};
        char lo[48] = "0.", hi[48] = "0.";
        if (json_object_object_get_ex(ds, "min", &v))
            ocaml_float(json_object_get_double(v), lo);
        if (json_object_object_get_ex(ds, "max", &v))
            ocaml_float(json_object_get_double(v), hi);
        const char *keys[] = {"name_label", "name_description", "enabled", "standard"};
        for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
            v = NULL;
            json_object_object_get_ex(ds, keys[k], &v);
            cli_record_add(&rec, keys[k], v ? json_object_get_string(v) : "");
        }
        cli_record_add(&rec, "min", lo);
        cli_record_add(&rec, "max", hi);
        v = NULL;
        json_object_object_get_ex(ds, "units", &v);
        cli_record_add(&rec, "units", v ? json_object_get_string(v) : "");
        cli_print_record(ctx, &rec);
        cli_record_done(&rec);
    }
    json_object_put(list);
}
