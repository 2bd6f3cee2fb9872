/* VM.import(url, sr, full_restore, force) and its Async form: the XVA at
 * an http(s) URL imported into the SR sr (xva_url.h), answering the new
 * VMs, as XCP's Xapi_vm.import does. */
#include <stdbool.h>
#include <stdlib.h>

#include "xapi-c/api.h"
#include "xapi-c/db.h"
#include "lib/util.h"
#include "xapi-c/taskcancel.h"
#include "xapi-c/xva_url.h"

void vm_import_register(void);

static void on_cancel(const char *task)
{
    (void)task; /* the download and the import ask task_cancel_requested */
}

static struct api_error *vm_import(struct call *c)
{
    const char *url = arg_str(c, 1), *sr = arg_str(c, 2);
    const struct row *r;
    struct api_error *e;
    char(*vms)[64] = NULL;
    size_t n = 0;

    db_rdlock();
    e = api_lookup(C_SR, sr, &r);
    if (!e && streq(r->v[FIDX(SR, content_type)], "iso"))
        e = api_fail(SR_OPERATION_NOT_SUPPORTED);
    db_unlock();
    if (e)
        return e;
    struct xva_import_opts opts = {
        .sr = sr,
        .restore = arg_bool(c, 3),
        .force = arg_bool(c, 4),
        .task = c->task,
    };
    if (c->task)
        task_cancellable_begin(c->task, on_cancel);
    e = xva_import_url(url, &opts, &vms, &n);
    if (c->task)
        task_cancellable_end(c->task);
    if (e)
        return e;
    out_array_begin(c->out);
    for (size_t i = 0; i < n; i++)
        out_string(c->out, vms[i]);
    out_array_end(c->out);
    free(vms);
    return NULL;
}

void vm_import_register(void)
{
    api_register(M_VM_import, vm_import);
}
