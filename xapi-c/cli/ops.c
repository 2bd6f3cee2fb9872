/* The custom commands (xe-cli.md 3, 4): each is one entry of the table at
 * the end of this file — name, parameters, flags, help and the function
 * that runs it. Most run one API message through cli_call, so a message
 * without a handler answers MESSAGE_NOT_IMPLEMENTED exactly as the API
 * does; the "uuid operations" (sr-scan uuid=, vbd-plug uuid=, ...) are
 * pure data: the message named in the entry is called on the object the
 * uuid names. */
#include <json-c/json.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/db.h"
#include "xapi-c/model.h"

#define PARAMS(...) ((const char *const[]){__VA_ARGS__, NULL})

typedef struct api_error *(*vm_op_fn)(struct cli_ctx *ctx, const char *ref);

/* Runs op on every VM the selectors pick (xe-cli.md 1.4); with several,
 * failures are reported per VM on stdout and the status is 1. */
static int each_selected(struct cli_ctx *ctx, int view, const char *const *ignore, bool allow_dom0,
                         vm_op_fn op)
{
    char **refs;
    size_t n;
    int status = 0;

    if (cli_select(ctx, view, ignore, allow_dom0, &refs, &n))
        return 1;
    for (size_t i = 0; i < n; i++) {
        struct api_error *e = op(ctx, refs[i]);
        if (e && n == 1)
            status = cli_fail_api(ctx, e);
        else if (e) {
            struct strbuf sb;
            _cleanup_free_ char *uuid =
                cli_uuid_of(view == cli_view_by_name("host") ? C_host : C_VM, refs[i]);
            strbuf_init(&sb, 128);
            cli_render_api_error(e, &sb);
            /* The sentence and parameters on one line. */
            for (char *p = sb.buf; p && *p; p++)
                if (*p == '\n')
                    *p = p[1] ? ' ' : '\0';
            cli_print_message(ctx, "operation failed on %s: %s", uuid ? uuid : refs[i],
                              sb.buf ? sb.buf : "");
            strbuf_done(&sb);
            api_error_free(e);
            status = 1;
        }
        free(refs[i]);
    }
    free(refs);
    return status;
}

static int vm_view(void)
{
    return cli_view_by_name("vm");
}

static struct api_error *call1(struct cli_ctx *ctx, const char *wire, const char *ref)
{
    return cli_call(ctx, wire, (const char *const[]){ref}, 1, NULL);
}

/* A long operation on one object: drawn with --progress. */
static struct api_error *call1_long(struct cli_ctx *ctx, const char *wire, const char *ref)
{
    return cli_call_long(ctx, wire, (const char *const[]){ref}, 1, NULL);
}

/* The host on= names by name-label or uuid; NULL with the error printed. */
static char *host_by_name(struct cli_ctx *ctx, const char *on)
{
    char *ref = cli_ref_of(C_host, on);
    if (ref)
        return ref;
    db_rdlock();
    size_t it = 0;
    const struct row *r;
    while (db_next(C_host, &it, &r))
        if (streq(r->v[FIDX(host, name_label)], on)) {
            ref = xstrdup(r->ref);
            break;
        }
    db_unlock();
    if (!ref)
        cli_fail(ctx, "No matching hosts found");
    return ref;
}

static const char *tf(bool b)
{
    return b ? "true" : "false";
}

static struct api_error *op_start(struct cli_ctx *ctx, const char *ref)
{
    const char *on = cli_arg(ctx, "on");
    const char *paused = tf(cli_arg_bool(ctx, "paused", false));
    const char *force = tf(cli_arg_bool(ctx, "force", false));
    if (on) {
        _cleanup_free_ char *host = cli_ref_of(C_host, on);
        if (!host)
            return api_fail(UUID_INVALID, "host", on);
        return cli_call_long(ctx, "VM.start_on", (const char *const[]){ref, host, paused, force}, 4,
                             NULL);
    }
    return cli_call_long(ctx, "VM.start", (const char *const[]){ref, paused, force}, 3, NULL);
}

static int cmd_vm_start(struct cli_ctx *ctx)
{
    const char *on = cli_arg(ctx, "on");
    if (on) {
        /* on= takes a name-label too: resolve it once to a uuid. */
        _cleanup_free_ char *ref = host_by_name(ctx, on);
        if (!ref)
            return 1;
        _cleanup_free_ char *uuid = cli_uuid_of(C_host, ref);
        for (size_t i = 0; i < ctx->n_args; i++)
            if (streq(ctx->args[i].name, "on")) {
                free(ctx->args[i].value);
                ctx->args[i].value = xstrdup(uuid);
                break;
            }
    }
    return each_selected(ctx, vm_view(), PARAMS("on", "paused", "progress"), true, op_start);
}

static struct api_error *op_shutdown(struct cli_ctx *ctx, const char *ref)
{
    return call1_long(
        ctx, cli_arg_bool(ctx, "force", false) ? "VM.hard_shutdown" : "VM.clean_shutdown", ref);
}

static int cmd_vm_shutdown(struct cli_ctx *ctx)
{
    return each_selected(ctx, vm_view(), PARAMS("progress"), false, op_shutdown);
}

static struct api_error *op_reboot(struct cli_ctx *ctx, const char *ref)
{
    return call1(ctx, cli_arg_bool(ctx, "force", false) ? "VM.hard_reboot" : "VM.clean_reboot",
                 ref);
}

static int cmd_vm_reboot(struct cli_ctx *ctx)
{
    return each_selected(ctx, vm_view(), NULL, false, op_reboot);
}

static struct api_error *op_suspend(struct cli_ctx *ctx, const char *ref)
{
    return call1_long(ctx, "VM.suspend", ref);
}

static int cmd_vm_suspend(struct cli_ctx *ctx)
{
    return each_selected(ctx, vm_view(), PARAMS("progress"), false, op_suspend);
}

static struct api_error *op_resume(struct cli_ctx *ctx, const char *ref)
{
    const char *on = cli_arg(ctx, "on");
    const char *force = tf(cli_arg_bool(ctx, "force", false));
    if (on) {
        _cleanup_free_ char *host = cli_ref_of(C_host, on);
        if (!host)
            return api_fail(UUID_INVALID, "host", on);
        return cli_call_long(ctx, "VM.resume_on", (const char *const[]){ref, host, "false", force},
                             4, NULL);
    }
    return cli_call_long(ctx, "VM.resume", (const char *const[]){ref, "false", force}, 3, NULL);
}

static int cmd_vm_resume(struct cli_ctx *ctx)
{
    const char *on = cli_arg(ctx, "on");
    if (on) {
        _cleanup_free_ char *ref = host_by_name(ctx, on);
        if (!ref)
            return 1;
        _cleanup_free_ char *uuid = cli_uuid_of(C_host, ref);
        for (size_t i = 0; i < ctx->n_args; i++)
            if (streq(ctx->args[i].name, "on")) {
                free(ctx->args[i].value);
                ctx->args[i].value = xstrdup(uuid);
                break;
            }
    }
    return each_selected(ctx, vm_view(), PARAMS("on", "progress"), false, op_resume);
}

