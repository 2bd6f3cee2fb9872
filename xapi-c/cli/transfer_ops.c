/* vm-export, snapshot-export-to-template, vm-import, vdi-export and
 * vdi-import (xe-cli.md 4.1, 4.2): the
 * command makes a task, asks the thin client to GET or PUT the file on a
 * side connection (HttpGet / HttpPut with a path on this server, xe-cli.md
 * 5) to the HTTP handlers of xapi-c/xfer.c, then reads the outcome from
 * the task, as XCP's CLI server does. vm-export compress=true|gzip|zstd
 * asks for a compressed archive; vm-import url= is VM.import (xapi
 * downloads the archive itself); vm-import metadata=true sends the file to
 * /import_metadata. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/config.h"
#include "xapi-c/db.h"
#include "xapi-c/tasks.h"
#include "xapi-c/xva_codec.h"

#define PARAMS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* The client sends Wait every 300 s while it transfers (protocol 0.2);
 * silence much longer than that means it is gone. */
#define TRANSFER_SILENCE_MS (10 * 60 * 1000)
/* After the client's answer, the handler may still be writing the last
 * disk: how long the task may take to finish. */
#define TASK_FINISH_SECONDS 600.0

/* ---- tasks ---- */

/* Sets the task's progress to -1, as XCP's CLI does: the HTTP handler
 * sets 0 when it takes the task on, so a task still at -1 was never
 * reached. */
static void mark_untaken(const char *task)
{
    struct changeset *cs = changeset_new();
    db_wrlock();
    if (db_get(C_task, task)) {
        changeset_set(cs, C_task, task, FIDX(task, progress), "-1");
        db_apply(cs);
    }
    db_unlock();
    changeset_free(cs);
}

static bool untaken(const char *task)
{
    db_rdlock();
    const struct row *r = db_get(C_task, task);
    bool u = r && strtod(r->v[FIDX(task, progress)], NULL) < 0;
    db_unlock();
    return u;
}

/* Waits (bounded) for the task to leave pending; its status, error and
 * result (new strings) go to the outputs. */
static void task_outcome(const char *task, char **ret_status, struct api_error **ret_err,
                         char **ret_result)
{
    double deadline = (double)time(NULL) + TASK_FINISH_SECONDS;
    char *status = NULL;

    for (;;) {
        int64_t gen = db_generation();
        db_rdlock();
        const struct row *r = db_get(C_task, task);
        if (r && !streq(r->v[FIDX(task, status)], "pending")) {
            status = xstrdup(r->v[FIDX(task, status)]);
            if (ret_result)
                *ret_result = xstrdup(r->v[FIDX(task, result)]);
            if (!streq(status, "success")) {
                /* error_info is a set of strings: the code, then params */
                struct strlist_iter it;
                const char *v;
                char *code = NULL;
                char *params[16];
                size_t n = 0;
                strlist_iter_init(&it, r->v[FIDX(task, error_info)]);
                while (strlist_iter_next(&it, NULL, &v))
                    if (!code)
                        code = xstrdup(v);
                    else if (n < ELEMENTSOF(params))
                        params[n++] = xstrdup(v);
                strlist_iter_done(&it);
                *ret_err =
                    api_error_new(code ? code : "INTERNAL_ERROR", (const char *const *)params, n);
                free(code);
                for (size_t i = 0; i < n; i++)
                    free(params[i]);
            }
        }
        db_unlock();
        if (status || !r || (double)time(NULL) >= deadline)
            break;
        db_wait_change(gen, deadline);
    }
    if (!status && !*ret_err)
        *ret_err = api_failf(INTERNAL_ERROR, "the transfer's task did not finish");
    *ret_status = status;
}

/* Runs one transfer under a new task: the url's path and query (the
 * session and task are added). Returns the exit status after printing
 * any error; the task's result goes to ret_result when not NULL. */
