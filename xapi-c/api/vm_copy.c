/* VM messages that make a VM from another: clone, copy and snapshot (the
 * record, and its disks by storaged: a clone or snapshot of each VDI in
 * its SR, or a full copy into the SR asked for; CDs keep their image),
 * the disks of a revert, and provision (the disks a template lists in
 * other_config:disks, made in their SR). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "lib/log.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/config.h"
#include "xapi-c/db.h"
#include "xapi-c/storage.h"
#include "xapi-c/vmops.h"
#include "xapi-c/api/vm_copy.h"
#include "xapi-c/network.h"

LOG_MODULE("vm_copy");

/* ---- disks ---- */

/* One VBD of the source and the VDI its copy gets. */
struct disk_plan {
    char vbd[64];
    char vdi[64];     /* the source's, or OpaqueRef:NULL */
    char new_vdi[64]; /* made for the copy, or the same CD */
    bool made;        /* new_vdi was made here (undone on failure) */
};

static void undo_disks(struct disk_plan *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (d[i].made)
            api_error_free(storage_vdi_delete(d[i].new_vdi));
}

/* How a VM's disks are copied. */
enum disk_mode { DISKS_CLONE, DISKS_SNAPSHOT, DISKS_COPY };

/* New VDIs for the VM's disks (CDs are shared, not copied). dest_sr: for
 * DISKS_COPY, the SR of the copies (NULL: each disk's own). */
static struct api_error *copy_disks(const char *vm, enum disk_mode mode, const char *dest_sr,
                                    const char *job, struct disk_plan **ret, size_t *ret_n)
{
    struct disk_plan *d = NULL;
    size_t n = 0;
    struct strbuf scratch;
    struct strlist_iter it;
    const char *ref;
    strbuf_init(&scratch, 0);
    db_rdlock();
    const struct row *r = db_get(C_VM, vm);
    strlist_iter_init(&it, r ? db_value(r, FIDX(VM, VBDs), &scratch) : "[]");
    while (strlist_iter_next(&it, NULL, &ref)) {
        const struct row *vbd = db_get(C_VBD, ref);
        if (!vbd)
            continue;
        d = xrealloc(d, (n + 1) * sizeof(*d));
        memset(&d[n], 0, sizeof(d[n]));
        snprintf(d[n].vbd, 64, "%s", vbd->ref);
        const char *vdi =
            db_get(C_VDI, vbd->v[FIDX(VBD, VDI)]) ? vbd->v[FIDX(VBD, VDI)] : "OpaqueRef:NULL";
        snprintf(d[n].vdi, 64, "%s", vdi);
        snprintf(d[n].new_vdi, 64, "%s", vdi);
        /* a CD's image is shared, not copied */
        d[n].made = !streq(vbd->v[FIDX(VBD, type)], "CD") && !streq(vdi, "OpaqueRef:NULL");
        n++;
    }
    strlist_iter_done(&it);
    strbuf_done(&scratch);
    db_unlock();

    struct api_error *e = NULL;
    size_t done = 0;
    for (; done < n && !e; done++) {
        if (!d[done].made)
            continue;
        d[done].made = false;
        if (mode == DISKS_COPY) {
            char sr[64] = "";
            db_rdlock();
            const struct row *v = db_get(C_VDI, d[done].vdi);
            snprintf(sr, sizeof(sr), "%s", dest_sr ? dest_sr : v ? v->v[FIDX(VDI, SR)] : "");
            db_unlock();
            e = storage_vdi_copy(d[done].vdi, sr, job, d[done].new_vdi);
        } else {
            e = storage_vdi_duplicate(d[done].vdi, mode == DISKS_SNAPSHOT, d[done].new_vdi);
        }
        d[done].made = !e;
    }
    if (e) {
        undo_disks(d, done);
        free(d);
        return e;
    }
    *ret = d;
    *ret_n = n;
    return NULL;
}

