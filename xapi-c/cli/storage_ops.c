/* The storage commands of xe (xe-cli.md 3.4-3.8, 4.2): SRs, PBDs, VDIs and
 * VBDs, and the VM disk and CD commands built on them. Each runs the API
 * messages XCP's CLI runs, with XCP's parameters, and prints what it
 * prints: the uuid of what it made, the probe XML, or records. The table of
 * these commands is at the end of the file. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/db.h"
#include "xapi-c/model.h"

#define PARAMS(...) ((const char *const[]){__VA_ARGS__, NULL})

static const char *tf(bool b)
{
    return b ? "true" : "false";
}

/* The keys of every <prefix>:<key>= argument as a canonical set (vdi-create's
 * tags:). */
static char *read_keys(const struct cli_ctx *ctx, const char *prefix)
{
    size_t pl = strlen(prefix);
    struct strbuf sb;
    bool first = true;

    strbuf_init(&sb, 32);
    strbuf_addc(&sb, '[');
    for (size_t i = 0; i < ctx->n_args; i++) {
        const char *n = ctx->args[i].name;
        if (strncmp(n, prefix, pl) != 0 || n[pl] != ':' || !n[pl + 1])
            continue;
        if (!first)
            strbuf_addc(&sb, ',');
        first = false;
        strlist_add_quoted(&sb, n + pl + 1, strlen(n + pl + 1));
    }
    strbuf_addc(&sb, ']');
    char *text = strbuf_detach(&sb, NULL);
    strbuf_done(&sb);
    return text;
}

/* A size argument in bytes (suffixes allowed); prints the error on failure. */
static int size_arg(struct cli_ctx *ctx, const char *name, char **ret)
{
    const char *v = cli_arg(ctx, name);
    int64_t n;
    if (!v || cli_parse_size(v, &n) < 0 || n < 0)
        return cli_fail(ctx,
                        "Failed to parse field '%s': expecting an integer (possibly with suffix "
                        "KiB, MiB, GiB, TiB), got '%s'",
                        name, v ? v : "");
    *ret = xasprintf("%lld", (long long)n);
    return 0;
}

/* The pool master's ref (newly allocated), or NULL. */
static char *master_ref(void)
{
    char *ref = NULL;
    size_t it = 0;
    const struct row *r;
    db_rdlock();
    if (db_next(C_pool, &it, &r))
        ref = xstrdup(r->v[FIDX(pool, master)]);
    db_unlock();
    return ref;
}

static size_t count_rows(int cls)
{
    db_rdlock();
    size_t n = db_count(cls);
    db_unlock();
    return n;
}

/* ---- SRs and PBDs ---- */

/* device-config:<k>-filename=<path>: the key becomes <k> and the value the
 * file's contents, which the client uploads (Load). */
static int load_filename_keys(struct cli_ctx *ctx, char **dc)
{
    struct strlist_iter it;
    const char *k, *v;
    struct strbuf out;
    bool first = true;
    int r = 0;

    strbuf_init(&out, 64);
    strbuf_addc(&out, '{');
    strlist_iter_init(&it, *dc);
    while (r == 0 && strlist_iter_next(&it, &k, &v)) {
        size_t kl = strlen(k);
        struct strbuf content;
        strbuf_init(&content, 0);
        if (!first)
            strbuf_addc(&out, ',');
        first = false;
        if (kl > 9 && streq(k + kl - 9, "-filename")) {
            if (cli_load(ctx->conn, v, CLI_MAX_LOAD, &content) < 0)
                r = cli_fail(ctx, "Failed to read file %s", v);
            strlist_add_quoted(&out, k, kl - 9);
            strbuf_addc(&out, ':');
            strlist_add_quoted(&out, content.buf ? content.buf : "", content.len);
        } else {
            strlist_add_quoted(&out, k, kl);
            strbuf_addc(&out, ':');
            strlist_add_quoted(&out, v, strlen(v));
        }
        strbuf_done(&content);
    }
    strlist_iter_done(&it);
    strbuf_addc(&out, '}');
    if (r == 0) {
        free(*dc);
        *dc = strbuf_detach(&out, NULL);
    }
    strbuf_done(&out);
    return r;
}

static int cmd_sr_create(struct cli_ctx *ctx)
{
    bool shared = cli_arg_bool(ctx, "shared", false);
    _cleanup_free_ char *host = NULL, *size = NULL, *sr = NULL;
    _cleanup_free_ char *dc = cli_read_map(ctx, "device-config", false);
    _cleanup_free_ char *smc = cli_read_map(ctx, "sm-config", false);
    const char *ct = cli_arg(ctx, "content-type");
    const char *desc = cli_arg(ctx, "name-description");
    struct api_error *e;

    if (cli_arg(ctx, "host-uuid")) {
        if (!(host = cli_ref_arg(ctx, C_host, "host-uuid")))
            return 1;
    } else if (shared || count_rows(C_host) == 1) {
        host = master_ref();
    } else {
        cli_print_stderr(ctx, "Required parameter not found: host-uuid");
        cli_print_stderr(ctx, "For usage run: 'xe help'");
        return 1;
    }
    if (cli_arg(ctx, "physical-size")) {
        if (size_arg(ctx, "physical-size", &size))
            return 1;
    } else
        size = xstrdup("0");
    if (load_filename_keys(ctx, &dc))
        return 1;
    e = cli_call_str(ctx, "SR.create",
                     (const char *const[]){host, dc, size, cli_arg(ctx, "name-label"),
                                           desc ? desc : "", cli_arg(ctx, "type"), ct ? ct : "",
                                           tf(shared), smc},
                     9, &sr);
    if (e)
        return cli_fail_api(ctx, e);
    /* XCP prints the uuid straight to the client, past the printer. */
    _cleanup_free_ char *uuid = cli_uuid_of(C_SR, sr);
    cli_send_print(ctx->conn, uuid ? uuid : sr);
    return 0;
}

