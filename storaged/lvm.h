/* The pure half of the lvm driver: how an lvm SR lays itself out on a
 * block device with lvm2, the command lines storaged runs for each
 * operation, and the parsing of what lvm2's report tools print with
 * --reportformat json. The layout, in XCP's names where XCP has them:
 *  - the device is one PV holding the VG "VG_XenStorage-<sr_uuid>";
 *  - the LV "MGT" (64 MiB) holds an ext4 file system with the SR's
 *    metadata file (storaged/meta.h), the same document as other SRs;
 *  - the thin pool "xenia-pool" takes the rest of the VG;
 *  - each VDI is a thin LV "LV-<vdi_uuid>" in the pool, a raw image QEMU
 *    reads as a block device; a snapshot or clone is a thin snapshot of
 *    it (lvcreate -s), which shares the pool's blocks with its origin but
 *    depends on no other LV, so lvm VDIs form no chains to merge.
 * Nothing here runs a tool or touches a disk; storaged cannot run lvm2
 * where its tests run (no device-mapper), so the QEMU system tests drive
 * the rest. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

#define LVM_VG_PREFIX "VG_XenStorage-"
#define LVM_LV_PREFIX "LV-"
#define LVM_MGT_LV "MGT"
#define LVM_POOL_LV "xenia-pool"
#define LVM_MGT_SIZE "64m"

/* "VG_XenStorage-<sr_uuid>": a new string. */
char *lvm_vg_name(const char *sr_uuid);
/* "LV-<vdi_uuid>": a new string. */
char *lvm_lv_name(const char *vdi_uuid);
/* The VDI uuid an LV name stands for, in out; false for LVs that are not
 * VDIs (MGT, the pool, its hidden parts, anything else). */
bool lvm_lv_uuid(const char *lv_name, char out[UUID_STR_LEN]);
/* /dev/<vg>/<lv>, the block device of an active LV: a new string. */
char *lvm_lv_path(const char *vg, const char *lv);

/* A command line: argv[0..n-1] are new strings, argv[n] is NULL. */
struct lvm_cmd {
    char *argv[24];
    size_t n;
};
/* Frees what cmd holds. */
void lvm_cmd_done(struct lvm_cmd *cmd);

enum lvm_op {
    LVM_PVCREATE,    /* dev */
    LVM_VGCREATE,    /* vg, dev */
    LVM_MGT_CREATE,  /* vg */
    LVM_POOL_CREATE, /* vg */
    LVM_THIN_CREATE, /* vg, lv, size */
    LVM_SNAPSHOT,    /* vg, lv (origin), new_lv */
    LVM_EXTEND,      /* vg, lv, size */
    LVM_REMOVE,      /* vg, lv */
    LVM_ACTIVATE,    /* vg, lv (NULL: the whole VG) */
    LVM_DEACTIVATE,  /* vg, lv (NULL: the whole VG) */
    LVM_VGREMOVE,    /* vg */
    LVM_PVREMOVE,    /* dev */
    LVM_REPORT_LVS,  /* vg */
    LVM_REPORT_VGS,  /* vg */
};

struct lvm_args {
    const char *dev;
    const char *vg;
    const char *lv;
    const char *new_lv;
    int64_t size; /* bytes */
};

/* The command line for op with args (see enum lvm_op for which it uses).
 * Returns 0, or -EINVAL if an argument op needs is missing or a size is
 * not positive. Names go in as separate arguments, never through a
 * shell. */
int lvm_cmd_build(enum lvm_op op, const struct lvm_args *args, struct lvm_cmd *ret);

struct lvm_lv {
    char *name;
    int64_t size;        /* bytes */
    char attr[16];       /* lv_attr, e.g. "Vwi-a-tz--" */
    char *pool;          /* pool_lv, "" when none */
    char *origin;        /* origin, "" when none */
    double data_percent; /* of the LV's size in use; -1 when lvm gives none */
};

struct lvm_vg {
    char *name;
    int64_t size; /* bytes */
    int64_t free; /* bytes */
};

/* Frees an array of n LVs from lvm_parse_lvs; NULL is fine. */
void lvm_lvs_free(struct lvm_lv *lvs, size_t n);
/* Frees what vg holds. */
void lvm_vg_done(struct lvm_vg *vg);

/* Parses the output of the LVM_REPORT_LVS command: *ret (a new array of
 * *ret_n) for the caller. Returns 0, or -EBADMSG with a message in
 * *ret_why (may be NULL) when text is not such a report: bad JSON, no
 * "report"/"lv" arrays, a missing field, or a size that is not a byte
 * count. */
int lvm_parse_lvs(const char *text, struct lvm_lv **ret, size_t *ret_n, char **ret_why);
/* Parses the output of LVM_REPORT_VGS for one VG into *ret, as above;
 * -ENOENT when the report lists no VG. */
int lvm_parse_vgs(const char *text, struct lvm_vg *ret, char **ret_why);

/* The bytes a thin LV uses in its pool (size × data_percent), which is a
 * VDI's physical_utilisation; 0 when lvm gives no percentage. */
int64_t lvm_lv_used(const struct lvm_lv *lv);
/* True if lv_attr says the LV is active (its fifth character is 'a'). */
bool lvm_lv_active(const struct lvm_lv *lv);