/* Fields of a VBD or VIF that its copy does not take. */
static bool device_reset(int cls, int f)
{
    static const int vbd[] = {FIDX(VBD, uuid),
                              FIDX(VBD, VM),
                              FIDX(VBD, VDI),
                              FIDX(VBD, currently_attached),
                              FIDX(VBD, device),
                              FIDX(VBD, allowed_operations),
                              FIDX(VBD, current_operations),
                              FIDX(VBD, status_code),
                              FIDX(VBD, status_detail),
                              FIDX(VBD, runtime_properties)};
    static const int vif[] = {FIDX(VIF, uuid),
                              FIDX(VIF, VM),
                              FIDX(VIF, currently_attached),
                              FIDX(VIF, allowed_operations),
                              FIDX(VIF, current_operations),
                              FIDX(VIF, status_code),
                              FIDX(VIF, status_detail),
                              FIDX(VIF, runtime_properties)};
    const int *l = cls == C_VBD ? vbd : vif;
    size_t n = cls == C_VBD ? ELEMENTSOF(vbd) : ELEMENTSOF(vif);
    for (size_t i = 0; i < n; i++)
        if (l[i] == f)
            return true;
    return false;
}

/* The values of a copy of row src for the VM vm (db lock held). */
static char **copy_device(const struct row *src, const char *vm, char ref[64])
{
    const struct class_desc *cd = &model_classes[src->cls];
    char **v = api_new_row(src->cls, ref);
    for (int i = 0; i < cd->n_fields; i++)
        if (v[i] && src->v[i] && !device_reset(src->cls, i))
            api_set_val(v, i, src->v[i]);
    api_set_val(v, src->cls == C_VBD ? FIDX(VBD, VM) : FIDX(VIF, VM), vm);
    return v;
}

/* Adds to cs the VBDs (on the planned VDIs) and VIFs of a copy of src
 * named vm (db lock held). new_macs: VIFs whose MAC was made by xapi get
 * a new one (a clone is another machine on the network; a snapshot is
 * the same one). */
static void copy_devices(struct changeset *cs, const struct row *src, const char *vm,
                         const struct disk_plan *d, size_t n, bool new_macs)
{
    char ref[64];
    for (size_t i = 0; i < n; i++) {
        const struct row *vbd = db_get(C_VBD, d[i].vbd);
        if (!vbd)
            continue;
        char **v = copy_device(vbd, vm, ref);
        api_set_val(v, FIDX(VBD, VDI), d[i].new_vdi);
        changeset_create(cs, C_VBD, ref, v);
    }
    struct strbuf scratch;
    struct strlist_iter it;
    const char *vif_ref;
    strbuf_init(&scratch, 0);
    strlist_iter_init(&it, db_value(src, FIDX(VM, VIFs), &scratch));
    while (strlist_iter_next(&it, NULL, &vif_ref)) {
        const struct row *vif = db_get(C_VIF, vif_ref);
        if (!vif)
            continue;
        char **v = copy_device(vif, vm, ref);
        if (new_macs && streq(vif->v[FIDX(VIF, MAC_autogenerated)], "true")) {
            char mac[18];
            network_random_mac(mac);
            api_set_val(v, FIDX(VIF, MAC), mac);
        }
        changeset_create(cs, C_VIF, ref, v);
    }
    strlist_iter_done(&it);
    strbuf_done(&scratch);
}

/* ---- clone, copy, snapshot ---- */

/* Fields a clone does not take from its source: its identity, its runtime
 * state, and what only the original is (a default template, a snapshot). */
static const int clone_resets[] = {
    FIDX(VM, uuid),
    FIDX(VM, allowed_operations),
    FIDX(VM, current_operations),
    FIDX(VM, power_state),
    FIDX(VM, domid),
    FIDX(VM, resident_on),
    FIDX(VM, metrics),
    FIDX(VM, guest_metrics),
    FIDX(VM, is_default_template),
    FIDX(VM, is_a_snapshot),
    FIDX(VM, snapshot_of),
    FIDX(VM, snapshot_time),
    FIDX(VM, snapshot_info),
    FIDX(VM, snapshot_metadata),
    FIDX(VM, transportable_snapshot_id),
    FIDX(VM, parent),
    FIDX(VM, scheduled_to_be_resident_on),
    FIDX(VM, suspend_VDI),
    FIDX(VM, blobs),
    FIDX(VM, reference_label),
    FIDX(VM, last_booted_record),
};