static int cmd_sr_introduce(struct cli_ctx *ctx)
{
    const char *desc = cli_arg(ctx, "name-description"), *ct = cli_arg(ctx, "content-type");
    _cleanup_free_ char *sr = NULL;
    struct api_error *e =
        cli_call_str(ctx, "SR.introduce",
                     (const char *const[]){cli_arg(ctx, "uuid"), cli_arg(ctx, "name-label"),
                                           desc ? desc : "", cli_arg(ctx, "type"), ct ? ct : "",
                                           tf(cli_arg_bool(ctx, "shared", false)), "{}"},
                     7, &sr);
    if (e)
        return cli_fail_api(ctx, e);
    return cli_print_new(ctx, C_SR, sr);
}

static int cmd_sr_probe(struct cli_ctx *ctx)
{
    _cleanup_free_ char *host = NULL, *xml = NULL;
    _cleanup_free_ char *dc = cli_read_map(ctx, "device-config", false);
    _cleanup_free_ char *smc = cli_read_map(ctx, "sm-config", false);

    if (cli_arg(ctx, "host-uuid")) {
        if (!(host = cli_ref_arg(ctx, C_host, "host-uuid")))
            return 1;
    } else
        host = master_ref();
    struct api_error *e = cli_call_str(
        ctx, "SR.probe", (const char *const[]){host, dc, cli_arg(ctx, "type"), smc}, 4, &xml);
    if (e)
        return cli_fail_api(ctx, e);
    cli_print_item(ctx, xml);
    return 0;
}

/* A JSON member as text: strings as they are, numbers and booleans in
 * their JSON spelling; "" when absent. */
static const char *jtext(json_object *o, const char *key)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !v)
        return "";
    return json_object_get_string(v);
}

/* Prints a string map (configuration, extra_info) as one record. */
static void print_map_table(struct cli_ctx *ctx, json_object *o, const char *key)
{
    struct cli_record rec = {0};
    json_object *m;
    if (json_object_object_get_ex(o, key, &m) && json_object_is_type(m, json_type_object)) {
        json_object_object_foreach(m, k, v)
        {
            cli_record_add(&rec, k, v ? json_object_get_string(v) : "");
        }
    }
    cli_print_record(ctx, &rec);
    cli_record_done(&rec);
}

/* The SRs a probe found, then the complete and the incomplete
 * configurations without an SR, each as numbered tables (as xe does). */
static void print_probe_results(struct cli_ctx *ctx, json_object *list)
{
    size_t n = json_object_array_length(list);
    json_object *sr;
    int k = 0;

    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(list, i);
        if (!json_object_object_get_ex(r, "sr", &sr) || !json_object_is_type(sr, json_type_object))
            continue;
        if (k == 0)
            cli_print_message(ctx, "The following SRs were found:");
        struct cli_record rec = {0};
        if (*jtext(sr, "uuid"))
            cli_record_add(&rec, "uuid", jtext(sr, "uuid"));
        cli_record_add(&rec, "name-label", jtext(sr, "name_label"));
        cli_record_add(&rec, "name-description", jtext(sr, "name_description"));
        cli_record_add(&rec, "total-space", jtext(sr, "total_space"));
        cli_record_add(&rec, "free-space", jtext(sr, "free_space"));
        cli_record_add(&rec, "clustered", jtext(sr, "clustered"));
        cli_record_add(&rec, "health", jtext(sr, "health"));
        cli_print_message(ctx, "SR %d:", k);
        cli_print_record(ctx, &rec);
        cli_record_done(&rec);
        cli_print_message(ctx, "SR %d configuration:", k);
        print_map_table(ctx, r, "configuration");
        cli_print_message(ctx, "SR %d extra information:", k);
        print_map_table(ctx, r, "extra_info");
        k++;
    }
    for (int complete = 1; complete >= 0; complete--) {
        k = 0;
        for (size_t i = 0; i < n; i++) {
            json_object *r = json_object_array_get_idx(list, i), *c;
            if (json_object_object_get_ex(r, "sr", &sr) &&
                json_object_is_type(sr, json_type_object))
                continue;
            bool is_complete =
                json_object_object_get_ex(r, "complete", &c) && json_object_get_boolean(c);
            if (is_complete != (bool)complete)
                continue;
            if (k == 0)
                cli_print_message(ctx, complete ? "Found the following complete configurations "
                                                  "that can be used to create SRs:"
                                                : "Found the following incomplete "
                                                  "configurations that may contain SRs:");
            cli_print_message(ctx, "Configuration %d:", k);
            print_map_table(ctx, r, "configuration");
            cli_print_message(ctx, "Configuration %d extra information:", k);
            print_map_table(ctx, r, "extra_info");
            k++;
        }
    }
}

static int cmd_sr_probe_ext(struct cli_ctx *ctx)
{
    _cleanup_free_ char *host = NULL, *json = NULL;
    _cleanup_free_ char *dc = cli_read_map(ctx, "device-config", false);
    _cleanup_free_ char *smc = cli_read_map(ctx, "sm-config", false);

    if (cli_arg(ctx, "host-uuid")) {
        if (!(host = cli_ref_arg(ctx, C_host, "host-uuid")))
            return 1;
    } else
        host = master_ref();
    struct api_error *e = cli_call(
        ctx, "SR.probe_ext", (const char *const[]){host, dc, cli_arg(ctx, "type"), smc}, 4, &json);
    if (e)
        return cli_fail_api(ctx, e);
    json_object *list = json_tokener_parse(json);
    if (!list || !json_object_is_type(list, json_type_array)) {
        json_object_put(list);
        return cli_fail_api(ctx, api_failf(INTERNAL_ERROR, "cli: SR.probe_ext did not return "
                                                           "a list"));
    }
    print_probe_results(ctx, list);
    json_object_put(list);
    return 0;
}