static struct api_error *op_pause(struct cli_ctx *ctx, const char *ref)
{
    return call1(ctx, "VM.pause", ref);
}

static int cmd_vm_pause(struct cli_ctx *ctx)
{
    return each_selected(ctx, vm_view(), NULL, false, op_pause);
}

static struct api_error *op_unpause(struct cli_ctx *ctx, const char *ref)
{
    return call1(ctx, "VM.unpause", ref);
}

static int cmd_vm_unpause(struct cli_ctx *ctx)
{
    return each_selected(ctx, vm_view(), NULL, false, op_unpause);
}

static struct api_error *op_reset(struct cli_ctx *ctx, const char *ref)
{
    return call1(ctx, "VM.power_state_reset", ref);
}

static int cmd_vm_reset_powerstate(struct cli_ctx *ctx)
{
    if (!cli_arg_bool(ctx, "force", false))
        return cli_fail(ctx, "This operation is dangerous and may cause data loss. This "
                             "operation must be forced (use --force).");
    return each_selected(ctx, vm_view(), NULL, false, op_reset);
}

/* Prints the uuid of the VM a call returned (a JSON string ref). */
static struct api_error *print_new_vm(struct cli_ctx *ctx, const char *ref)
{
    _cleanup_free_ char *uuid = cli_uuid_of(C_VM, ref);
    const char *desc = cli_arg(ctx, "new-name-description");
    if (desc) {
        struct api_error *e =
            cli_call(ctx, "VM.set_name_description", (const char *const[]){ref, desc}, 2, NULL);
        if (e)
            return e;
    }
    cli_print_item(ctx, uuid ? uuid : ref);
    return NULL;
}

static struct api_error *op_clone(struct cli_ctx *ctx, const char *ref)
{
    _cleanup_free_ char *nref = NULL;
    struct api_error *e = cli_call_long_str(
        ctx, "VM.clone", (const char *const[]){ref, cli_arg(ctx, "new-name-label")}, 2, &nref);
    return e ? e : print_new_vm(ctx, nref);
}

static int cmd_vm_clone(struct cli_ctx *ctx)
{
    return each_selected(ctx, vm_view(),
                         PARAMS("new-name-label", "new-name-description", "progress"), false,
                         op_clone);
}

static struct api_error *op_copy(struct cli_ctx *ctx, const char *ref)
{
    const char *sr = cli_arg(ctx, "sr-uuid");
    _cleanup_free_ char *sr_ref = sr ? cli_ref_of(C_SR, sr) : xstrdup("OpaqueRef:NULL");
    _cleanup_free_ char *nref = NULL;
    if (!sr_ref)
        return api_fail(UUID_INVALID, "SR", sr);
    struct api_error *e = cli_call_long_str(
        ctx, "VM.copy", (const char *const[]){ref, cli_arg(ctx, "new-name-label"), sr_ref}, 3,
        &nref);
    return e ? e : print_new_vm(ctx, nref);
}

static int cmd_vm_copy(struct cli_ctx *ctx)
{
    /* vm-copy works on one VM at a time. */
    for (size_t i = 0; i < ctx->n_args; i++)
        if (streq(ctx->args[i].name, "multiple"))
            return cli_fail(ctx, "Multiple matches VMs found. Operation can only be performed on "
                                 "one VM at a time");
    return each_selected(ctx, vm_view(),
                         PARAMS("new-name-label", "new-name-description", "sr-uuid", "progress"),
                         false, op_copy);
}

static struct api_error *op_snapshot(struct cli_ctx *ctx, const char *ref)
{
    _cleanup_free_ char *nref = NULL;
    struct api_error *e = cli_call_str(
        ctx, "VM.snapshot", (const char *const[]){ref, cli_arg(ctx, "new-name-label")}, 2, &nref);
    return e ? e : print_new_vm(ctx, nref);
}

static int cmd_vm_snapshot(struct cli_ctx *ctx)
{
    return each_selected(ctx, vm_view(),
                         PARAMS("new-name-label", "new-name-description", "ignore-vdi-uuids"),
                         false, op_snapshot);
}

static struct api_error *op_checkpoint(struct cli_ctx *ctx, const char *ref)
{
    _cleanup_free_ char *nref = NULL;
    struct api_error *e = cli_call_long_str(
        ctx, "VM.checkpoint", (const char *const[]){ref, cli_arg(ctx, "new-name-label")}, 2, &nref);
    return e ? e : print_new_vm(ctx, nref);
}

static int cmd_vm_checkpoint(struct cli_ctx *ctx)
{
    return each_selected(
        ctx, vm_view(),
        PARAMS("new-name-label", "new-name-description", "ignore-vdi-uuids", "progress"), false,
        op_checkpoint);
}

static struct api_error *op_memory_set(struct cli_ctx *ctx, const char *ref)
{
    return cli_call(ctx, "VM.set_memory", (const char *const[]){ref, cli_arg(ctx, "memory")}, 2,
                    NULL);
}

static struct api_error *op_memory_dynamic(struct cli_ctx *ctx, const char *ref)
{
    return cli_call(ctx, "VM.set_memory_dynamic_range",
                    (const char *const[]){ref, cli_arg(ctx, "min"), cli_arg(ctx, "max")}, 3, NULL);
}

static struct api_error *op_vcpu_hotplug(struct cli_ctx *ctx, const char *ref)
{
    return cli_call(ctx, "VM.set_VCPUs_number_live",
                    (const char *const[]){ref, cli_arg(ctx, "new-vcpus")}, 2, NULL);
}

/* Size arguments take the suffixes of xe-cli.md 1.1; the canonical int
 * replaces the text in place before the selection runs. */
static int sizes_to_bytes(struct cli_ctx *ctx, const char *const *names)
{
    for (; *names; names++)
        for (size_t i = 0; i < ctx->n_args; i++) {
            if (!streq(ctx->args[i].name, *names))
                continue;
            char *end;
            const char *v = ctx->args[i].value;
            long long n = strtoll(v, &end, 10);
            long long mul = 1;
            while (*end == ' ')
                end++;
            if (strchr("kK", *end))
                mul = 1LL << 10;
            else if (strchr("mM", *end))
                mul = 1LL << 20;
            else if (strchr("gG", *end))
                mul = 1LL << 30;
            else if (strchr("tT", *end))
                mul = 1LL << 40;
            bool ok = end != v && (*end == '\0' || strcasecmp(end + 1, "") == 0 ||
                                   strcasecmp(end + 1, "b") == 0 || strcasecmp(end + 1, "ib") == 0);
            if (*end == 'b' || *end == 'B')
                ok = end != v && (end[1] == '\0' || strcasecmp(end, "bytes") == 0), mul = 1;
            if (!ok || n < 0 || n > INT64_MAX / mul)
                return cli_fail(ctx,
                                "Failed to parse field '%s': expecting an integer (possibly with "
                                "suffix KiB, MiB, GiB, TiB), got '%s'",
                                *names, v);
            free(ctx->args[i].value);
            ctx->args[i].value = xasprintf("%lld", n * mul);
        }
    return 0;
}