/* A map's canonical text without key (newly allocated). */
static char *map_without(const char *map, const char *key)
{
    struct strbuf nb;
    struct strlist_iter it;
    const char *k, *val;
    strbuf_init(&nb, strlen(map) + 2);
    strbuf_addc(&nb, '{');
    strlist_iter_init(&it, map);
    while (strlist_iter_next(&it, &k, &val)) {
        if (streq(k, key))
            continue;
        if (nb.len > 1)
            strbuf_addc(&nb, ',');
        strlist_add_quoted(&nb, k, strlen(k));
        strbuf_addc(&nb, ':');
        strlist_add_quoted(&nb, val, strlen(val));
    }
    strlist_iter_done(&it);
    strbuf_addc(&nb, '}');
    return strbuf_detach(&nb, NULL);
}

/* The new VM's row, its metrics, its devices (db lock held). */
static struct api_error *record_copy(const char *vm, const char *name, enum disk_mode mode,
                                     const struct disk_plan *d, size_t n, char ret_ref[64])
{
    char mref[64];
    const struct row *src = db_get(C_VM, vm);
    if (!src)
        return api_fail(HANDLE_INVALID, "VM", vm);
    char **v = api_new_row(C_VM, ret_ref);
    char **m = api_new_row(C_VM_metrics, mref);
    const struct class_desc *cd = &model_classes[C_VM];
    char *uuid = xstrdup(v[FIDX(VM, uuid)]);
    for (int i = 0; i < cd->n_fields; i++)
        if (v[i] && src->v[i])
            api_set_val(v, i, src->v[i]);
    for (size_t i = 0; i < ELEMENTSOF(clone_resets); i++)
        api_set_val(v, clone_resets[i], model_field_default(&cd->fields[clone_resets[i]]));
    api_set_val(v, FIDX(VM, uuid), uuid);
    free(uuid);
    api_set_val(v, FIDX(VM, name_label), name);
    api_set_val(v, FIDX(VM, domid), "-1");
    api_set_val(v, FIDX(VM, metrics), mref);
    if (mode == DISKS_SNAPSHOT) { /* a snapshot is a template of the VM as it was */
        char when[DATETIME_LEN];
        datetime_format(time(NULL), when);
        api_set_val(v, FIDX(VM, is_a_snapshot), "true");
        api_set_val(v, FIDX(VM, is_a_template), "true");
        api_set_val(v, FIDX(VM, snapshot_of), vm);
        api_set_val(v, FIDX(VM, snapshot_time), when);
    }
    /* a copy is nobody's default template */
    char *oc = map_without(src->v[FIDX(VM, other_config)], "default_template");
    api_set_val(v, FIDX(VM, other_config), oc);
    free(oc);
    struct changeset *cs = changeset_new();
    changeset_create(cs, C_VM_metrics, mref, m);
    changeset_create(cs, C_VM, ret_ref, v);
    copy_devices(cs, src, ret_ref, d, n, mode != DISKS_SNAPSHOT);
    struct api_error *e = api_apply(cs);
    if (!e) {
        char *allowed = vmops_allowed(db_get(C_VM, ret_ref));
        cs = changeset_new();
        changeset_set(cs, C_VM, ret_ref, FIDX(VM, allowed_operations), allowed);
        free(allowed);
        e = api_apply(cs);
    }
    return e;
}

/* Clone, copy and snapshot answer the new VM's ref, so they run the
 * operation themselves rather than as other lifecycle operations do. */