static int cmd_pbd_create(struct cli_ctx *ctx)
{
    _cleanup_free_ char *host = cli_ref_arg(ctx, C_host, "host-uuid");
    _cleanup_free_ char *sr = host ? cli_ref_arg(ctx, C_SR, "sr-uuid") : NULL;
    _cleanup_free_ char *dc = cli_read_map(ctx, "device-config", true);

    if (!sr)
        return 1;
    const struct cli_fv fv[] = {{FIDX(PBD, host), host},
                                {FIDX(PBD, SR), sr},
                                {FIDX(PBD, device_config), dc},
                                {FIDX(PBD, other_config), "{}"}};
    return cli_create_print(ctx, C_PBD, fv, ELEMENTSOF(fv));
}

/* ---- VDIs ---- */

static int cmd_vdi_create(struct cli_ctx *ctx)
{
    _cleanup_free_ char *sr = cli_ref_arg(ctx, C_SR, "sr-uuid"), *size = NULL;
    _cleanup_free_ char *smc = cli_read_map(ctx, "sm-config", false),
                        *tags = read_keys(ctx, "tags");
    const char *type = cli_arg(ctx, "type");
    const char *t = "user";

    if (!sr || size_arg(ctx, "virtual-size", &size))
        return 1;
    if (type) {
        static const char *const ok[] = {"system", "user", "suspend", "crashdump"};
        t = NULL;
        for (size_t i = 0; i < ELEMENTSOF(ok); i++)
            if (strcasecmp(type, ok[i]) == 0)
                t = ok[i];
        if (!t)
            return cli_fail(ctx, "Invalid type '%s': expecting system, user, suspend or crashdump",
                            type);
    }
    const struct cli_fv fv[] = {
        {FIDX(VDI, name_label), cli_arg(ctx, "name-label")},
        {FIDX(VDI, name_description), ""},
        {FIDX(VDI, SR), sr},
        {FIDX(VDI, virtual_size), size},
        {FIDX(VDI, type), t},
        {FIDX(VDI, sharable), tf(cli_arg_bool(ctx, "sharable", false))},
        {FIDX(VDI, read_only), "false"},
        {FIDX(VDI, sm_config), smc},
        {FIDX(VDI, tags), tags},
    };
    return cli_create_print(ctx, C_VDI, fv, ELEMENTSOF(fv));
}

static int cmd_vdi_resize(struct cli_ctx *ctx)
{
    _cleanup_free_ char *vdi = cli_ref_arg(ctx, C_VDI, "uuid"), *size = NULL;
    const char *online = cli_arg(ctx, "online");

    if (!vdi || size_arg(ctx, "disk-size", &size))
        return 1;
    /* Only the exact string "true" counts here, as in xe. */
    struct api_error *e =
        cli_call(ctx, online && streq(online, "true") ? "VDI.resize_online" : "VDI.resize",
                 (const char *const[]){vdi, size}, 2, NULL);
    return e ? cli_fail_api(ctx, e) : 0;
}

/* vdi-snapshot and vdi-clone: the message, then the new names if given. */
static int snapshot_or_clone(struct cli_ctx *ctx, const char *wire)
{
    _cleanup_free_ char *vdi = cli_ref_arg(ctx, C_VDI, "uuid"), *nvdi = NULL;
    _cleanup_free_ char *dp = cli_read_map(ctx, "driver-params", true);
    const char *nl = cli_arg(ctx, "new-name-label"), *nd = cli_arg(ctx, "new-name-description");
    struct api_error *e;

    if (!vdi)
        return 1;
    if ((e = cli_call_str(ctx, wire, (const char *const[]){vdi, dp}, 2, &nvdi)))
        return cli_fail_api(ctx, e);
    if (nl && (e = cli_call(ctx, "VDI.set_name_label", (const char *const[]){nvdi, nl}, 2, NULL)))
        return cli_fail_api(ctx, e);
    if (nd &&
        (e = cli_call(ctx, "VDI.set_name_description", (const char *const[]){nvdi, nd}, 2, NULL)))
        return cli_fail_api(ctx, e);
    return cli_print_new(ctx, C_VDI, nvdi);
}

static int cmd_vdi_snapshot(struct cli_ctx *ctx)
{
    return snapshot_or_clone(ctx, "VDI.snapshot");
}

static int cmd_vdi_clone(struct cli_ctx *ctx)
{
    return snapshot_or_clone(ctx, "VDI.clone");
}

static int cmd_vdi_copy(struct cli_ctx *ctx)
{
    _cleanup_free_ char *vdi = cli_ref_arg(ctx, C_VDI, "uuid"), *sr = NULL, *base = NULL,
                        *into = NULL, *nvdi = NULL;
    bool has_sr = cli_arg(ctx, "sr-uuid") != NULL, has_into = cli_arg(ctx, "into-vdi-uuid");

    if (!vdi)
        return 1;
    if (has_sr == has_into)
        return cli_fail(ctx, "Exactly one of sr-uuid or into-vdi-uuid must be given");
    if (has_sr && !(sr = cli_ref_arg(ctx, C_SR, "sr-uuid")))
        return 1;
    if (has_into && !(into = cli_ref_arg(ctx, C_VDI, "into-vdi-uuid")))
        return 1;
    if (cli_arg(ctx, "base-vdi-uuid") && !(base = cli_ref_arg(ctx, C_VDI, "base-vdi-uuid")))
        return 1;
    struct api_error *e = cli_call_long_str(ctx, "VDI.copy",
                                            (const char *const[]){vdi, sr ? sr : "OpaqueRef:NULL",
                                                                  base ? base : "OpaqueRef:NULL",
                                                                  into ? into : "OpaqueRef:NULL"},
                                            4, &nvdi);
    if (e)
        return cli_fail_api(ctx, e);
    return cli_print_new(ctx, C_VDI, nvdi);
}