static int cmd_vm_memory_set(struct cli_ctx *ctx)
{
    if (sizes_to_bytes(ctx, PARAMS("memory")))
        return 1;
    return each_selected(ctx, vm_view(), PARAMS("memory"), false, op_memory_set);
}

static int cmd_vm_memory_dynamic(struct cli_ctx *ctx)
{
    if (sizes_to_bytes(ctx, PARAMS("min", "max")))
        return 1;
    return each_selected(ctx, vm_view(), PARAMS("min", "max"), false, op_memory_dynamic);
}

static int cmd_vm_vcpu_hotplug(struct cli_ctx *ctx)
{
    return each_selected(ctx, vm_view(), PARAMS("new-vcpus"), false, op_vcpu_hotplug);
}

/* Asks "Type 'yes' to continue" unless --force; true to go ahead. */
static bool confirm(struct cli_ctx *ctx)
{
    struct strbuf answer;
    bool yes;

    if (cli_arg_bool(ctx, "force", false))
        return true;
    cli_send_print(ctx->conn, "Type 'yes' to continue");
    strbuf_init(&answer, 16);
    if (cli_prompt(ctx->conn, &answer) < 0) {
        strbuf_done(&answer);
        return false;
    }
    yes = strcasecmp(answer.buf ? answer.buf : "", "yes") == 0;
    if (!yes) {
        struct strbuf msg;
        strbuf_init(&msg, 64);
        strbuf_addf(&msg, "Aborted (you typed: '%s')", answer.buf ? answer.buf : "");
        cli_send_print(ctx->conn, msg.buf);
        strbuf_done(&msg);
    }
    strbuf_done(&answer);
    return yes;
}

/* What an uninstall destroys of one VM (xe-cli.md 4.1): the VM, the disks
 * it owns (VBDs whose other_config has "owner") and its suspend image. */
struct doomed {
    char *vm, *suspend;
    char **vdis;
    size_t n_vdis;
};

/* True if ref is already one of the disks of d[0..n). */
static bool doomed_has(const struct doomed *d, size_t n, const char *ref)
{
    for (size_t i = 0; i < n; i++) {
        if (d[i].suspend && streq(d[i].suspend, ref))
            return true;
        for (size_t j = 0; j < d[i].n_vdis; j++)
            if (streq(d[i].vdis[j], ref))
                return true;
    }
    return false;
}

/* Fills d[n] for vm; a disk an earlier VM of the list owns is not listed
 * twice. False if the VM is gone. */
static bool doomed_collect(struct doomed *d, size_t n, const char *vm)
{
    struct strbuf scratch;
    struct strlist_iter it;
    const char *k, *v;
    struct doomed *me = &d[n];

    strbuf_init(&scratch, 0);
    db_rdlock();
    const struct row *r = db_get(C_VM, vm);
    if (r) {
        *me = (struct doomed){.vm = xstrdup(vm)};
        strlist_iter_init(&it, db_value(r, FIDX(VM, VBDs), &scratch));
        while (strlist_iter_next(&it, &k, &v)) {
            const struct row *b = db_get(C_VBD, v);
            _cleanup_free_ char *owner =
                b ? strmap_get(b->v[FIDX(VBD, other_config)], "owner") : NULL;
            const char *vdi = b ? b->v[FIDX(VBD, VDI)] : "";
            if (!owner || !db_get(C_VDI, vdi) || doomed_has(d, n + 1, vdi))
                continue;
            me->vdis = xrealloc(me->vdis, (me->n_vdis + 1) * sizeof(char *));
            me->vdis[me->n_vdis++] = xstrdup(vdi);
        }
        strlist_iter_done(&it);
        if (db_get(C_VDI, r->v[FIDX(VM, suspend_VDI)]) &&
            !doomed_has(d, n + 1, r->v[FIDX(VM, suspend_VDI)]))
            me->suspend = xstrdup(r->v[FIDX(VM, suspend_VDI)]);
    }
    db_unlock();
    strbuf_done(&scratch);
    return r != NULL;
}

static void doomed_done(struct doomed *d)
{
    free(d->vm);
    free(d->suspend);
    for (size_t i = 0; i < d->n_vdis; i++)
        free(d->vdis[i]);
    free(d->vdis);
}

/* "VM : <uuid> (<name>)" as XCP prints it, past the printer. */
static void print_vm_line(struct cli_ctx *ctx, const char *vm)
{
    _cleanup_free_ char *uuid = cli_uuid_of(C_VM, vm);
    _cleanup_free_ char *name = cli_field_of(C_VM, vm, FIDX(VM, name_label));
    _cleanup_free_ char *line = xasprintf("VM : %s (%s)", uuid ? uuid : "", name ? name : "");
    cli_send_print(ctx->conn, line);
}

/* "VDI: <uuid> (<name>) " and XCP's warning when more than one VBD uses
 * the disk (XCP's format ends in that space). */
static void print_vdi_line(struct cli_ctx *ctx, const char *vdi)
{
    struct strbuf scratch;
    struct strlist_iter it;
    const char *k, *v;
    size_t n_vbds = 0;
    char *uuid = NULL, *name = NULL;

    strbuf_init(&scratch, 0);
    db_rdlock();
    const struct row *r = db_get(C_VDI, vdi);
    if (r) {
        uuid = xstrdup(r->v[FIDX(VDI, uuid)]);
        name = xstrdup(r->v[FIDX(VDI, name_label)]);
        strlist_iter_init(&it, db_value(r, FIDX(VDI, VBDs), &scratch));
        while (strlist_iter_next(&it, &k, &v))
            n_vbds++;
        strlist_iter_done(&it);
    }
    db_unlock();
    strbuf_done(&scratch);
    _cleanup_free_ char *line =
        xasprintf("VDI: %s (%s) %s", uuid ? uuid : "", name ? name : "",
                  n_vbds > 1 ? " ** WARNING: disk is shared by other VMs" : "");
    cli_send_print(ctx->conn, line);
    free(uuid);
    free(name);
}

/* Destroys one VM as XCP does: hard shutdown unless halted, the record,
 * its disks, then its suspend image, whose failure does not count (the
 * shutdown may have taken it already). */
static struct api_error *doomed_destroy(struct cli_ctx *ctx, const struct doomed *d)
{
    _cleanup_free_ char *ps = cli_field_of(C_VM, d->vm, FIDX(VM, power_state));
    struct api_error *e = NULL;

    if (ps && !streq(ps, "Halted"))
        e = call1(ctx, "VM.hard_shutdown", d->vm);
    if (!e)
        e = call1(ctx, "VM.destroy", d->vm);
    for (size_t i = 0; !e && i < d->n_vdis; i++)
        e = call1(ctx, "VDI.destroy", d->vdis[i]);
    if (!e && d->suspend)
        api_error_free(call1(ctx, "VDI.destroy", d->suspend));
    return e;
}

