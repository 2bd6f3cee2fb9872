/* Runs the external tools storaged drives (qemu-img, mkfs.ext4, wipefs,
 * mount.nfs) with fork/exec and an argv array: no shell, so no quoting
 * problems with paths. The child dies with the thread that started it
 * (PR_SET_PDEATHSIG), so a killed storaged leaves no tool running on its
 * media. Blocks until the child exits. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct exec_opts {
    /* Called with each piece of the child's stdout as it arrives (may be
     * NULL): how qemu-img convert -p reports progress. */
    void (*on_stdout)(const char *data, size_t len, void *userdata);
    /* Polled about ten times a second (may be NULL): returning true kills
     * the child, and exec_run returns -ECANCELED. */
    bool (*cancelled)(void *userdata);
    void *userdata;
    /* Descriptors (above 2; 0 for none) given to the child as its stdin
     * instead of /dev/null, and as its stdout instead of the captured pipe:
     * how a stream's socket reaches nbdcopy. */
    int stdin_fd, stdout_fd;
    /* A listening socket (above 2; 0 for none) given to the child as its
     * descriptor 3 with LISTEN_FDS=1 and LISTEN_PID set, systemd's socket
     * activation: how qemu-nbd gets the socket it serves an import on. */
    int listen_fd;
};

/* Runs argv[0] (looked up in PATH) with argv. Returns the exit status
 * (0..255, or 128+signal if it was killed), or a negative errno if it could
 * not be started or was cancelled. *ret_stdout and *ret_stderr (each may be
 * NULL) get what the child wrote there (up to 64 KiB each), as new strings
 * for the caller. opts may be NULL. */
int exec_run(const char *const *argv, const struct exec_opts *opts, char **ret_stdout,
             char **ret_stderr);

/* A tool's output on one line, for error messages: its non-empty lines,
 * trimmed and joined with "; ", cut at 1,000 bytes (a new string). */
char *exec_summary(const char *text);