static int cmd_vdi_introduce(struct cli_ctx *ctx)
{
    _cleanup_free_ char *sr = cli_ref_arg(ctx, C_SR, "sr-uuid"), *vdi = NULL;
    _cleanup_free_ char *oc = cli_read_map(ctx, "other-config", false);
    _cleanup_free_ char *xd = cli_read_map(ctx, "xenstore-data", false);
    _cleanup_free_ char *smc = cli_read_map(ctx, "sm-config", false);
    const char *nl = cli_arg(ctx, "name-label"), *nd = cli_arg(ctx, "name-description");
    const struct enum_desc *en = model_enum_by_name("vdi_type");
    const char *type = NULL;

    if (!sr)
        return 1;
    for (size_t i = 0; i < en->n_values && !type; i++)
        if (strcasecmp(en->values[i], cli_arg(ctx, "type")) == 0)
            type = en->values[i];
    if (!type)
        return cli_fail(ctx, "Invalid type '%s'", cli_arg(ctx, "type"));
    struct api_error *e =
        cli_call_str(ctx, "VDI.introduce",
                     (const char *const[]){cli_arg(ctx, "uuid"), nl ? nl : "", nd ? nd : "", sr,
                                           type, tf(cli_arg_bool(ctx, "sharable", false)),
                                           tf(cli_arg_bool(ctx, "read-only", false)), oc,
                                           cli_arg(ctx, "location"), xd, smc,
                                           tf(cli_arg_bool(ctx, "managed", true))},
                     12, &vdi);
    if (e)
        return cli_fail_api(ctx, e);
    return cli_print_new(ctx, C_VDI, vdi);
}

/* ---- VBDs ---- */

static int cmd_vbd_create(struct cli_ctx *ctx)
{
    _cleanup_free_ char *vm = cli_ref_arg(ctx, C_VM, "vm-uuid"), *vdi = NULL;
    const char *type = cli_arg(ctx, "type"), *mode = cli_arg(ctx, "mode");
    const char *t = "Disk", *md = "RW";

    if (!vm)
        return 1;
    if (cli_arg(ctx, "vdi-uuid") && !(vdi = cli_ref_arg(ctx, C_VDI, "vdi-uuid")))
        return 1;
    if (type) {
        t = strcasecmp(type, "disk") == 0     ? "Disk"
            : strcasecmp(type, "cd") == 0     ? "CD"
            : strcasecmp(type, "floppy") == 0 ? "Floppy"
                                              : NULL;
        if (!t)
            return cli_fail(ctx, "Unknown type: %s (expecting Disk, CD or Floppy)", type);
    }
    if (mode) {
        md = strcasecmp(mode, "ro") == 0 ? "RO" : strcasecmp(mode, "rw") == 0 ? "RW" : NULL;
        if (!md)
            return cli_fail(ctx, "Unknown mode: %s (expecting RO or RW)", mode);
    }
    if (!vdi && !streq(t, "CD"))
        return cli_fail(ctx, "Empty VBDs can only be made for type=CD");
    const struct cli_fv fv[] = {
        {FIDX(VBD, VM), vm},
        {FIDX(VBD, VDI), vdi ? vdi : "OpaqueRef:NULL"},
        {FIDX(VBD, userdevice), cli_arg(ctx, "device")},
        {FIDX(VBD, bootable), tf(cli_arg_bool(ctx, "bootable", false))},
        {FIDX(VBD, mode), md},
        {FIDX(VBD, type), t},
        {FIDX(VBD, unpluggable), tf(cli_arg_bool(ctx, "unpluggable", true))},
        {FIDX(VBD, empty), tf(!vdi)},
    };
    return cli_create_print(ctx, C_VBD, fv, ELEMENTSOF(fv));
}

static int cmd_vbd_insert(struct cli_ctx *ctx)
{
    _cleanup_free_ char *vbd = cli_ref_arg(ctx, C_VBD, "uuid");
    _cleanup_free_ char *vdi = vbd ? cli_ref_arg(ctx, C_VDI, "vdi-uuid") : NULL;
    if (!vdi)
        return 1;
    struct api_error *e = cli_call(ctx, "VBD.insert", (const char *const[]){vbd, vdi}, 2, NULL);
    return e ? cli_fail_api(ctx, e) : 0;
}

/* ---- the VM disk and CD commands ---- */

typedef int (*vm_fn)(struct cli_ctx *ctx, const char *vm);

/* Runs fn on each VM the selectors pick; the first failure ends it. */
static int each_vm(struct cli_ctx *ctx, const char *const *ignore, vm_fn fn)
{
    char **refs;
    size_t n;
    int r = 0;

    if (cli_select(ctx, cli_view_by_name("vm"), ignore, false, &refs, &n))
        return 1;
    for (size_t i = 0; i < n; i++) {
        if (r == 0)
            r = fn(ctx, refs[i]);
        free(refs[i]);
    }
    free(refs);
    return r;
}

/* The VBDs of a VM of one type, in the VM's order (newly allocated refs). */
static size_t vm_vbds(const char *vm, const char *type, char ***ret)
{
    struct strbuf scratch;
    struct strlist_iter it;
    const char *k, *v;
    char **refs = NULL;
    size_t n = 0;

    strbuf_init(&scratch, 0);
    db_rdlock();
    const struct row *r = db_get(C_VM, vm);
    strlist_iter_init(&it, r ? db_value(r, FIDX(VM, VBDs), &scratch) : "[]");
    while (strlist_iter_next(&it, &k, &v)) {
        const struct row *b = db_get(C_VBD, v);
        if (!b || !streq(b->v[FIDX(VBD, type)], type))
            continue;
        refs = xrealloc(refs, (n + 1) * sizeof(char *));
        refs[n++] = xstrdup(v);
    }
    strlist_iter_done(&it);
    db_unlock();
    strbuf_done(&scratch);
    *ret = refs;
    return n;
}