int cli_uninstall(struct cli_ctx *ctx, char *const *refs, size_t n)
{
    struct doomed *d = xcalloc(n + 1, sizeof(*d));
    size_t nd = 0;
    int status = 0;

    for (size_t i = 0; i < n; i++)
        if (doomed_collect(d, nd, refs[i]))
            nd++;
    cli_send_print(ctx->conn, "The following items are about to be destroyed");
    for (size_t i = 0; i < nd; i++) {
        print_vm_line(ctx, d[i].vm);
        for (size_t j = 0; j < d[i].n_vdis; j++)
            print_vdi_line(ctx, d[i].vdis[j]);
        if (d[i].suspend)
            print_vdi_line(ctx, d[i].suspend);
    }
    if (confirm(ctx)) {
        for (size_t i = 0; i < nd && status == 0; i++) {
            struct api_error *e = doomed_destroy(ctx, &d[i]);
            if (e)
                status = cli_fail_api(ctx, e);
        }
        if (status == 0)
            cli_send_print(ctx->conn, "All objects destroyed");
    }
    for (size_t i = 0; i < nd; i++)
        doomed_done(&d[i]);
    free(d);
    return status;
}

/* vm-uninstall: the selected VMs, then all their snapshots. */
static int cmd_vm_uninstall(struct cli_ctx *ctx)
{
    char **refs;
    size_t n, n_all;

    if (cli_select(ctx, vm_view(), PARAMS("progress"), false, &refs, &n))
        return 1;
    n_all = n;
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *snaps = cli_field_of(C_VM, refs[i], FIDX(VM, snapshots));
        struct strlist_iter it;
        const char *k, *v;
        strlist_iter_init(&it, snaps);
        while (strlist_iter_next(&it, &k, &v)) {
            refs = xrealloc(refs, (n_all + 1) * sizeof(char *));
            refs[n_all++] = xstrdup(v);
        }
        strlist_iter_done(&it);
    }
    int status = cli_uninstall(ctx, refs, n_all);
    for (size_t i = 0; i < n_all; i++)
        free(refs[i]);
    free(refs);
    return status;
}

/* other-config:disks with every <disk>'s sr attribute set to sr_uuid
 * (newly allocated XML), or NULL if the text is not such XML. */
static char *disks_with_sr(const char *xml, const char *sr_uuid)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "disks.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    char *out = NULL;

    if (root) {
        for (xmlNodePtr n = root->children; n; n = n->next)
            if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, BAD_CAST "disk"))
                xmlSetProp(n, BAD_CAST "sr", BAD_CAST sr_uuid);
        xmlBufferPtr buf = xmlBufferCreate();
        if (xmlNodeDump(buf, doc, root, 0, 0) >= 0)
            out = xstrdup((const char *)xmlBufferContent(buf));
        xmlBufferFree(buf);
    }
    xmlFreeDoc(doc);
    return out;
}

/* The SR of vm-install: sr-uuid= and/or sr-name-label= (which must agree),
 * newly allocated in ret (NULL: none given). Prints the error, returns 1. */
static int install_sr(struct cli_ctx *ctx, char **ret)
{
    const char *su = cli_arg(ctx, "sr-uuid"), *sn = cli_arg(ctx, "sr-name-label");
    char *sr = NULL;

    *ret = NULL;
    if (su && !(sr = cli_ref_of(C_SR, su)))
        return cli_fail_api(ctx, api_fail(UUID_INVALID, "SR", su));
    if (sn) {
        size_t it = 0, hits = 0;
        const struct row *r;
        bool agree = false;
        char *first = NULL;
        db_rdlock();
        while (db_next(C_SR, &it, &r))
            if (streq(r->v[FIDX(SR, name_label)], sn)) {
                if (hits++ == 0)
                    first = xstrdup(r->ref);
                agree |= sr && streq(sr, r->ref);
            }
        db_unlock();
        if (hits == 0) {
            free(sr);
            return cli_fail(ctx, "No SR with that name-label found");
        }
        if (sr && !agree) {
            free(sr);
            free(first);
            return cli_fail(ctx, "SR specified via sr-uuid doesn't have the name specified via "
                                 "sr-name-label");
        }
        if (!sr && hits > 1) {
            free(first);
            return cli_fail(ctx, "Multiple SRs with that name-label found");
        }
        if (!sr)
            sr = first;
        else
            free(first);
    }
    *ret = sr;
    return 0;
}

/* The steps of vm-install after the clone or copy (xe-cli.md 4.1). */
static struct api_error *install_finish(struct cli_ctx *ctx, const char *tmpl, const char *vm,
                                        const char *sr, const char *sr_uuid)
{
    struct api_error *e;
    _cleanup_free_ char *suspend =
        sr ? xstrdup(sr) : cli_field_of(C_VM, tmpl, FIDX(VM, suspend_SR));

    if ((e = cli_call(ctx, "VM.set_name_description",
                      (const char *const[]){vm, "Installed via xe CLI"}, 2, NULL)))
        return e;
    if ((e = cli_call(ctx, "VM.set_suspend_SR",
                      (const char *const[]){vm, suspend ? suspend : "OpaqueRef:NULL"}, 2, NULL)))
        return e;
    _cleanup_free_ char *oc = cli_field_of(C_VM, vm, FIDX(VM, other_config));
    _cleanup_free_ char *disks = oc ? strmap_get(oc, "disks") : NULL;
    if (disks && *sr_uuid) {
        _cleanup_free_ char *nd = disks_with_sr(disks, sr_uuid);
        if (!nd)
            return api_failf(INTERNAL_ERROR, "other-config:disks of the template is not XML");
        api_error_free(cli_call(ctx, "VM.remove_from_other_config",
                                (const char *const[]){vm, "disks"}, 2, NULL));
        if ((e = cli_call(ctx, "VM.add_to_other_config", (const char *const[]){vm, "disks", nd}, 3,
                          NULL)))
            return e;
    }
    if ((e = call1(ctx, "VM.provision", vm)))
        return e;
    /* VM.provision makes the VM a VM (xapi_vm.ml); if this xapi's left it
     * a template, the CLI does it. */
    _cleanup_free_ char *is_t = cli_field_of(C_VM, vm, FIDX(VM, is_a_template));
    if (is_t && streq(is_t, "true"))
        return cli_call(ctx, "VM.set_is_a_template", (const char *const[]){vm, "false"}, 2, NULL);
    return NULL;
}

/* The uuid of the pool's default SR (newly allocated), or NULL. */
static char *default_sr_uuid(void)
{
    char *uuid = NULL;
    size_t it = 0;
    const struct row *r, *sr;
    db_rdlock();
    if (db_next(C_pool, &it, &r) && (sr = db_get(C_SR, r->v[FIDX(pool, default_SR)])))
        uuid = xstrdup(sr->v[FIDX(SR, uuid)]);
    db_unlock();
    return uuid;
}