static int transfer(struct cli_ctx *ctx, enum cli_cmd_tag tag, const char *label, const char *file,
                    const char *path_query, char **ret_result)
{
    char task[64], *status = NULL;
    struct api_error *e = task_create(ctx->session, label, "", false, task);
    if (e)
        return cli_fail_api(ctx, e);
    mark_untaken(task);
    char *url = xasprintf("%s&session_id=%s&task_id=%s", path_query, ctx->session, task);
    int r = cli_http_transfer(ctx->conn, tag, file, url, TRANSFER_SILENCE_MS);
    free(url);
    if (r == -ENOENT && untaken(task)) {
        /* The client failed before the server saw its request (a file it
         * may not read or write): it has said why on its side. */
        e = api_failf(INTERNAL_ERROR, "the client could not transfer %s", file);
    } else if (r == -ENOENT || r == 0) {
        task_outcome(task, &status, &e, ret_result);
        if (!e && r == -ENOENT)
            e = api_failf(INTERNAL_ERROR, "the client could not transfer %s", file);
    } else {
        e = api_failf(INTERNAL_ERROR, "the client stopped answering during the transfer");
    }
    db_wrlock();
    struct changeset *cs = changeset_new();
    if (db_get(C_task, task))
        changeset_delete(cs, C_task, task);
    db_apply(cs);
    changeset_free(cs);
    db_unlock();
    free(status);
    if (e)
        return cli_fail_api(ctx, e);
    return 0;
}

/* ---- the commands ---- */

/* The export of one VM (or snapshot) into file: /export, or with
 * metadata=true /export_metadata (ova.xml alone). */
static int export_one(struct cli_ctx *ctx, const char *vm, const char *file)
{
    const char *excluded = cli_arg(ctx, "excluded-device-types");
    bool snaps = cli_arg_bool(ctx, "include-snapshots", false);
    char *pq;
    int rc;

    if (cli_arg_bool(ctx, "metadata", false))
        pq = xasprintf("/export_metadata?ref=%s&export_snapshots=%s&excluded_device_types=%s", vm,
                       snaps ? "true" : "false", excluded ? excluded : "");
    else
        pq = xasprintf("/export?ref=%s&use_compression=%s&preserve_power_state=%s%s", vm,
                       xva_codec_name(xva_codec_of_string(cli_arg(ctx, "compress"))),
                       cli_arg_bool(ctx, "preserve-power-state", false) ? "true" : "false",
                       snaps ? "&export_snapshots=true" : "");
    rc = transfer(ctx, CLI_HTTP_GET, "VM.export", file, pq, NULL);
    free(pq);
    return rc;
}

static int cmd_vm_export(struct cli_ctx *ctx)
{
    static const char *const ignore[] = {"filename",
                                         "compress",
                                         "preserve-power-state",
                                         "metadata",
                                         "excluded-device-types",
                                         "include-snapshots",
                                         NULL};
    const char *file = cli_arg(ctx, "filename");
    char **vms = NULL;
    size_t n = 0;
    int rc;

    if ((rc = cli_select(ctx, cli_view_by_name("vm"), ignore, false, &vms, &n)))
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        /* Several VMs go to F, F2, F3 ... as XCP names them. */
        char *name = i == 0 ? xstrdup(file) : xasprintf("%s%zu", file, i + 1);
        rc = export_one(ctx, vms[i], name);
        free(name);
    }
    for (size_t i = 0; i < n; i++)
        free(vms[i]);
    free(vms);
    if (rc == 0)
        cli_print_message(ctx, "Export succeeded");
    return rc;
}

/* A snapshot exported as an XVA, which imports as a template (an export
 * never carries is_a_snapshot). */
static int cmd_snapshot_export_to_template(struct cli_ctx *ctx)
{
    char *snap;
    int rc;

    if (!(snap = cli_ref_arg(ctx, C_VM, "snapshot-uuid")))
        return 1;
    db_rdlock();
    const struct row *r = db_get(C_VM, snap);
    bool is_snap = r && streq(r->v[FIDX(VM, is_a_snapshot)], "true");
    db_unlock();
    if (!is_snap)
        rc = cli_fail(ctx, "The VM given as snapshot-uuid is not a snapshot");
    else
        rc = export_one(ctx, snap, cli_arg(ctx, "filename"));
    free(snap);
    if (rc == 0)
        cli_print_message(ctx, "Export succeeded");
    return rc;
}

