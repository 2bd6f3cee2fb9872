/* diagnostic-license-status: XCP's table of each host's licence (hostname,
 * uuid prefix, the features its license_params enable, edition, expiry
 * and days left, nearest expiry first), hosts whose licence cannot be read
 * as dashes, and the pool's features from pool.restrictions last
 * (cli_operations.ml). The features and their tags are XCP's, in its order
 * (xapi-types/features.ml): a restrict_* key enables its feature when
 * "false", an enable_* key when "true", and a missing or unreadable key
 * leaves the feature off, except for the few XCP keeps on during a rolling
 * upgrade. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diagnostic.h"
#include "lib/cleanup.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/db.h"

struct feature {
    const char *key;
    bool positive; /* enabled when the key is "true" (else when "false") */
    const char *tag;
    bool when_unknown;
};

static const struct feature features[] = {
    {"restrict_vlan", false, "VLAN", false},
    {"restrict_qos", false, "QoS", false},
    {"restrict_pool_attached_storage", false, "SStorage", false},
    {"restrict_netapp", false, "NTAP", false},
    {"restrict_equalogic", false, "EQL", false},
    {"restrict_pooling", false, "Pool", false},
    {"enable_xha", true, "XHA", false},
    {"restrict_marathon", false, "MTC", false},
    {"restrict_email_alerting", false, "email", false},
    {"restrict_historical_performance", false, "perf", false},
    {"restrict_wlb", false, "WLB", false},
    {"restrict_rbac", false, "RBAC", false},
    {"restrict_dmc", false, "DMC", false},
    {"restrict_checkpoint", false, "chpt", false},
    {"restrict_cpu_masking", false, "Mask", false},
    {"restrict_connection", false, "Cnx", false},
    {"platform_filter", false, "Plat", false},
    {"regular_nag_dialog", false, "nonag", false},
    {"restrict_vmpr", false, "VMPR", false},
    {"restrict_vmss", false, "VMSS", false},
    {"restrict_intellicache", false, "IntelliCache", false},
    {"restrict_gpu", false, "GPU", false},
    {"restrict_dr", false, "DR", false},
    {"restrict_vif_locking", false, "VIFLock", false},
    {"restrict_storage_xen_motion", false, "SXM", false},
    {"restrict_vgpu", false, "vGPU", false},
    {"restrict_integrated_gpu_passthrough", false, "iGPU", false},
    {"restrict_vss", false, "VSS", false},
    {"restrict_guest_agent_auto_update", false, "GAAU", false},
    {"restrict_pci_device_for_auto_update", false, "PciAU", false},
    {"restrict_xen_motion", false, "Live_migration", true},
    {"restrict_guest_ip_setting", false, "GuestIP", false},
    {"restrict_ad", false, "AD", true},
    {"restrict_nested_virt", false, "Nested_virt", false},
    {"restrict_live_patching", false, "Live_patching", false},
    {"restrict_set_vcpus_number_live", false, "Live_set_vcpus", false},
    {"restrict_pvs_proxy", false, "PVS_proxy", false},
    {"restrict_igmp_snooping", false, "IGMP_snooping", false},
    {"restrict_rpu", false, "RPU", false},
    {"restrict_pool_size", false, "Pool_size", false},
    {"restrict_cbt", false, "CBT", false},
    {"restrict_usb_passthrough", false, "USB_passthrough", false},
    {"restrict_network_sriov", false, "Network_sriov", false},
    {"restrict_corosync", false, "Corosync", false},
    {"restrict_cluster_address", false, "Cluster_address", false},
    {"restrict_zstd_export", false, "Zstd_export", false},
    {"restrict_pool_secret_rotation", false, "Pool_secret_rotation", false},
    {"restrict_certificate_verification", false, "Certificate_verification", false},
    {"restrict_updates", false, "Upd", true},
    {"restrict_internal_repo_access", false, "Internal_repo_access", false},
    {"restrict_vtpm", false, "VTPM", false},
    {"restrict_vm_groups", false, "VM_groups", false},
    {"restrict_vm_start", false, "Start", true},
    {"restrict_vm_appliance_start", false, "Start", true},
};

#define N_COLS 6

/* Features.to_compact_string of what the map text enables: every tag in
 * order, blanks of its length where the feature is off. */
static char *compact_features(const char *map)
{
    struct strbuf sb;
    strbuf_init(&sb, 256);
    for (size_t i = 0; i < ELEMENTSOF(features); i++) {
        const struct feature *f = &features[i];
        _cleanup_free_ char *v = strmap_get(map, f->key);
        bool on = f->when_unknown;
        /* OCaml's bool_of_string takes exactly these two. */
        if (v && (streq(v, "true") || streq(v, "false")))
            on = streq(v, "true") == f->positive;
        if (i)
            strbuf_addc(&sb, ' ');
        if (on)
            strbuf_adds(&sb, f->tag);
        else
            for (size_t k = strlen(f->tag); k > 0; k--)
                strbuf_addc(&sb, ' ');
    }
    return strbuf_detach(&sb, NULL);
}