/* vm-install: a new VM from a template (xe-cli.md 4.1). */
static int cmd_vm_install(struct cli_ctx *ctx)
{
    const char *t = cli_arg(ctx, "template-uuid");
    const char *tn = cli_arg(ctx, "template-name-label");
    const char *tany = cli_arg(ctx, "template");
    _cleanup_free_ char *ref = NULL, *nref = NULL, *sr = NULL, *sr_uuid = NULL;
    struct api_error *e;

    if (!tn)
        tn = cli_arg(ctx, "template-name");
    if (t && !(ref = cli_ref_of(C_VM, t)))
        return cli_fail(ctx, "Cannot find template");
    if (!ref && tany)
        ref = cli_ref_of(C_VM, tany);
    if (!ref && (tn || tany)) {
        const char *want = tn ? tn : tany;
        size_t it = 0, hits = 0;
        const struct row *r;
        db_rdlock();
        while (db_next(C_VM, &it, &r))
            if (streq(r->v[FIDX(VM, name_label)], want) &&
                streq(r->v[FIDX(VM, is_a_template)], "true") &&
                !streq(r->v[FIDX(VM, is_control_domain)], "true") && hits++ == 0)
                ref = xstrdup(r->ref);
        db_unlock();
        if (hits == 0)
            return cli_fail(ctx, "No templates matched");
        if (hits > 1)
            return cli_fail(ctx, "More than one matching template found");
    }
    if (!ref)
        return cli_fail(ctx, "Template must be specified by parameter 'template-uuid', "
                             "'template-name', 'template-name-label' or 'template'");
    _cleanup_free_ char *is_t = cli_field_of(C_VM, ref, FIDX(VM, is_a_template));
    if (!is_t || !streq(is_t, "true"))
        return cli_fail(ctx, "Can only install from templates");
    _cleanup_free_ char *is_s = cli_field_of(C_VM, ref, FIDX(VM, is_a_snapshot));
    if (is_s && streq(is_s, "true") && (cli_arg(ctx, "sr-uuid") || cli_arg(ctx, "sr-name-label")))
        return cli_fail(ctx, "Do not use the sr-name-label or sr-uuid argument when installing "
                             "from a snapshot. By default, it will install each new disk on the "
                             "same SR as the corresponding snapshot disks.");
    if (install_sr(ctx, &sr))
        return 1;
    sr_uuid = sr ? cli_uuid_of(C_SR, sr) : default_sr_uuid();
    if (!sr_uuid) {
        _cleanup_free_ char *oc = cli_field_of(C_VM, ref, FIDX(VM, other_config));
        _cleanup_free_ char *disks = oc ? strmap_get(oc, "disks") : NULL;
        if (disks)
            return cli_fail(ctx, "Failed to find a valid default SR for the Pool. Please provide "
                                 "an sr-name-label or sr-uuid parameter.");
        sr_uuid = xstrdup("");
    }
    if (sr)
        e = cli_call_str(ctx, "VM.copy",
                         (const char *const[]){ref, cli_arg(ctx, "new-name-label"), sr}, 3, &nref);
    else
        e = cli_call_str(ctx, "VM.clone",
                         (const char *const[]){ref, cli_arg(ctx, "new-name-label")}, 2, &nref);
    if (e)
        return cli_fail_api(ctx, e);
    if ((e = install_finish(ctx, ref, nref, sr, sr_uuid))) {
        api_error_free(call1(ctx, "VM.destroy", nref));
        return cli_fail_api(ctx, e);
    }
    _cleanup_free_ char *uuid = cli_uuid_of(C_VM, nref);
    cli_print_item(ctx, uuid ? uuid : nref);
    return 0;
}

/* Commands that call cmd->message on the object uuid= (or another named
 * parameter) names; the class is the message's. */
static int cmd_uuid_op(struct cli_ctx *ctx)
{
    const struct method *m = api_find_method(ctx->cmd->message);
    const char *key = ctx->cmd->reqd && ctx->cmd->reqd[0] ? ctx->cmd->reqd[0] : "uuid";
    const char *uuid = cli_arg(ctx, key);
    if (!m)
        return cli_fail_api(ctx, api_fail(MESSAGE_NOT_IMPLEMENTED, ctx->cmd->message));
    /* The object is the message's first parameter after the session. */
    int cls = m->n_params > 1 && m->params[1].type->kind == T_REF ? m->params[1].type->cls : -1;
    if (cls < 0)
        return cli_fail_api(ctx, api_failf(INTERNAL_ERROR, "cli: %s takes no object", m->wire));
    _cleanup_free_ char *ref = cli_ref_of(cls, uuid);
    if (!ref)
        return cli_fail_api(ctx, api_fail(UUID_INVALID, model_classes[cls].name, uuid));
    struct api_error *e = call1_long(ctx, ctx->cmd->message, ref);
    return e ? cli_fail_api(ctx, e) : 0;
}

static struct api_error *op_host(struct cli_ctx *ctx, const char *ref)
{
    /* The message for each selected host is the entry's. */
    return call1(ctx, ctx->cmd->message, ref);
}

static int cmd_host_op(struct cli_ctx *ctx)
{
    return each_selected(ctx, cli_view_by_name("host"), NULL, false, op_host);
}

/* A host command whose message returns a string, printed as it came
 * (host-dmesg, host-get-server-certificate). */
static struct api_error *op_host_print(struct cli_ctx *ctx, const char *ref)
{
    _cleanup_free_ char *text = NULL;
    struct api_error *e =
        cli_call_str(ctx, ctx->cmd->message, (const char *const[]){ref}, 1, &text);
    if (!e)
        cli_print_item(ctx, text);
    return e;
}

static int cmd_host_print(struct cli_ctx *ctx)
{
    return each_selected(ctx, cli_view_by_name("host"), NULL, false, op_host_print);
}

/* host-compute-memory-overhead: the number, as xe prints an int. */
static struct api_error *op_host_int(struct cli_ctx *ctx, const char *ref)
{
    _cleanup_free_ char *json = NULL;
    struct api_error *e = cli_call(ctx, ctx->cmd->message, (const char *const[]){ref}, 1, &json);
    if (!e) {
        json_object *v = json_tokener_parse(json);
        cli_print_item(ctx, v ? json_object_get_string(v) : "");
        json_object_put(v);
    }
    return e;
}

static int cmd_host_int(struct cli_ctx *ctx)
{
    return each_selected(ctx, cli_view_by_name("host"), NULL, false, op_host_int);
}

/* host-data-source-list: one record per data source, XCP's keys. */
static struct api_error *op_host_ds_list(struct cli_ctx *ctx, const char *ref)
{
    _cleanup_free_ char *json = NULL;
    struct api_error *e =
        cli_call(ctx, "host.get_data_sources", (const char *const[]){ref}, 1, &json);
    if (e)
        return e;
    cli_print_data_sources(ctx, json);
    return NULL;
}

static int cmd_host_ds_list(struct cli_ctx *ctx)
{
    return each_selected(ctx, cli_view_by_name("host"), NULL, false, op_host_ds_list);
}

/* host-data-source-query, -record, -forget: the message with
 * data-source; a query prints the value as xe does ("%f"). */
static struct api_error *op_host_ds(struct cli_ctx *ctx, const char *ref)
{
    _cleanup_free_ char *json = NULL;
    struct api_error *e = cli_call(
        ctx, ctx->cmd->message, (const char *const[]){ref, cli_arg(ctx, "data-source")}, 2, &json);
    if (!e && streq(ctx->cmd->message, "host.query_data_source")) {
        json_object *v = json_tokener_parse(json);
        char buf[64];
        snprintf(buf, sizeof(buf), "%f", v ? json_object_get_double(v) : 0);
        cli_print_item(ctx, buf);
        json_object_put(v);
    }
    return e;
}