static void free_refs(char **refs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(refs[i]);
    free(refs);
}

static int disk_add(struct cli_ctx *ctx, const char *vm)
{
    _cleanup_free_ char *sr = NULL, *size = NULL, *vdi = NULL, *vbd = NULL;
    _cleanup_free_ char *uuid = cli_uuid_of(C_VM, vm);
    struct api_error *e;

    if (size_arg(ctx, "disk-size", &size))
        return 1;
    if (cli_arg(ctx, "sr-uuid")) {
        if (!(sr = cli_ref_arg(ctx, C_SR, "sr-uuid")))
            return 1;
    } else {
        size_t it = 0;
        const struct row *r;
        db_rdlock();
        if (db_next(C_pool, &it, &r) && db_get(C_SR, r->v[FIDX(pool, default_SR)]))
            sr = xstrdup(r->v[FIDX(pool, default_SR)]);
        db_unlock();
        if (!sr)
            return cli_fail(ctx, "No SR specified and Pool default SR is null");
    }
    _cleanup_free_ char *smc = xasprintf("{\"vmhint\":\"%s\"}", uuid ? uuid : "");
    const struct cli_fv vdi_fv[] = {
        {FIDX(VDI, name_label), "Created by xe"},
        {FIDX(VDI, SR), sr},
        {FIDX(VDI, virtual_size), size},
        {FIDX(VDI, type), "user"},
        {FIDX(VDI, sm_config), smc},
    };
    if ((e = cli_call_create(ctx, C_VDI, vdi_fv, ELEMENTSOF(vdi_fv), &vdi)))
        return cli_fail_api(ctx, e);
    const struct cli_fv vbd_fv[] = {
        {FIDX(VBD, VM), vm},
        {FIDX(VBD, VDI), vdi},
        {FIDX(VBD, userdevice), cli_arg(ctx, "device")},
        {FIDX(VBD, bootable), "false"},
        {FIDX(VBD, mode), "RW"},
        {FIDX(VBD, type), "Disk"},
        {FIDX(VBD, unpluggable), "true"},
        {FIDX(VBD, empty), "false"},
        {FIDX(VBD, other_config), "{\"owner\":\"\"}"},
    };
    if ((e = cli_call_create(ctx, C_VBD, vbd_fv, ELEMENTSOF(vbd_fv), &vbd))) {
        api_error_free(cli_call(ctx, "VDI.destroy", (const char *const[]){vdi}, 1, NULL));
        return cli_fail_api(ctx, e);
    }
    /* Plugged at once when the VM runs; a failure to plug is not one of
     * the command (xe ignores it too). */
    api_error_free(cli_call(ctx, "VBD.plug", (const char *const[]){vbd}, 1, NULL));
    return 0;
}

static int cmd_vm_disk_add(struct cli_ctx *ctx)
{
    return each_vm(ctx, PARAMS("disk-size", "device", "sr-uuid"), disk_add);
}

/* The VBD of a VM of type at userdevice device (newly allocated), or NULL. */
static char *vbd_at(const char *vm, const char *type, const char *device)
{
    char **refs, *hit = NULL;
    size_t n = vm_vbds(vm, type, &refs);
    for (size_t i = 0; i < n && !hit; i++) {
        _cleanup_free_ char *ud = cli_field_of(C_VBD, refs[i], FIDX(VBD, userdevice));
        if (ud && streq(ud, device))
            hit = xstrdup(refs[i]);
    }
    free_refs(refs, n);
    return hit;
}

static int disk_remove(struct cli_ctx *ctx, const char *vm)
{
    _cleanup_free_ char *vbd = vbd_at(vm, "Disk", cli_arg(ctx, "device"));
    struct api_error *e;
    if (!vbd)
        return cli_fail(ctx, "Disk not found");
    _cleanup_free_ char *vdi = cli_field_of(C_VBD, vbd, FIDX(VBD, VDI));
    if ((e = cli_call(ctx, "VBD.destroy", (const char *const[]){vbd}, 1, NULL)))
        return cli_fail_api(ctx, e);
    if (vdi && (e = cli_call(ctx, "VDI.destroy", (const char *const[]){vdi}, 1, NULL)))
        return cli_fail_api(ctx, e);
    return 0;
}

static int cmd_vm_disk_remove(struct cli_ctx *ctx)
{
    return each_vm(ctx, PARAMS("device"), disk_remove);
}

/* vm-disk-list / vm-cd-list: per VBD, "Disk n VBD:" and its record, then
 * "Disk n VDI:" and the VDI's when it has one. */
int cli_disk_list(struct cli_ctx *ctx, const char *vm, bool cd)
{
    char **refs;
    size_t n = vm_vbds(vm, cd ? "CD" : "Disk", &refs);
    const char *what = cd ? "CD" : "Disk";

    for (size_t i = 0; i < n; i++) {
        cli_print_message(ctx, "%s %zu VBD:", what, i);
        cli_print_object(ctx, "vbd", refs[i],
                         cd ? PARAMS("uuid", "vm-name-label", "userdevice", "empty")
                            : PARAMS("uuid", "vm-name-label", "userdevice"),
                         cli_arg(ctx, "vbd-params"));
        _cleanup_free_ char *empty = cli_field_of(C_VBD, refs[i], FIDX(VBD, empty));
        _cleanup_free_ char *vdi = cli_field_of(C_VBD, refs[i], FIDX(VBD, VDI));
        if (empty && streq(empty, "true"))
            continue;
        cli_print_message(ctx, "%s %zu VDI:", what, i);
        cli_print_object(ctx, "vdi", vdi ? vdi : "",
                         PARAMS("uuid", "name-label", "virtual-size", "sr-name-label"),
                         cli_arg(ctx, "vdi-params"));
    }
    free_refs(refs, n);
    return 0;
}