static struct api_error *clone_op(struct call *c, const char *op, enum disk_mode mode)
{
    char key[64], ref[64];
    const char *vm = arg_str(c, 1), *dest = NULL;
    if (mode == DISKS_COPY && *arg_str(c, 3) && !streq(arg_str(c, 3), "OpaqueRef:NULL")) {
        const struct row *sr = NULL;
        db_rdlock();
        struct api_error *e = api_lookup(C_SR, arg_str(c, 3), &sr);
        db_unlock();
        if (e)
            return e;
        dest = arg_str(c, 3);
    }
    if (c->task)
        snprintf(key, sizeof(key), "%s", c->task);
    else
        api_new_ref(key);
    struct api_error *e = vmops_begin(vm, op, key);
    if (e)
        return e;
    struct disk_plan *d = NULL;
    size_t n = 0;
    if (!(e = copy_disks(vm, mode, dest, c->task, &d, &n))) {
        db_wrlock();
        e = record_copy(vm, arg_str(c, 2), mode, d, n, ref);
        db_unlock();
        if (e)
            undo_disks(d, n);
    }
    free(d);
    vmops_end(vm, key);
    if (!e)
        out_string(c->out, ref);
    return e;
}

struct api_error *vm_snapshot_take(const char *vm, const char *name, const char *suspend_vdi,
                                   char ret_ref[64])
{
    struct disk_plan *d = NULL;
    size_t n = 0;
    struct api_error *e = copy_disks(vm, DISKS_SNAPSHOT, NULL, NULL, &d, &n);
    if (!e) {
        db_wrlock();
        e = record_copy(vm, name, DISKS_SNAPSHOT, d, n, ret_ref);
        if (!e && suspend_vdi) { /* a checkpoint: the VM as it was, memory and all */
            struct changeset *cs = changeset_new();
            changeset_set(cs, C_VM, ret_ref, FIDX(VM, power_state), "Suspended");
            changeset_set(cs, C_VM, ret_ref, FIDX(VM, suspend_VDI), suspend_vdi);
            if (!(e = api_apply(cs))) {
                char *allowed = vmops_allowed(db_get(C_VM, ret_ref));
                cs = changeset_new();
                changeset_set(cs, C_VM, ret_ref, FIDX(VM, allowed_operations), allowed);
                free(allowed);
                e = api_apply(cs);
            }
        }
        db_unlock();
        if (e)
            undo_disks(d, n);
    }
    free(d);
    return e;
}

static struct api_error *vm_clone(struct call *c)
{
    return clone_op(c, "clone", DISKS_CLONE);
}

static struct api_error *vm_copy(struct call *c)
{
    return clone_op(c, "copy", DISKS_COPY);
}

static struct api_error *vm_snapshot(struct call *c)
{
    return clone_op(c, "snapshot", DISKS_SNAPSHOT);
}

/* ---- revert ---- */

/* The VM takes clones of the snapshot's disks in place of its own, whose
 * VDIs are deleted (CDs are left alone); its VIFs become the snapshot's. */