static int cmd_host_ds(struct cli_ctx *ctx)
{
    return each_selected(ctx, cli_view_by_name("host"), PARAMS("data-source"), false, op_host_ds);
}

/* host-send-debug-keys, host-set-hostname-live: host-uuid= and one
 * string. */
static int cmd_host_uuid_str(struct cli_ctx *ctx)
{
    _cleanup_free_ char *host = cli_ref_arg(ctx, C_host, "host-uuid");
    if (!host)
        return 1;
    const char *arg = cli_arg(ctx, ctx->cmd->reqd[1]);
    struct api_error *e =
        cli_call(ctx, ctx->cmd->message, (const char *const[]){host, arg}, 2, NULL);
    return e ? cli_fail_api(ctx, e) : 0;
}

/* host-shutdown-agent: the local host's agent, no selectors. */
static int cmd_host_shutdown_agent(struct cli_ctx *ctx)
{
    struct api_error *e = cli_call(ctx, "host.shutdown_agent", NULL, 0, NULL);
    return e ? cli_fail_api(ctx, e) : 0;
}

static int cmd_host_cpu_info(struct cli_ctx *ctx)
{
    const char *uuid = cli_arg(ctx, "uuid");
    struct cli_record rec = {0};
    const struct row *r = NULL;
    size_t it = 0;

    db_rdlock();
    if (uuid)
        r = db_get_by_uuid(C_host, uuid);
    else
        db_next(C_host, &it, &r);
    if (!r) {
        db_unlock();
        return cli_fail_api(ctx, api_fail(UUID_INVALID, "host", uuid ? uuid : ""));
    }
    struct strlist_iter si;
    const char *k, *v;
    strlist_iter_init(&si, r->v[FIDX(host, cpu_info)]);
    while (strlist_iter_next(&si, &k, &v))
        cli_record_add(&rec, k, v);
    strlist_iter_done(&si);
    db_unlock();
    cli_print_record(ctx, &rec);
    cli_record_done(&rec);
    return 0;
}

/* host-get-vms-which-prevent-evacuation: per VM, its uuid, name and the
 * reasons (the error codes and parameters, comma-joined), as XCP prints
 * them. */
static int cmd_host_vms_preventing_evacuation(struct cli_ctx *ctx)
{
    const char *uuid = cli_arg(ctx, "uuid");
    _cleanup_free_ char *host = cli_ref_of(C_host, uuid), *json = NULL;
    struct api_error *e;

    if (!host)
        return cli_fail_api(ctx, api_fail(UUID_INVALID, "host", uuid));
    if ((e = cli_call(ctx, "host.get_vms_which_prevent_evacuation", (const char *const[]){host}, 1,
                      &json)))
        return cli_fail_api(ctx, e);
    json_object *map = json_tokener_parse(json);
    if (!map || !json_object_is_type(map, json_type_object)) {
        json_object_put(map);
        return cli_fail_api(ctx, api_failf(INTERNAL_ERROR, "cli: "
                                                           "host.get_vms_which_prevent_evacuation "
                                                           "did not return a map"));
    }
    json_object_object_foreach(map, vm, reasons)
    {
        struct cli_record rec = {0};
        struct strbuf why;
        _cleanup_free_ char *vuuid = cli_uuid_of(C_VM, vm);
        _cleanup_free_ char *name = cli_field_of(C_VM, vm, FIDX(VM, name_label));
        strbuf_init(&why, 64);
        for (size_t i = 0;
             json_object_is_type(reasons, json_type_array) && i < json_object_array_length(reasons);
             i++)
            strbuf_addf(&why, "%s%s", i ? "," : "",
                        json_object_get_string(json_object_array_get_idx(reasons, i)));
        cli_record_add(&rec, "uuid ( RO)", vuuid ? vuuid : vm);
        cli_record_add(&rec, "name-label ( RW)", name ? name : "");
        cli_record_add(&rec, "reason ( RO)", why.buf ? why.buf : "");
        cli_print_record(ctx, &rec);
        cli_record_done(&rec);
        strbuf_done(&why);
    }
    json_object_put(map);
    return 0;
}

static int cmd_message_create(struct cli_ctx *ctx)
{
    static const struct {
        const char *arg, *cls;
    } targets[] = {
        {"vm-uuid", "VM"}, {"host-uuid", "Host"}, {"sr-uuid", "SR"}, {"pool-uuid", "Pool"}};
    const char *cls = NULL, *obj = NULL;
    _cleanup_free_ char *ref = NULL;

    for (size_t i = 0; i < ELEMENTSOF(targets) && !cls; i++)
        if ((obj = cli_arg(ctx, targets[i].arg)))
            cls = targets[i].cls;
    if (!cls)
        return cli_fail(ctx, "Need one of: vm-uuid, host-uuid, sr-uuid or pool-uuid");
    struct api_error *e =
        cli_call_str(ctx, "message.create",
                     (const char *const[]){cli_arg(ctx, "name"), cli_arg(ctx, "priority"), cls, obj,
                                           cli_arg(ctx, "body")},
                     5, &ref);
    if (e)
        return cli_fail_api(ctx, e);
    return 0;
}

static int cmd_message_destroy(struct cli_ctx *ctx)
{
    const char *uuid = cli_arg(ctx, "uuid");
    _cleanup_free_ char *ref = uuid ? cli_ref_of(C_message, uuid) : NULL;
    if (!uuid)
        return cli_fail(ctx, "Required parameter not found: uuid");
    if (!ref)
        return cli_fail_api(ctx, api_fail(UUID_INVALID, "message", uuid));
    struct api_error *e = call1(ctx, "message.destroy", ref);
    return e ? cli_fail_api(ctx, e) : 0;
}