struct lic_row {
    char *col[N_COLS];
    double expiry;
};

static void row_free(struct lic_row *r)
{
    for (int i = 0; i < N_COLS; i++)
        free(r->col[i]);
}

static int by_expiry(const void *a, const void *b)
{
    const struct lic_row *x = a, *y = b;
    return (x->expiry > y->expiry) - (x->expiry < y->expiry);
}

/* The row of one host (db lock held); false if its licence cannot be read
 * (an expiry that is not a date), with the dashes XCP prints instead. */
static bool host_row(const struct row *r, double now, struct lic_row *out)
{
    const char *params = r->v[FIDX(host, license_params)];
    const char *uuid = r->v[FIDX(host, uuid)];
    _cleanup_free_ char *exp = strmap_get(params, "expiry");
    time_t t = 0;
    bool ok = !exp || datetime_parse(exp, &t) == 0;

    *out = (struct lic_row){0};
    out->col[0] = xstrdup(r->v[FIDX(host, hostname)]);
    out->col[1] = xstrndup(uuid, 8);
    if (!ok) {
        for (int i = 2; i < N_COLS; i++)
            out->col[i] = xstrdup("-");
        return false;
    }
    char when[DATETIME_LEN];
    out->expiry = exp ? (double)t : 0.0;
    datetime_format((time_t)out->expiry, when);
    out->col[2] = compact_features(params);
    out->col[3] = xstrdup(r->v[FIDX(host, edition)]);
    out->col[4] = xstrdup(when);
    out->col[5] = xasprintf("%.1f", (out->expiry - now) / (24.0 * 60.0 * 60.0));
    return true;
}

int cli_diag_license_status(struct cli_ctx *ctx)
{
    static const char *const heading[N_COLS] = {"Hostname", "UUID",   "Features",
                                                "Edition",  "Expiry", "Days left"};
    struct lic_row *valid = NULL, *invalid = NULL, pool = {0};
    size_t n_valid = 0, n_invalid = 0, it = 0;
    const struct row *r;
    double now = now_realtime();

    db_rdlock();
    while (db_next(C_host, &it, &r)) {
        struct lic_row row;
        if (host_row(r, now, &row)) {
            valid = xrealloc(valid, (n_valid + 1) * sizeof(*valid));
            valid[n_valid++] = row;
        } else {
            invalid = xrealloc(invalid, (n_invalid + 1) * sizeof(*invalid));
            invalid[n_invalid++] = row;
        }
    }
    it = 0;
    const char *restrictions = db_next(C_pool, &it, &r) ? r->v[FIDX(pool, restrictions)] : "{}";
    for (int i = 0; i < N_COLS; i++)
        pool.col[i] = xstrdup(i == 2 ? "" : "-");
    free(pool.col[2]);
    pool.col[2] = compact_features(restrictions);
    db_unlock();
    if (n_valid)
        qsort(valid, n_valid, sizeof(*valid), by_expiry);

    /* heading, divider, valid hosts, invalid hosts, divider, pool */
    size_t n_lines = n_valid + n_invalid + 4;
    const char *const **lines = xcalloc(n_lines, sizeof(*lines));
    static const char *const divider[N_COLS] = {"-", "-", "-", "-", "-", "-"};
    size_t k = 0;
    lines[k++] = heading;
    lines[k++] = divider;
    for (size_t i = 0; i < n_valid; i++)
        lines[k++] = (const char *const *)valid[i].col;
    for (size_t i = 0; i < n_invalid; i++)
        lines[k++] = (const char *const *)invalid[i].col;
    lines[k++] = divider;
    lines[k++] = (const char *const *)pool.col;

    size_t width[N_COLS] = {0};
    for (size_t l = 0; l < n_lines; l++)
        for (int c = 0; c < N_COLS; c++)
            if (strlen(lines[l][c]) > width[c])
                width[c] = strlen(lines[l][c]);
    struct strbuf sb;
    strbuf_init(&sb, 256);
    for (size_t l = 0; l < n_lines; l++) {
        strbuf_reset(&sb);
        for (int c = 0; c < N_COLS; c++)
            strbuf_addf(&sb, "%s%-*s", c ? " " : "", (int)width[c], lines[l][c]);
        cli_print_message(ctx, "%s", sb.buf);
    }
    strbuf_done(&sb);
    free(lines);
    for (size_t i = 0; i < n_valid; i++)
        row_free(&valid[i]);
    for (size_t i = 0; i < n_invalid; i++)
        row_free(&invalid[i]);
    row_free(&pool);
    free(valid);
    free(invalid);
    return 0;
}