static int disk_list_disk(struct cli_ctx *ctx, const char *vm)
{
    return cli_disk_list(ctx, vm, false);
}

static int disk_list_cd(struct cli_ctx *ctx, const char *vm)
{
    return cli_disk_list(ctx, vm, true);
}

static int cmd_vm_disk_list(struct cli_ctx *ctx)
{
    return each_vm(ctx, PARAMS("vbd-params", "vdi-params"), disk_list_disk);
}

static int cmd_vm_cd_list(struct cli_ctx *ctx)
{
    return each_vm(ctx, PARAMS("vbd-params", "vdi-params"), disk_list_cd);
}

/* The one ISO VDI called cd-name (an SR with content_type iso); NULL after
 * printing the error. */
static char *iso_by_name(struct cli_ctx *ctx, const char *name)
{
    char *hit = NULL;
    size_t n = 0, it = 0;
    const struct row *r;

    db_rdlock();
    while (db_next(C_VDI, &it, &r)) {
        const struct row *sr;
        if (!streq(r->v[FIDX(VDI, name_label)], name) ||
            !(sr = db_get(C_SR, r->v[FIDX(VDI, SR)])) ||
            !streq(sr->v[FIDX(SR, content_type)], "iso"))
            continue;
        if (n++ == 0)
            hit = xstrdup(r->ref);
    }
    db_unlock();
    if (n == 0)
        cli_fail(ctx, "CD %s not found", name);
    else if (n > 1) {
        cli_fail(ctx, "Multiple CDs named %s found. Please use vbd-insert and specify uuids", name);
        free(hit);
        hit = NULL;
    }
    return hit;
}

static int cd_add(struct cli_ctx *ctx, const char *vm)
{
    _cleanup_free_ char *vdi = iso_by_name(ctx, cli_arg(ctx, "cd-name")), *vbd = NULL;
    if (!vdi)
        return 1;
    const struct cli_fv fv[] = {
        {FIDX(VBD, VM), vm},
        {FIDX(VBD, VDI), vdi},
        {FIDX(VBD, userdevice), cli_arg(ctx, "device")},
        {FIDX(VBD, bootable), "false"},
        {FIDX(VBD, mode), "RO"},
        {FIDX(VBD, type), "CD"},
        {FIDX(VBD, unpluggable), "true"},
        {FIDX(VBD, empty), "false"},
    };
    struct api_error *e = cli_call_create(ctx, C_VBD, fv, ELEMENTSOF(fv), &vbd);
    if (e)
        return cli_fail_api(ctx, e);
    api_error_free(cli_call(ctx, "VBD.plug", (const char *const[]){vbd}, 1, NULL));
    return 0;
}

static int cmd_vm_cd_add(struct cli_ctx *ctx)
{
    return each_vm(ctx, PARAMS("cd-name", "device"), cd_add);
}

static int cd_insert(struct cli_ctx *ctx, const char *vm)
{
    _cleanup_free_ char *vdi = iso_by_name(ctx, cli_arg(ctx, "cd-name"));
    char **refs, *empty = NULL;
    size_t n, n_empty = 0;

    if (!vdi)
        return 1;
    n = vm_vbds(vm, "CD", &refs);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *e = cli_field_of(C_VBD, refs[i], FIDX(VBD, empty));
        if (e && streq(e, "true") && n_empty++ == 0)
            empty = xstrdup(refs[i]);
    }
    free_refs(refs, n);
    if (n_empty == 0)
        return cli_fail_api(ctx, api_fail(VM_NO_EMPTY_CD_VBD, vm));
    if (n_empty > 1) {
        free(empty);
        return cli_fail(ctx, "Two or more empty CD devices found. Please use vbd-insert");
    }
    struct api_error *e = cli_call(ctx, "VBD.insert", (const char *const[]){empty, vdi}, 2, NULL);
    free(empty);
    return e ? cli_fail_api(ctx, e) : 0;
}

static int cmd_vm_cd_insert(struct cli_ctx *ctx)
{
    return each_vm(ctx, PARAMS("cd-name"), cd_insert);
}

static int cd_eject(struct cli_ctx *ctx, const char *vm)
{
    char **refs;
    size_t n = vm_vbds(vm, "CD", &refs);
    struct api_error *e = NULL;
    int r = 0;

    if (n == 0)
        r = cli_fail(ctx, "No CDs found");
    else if (n > 1)
        r = cli_fail(ctx, "Two or more CDs found. Please use vbd-eject");
    else if ((e = cli_call(ctx, "VBD.eject", (const char *const[]){refs[0]}, 1, NULL)))
        r = cli_fail_api(ctx, e);
    free_refs(refs, n);
    return r;
}

static int cmd_vm_cd_eject(struct cli_ctx *ctx)
{
    return each_vm(ctx, NULL, cd_eject);
}

static int cd_remove(struct cli_ctx *ctx, const char *vm)
{
    const char *name = cli_arg(ctx, "cd-name");
    char **refs;
    size_t n = vm_vbds(vm, "CD", &refs);
    int r = 0;
    bool found = false;

    for (size_t i = 0; i < n && r == 0; i++) {
        _cleanup_free_ char *vdi = cli_field_of(C_VBD, refs[i], FIDX(VBD, VDI));
        _cleanup_free_ char *nl = vdi ? cli_field_of(C_VDI, vdi, FIDX(VDI, name_label)) : NULL;
        if (!nl || !streq(nl, name))
            continue;
        found = true;
        struct api_error *e = cli_call(ctx, "VBD.destroy", (const char *const[]){refs[i]}, 1, NULL);
        if (e)
            r = cli_fail_api(ctx, e);
    }
    free_refs(refs, n);
    if (r == 0 && !found)
        r = cli_fail(ctx, "Disk not found");
    return r;
}