struct api_error *vm_revert_devices(const char *vm, const char *snap)
{
    struct disk_plan *d = NULL;
    size_t n = 0;
    struct api_error *e = copy_disks(snap, DISKS_CLONE, NULL, NULL, &d, &n);
    if (e)
        return e;
    /* the VM's own disks, to delete once the clones are in place */
    char(*old)[64] = NULL;
    size_t n_old = 0;
    struct changeset *cs = changeset_new();
    struct strbuf scratch;
    struct strlist_iter it;
    const char *ref;
    strbuf_init(&scratch, 0);
    db_wrlock();
    const struct row *r = db_get(C_VM, vm), *s = db_get(C_VM, snap);
    if (!r || !s) {
        e = api_fail(VM_REVERT_FAILED, vm, snap);
        goto out;
    }
    const int sets[] = {FIDX(VM, VBDs), FIDX(VM, VIFs)};
    for (size_t k = 0; k < ELEMENTSOF(sets); k++) {
        strlist_iter_init(&it, db_value(r, sets[k], &scratch));
        while (strlist_iter_next(&it, NULL, &ref)) {
            const struct row *dev = db_get(k ? C_VIF : C_VBD, ref);
            if (!dev)
                continue;
            if (!k && !streq(dev->v[FIDX(VBD, type)], "CD") &&
                db_get(C_VDI, dev->v[FIDX(VBD, VDI)])) {
                old = xrealloc(old, (n_old + 1) * sizeof(*old));
                snprintf(old[n_old++], 64, "%s", dev->v[FIDX(VBD, VDI)]);
            }
            changeset_delete(cs, k ? C_VIF : C_VBD, ref);
        }
        strlist_iter_done(&it);
    }
    copy_devices(cs, s, vm, d, n, false);
    e = api_apply(cs);
    cs = NULL;
out:
    db_unlock();
    strbuf_done(&scratch);
    changeset_free(cs);
    if (e)
        undo_disks(d, n);
    for (size_t i = 0; !e && i < n_old; i++) {
        struct api_error *de = storage_vdi_delete(old[i]);
        if (de) /* the revert stands; the old disk stays, unattached */
            api_error_free(de);
    }
    free(old);
    free(d);
    return e;
}

/* ---- provision ---- */

/* One <disk> of other_config:disks. */
struct disk_spec {
    char device[8];
    int64_t size;
    char sr[64];
    bool bootable;
    char type[16];
};

static struct api_error *parse_disks(const char *xml, const char *default_sr,
                                     struct disk_spec **ret, size_t *ret_n)
{
    struct disk_spec *d = NULL;
    size_t n = 0;
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "disks.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root || !xmlStrEqual(root->name, BAD_CAST "provision")) {
        xmlFreeDoc(doc);
        return api_fail(INVALID_VALUE, "other_config:disks", xml);
    }
    struct api_error *e = NULL;
    for (xmlNodePtr x = root->children; x && !e; x = x->next) {
        if (x->type != XML_ELEMENT_NODE || !xmlStrEqual(x->name, BAD_CAST "disk"))
            continue;
        d = xrealloc(d, (n + 1) * sizeof(*d));
        struct disk_spec *s = &d[n++];
        memset(s, 0, sizeof(*s));
        const char *attrs[] = {"device", "size", "sr", "bootable", "type"};
        char *val[5];
        for (int i = 0; i < 5; i++)
            val[i] = (char *)xmlGetProp(x, BAD_CAST attrs[i]);
        char *end = NULL;
        s->size = val[1] ? strtoll(val[1], &end, 10) : -1;
        if (!val[0] || !val[1] || *end || s->size <= 0)
            e = api_fail(INVALID_VALUE, "other_config:disks", xml);
        snprintf(s->device, sizeof(s->device), "%s", val[0] ? val[0] : "");
        /* sr is a uuid in XCP's templates; "" means the pool's default */
        const struct row *sr = val[2] && *val[2] ? db_get_by_uuid(C_SR, val[2]) : NULL;
        snprintf(s->sr, sizeof(s->sr), "%s", sr ? sr->ref : default_sr);
        s->bootable = val[3] && streq(val[3], "true");
        snprintf(s->type, sizeof(s->type), "%s", val[4] && *val[4] ? val[4] : "system");
        for (int i = 0; i < 5; i++)
            xmlFree(val[i]);
    }
    xmlFreeDoc(doc);
    if (e) {
        free(d);
        return e;
    }
    *ret = d;
    *ret_n = n;
    return NULL;
}

/* A new VDI in sr by storaged, with its row. */
static struct api_error *make_vdi(const char *sr, const char *name, int64_t size, const char *type,
                                  char ret_ref[64])
{
    char ref[64];
    char **vals = api_new_row(C_VDI, ref);
    api_set_val(vals, FIDX(VDI, name_label), name);
    api_set_val(vals, FIDX(VDI, type), streq(type, "system") ? "system" : "user");
    char *size_text = xasprintf("%" PRId64, size);
    api_set_val(vals, FIDX(VDI, virtual_size), size_text);
    free(size_text);
    return storage_vdi_create(sr, vals, ref, NULL, ret_ref);
}

