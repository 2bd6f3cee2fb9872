/* The diagnostics method (see diag.h). */
#include "storaged/diag.h"

#include "storaged/internal.h"

const struct jsonrpc_param sd_p_diagnostics[] = {{0}};

static json_object *sr_json(const struct sd_sr *sr)
{
    json_object *o = json_object_new_object(), *vdis = json_object_new_array();
    json_object *busy = json_object_new_array();

    sd_add_str(o, "sr_uuid", sr->uuid);
    sd_add_str(o, "type", sr->drv->type);
    sd_add_str(o, "root", sr->root ? sr->root : "");
    sd_add_bool(o, "mounted", sr->mounted);
    for (size_t i = 0; i < sr->n_att; i++) {
        json_object *v = json_object_new_object();
        sd_add_str(v, "vdi_uuid", sr->att[i].uuid);
        sd_add_bool(v, "read_write", sr->att[i].read_write);
        sd_add_bool(v, "active", sr->att[i].active);
        json_object_array_add(vdis, v);
    }
    json_object_object_add(o, "attached", vdis);
    for (size_t i = 0; i < sr->n_busy; i++)
        json_object_array_add(busy, json_object_new_string(sr->busy[i]));
    json_object_object_add(o, "copying_from", busy);
    sd_add_int(o, "temporaries", (int64_t)sr->n_live);
    sd_add_int(o, "copies_into", sr->copies_into);
    return o;
}

struct jsonrpc_error *sd_m_diagnostics(json_object *params, json_object **ret_result,
                                       void *userdata)
{
    struct storaged *sd = userdata;
    json_object *srs = json_object_new_array(), *jobs = json_object_new_array();
    json_object *o = json_object_new_object();

    (void)params;
    pthread_mutex_lock(&sd->lock);
    for (size_t i = 0; i < sd->n_srs; i++)
        json_object_array_add(srs, sr_json(sd->srs[i]));
    pthread_mutex_unlock(&sd->lock);
    /* The jobs have their own lock, never held with the SR table's. */
    pthread_mutex_lock(&sd->jobs_lock);
    for (size_t i = 0; i < MAX_JOBS; i++) {
        const struct job *j = &sd->jobs[i];
        if (!j->id)
            continue;
        json_object *v = json_object_new_object();
        sd_add_str(v, "job", j->id);
        json_object_object_add(v, "progress", json_object_new_double(j->progress));
        sd_add_bool(v, "done", j->done);
        sd_add_bool(v, "cancelled", j->cancel);
        if (j->error)
            sd_add_str(v, "error", j->error);
        json_object_array_add(jobs, v);
    }
    pthread_mutex_unlock(&sd->jobs_lock);
    json_object_object_add(o, "srs", srs);
    json_object_object_add(o, "jobs", jobs);
    *ret_result = o;
    return NULL;
}