static int cmd_vm_cd_remove(struct cli_ctx *ctx)
{
    return each_vm(ctx, PARAMS("cd-name"), cd_remove);
}

/* ---- changed block tracking and SR data sources ---- */

/* vdi-enable-cbt, vdi-disable-cbt, vdi-data-destroy: the message on the
 * VDI named by uuid. */
static int vdi_message(struct cli_ctx *ctx, const char *wire)
{
    _cleanup_free_ char *vdi = cli_ref_arg(ctx, C_VDI, "uuid");
    if (!vdi)
        return 1;
    struct api_error *e = cli_call(ctx, wire, (const char *const[]){vdi}, 1, NULL);
    return e ? cli_fail_api(ctx, e) : 0;
}

static int cmd_vdi_enable_cbt(struct cli_ctx *ctx)
{
    return vdi_message(ctx, "VDI.enable_cbt");
}

static int cmd_vdi_disable_cbt(struct cli_ctx *ctx)
{
    return vdi_message(ctx, "VDI.disable_cbt");
}

static int cmd_vdi_data_destroy(struct cli_ctx *ctx)
{
    return vdi_message(ctx, "VDI.data_destroy");
}

/* Prints the bitmap (base64) as xe does. */
static int cmd_vdi_list_changed_blocks(struct cli_ctx *ctx)
{
    _cleanup_free_ char *from = cli_ref_arg(ctx, C_VDI, "vdi-from-uuid");
    _cleanup_free_ char *to = from ? cli_ref_arg(ctx, C_VDI, "vdi-to-uuid") : NULL;
    _cleanup_free_ char *bitmap = NULL;
    if (!to)
        return 1;
    struct api_error *e =
        cli_call_str(ctx, "VDI.list_changed_blocks", (const char *const[]){from, to}, 2, &bitmap);
    if (e)
        return cli_fail_api(ctx, e);
    cli_print_item(ctx, bitmap);
    return 0;
}

/* sr-data-source-list: one record per data source, XCP's keys. */
static int cmd_sr_data_source_list(struct cli_ctx *ctx)
{
    _cleanup_free_ char *sr = cli_ref_arg(ctx, C_SR, "uuid"), *json = NULL;
    if (!sr)
        return 1;
    struct api_error *e = cli_call(ctx, "SR.get_data_sources", (const char *const[]){sr}, 1, &json);
    if (e)
        return cli_fail_api(ctx, e);
    cli_print_data_sources(ctx, json);
    return 0;
}

/* sr-data-source-record, -forget: the message with data-source. */
static int sr_data_source(struct cli_ctx *ctx, const char *wire, char **ret_json)
{
    _cleanup_free_ char *sr = cli_ref_arg(ctx, C_SR, "uuid");
    if (!sr)
        return 1;
    struct api_error *e =
        cli_call(ctx, wire, (const char *const[]){sr, cli_arg(ctx, "data-source")}, 2, ret_json);
    return e ? cli_fail_api(ctx, e) : 0;
}

static int cmd_sr_data_source_record(struct cli_ctx *ctx)
{
    return sr_data_source(ctx, "SR.record_data_source", NULL);
}

static int cmd_sr_data_source_forget(struct cli_ctx *ctx)
{
    return sr_data_source(ctx, "SR.forget_data_source_archives", NULL);
}

/* Prints the value as xe does ("%f"). */
static int cmd_sr_data_source_query(struct cli_ctx *ctx)
{
    _cleanup_free_ char *json = NULL;
    int r = sr_data_source(ctx, "SR.query_data_source", &json);
    if (r)
        return r;
    json_object *v = json_tokener_parse(json);
    char buf[64];
    snprintf(buf, sizeof(buf), "%f", json_object_get_double(v));
    json_object_put(v);
    cli_print_item(ctx, buf);
    return 0;
}