struct api_error *vm_provision_disks(const char *vm)
{
    char *xml = NULL, name[256] = "", default_sr[64] = "";
    db_rdlock();
    const struct row *r = db_get(C_VM, vm);
    const struct row *pool = db_get(C_pool, xapi_state.pool_ref);
    if (r) {
        xml = strmap_get(r->v[FIDX(VM, other_config)], "disks");
        snprintf(name, sizeof(name), "%s", r->v[FIDX(VM, name_label)]);
    }
    if (pool)
        snprintf(default_sr, sizeof(default_sr), "%s", pool->v[FIDX(pool, default_SR)]);
    db_unlock();
    if (!xml) { /* no disks to make: a VM all the same */
        struct changeset *cs = changeset_new();
        db_wrlock();
        struct api_error *e = NULL;
        if (db_get(C_VM, vm)) {
            changeset_set(cs, C_VM, vm, FIDX(VM, is_a_template), "false");
            e = api_apply(cs);
        } else {
            changeset_free(cs);
        }
        db_unlock();
        return e;
    }
    struct disk_spec *d = NULL;
    size_t n = 0;
    db_rdlock();
    struct api_error *e = parse_disks(xml, default_sr, &d, &n);
    db_unlock();
    free(xml);
    if (e)
        return e;
    char(*made)[64] = xcalloc(n + 1, 64);
    size_t done = 0;
    for (; done < n && !e; done++) {
        db_rdlock();
        const struct row *sr = db_get(C_SR, d[done].sr);
        if (!sr)
            e = api_fail(VM_REQUIRES_SR, vm, d[done].sr);
        else if (!storage_sr_plugged(sr))
            e = api_fail(SR_HAS_NO_PBDS, sr->ref);
        db_unlock();
        if (!e)
            e = make_vdi(d[done].sr, name, d[done].size, d[done].type, made[done]);
        if (e)
            break;
    }
    if (!e) { /* the VBDs, and the template's disks are provisioned now */
        struct changeset *cs = changeset_new();
        db_wrlock();
        for (size_t i = 0; i < n; i++) {
            char ref[64];
            char **v = api_new_row(C_VBD, ref);
            api_set_val(v, FIDX(VBD, VM), vm);
            api_set_val(v, FIDX(VBD, VDI), made[i]);
            api_set_val(v, FIDX(VBD, userdevice), d[i].device);
            api_set_val(v, FIDX(VBD, bootable), d[i].bootable ? "true" : "false");
            api_set_val(v, FIDX(VBD, mode), "RW");
            api_set_val(v, FIDX(VBD, type), "Disk");
            api_set_val(v, FIDX(VBD, empty), "false");
            /* the VM owns its disks: vm-uninstall destroys them */
            api_set_val(v, FIDX(VBD, other_config), "{\"owner\":\"\"}");
            changeset_create(cs, C_VBD, ref, v);
        }
        if ((r = db_get(C_VM, vm))) {
            char *oc = map_without(r->v[FIDX(VM, other_config)], "disks");
            changeset_set(cs, C_VM, vm, FIDX(VM, other_config), oc);
            free(oc);
            /* provisioned, it is a VM now, as xapi's provision makes it */
            changeset_set(cs, C_VM, vm, FIDX(VM, is_a_template), "false");
        }
        e = api_apply(cs);
        db_unlock();
    }
    if (e)
        for (size_t i = 0; i < done; i++)
            api_error_free(storage_vdi_delete(made[i]));
    free(made);
    free(d);
    return e;
}

void vm_copy_register(void)
{
    api_register(M_VM_clone, vm_clone);
    api_register(M_VM_copy, vm_copy);
    api_register(M_VM_snapshot, vm_snapshot);
}