/* Prints the uuids of the VMs whose refs text holds (an XML-RPC or JSON
 * array of refs), comma-separated; with none, a dry run's placeholder. */
static void print_vms(struct cli_ctx *ctx, const char *text, bool dry_run)
{
    struct strbuf uuids;
    strbuf_init(&uuids, 64);
    for (const char *p = strstr(text, "OpaqueRef:"); p; p = strstr(p + 1, "OpaqueRef:")) {
        size_t len = strcspn(p, "<\"");
        char ref[64];
        snprintf(ref, sizeof(ref), "%.*s", (int)(len < 63 ? len : 63), p);
        char *uuid = cli_uuid_of(C_VM, ref);
        if (uuid)
            strbuf_addf(&uuids, "%s%s", uuids.len ? "," : "", uuid);
        free(uuid);
    }
    if (!uuids.len && dry_run)
        strbuf_adds(&uuids, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");
    cli_print_item(ctx, uuids.buf ? uuids.buf : "");
    strbuf_done(&uuids);
}

/* Appends s to sb with what a query value may not hold percent-encoded. */
static void add_query_value(struct strbuf *sb, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            strchr("-._~:", ch))
            strbuf_addc(sb, (char)ch);
        else
            strbuf_addf(sb, "%%%02X", ch);
    }
}

/* vm-import url=: VM.import, which downloads the archive itself. */
static int import_url(struct cli_ctx *ctx, const char *url, const char *sr)
{
    const char *args[] = {url, sr, cli_arg_bool(ctx, "preserve", false) ? "true" : "false",
                          cli_arg_bool(ctx, "force", false) ? "true" : "false"};
    char *json = NULL;
    struct api_error *e = cli_call_long(ctx, "VM.import", args, ELEMENTSOF(args), &json);
    if (e)
        return cli_fail_api(ctx, e);
    print_vms(ctx, json ? json : "", false);
    free(json);
    return 0;
}

static int cmd_vm_import(struct cli_ctx *ctx)
{
    const char *file = cli_arg(ctx, "filename");
    const char *url = cli_arg(ctx, "url");
    bool metadata = cli_arg_bool(ctx, "metadata", false);
    bool dry_run = cli_arg_bool(ctx, "dry-run", false);
    char *sr = NULL, *result = NULL;
    int rc;

    if (url && file) {
        cli_print_stderr(ctx, "Invalid arguments. The 'url' and 'filename' parameters should "
                              "not both be specified.\n");
        return 1;
    }
    if (!file && !url)
        return cli_fail(ctx, "Required parameter not found: filename");
    if (cli_arg(ctx, "type") && strcasecmp(cli_arg(ctx, "type"), "default") != 0 &&
        strcasecmp(cli_arg(ctx, "type"), "XenServer") != 0)
        return cli_fail(ctx, "Imports of type=%s are not supported by this host",
                        cli_arg(ctx, "type"));
    if (!url && !metadata && dry_run) {
        cli_print_stderr(ctx, "Only metadata import function support dry-run\n");
        return 1;
    }
    if (cli_arg(ctx, "sr-uuid")) {
        if (!(sr = cli_ref_arg(ctx, C_SR, "sr-uuid")))
            return 1;
    } else {
        db_rdlock();
        const struct row *pool = db_get(C_pool, xapi_state.pool_ref);
        if (pool && db_get(C_SR, pool->v[FIDX(pool, default_SR)]))
            sr = xstrdup(pool->v[FIDX(pool, default_SR)]);
        db_unlock();
        if (!sr)
            return cli_fail(ctx, "No SR specified and Pool default SR is null");
    }
    if (url) {
        rc = import_url(ctx, url, sr);
        free(sr);
        return rc;
    }
    struct strbuf pq;
    strbuf_init(&pq, 256);
    strbuf_addf(&pq, "%s?restore=%s&force=%s&dry_run=%s&sr_id=%s",
                metadata ? "/import_metadata" : "/import",
                cli_arg_bool(ctx, "preserve", false) ? "true" : "false",
                cli_arg_bool(ctx, "force", false) ? "true" : "false", dry_run ? "true" : "false",
                sr);
    for (size_t i = 0; i < ctx->n_args; i++)
        if (strncmp(ctx->args[i].name, "vdi:", 4) == 0 && ctx->args[i].name[4]) {
            strbuf_adds(&pq, "&vdi:");
            add_query_value(&pq, ctx->args[i].name + 4);
            strbuf_addc(&pq, '=');
            add_query_value(&pq, ctx->args[i].value ? ctx->args[i].value : "");
        }
    rc = transfer(ctx, CLI_HTTP_PUT, metadata ? "VM.import_metadata" : "VM.import", file, pq.buf,
                  &result);
    strbuf_done(&pq);
    free(sr);
    if (rc == 0 && result)
        print_vms(ctx, result, dry_run);
    free(result);
    return rc;
}