const struct cli_cmd cli_storage_cmds[] = {
    {"sr-create", PARAMS("name-label", "type"),
     PARAMS("name-description", "host-uuid", "device-config:", "shared", "physical-size",
            "content-type", "sm-config:"),
     "Create an SR, also a PBD. The device-config parameters can be specified by e.g. "
     "device-config:foo=baa.",
     CMD_STANDARD, cmd_sr_create, -1, "SR.create"},
    {"sr-introduce", PARAMS("name-label", "type", "uuid"),
     PARAMS("name-description", "shared", "content-type"),
     "Introduces an SR (but does not create any PBDs).", 0, cmd_sr_introduce, -1, "SR.introduce"},
    {"sr-probe", PARAMS("type"), PARAMS("host-uuid", "device-config:", "sm-config:"),
     "Perform a storage probe. The device-config parameters can be specified by e.g. "
     "device-config:devs=/dev/sdb1.",
     CMD_STANDARD, cmd_sr_probe, -1, "SR.probe"},
    {"sr-probe-ext", PARAMS("type"), PARAMS("host-uuid", "device-config:", "sm-config:"),
     "Perform a storage probe. The device-config parameters can be specified by e.g. "
     "device-config:devs=/dev/sdb1. Unlike the old sr-probe command, this extended version "
     "supports the new SM features, and returns the SRs and the configurations found.",
     0, cmd_sr_probe_ext, -1, "SR.probe_ext"},
    {"pbd-create", PARAMS("host-uuid", "sr-uuid"), PARAMS("device-config:"),
     "Create a PBD. The read-only device-config parameter can only be set on creation in the "
     "following manner: 'device-config:key=value'.",
     0, cmd_pbd_create, -1, NULL},
    {"vdi-create", PARAMS("sr-uuid", "name-label", "virtual-size"),
     PARAMS("sm-config:", "sharable", "tags:", "type"),
     "Create a VDI. The virtual-size may be given with a KiB, MiB, GiB or TiB suffix.",
     CMD_STANDARD, cmd_vdi_create, -1, NULL},
    {"vdi-resize", PARAMS("uuid", "disk-size"), PARAMS("online"), "Resize a VDI.", CMD_STANDARD,
     cmd_vdi_resize, -1, "VDI.resize"},
    {"vdi-snapshot", PARAMS("uuid"), PARAMS("driver-params-"),
     "Snapshot a VDI. Returns the uuid of the new VDI.", CMD_STANDARD, cmd_vdi_snapshot, -1,
     "VDI.snapshot"},
    {"vdi-clone", PARAMS("uuid"),
     PARAMS("driver-params-", "new-name-label", "new-name-description"), "Clone a specified VDI.",
     CMD_STANDARD, cmd_vdi_clone, -1, "VDI.clone"},
    {"vdi-copy", PARAMS("uuid"), PARAMS("sr-uuid", "base-vdi-uuid", "into-vdi-uuid"),
     "Copy either a full VDI or the block differences between two VDIs.", 0, cmd_vdi_copy, -1,
     "VDI.copy"},
    {"vdi-introduce", PARAMS("uuid", "sr-uuid", "type", "location"),
     PARAMS("name-description", "sharable", "read-only", "managed",
            "other-config:", "xenstore-data:", "sm-config:", "name-label"),
     "Create a VDI object representing an existing disk.", 0, cmd_vdi_introduce, -1,
     "VDI.introduce"},
    {"vbd-create", PARAMS("vm-uuid", "device"),
     PARAMS("vdi-uuid", "bootable", "type", "mode", "unpluggable"),
     "Create a VBD. The device is the slot number; a VBD without vdi-uuid is an empty CD.",
     CMD_STANDARD, cmd_vbd_create, -1, NULL},
    {"vbd-insert", PARAMS("uuid", "vdi-uuid"), NULL,
     "Insert new media into the drive represented by a VBD.", 0, cmd_vbd_insert, -1, "VBD.insert"},
    {"vm-disk-add", PARAMS("disk-size", "device"), PARAMS("sr-uuid"),
     "Add a new disk to the selected VM(s). The device field should be the slot number.",
     CMD_VM_SEL | CMD_STANDARD, cmd_vm_disk_add, -1, NULL},
    {"vm-disk-remove", PARAMS("device"), NULL, "Remove a disk from the selected VM and destroy it.",
     CMD_VM_SEL, cmd_vm_disk_remove, -1, NULL},
    {"vm-disk-list", NULL, PARAMS("vbd-params", "vdi-params"),
     "List the disks on the selected VM(s).", CMD_VM_SEL, cmd_vm_disk_list, -1, NULL},
    {"vm-cd-add", PARAMS("cd-name", "device"), NULL,
     "Add a CD to the VM(s). The device field should be the slot number.", CMD_VM_SEL,
     cmd_vm_cd_add, -1, NULL},
    {"vm-cd-list", NULL, PARAMS("vbd-params", "vdi-params"),
     "List the CDs currently attached to the VM(s).", CMD_VM_SEL, cmd_vm_cd_list, -1, NULL},
    {"vm-cd-insert", PARAMS("cd-name"), NULL, "Insert a CD into the VM's single empty CD drive.",
     CMD_VM_SEL | CMD_STANDARD, cmd_vm_cd_insert, -1, "VBD.insert"},
    {"vm-cd-eject", NULL, NULL, "Eject a CD from the VM's single CD drive.",
     CMD_VM_SEL | CMD_STANDARD, cmd_vm_cd_eject, -1, "VBD.eject"},
    {"vm-cd-remove", PARAMS("cd-name"), NULL, "Remove the CD drive holding cd-name from the VM(s).",
     CMD_VM_SEL, cmd_vm_cd_remove, -1, NULL},
    {"vdi-enable-cbt", PARAMS("uuid"), NULL, "Enable changed block tracking on a VDI.", 0,
     cmd_vdi_enable_cbt, -1, "VDI.enable_cbt"},
    {"vdi-disable-cbt", PARAMS("uuid"), NULL, "Disable changed block tracking on a VDI.", 0,
     cmd_vdi_disable_cbt, -1, "VDI.disable_cbt"},
    {"vdi-data-destroy", PARAMS("uuid"), NULL,
     "Delete the data of the VDI, but keep its changed block tracking metadata.", 0,
     cmd_vdi_data_destroy, -1, "VDI.data_destroy"},
    {"vdi-list-changed-blocks", PARAMS("vdi-from-uuid", "vdi-to-uuid"), NULL,
     "Write the changed blocks between the two given VDIs to the standard output as a "
     "base64-encoded bitmap string.",
     0, cmd_vdi_list_changed_blocks, -1, "VDI.list_changed_blocks"},
    {"sr-data-source-list", PARAMS("uuid"), NULL,
     "List the data sources that can be recorded for a SR.", 0, cmd_sr_data_source_list, -1,
     "SR.get_data_sources"},
    {"sr-data-source-record", PARAMS("uuid", "data-source"), NULL,
     "Record the specified data source for a SR.", 0, cmd_sr_data_source_record, -1,
     "SR.record_data_source"},
    {"sr-data-source-query", PARAMS("uuid", "data-source"), NULL,
     "Query the last value read from a SR data source.", 0, cmd_sr_data_source_query, -1,
     "SR.query_data_source"},
    {"sr-data-source-forget", PARAMS("uuid", "data-source"), NULL,
     "Stop recording the specified data source for a SR, and forget all of the recorded data.", 0,
     cmd_sr_data_source_forget, -1, "SR.forget_data_source_archives"},
    {NULL, NULL, NULL, NULL, 0, NULL, -1, NULL},
};
