/* The errors storaged answers with. They are XenAPI errors, so xapi passes
 * them to its clients unchanged: the declared ones (VDI_IN_USE, SR_FULL...)
 * by name with their parameters, and driver failures the way XCP's SM
 * drivers report them, SR_BACKEND_FAILURE_<n> ["", message, ""], with n
 * from XCP's XE_SR_ERRORCODES.xml. */
#pragma once

#include "lib/jsonrpc.h"

/* XE_SR_ERRORCODES.xml numbers used by storaged. */
enum sm_error {
    SM_INVALID_ARG = 1,
    SM_UNIMPLEMENTED = 38,
    SM_SR_EXISTS = 42,
    SM_VDI_EXISTS = 43,
    SM_SR_NO_SPACE = 44,
    SM_VDI_UNAVAILABLE = 46,
    SM_SR_UNAVAILABLE = 47,
    SM_LVM_FILESYSTEM = 57,
    SM_FILE_SR_CREATE = 61,
    SM_FILE_SR_DELETE = 63,
    SM_VDI_REMOVE = 64,
    SM_VDI_LOAD = 65,
    SM_VDI_TYPE = 66,
    SM_NFS_VERSION = 72,
    SM_NFS_MOUNT = 73,
    SM_VDI_CREATE = 78,
    SM_VDI_SIZE = 79,
    SM_VDI_CLONE = 81,
    SM_VDI_SNAPSHOT = 82,
    SM_NFS_CREATE = 88,
    SM_CONFIG_DEVICE_MISSING = 90,
    SM_CONFIG_DEVICE_INVALID = 91,
    SM_CONFIG_LOCATION_MISSING = 94,
    SM_CONFIG_SERVER_PATH_MISSING = 101,
    SM_CONFIG_SERVER_MISSING = 102,
    SM_CONFIG_SERVER_PATH_BAD = 103,
    SM_SNAPSHOT_CHAIN_TOO_LONG = 109,
    SM_VDI_RESIZE = 110,
    SM_METADATA_ERROR = 181,
    SM_EIO = 200,
    SM_ISO_MOUNT_FAILURE = 222,
    SM_ISO_LOCAL_PATH = 226,
};

/* SR_BACKEND_FAILURE_<code> ["", message, ""]: new, for the caller. */
struct jsonrpc_error *sd_backend_failure(enum sm_error code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