static int vdi_transfer(struct cli_ctx *ctx, bool put)
{
    const char *file = cli_arg(ctx, "filename");
    const char *format = cli_arg(ctx, "format");
    char *vdi, *base = NULL;
    int rc;

    if (!(vdi = cli_ref_arg(ctx, C_VDI, "uuid")))
        return 1;
    /* base= (the VDI whose blocks a differencing export leaves out). */
    if (!put && cli_arg(ctx, "base") && !(base = cli_ref_arg(ctx, C_VDI, "base"))) {
        free(vdi);
        return 1;
    }
    char *pq = xasprintf("%s?vdi=%s&format=%s%s%s", put ? "/import_raw_vdi" : "/export_raw_vdi",
                         vdi, format ? format : "raw", base ? "&base=" : "", base ? base : "");
    rc = transfer(ctx, put ? CLI_HTTP_PUT : CLI_HTTP_GET, put ? "VDI.import" : "VDI.export", file,
                  pq, NULL);
    free(pq);
    free(vdi);
    free(base);
    return rc;
}

static int cmd_vdi_export(struct cli_ctx *ctx)
{
    return vdi_transfer(ctx, false);
}

static int cmd_vdi_import(struct cli_ctx *ctx)
{
    return vdi_transfer(ctx, true);
}

const struct cli_cmd cli_transfer_cmds[] = {
    {"vm-export", PARAMS("filename"),
     PARAMS("preserve-power-state", "compress", "metadata", "excluded-device-types",
            "include-snapshots"),
     "Export a VM to <filename>.", CMD_STANDARD | CMD_VM_SEL, cmd_vm_export, -1, NULL},
    {"snapshot-export-to-template", PARAMS("filename", "snapshot-uuid"),
     PARAMS("preserve-power-state", "compress", "metadata", "excluded-device-types"),
     "Export a snapshot to <filename>.", CMD_STANDARD, cmd_snapshot_export_to_template, -1, NULL},
    {"vm-import", NULL,
     PARAMS("filename", "preserve", "sr-uuid", "force", "host-username", "host-password", "type",
            "remote-config", "dry-run", "metadata", "url", "vdi:"),
     "Import a VM. If type=ESXServer is given, it will import from a VMWare server and 'host-*' "
     "parameters are required, otherwise it will import from the file <filename>.",
     CMD_STANDARD, cmd_vm_import, -1, NULL},
    {"vdi-export", PARAMS("uuid", "filename"), PARAMS("format", "base", "progress"),
     "Export a VDI.", CMD_STANDARD, cmd_vdi_export, -1, NULL},
    {"vdi-import", PARAMS("uuid", "filename"), PARAMS("format", "progress"), "Import a raw VDI.",
     CMD_STANDARD, cmd_vdi_import, -1, NULL},
    {0},
};