/* True if the client hung up (its socket reads end of file or fails). */
static bool client_gone(struct cli_ctx *ctx)
{
    struct pollfd p = {.fd = ctx->conn->fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

/* event-wait: blocks until an object of class= matches every f=v (or f=/=v)
 * condition, checking again at each database change. */
static int cmd_event_wait(struct cli_ctx *ctx)
{
    const char *cls = cli_arg(ctx, "class");
    int view = cli_view_by_name(cls);
    if (view < 0)
        return cli_fail(ctx, "Unknown class '%s'", cls);
    for (;;) {
        int64_t gen;
        db_rdlock();
        gen = db_generation();
        db_unlock();
        int r = cli_event_match(ctx, view);
        if (r < 0)
            return 1;
        if (r > 0)
            return 0;
        if (client_gone(ctx))
            return 1;
        db_wait_change(gen, now_monotonic() + 5.0);
    }
}

/* Commands that call cmd->message with no argument but the session. */
static int cmd_noarg_op(struct cli_ctx *ctx)
{
    struct api_error *e = cli_call(ctx, ctx->cmd->message, NULL, 0, NULL);
    return e ? cli_fail_api(ctx, e) : 0;
}

const struct cli_cmd cli_custom_cmds[] = {
    {"help", NULL, NULL, "Display help for a command, or list every command (--all).",
     CMD_NO_LOGIN | CMD_STANDARD, cli_cmd_help, -1, NULL},
    {"vm-start", NULL, PARAMS("force", "on", "paused"), "Start the selected VM(s).",
     CMD_VM_SEL | CMD_STANDARD, cmd_vm_start, -1, "VM.start"},
    {"vm-shutdown", NULL, PARAMS("force"),
     "Shutdown the selected VM(s). Use --force to force a hard shutdown.",
     CMD_VM_SEL | CMD_STANDARD, cmd_vm_shutdown, -1, "VM.clean_shutdown"},
    {"vm-reboot", NULL, PARAMS("force"), "Reboot the selected VM(s).", CMD_VM_SEL | CMD_STANDARD,
     cmd_vm_reboot, -1, "VM.clean_reboot"},
    {"vm-suspend", NULL, NULL, "Suspend the selected VM(s).", CMD_VM_SEL | CMD_STANDARD,
     cmd_vm_suspend, -1, "VM.suspend"},
    {"vm-resume", NULL, PARAMS("force", "on"), "Resume the selected VM(s).",
     CMD_VM_SEL | CMD_STANDARD, cmd_vm_resume, -1, "VM.resume"},
    {"vm-pause", NULL, NULL, "Pause a running VM.", CMD_VM_SEL, cmd_vm_pause, -1, "VM.pause"},
    {"vm-unpause", NULL, NULL, "Unpause a paused VM.", CMD_VM_SEL, cmd_vm_unpause, -1,
     "VM.unpause"},
    {"vm-reset-powerstate", NULL, PARAMS("force"),
     "Force the VM(s) power state to halted in the management database only.", CMD_VM_SEL,
     cmd_vm_reset_powerstate, -1, "VM.power_state_reset"},
    {"vm-clone", PARAMS("new-name-label"), PARAMS("new-name-description"),
     "Clone an existing VM, using storage-level fast disk clone operation where available.",
     CMD_VM_SEL | CMD_STANDARD, cmd_vm_clone, -1, "VM.clone"},
    {"vm-copy", PARAMS("new-name-label"), PARAMS("new-name-description", "sr-uuid"),
     "Copy an existing VM, but without using storage-level fast disk clone operation.",
     CMD_VM_SEL | CMD_STANDARD, cmd_vm_copy, -1, "VM.copy"},
    {"vm-snapshot", PARAMS("new-name-label"), PARAMS("new-name-description", "ignore-vdi-uuids"),
     "Snapshot an existing VM, using storage-level fast disk snapshot operation where "
     "available.",
     CMD_VM_SEL | CMD_STANDARD, cmd_vm_snapshot, -1, "VM.snapshot"},
    {"vm-destroy", PARAMS("uuid"), NULL,
     "Destroy a VM: its record goes, its disks stay. Use vm-uninstall to remove the disks too.", 0,
     cmd_uuid_op, -1, "VM.destroy"},
    {"vm-uninstall", NULL, PARAMS("force"),
     "Uninstall a VM. This operation will destroy those VDIs that are marked RW and connected "
     "to this VM only.",
     CMD_VM_SEL | CMD_STANDARD, cmd_vm_uninstall, -1, NULL},
    {"vm-install", PARAMS("new-name-label"),
     PARAMS("sr-name-label", "sr-uuid", "template", "copy-bios-strings-from"),
     "Install a new VM from a template.", CMD_STANDARD, cmd_vm_install, -1, NULL},
    {"vm-memory-set", PARAMS("memory"), NULL, "Configure the memory allocation of a VM.",
     CMD_VM_SEL, cmd_vm_memory_set, -1, "VM.set_memory"},
    {"vm-memory-dynamic-range-set", PARAMS("min", "max"), NULL,
     "Configure the dynamic memory range of a VM.", CMD_VM_SEL, cmd_vm_memory_dynamic, -1,
     "VM.set_memory_dynamic_range"},
    {"vm-vcpu-hotplug", PARAMS("new-vcpus"), NULL,
     "Dynamically adjust the number of VCPUs available to a running PV guest.", CMD_VM_SEL,
     cmd_vm_vcpu_hotplug, -1, "VM.set_VCPUs_number_live"},
    {"vm-checkpoint", PARAMS("new-name-label"), PARAMS("new-name-description"),
     "Checkpoint an existing VM, using storage-level fast disk snapshot operation where "
     "available.",
     CMD_VM_SEL | CMD_STANDARD, cmd_vm_checkpoint, -1, "VM.checkpoint"},
    {"host-enable", NULL, NULL, "Enable the XE host.", CMD_HOST_SEL | CMD_STANDARD, cmd_host_op, -1,
     "host.enable"},
    {"host-disable", NULL, NULL, "Disable the XE host.", CMD_HOST_SEL | CMD_STANDARD, cmd_host_op,
     -1, "host.disable"},
    {"host-reboot", NULL, NULL, "Reboot the host (it must be disabled first).",
     CMD_HOST_SEL | CMD_STANDARD, cmd_host_op, -1, "host.reboot"},
    {"host-shutdown", NULL, NULL, "Shut the host down (it must be disabled first).",
     CMD_HOST_SEL | CMD_STANDARD, cmd_host_op, -1, "host.shutdown"},
    {"host-evacuate", NULL, NULL, "Migrate all VMs off the host.", CMD_HOST_SEL | CMD_STANDARD,
     cmd_host_op, -1, "host.evacuate"},
    {"host-dmesg", NULL, NULL, "Get xen dmesg of the XE host.", CMD_HOST_SEL, cmd_host_print, -1,
     "host.dmesg"},
    {"host-get-server-certificate", NULL, NULL, "Get the server TLS certificate of a host",
     CMD_HOST_SEL, cmd_host_print, -1, "host.get_server_certificate"},
    {"host-compute-free-memory", NULL, NULL, "Computes the amount of free memory on the host.",
     CMD_HOST_SEL, cmd_host_int, -1, "host.compute_free_memory"},
    {"host-compute-memory-overhead", NULL, NULL,
     "Computes the virtualization memory overhead of a host.", CMD_HOST_SEL, cmd_host_int, -1,
     "host.compute_memory_overhead"},
    {"host-data-source-list", NULL, NULL, "List the data sources that can be recorded for a Host.",
     CMD_HOST_SEL, cmd_host_ds_list, -1, "host.get_data_sources"},
    {"host-data-source-record", PARAMS("data-source"), NULL,
     "Record the specified data source for a Host.", CMD_HOST_SEL, cmd_host_ds, -1,
     "host.record_data_source"},
    {"host-data-source-query", PARAMS("data-source"), NULL,
     "Query the last value read from a Host data source.", CMD_HOST_SEL, cmd_host_ds, -1,
     "host.query_data_source"},
    {"host-data-source-forget", PARAMS("data-source"), NULL,
     "Stop recording the specified data source for a Host, and forget all of the recorded data.",
     CMD_HOST_SEL, cmd_host_ds, -1, "host.forget_data_source_archives"},
    {"host-send-debug-keys", PARAMS("host-uuid", "keys"), NULL,
     "Send specified hypervisor debug keys to specified host", 0, cmd_host_uuid_str, -1,
     "host.send_debug_keys"},
    {"host-set-hostname-live", PARAMS("host-uuid", "host-name"), NULL,
     "Sets the host name to the specified string.  Both the API and lower-level system hostname "
     "are changed.",
     0, cmd_host_uuid_str, -1, "host.set_hostname_live"},
    {"host-shutdown-agent", NULL, NULL, "Shut down the agent on the local host.", 0,
     cmd_host_shutdown_agent, -1, "host.shutdown_agent"},
    {"host-cpu-info", NULL, PARAMS("uuid"), "Lists information about the host's physical CPUs.", 0,
     cmd_host_cpu_info, -1, NULL},
    {"host-get-vms-which-prevent-evacuation", PARAMS("uuid"), NULL,
     "Return a list of VMs which prevent the evacuation of a specific host and display reasons "
     "for each one.",
     0, cmd_host_vms_preventing_evacuation, -1, "host.get_vms_which_prevent_evacuation"},
    {"pool-sync-database", NULL, NULL, "Synchronise the pool database to every member.", 0,
     cmd_noarg_op, -1, "pool.sync_database"},
    {"task-cancel", PARAMS("uuid"), NULL, "Set a task to cancelling and return.", CMD_STANDARD,
     cmd_uuid_op, -1, "task.cancel"},
    {"event-wait", PARAMS("class"), NULL,
     "Wait for the event that satisfies the conditions given on the command line.", CMD_STANDARD,
     cmd_event_wait, -1, NULL},
    {"message-create", PARAMS("name", "priority", "body"),
     PARAMS("vm-uuid", "host-uuid", "sr-uuid", "pool-uuid"), "Create a message.", 0,
     cmd_message_create, -1, "message.create"},
    {"message-destroy", NULL, PARAMS("uuid"), "Destroy a message.", 0, cmd_message_destroy, -1,
     "message.destroy"},
    /* Storage and network: one entry each, on the messages their owners
     * implement. */
    {"sr-scan", PARAMS("uuid"), NULL, "Force an SR scan.", CMD_STANDARD, cmd_uuid_op, -1,
     "SR.scan"},
    {"sr-destroy", PARAMS("uuid"), NULL, "Destroy the SR and its content.", CMD_STANDARD,
     cmd_uuid_op, -1, "SR.destroy"},
    {"sr-forget", PARAMS("uuid"), NULL, "Forget the SR, keeping its data.", 0, cmd_uuid_op, -1,
     "SR.forget"},
    {"sr-update", PARAMS("uuid"), NULL, "Refresh the fields of the SR.", 0, cmd_uuid_op, -1,
     "SR.update"},
    {"pbd-plug", PARAMS("uuid"), NULL, "Attempt to plug in the PBD to the host.", CMD_STANDARD,
     cmd_uuid_op, -1, "PBD.plug"},
    {"pbd-unplug", PARAMS("uuid"), NULL, "Attempt to unplug the PBD from the host.", CMD_STANDARD,
     cmd_uuid_op, -1, "PBD.unplug"},
    {"pbd-destroy", PARAMS("uuid"), NULL, "Destroy the PBD.", 0, cmd_uuid_op, -1, "PBD.destroy"},
    {"vdi-destroy", PARAMS("uuid"), NULL, "Destroy a VDI.", CMD_STANDARD, cmd_uuid_op, -1,
     "VDI.destroy"},
    {"vdi-forget", PARAMS("uuid"), NULL, "Forget a VDI.", 0, cmd_uuid_op, -1, "VDI.forget"},
    {"vdi-update", PARAMS("uuid"), NULL, "Refresh the fields of the VDI.", 0, cmd_uuid_op, -1,
     "VDI.update"},
    {"vbd-plug", PARAMS("uuid"), NULL, "Attempt to attach the VBD while the VM is running.",
     CMD_STANDARD, cmd_uuid_op, -1, "VBD.plug"},
    {"vbd-unplug", PARAMS("uuid"), NULL, "Attempt to detach the VBD while the VM is running.",
     CMD_STANDARD, cmd_uuid_op, -1, "VBD.unplug"},
    {"vbd-destroy", PARAMS("uuid"), NULL, "Destroy a VBD.", 0, cmd_uuid_op, -1, "VBD.destroy"},
    {"vbd-eject", PARAMS("uuid"), NULL, "Remove the media from the drive of the VBD.", 0,
     cmd_uuid_op, -1, "VBD.eject"},
    {"vif-plug", PARAMS("uuid"), NULL, "Attempt to attach the VIF while the VM is running.", 0,
     cmd_uuid_op, -1, "VIF.plug"},
    {"vif-unplug", PARAMS("uuid"), NULL, "Attempt to detach the VIF while the VM is running.", 0,
     cmd_uuid_op, -1, "VIF.unplug"},
    {"vif-destroy", PARAMS("uuid"), NULL, "Destroy a VIF.", 0, cmd_uuid_op, -1, "VIF.destroy"},
    {"network-destroy", PARAMS("uuid"), NULL, "Delete a network.", CMD_STANDARD, cmd_uuid_op, -1,
     "network.destroy"},
    {"pif-plug", PARAMS("uuid"), NULL, "Attempt to bring up a network interface.", 0, cmd_uuid_op,
     -1, "PIF.plug"},
    {"pif-unplug", PARAMS("uuid"), NULL, "Attempt to bring down a network interface.", 0,
     cmd_uuid_op, -1, "PIF.unplug"},
    {"pif-forget", PARAMS("uuid"), NULL, "Destroy a PIF object on a particular host.", 0,
     cmd_uuid_op, -1, "PIF.forget"},
    {"pif-scan", PARAMS("host-uuid"), NULL, "Scan for new physical interfaces on the host.",
     CMD_STANDARD, cmd_uuid_op, -1, "PIF.scan"},
    {"pif-db-forget", PARAMS("uuid"), NULL,
     "Destroy the database object representing a PIF on a particular host.", CMD_HIDDEN,
     cmd_uuid_op, -1, "PIF.db_forget"},
    {"host-management-reconfigure", PARAMS("pif-uuid"), NULL,
     "Reconfigure the management interface of this node.", 0, cmd_uuid_op, -1,
     "host.management_reconfigure"},
    {"host-management-disable", NULL, NULL, "Disable the management interface of this node.", 0,
     cmd_noarg_op, -1, "host.management_disable"},
    {"pool-management-reconfigure", PARAMS("network-uuid"), NULL,
     "Reconfigure the management network interface for all Hosts in the Pool", 0, cmd_uuid_op, -1,
     "pool.management_reconfigure"},
    {"bond-destroy", PARAMS("uuid"), NULL, "Destroy a bond.", 0, cmd_uuid_op, -1, "Bond.destroy"},
    {"tunnel-destroy", PARAMS("uuid"), NULL, "Destroy a tunnel.", 0, cmd_uuid_op, -1,
     "tunnel.destroy"},
    {NULL, NULL, NULL, NULL, 0, NULL, -1, NULL},
};
